// Browser test against a real `apimeter serve` (started with real data by
// tests/integration/serve_test.py, which passes APIMETER_BASE, APIMETER_TOKEN
// and the data's range as APIMETER_FROM / APIMETER_TO in epoch seconds).
// Headless Chromium signs in through the login page, then checks that the
// tiles and the endpoint table show exactly what the API answers for the
// same parameters, that changing the range and clicking an endpoint ask new
// questions, and that the console stays clean: no errors and no violation of
// the server's Content-Security-Policy on the sign-in page or the dashboard.
// Screenshots go to artifacts/.
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { watchPage, BROWSER_ARGS, check, checksRun, waitForLoad, tileValue, expectClientsPanel } from './page_harness.mjs';

const base = process.env.APIMETER_BASE;
const token = process.env.APIMETER_TOKEN;
const from = Number(process.env.APIMETER_FROM);
const to = Number(process.env.APIMETER_TO);
const artifacts = process.env.APIMETER_ARTIFACTS || 'artifacts';
const TIMEOUT = 20000;
if (!base || !token || !(from < to)) {
  console.error('usage: APIMETER_BASE=http://... APIMETER_TOKEN=... APIMETER_FROM=s APIMETER_TO=s node real_server.spec.mjs');
  process.exit(64);
}
fs.mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: BROWSER_ARGS });
let failed = false;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const { errors: consoleErrors, violations } = await watchPage(page);
  // Every page and asset the browser loads, with the headers it got.
  const responses = [];
  page.on('response', (r) => { if (r.request().resourceType() !== 'fetch' && r.request().resourceType() !== 'eventsource') responses.push(r); });
  // The questions the page asks, to ask the API the very same ones.
  const asked = [];
  page.on('request', (r) => { const u = new URL(r.url()); if (u.pathname.startsWith('/api/v1/')) asked.push(u); });
  const lastAsked = (name) => [...asked].reverse().find((u) => u.pathname === '/api/v1/' + name);
  const api = async (u) => {
    const r = await page.request.get(u.toString());  // the browser context's session cookie
    assert.equal(r.status(), 200, u.toString());
    return r.json();
  };

  await check('without a session the page redirects to /login; a wrong token is refused', async () => {
    await page.goto(base + '/');
    await page.waitForURL(/\/login$/, { timeout: TIMEOUT });
    assert.equal(await page.$eval('body', (b) => getComputedStyle(b).maxWidth), '384px'); // web/login.css applies
    await page.fill('#token', 'not-the-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('.err', { timeout: TIMEOUT });
    assert.equal(await page.locator('.err').textContent(), 'That token is not valid. Try again.');
    await page.screenshot({ path: path.join(artifacts, 'real-login-refused.png') });
    assert.deepEqual(violations, []);
  });

  let gen = 0;
  await check('signing in with the token opens the dashboard', async () => {
    await page.fill('#token', token);
    await page.click('button[type=submit]');
    await page.waitForURL((u) => new URL(u).pathname === '/', { timeout: TIMEOUT });
    gen = await waitForLoad(page, 0);
    consoleErrors.length = 0;  // the refused sign-in's 401 was logged by the browser
    const cookies = await ctx.cookies();
    const session = cookies.find((c) => c.name === 'apimeter_session');
    assert.ok(session && session.httpOnly && session.sameSite === 'Strict', JSON.stringify(cookies));
  });

  await check('the tiles equal the API for the data range', async () => {
    await page.goto(`${base}/?range=custom&from=${from}&to=${to}&live=0`);
    gen = await waitForLoad(page, 0);
    const ov = await api(lastAsked('overview'));
    assert.ok(ov.requests > 0, 'the data range has requests');
    assert.equal(await tileValue(page, 'tile-requests'), ov.requests);
    assert.equal(await tileValue(page, 'tile-error-rate'), ov.error_rate);
    assert.equal(await tileValue(page, 'tile-4xx'), ov.errors_4xx);
    assert.equal(await tileValue(page, 'tile-5xx'), ov.errors_5xx);
    for (const p of ['p50', 'p95', 'p99']) assert.equal(await tileValue(page, 'tile-' + p), ov.latency_ms[p], p);
    const eps = await api(lastAsked('endpoints'));
    const rows = await page.$$eval('#endpoints-table tbody tr', (trs) => trs.map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent]));
    const nf = new Intl.NumberFormat('en-US');
    assert.deepEqual(rows, eps.endpoints.map((e) => [e.endpoint, nf.format(e.requests)]));
    await page.screenshot({ path: path.join(artifacts, 'real-dashboard-1280.png'), fullPage: true });
  });

  await check('the Clients panel shows what /api/v1/clients answers for the same range', async () => {
    const u = lastAsked('clients');
    assert.ok(u, 'the page asked for clients');
    assert.equal(u.searchParams.get('from'), String(from));
    assert.equal(u.searchParams.get('to'), String(to));
    const ans = await api(u);
    // serve_test.py's log format (harness.API_FORMAT) has $http_user_agent: a table, not "not logged".
    assert.equal(await expectClientsPanel(page, ans), 'table');
    assert.ok(ans.clients.length > 0);
    await page.locator('#clients-panel').screenshot({ path: path.join(artifacts, 'real-clients.png') });
  });

  await check('changing the time range asks for the new range and redraws the charts', async () => {
    const before = lastAsked('timeseries');
    await page.getByRole('button', { name: '24h', exact: true }).click();
    gen = await waitForLoad(page, gen);
    const after = lastAsked('timeseries');
    assert.notEqual(after.toString(), before.toString());
    assert.equal(Number(after.searchParams.get('to')) - Number(after.searchParams.get('from')), 86400);
    const ts = await api(after);
    const drawn = await page.$eval('#chart-rps', (e) => e.querySelectorAll('canvas').length);
    assert.ok(drawn > 0 && ts.points.length > 0);
    const ov = await api(lastAsked('overview'));
    assert.equal(await tileValue(page, 'tile-requests'), ov.requests);
  });

  await check('clicking an endpoint filters every view to it', async () => {
    const first = page.locator('#endpoints-table tbody tr button.linkish').first();
    const name = await first.textContent();
    await first.click();
    gen = await waitForLoad(page, gen);
    const ovUrl = lastAsked('overview');
    assert.equal(ovUrl.searchParams.get('endpoint'), name);
    const ov = await api(ovUrl);
    assert.equal(await tileValue(page, 'tile-requests'), ov.requests);
    assert.match(await page.locator('#chips').textContent(), new RegExp('endpoint'));
    // The drill-down (issue 18): the customers of this endpoint, with their last call, as the API says.
    const cuUrl = lastAsked('customers');
    assert.equal(cuUrl.searchParams.get('endpoint'), name);
    const cu = await api(cuUrl);
    assert.ok(cu.customers.length > 0, 'the real data has customers on every endpoint');
    assert.equal(await page.locator('#customers-table tbody tr').count(), cu.customers.length);
    const row = page.locator('#customers-table tbody tr').first();
    assert.equal(await row.locator('td').first().textContent(), cu.customers[0].customer);
    assert.equal(await row.locator('td[data-seen="last"]').textContent(), cu.customers[0].last_seen.replace('T', ' ').replace(':00Z', ''));
    // ... and that endpoint's clients.
    const clUrl = lastAsked('clients');
    assert.equal(clUrl.searchParams.get('endpoint'), name);
    assert.equal(clUrl.searchParams.get('customer'), null);
    const cl = await api(clUrl);
    assert.deepEqual(cl.filter, { endpoint: name });
    assert.equal(await expectClientsPanel(page, cl), 'table');
    assert.equal(await page.locator('#clients-title').textContent(), 'Clients of ' + name);
    await page.screenshot({ path: path.join(artifacts, 'real-dashboard-endpoint.png'), fullPage: true });
  });

  await check('the console shows no errors and no CSP violations', async () => {
    assert.deepEqual(violations, []);
    assert.deepEqual(consoleErrors, []);
  });

  await check('every page and asset came with the Content-Security-Policy and Referrer-Policy', async () => {
    const seen = new Set();
    for (const r of responses) {
      const u = new URL(r.url());
      if (u.origin !== new URL(base).origin) continue;
      const h = await r.allHeaders();
      const csp = h['content-security-policy'] || '';
      for (const d of ["default-src 'self'", "object-src 'none'", "frame-ancestors 'none'"]) assert.ok(csp.includes(d), u.pathname + ': ' + csp);
      assert.ok(!csp.includes('unsafe-inline'), u.pathname + ': ' + csp);
      assert.equal(h['x-frame-options'], 'DENY', u.pathname);
      // The sign-in page keeps same-origin so its form carries an Origin (docs/api.md).
      assert.equal(h['referrer-policy'], u.pathname === '/login' && r.status() !== 303 ? 'same-origin' : 'no-referrer', u.pathname + ' ' + r.status());
      seen.add(u.pathname);
    }
    for (const p of ['/', '/login', '/assets/app.js', '/assets/util.js', '/assets/login.css']) assert.ok(seen.has(p), p + ' not loaded: ' + [...seen]);
  });
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
}
console.log(failed ? 'FAIL' : `PASS (${checksRun()} checks); screenshots in ${artifacts}`);
process.exit(failed ? 1 : 0);
