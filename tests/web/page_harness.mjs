// Shared by the browser tests: the security headers apimeter serve sends
// (read from server/http_util.h, so the fake servers here send exactly the
// real Content-Security-Policy), serving web/ files with them, and watching a
// page for console errors, page errors and CSP violations.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
export const webDir = path.join(root, 'web');

// kSecurityHeaders of server/http_util.h as { name: value }; adjacent C++
// string literals are joined as the compiler joins them.
function readSecurityHeaders() {
  const src = fs.readFileSync(path.join(root, 'server/http_util.h'), 'utf8');
  const block = src.slice(src.indexOf('kSecurityHeaders[] = {'));
  const body = block.slice(0, block.indexOf('};'));
  const headers = {};
  for (const m of body.matchAll(/\{\s*((?:"[^"]*"\s*)+),\s*((?:"[^"]*"\s*)+)\}/g)) {
    const join = (lits) => [...lits.matchAll(/"([^"]*)"/g)].map((x) => x[1]).join('');
    headers[join(m[1])] = join(m[2]);
  }
  if (!headers['Content-Security-Policy']) throw new Error('no Content-Security-Policy in server/http_util.h kSecurityHeaders');
  return headers;
}
export const SECURITY_HEADERS = readSecurityHeaders();

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

// Serves web/<rel> as apimeter_web does (type by extension), with the security
// headers; 404 for anything outside web/ or missing. `edit` may rewrite the text.
export function serveWebFile(res, rel, edit) {
  const file = path.join(webDir, rel);
  if (!file.startsWith(webDir + path.sep) || !fs.existsSync(file)) { res.writeHead(404, SECURITY_HEADERS); return res.end('not found'); }
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': TYPES[path.extname(file)] || 'text/plain; charset=utf-8' });
  res.end(edit ? edit(fs.readFileSync(file, 'utf8')) : fs.readFileSync(file));
}

// The sign-in page as the server fills it in (LoginPage in server/api_handler.cpp).
export function serveLoginPage(res, error) {
  res.setHeader('referrer-policy', 'same-origin');
  serveWebFile(res, 'login.html', (html) => html.replace('<!--ERROR-->', error ? '<p class="err">' + error + '</p>' : ''));
}

// Collects what a page reports: `errors` (console errors and warnings, page
// errors) and `violations` (every securitypolicyviolation event, which the
// page itself sees; Chromium also logs each as a console error).
export async function watchPage(page) {
  const errors = []; const violations = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
    if (m.text().startsWith('csp-violation ')) violations.push(m.text().slice(14));
  });
  page.on('pageerror', (e) => errors.push('pageerror: ' + e.message));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.log('csp-violation ' + e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
    });
  });
  return { errors, violations };
}

export const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// A numbered TAP-like step: prints "ok N - name" or "not ok N - name" and rethrows.
let steps = 0;
export async function check(name, fn) {
  steps++;
  try { await fn(); console.log(`ok ${steps} - ${name}`); } catch (e) { console.log(`not ok ${steps} - ${name}`); throw e; }
}
export const checksRun = () => steps;

// Waits until the dashboard has finished a load newer than `prev` (app.js sets
// body[data-loaded] to its generation); returns that generation.
export async function waitForLoad(page, prev, timeout = 20000) {
  await page.waitForFunction((g) => Number(document.body.dataset.loaded || 0) > g, prev, { timeout });
  return page.evaluate(() => Number(document.body.dataset.loaded));
}
// A tile's raw value (data-value), null when empty.
export const tileValue = (page, id) => page.$eval('#' + id, (e) => (e.dataset.value === '' ? null : Number(e.dataset.value)));

// The Clients panel (web/clients.js) shows exactly `ans`, the /api/v1/clients
// answer to the question the page asked: its rows' names and requests in
// order, or the "not logged" state with no rows; the partial marker exactly
// when the answer is partial. Returns the panel's state.
export async function expectClientsPanel(page, ans) {
  const state = await page.$eval('#clients-panel', (e) => e.dataset.state);
  if (ans.logged === false) {
    assert.equal(state, 'not-logged');
    assert.equal(await page.locator('#clients-table tbody tr').count(), 0);
    assert.match(await page.locator('#clients-note').textContent(), /not logged.*\$http_user_agent/);
  } else {
    assert.equal(state, 'table');
    const rows = await page.$$eval('#clients-table tbody tr', (trs) => trs.filter((tr) => tr.cells.length > 1).map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent]));
    const nf = new Intl.NumberFormat('en-US');
    assert.deepEqual(rows, ans.clients.map((c) => [c.client, nf.format(c.requests)]));
  }
  assert.equal(await page.locator('#clients-partial .partial').count(), ans.partial === true ? 1 : 0);
  return state;
}
