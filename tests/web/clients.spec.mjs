// Browser test for the dashboard's Clients panel (web/clients.js): a tiny
// node server serves web/ as apimeter_web maps it, with the server's
// security headers (page_harness.mjs), and a fake /api/v1 whose clients
// answers are shaped per docs/api.md (GET /api/v1/clients). Headless
// Chromium checks the panel's states: the top clients, an endpoint's clients
// (the drill-down), a customer's, a host filter (not asked), "not logged"
// (never a table of zeros), a partial answer (the partial marker), a failed
// question (the rest of the page still loads) and the customer-scoped page.
//
//   cd tests/web && node clients.spec.mjs
//
// Exits non-zero on the first failed check. Screenshots go to artifacts/.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { root, serveWebFile, watchPage, BROWSER_ARGS, check, checksRun, waitForLoad, expectClientsPanel } from './page_harness.mjs';

const artifacts = process.env.APIMETER_ARTIFACTS || path.join(root, 'artifacts');
const TIMEOUT = 15000;
const iso = (s) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
const DAY = 86400;

// [client, requests, 4xx, 5xx, p95]
const CLIENTS = [['okhttp/4.12', 5230, 52, 3, 41.25], ['python-requests/2.31', 2100, 210, 0, 8.125], ['curl/8.5', 310, 0, 31, 1250],
  ['Chrome/120.0', 95, 1, 0, 512.5], ['none', 12, 12, 0, null]];
const ENDPOINT_CLIENTS = [['Go-http-client/1.1', 800, 8, 8, 99.5], ['curl/8.5', 200, 0, 0, 3.25]];

const mode = { clients: 'ok', me: { role: 'admin', customer: null, customer_id: null, user: null } };
const log = [];
const lat = { avg: 20, p50: 15, p90: 40, p95: 55, p99: 90, max: 300 };

function filterOf(q) {
  const f = {};
  for (const k of ['host', 'endpoint', 'customer']) if (q.get(k)) f[k] = q.get(k);
  return f;
}
// GET /api/v1/clients per docs/api.md: whole UTC days, "logged", the rows.
function clients(q) {
  const from = Number(q.get('from')); const to = Number(q.get('to'));
  const day0 = Math.floor(from / DAY) * DAY; const day1 = Math.ceil(to / DAY) * DAY;
  const f = filterOf(q);
  const limit = Number(q.get('limit') || 20);
  const logged = mode.clients !== 'notlogged';
  const src = !logged ? [] : f.endpoint ? ENDPOINT_CLIENTS : CLIENTS;
  const total = src.reduce((s, c) => s + c[1], 0);
  const rows = src.slice(0, Math.min(limit, mode.cap || limit)).map(([client, requests, e4, e5, p95]) => ({ client, requests, share: Math.round(requests / total * 1e6) / 1e6,
    errors_4xx: e4, errors_5xx: e5, error_rate: Math.round((e4 + e5) / requests * 1e6) / 1e6,
    latency_ms: { avg: p95, p50: p95, p90: p95, p95, p99: p95, max: p95 }, bytes_in: requests * 10, bytes_out: requests * 100 }));
  const ans = { from: iso(day0), to: iso(day1), requested_from: iso(from), requested_to: iso(to), adjusted: true, plan: [], filter: f,
    resolution: 'day', note: 'client series are kept per whole UTC day', logged, total_requests: total, client_count: src.length, limit, clients: rows };
  if (mode.clients === 'partial') Object.assign(ans, { partial: true, damaged: ['apimeter:{d20425}:ua:b', 'apimeter:{d20426}:ua:b'] });
  return ans;
}
function core(name, q) {
  const from = Number(q.get('from')); const to = Number(q.get('to'));
  const head = { from: iso(from), to: iso(to), requested_from: iso(from), requested_to: iso(to), adjusted: false, plan: [], filter: filterOf(q) };
  switch (name) {
    case 'overview': return { ...head, requests: 1000, errors_4xx: 10, errors_5xx: 5, error_rate: 0.015, status: { 200: 985, 404: 10, 500: 5 },
      status_class: { '1xx': 0, '2xx': 985, '3xx': 0, '4xx': 10, '5xx': 5 }, latency_ms: lat, latency_count: 1000, bytes_in: 1e5, bytes_out: 1e6, rejected: 0, rps: 0.3, rps_seconds: to - from };
    case 'timeseries': return { ...head, step_s: 3600, step_chosen: true, points: [{ t: iso(from), requests: 1000, errors_4xx: 10, errors_5xx: 5, bytes_out: 1e6, p50: 15, p95: 55, p99: 90 }] };
    case 'endpoints': return { ...head, limit: 50, total_requests: 1000, endpoints: [{ endpoint: 'GET /v1/x', requests: 1000, share: 1, errors_4xx: 10, errors_5xx: 5, error_rate: 0.015, latency_ms: lat, bytes_in: 1e5, bytes_out: 1e6 }] };
    case 'customers': return { ...head, limit: 50, total_requests: 1000, customer_count: 1, customers: [{ customer: 'acme', requests: 1000, share: 1, errors_4xx: 0, errors_5xx: 0, error_rate: 0, latency_ms: lat, bytes_in: 1e5, bytes_out: 1e6 }] };
    case 'slow': return { from: iso(from), to: iso(to), filter: filterOf(q), limit: 20, malformed: 0, requests: [] };
    case 'heatmap': return { from: iso(from), to: iso(to), metric: 'p99', step_s: 3600, limit: 20, endpoints: [], times: [], cells: [] };
    case 'attribution': return { from: iso(from), to: iso(to), total: { requests: 1000, bytes: 1.1e6 }, active_customers: 1, limit: 100,
      customers: [{ rank: 1, customer: 'acme', requests: 1000, share_calls: 1, cumulative_share_calls: 1, bytes_in: 1e5, bytes_out: 1e6, bytes: 1.1e6, share_bytes: 1, rank_bytes: 1 }],
      others: { customers: 0, requests: 0, share_calls: 0, bytes: 0, share_bytes: 0 }, curve: [{ customers: 1, share_calls: 1 }], highlights: [],
      matrix: { customers: [], endpoints: [], cells: [], other_endpoints: [], totals: [] } };
    case 'alerts': return { evaluated_minute: null, rules: 0, active: [], history: [] };
    case 'report': return { report: 'customer_usage', customer: { name: q.get('customer'), id: null, in_customers_file: false }, period: { from: head.from, to: head.to, days: 1 },
      totals: { requests: 1000, errors_4xx: 10, errors_5xx: 5, rate_4xx: 0.01, rate_5xx: 0.005, bytes_in: 1e5, bytes_out: 1e6, latency_ms: lat }, daily: [], peak_day: null, peak_hour: null, endpoints: { rows: [] }, notes: [] };
    case 'clients':
      if (mode.clients === 'error') return null;
      return clients(q);
    default: return null;
  }
}
function send(res, code, body) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (u.pathname.startsWith('/api/v1/')) {
    const name = u.pathname.slice(8);
    if (name === 'me') return send(res, 200, mode.me);
    log.push({ name, params: Object.fromEntries(u.searchParams) });
    if (name === 'clients' && mode.clients === 'error') return send(res, 400, { error: { parameter: 'limit', message: 'must be between 1 and 1000' } });
    const body = core(name, u.searchParams);
    return body ? send(res, 200, body) : send(res, 404, { error: { message: 'no such API route; see /api/v1/openapi.json' } });
  }
  if (u.pathname === '/' || u.pathname === '/index.html') return serveWebFile(res, 'index.html');
  if (u.pathname.startsWith('/assets/')) return serveWebFile(res, u.pathname.slice(8));
  res.writeHead(404); res.end('not found');
});

const lastCall = (name) => [...log].reverse().find((c) => c.name === name);
const panelState = (page) => page.$eval('#clients-panel', (e) => e.dataset.state);
const tableRows = (page) => page.$$eval('#clients-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
const visible = (page, sel) => page.locator(sel).isVisible();
const shot = (page, name) => page.locator('#clients-panel').screenshot({ path: path.join(artifacts, name) });

await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
fs.mkdirSync(artifacts, { recursive: true });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: BROWSER_ARGS });
let failed = false;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const { errors: consoleErrors, violations } = await watchPage(page);
  await page.goto(base + '/?range=24h&live=0');
  let gen = await waitForLoad(page, 0);

  await check('the top clients: asked for the range with limit 20; rows, share, error rate and p95 as the page writes numbers', async () => {
    const p = lastCall('clients').params;
    assert.equal(p.limit, '20');
    assert.equal(Number(p.to) - Number(p.from), DAY);
    for (const k of ['endpoint', 'customer', 'host']) assert.equal(p[k], undefined, k);
    assert.equal(await panelState(page), 'table');
    assert.equal(await page.locator('#clients-title').textContent(), 'Clients');
    assert.deepEqual(await tableRows(page), [
      ['okhttp/4.12', '5,230', '67.5%', '1.05%', '41.2 ms'], // 41.25 → 41.2: printf's tie to even
      ['python-requests/2.31', '2,100', '27.1%', '10.0%', '8.12 ms'], // 8.125 → 8.12, as printf rounds
      ['curl/8.5', '310', '4.00%', '10.0%', '1250 ms'],
      ['Chrome/120.0', '95', '1.23%', '1.05%', '512.5 ms'],
      ['none', '12', '0.15%', '100.0%', '—'], // no latency: a dash, not 0 ms
    ]);
    const want = clients(new URLSearchParams(p));
    assert.equal(await expectClientsPanel(page, want), 'table'); // the helper the real-server tests use
    assert.match(await page.locator('#clients-note').textContent(), new RegExp('^Whole UTC days ' + want.from.slice(0, 10) + ' to ' + want.to.slice(0, 10) + ' \\(exclusive\\)\\.$'));
    assert.equal(await page.locator('#clients-partial .partial').count(), 0);
    assert.equal(await visible(page, '#clients-caveat'), false);
    await shot(page, 'clients-top.png');
    await page.screenshot({ path: path.join(artifacts, 'clients-dashboard.png'), fullPage: true });
  });

  await check('more clients than the answer lists: the note says top N of M', async () => {
    mode.cap = 3;
    await page.reload();
    gen = await waitForLoad(page, 0);
    assert.equal(await page.locator('#clients-table tbody tr').count(), 3);
    assert.match(await page.locator('#clients-note').textContent(), / Top 3 of 5 clients\.$/);
    mode.cap = undefined;
  });

  await check('the endpoint drill-down shows that endpoint\'s clients beside its customers', async () => {
    await page.getByRole('button', { name: 'Filter to endpoint GET /v1/x' }).first().click();
    gen = await waitForLoad(page, gen);
    const p = lastCall('clients').params;
    assert.equal(p.endpoint, 'GET /v1/x');
    assert.equal(p.customer, undefined);
    assert.equal(await page.locator('#clients-title').textContent(), 'Clients of GET /v1/x');
    assert.equal(await page.locator('#customers-title').textContent(), 'Customers of GET /v1/x');
    assert.deepEqual((await tableRows(page)).map((r) => r[0]), ENDPOINT_CLIENTS.map((c) => c[0]));
    assert.deepEqual((await tableRows(page))[0], ['Go-http-client/1.1', '800', '80.0%', '2.00%', '99.5 ms']);
    await shot(page, 'clients-endpoint.png');
  });

  await check('endpoint and customer: the customer\'s clients on every endpoint, said so', async () => {
    await page.getByRole('button', { name: 'Filter to customer acme' }).click();
    gen = await waitForLoad(page, gen);
    const p = lastCall('clients').params;
    assert.equal(p.customer, 'acme');
    assert.equal(p.endpoint, undefined); // the API takes one or the other
    assert.equal(await page.locator('#clients-title').textContent(), 'Clients of acme');
    assert.match(await page.locator('#clients-caveat').textContent(), /every endpoint/);
    await page.getByRole('button', { name: 'Remove filter endpoint GET /v1/x' }).click();
    gen = await waitForLoad(page, gen);
    assert.equal(lastCall('clients').params.customer, 'acme');
    assert.equal(await visible(page, '#clients-caveat'), false);
    await page.getByRole('button', { name: 'Remove filter customer acme' }).click();
    gen = await waitForLoad(page, gen);
  });

  await check('a host filter: clients are not asked, the panel says why', async () => {
    const before = log.filter((c) => c.name === 'clients').length;
    await page.goto(base + '/?range=24h&live=0&host=web1');
    gen = await waitForLoad(page, 0);
    assert.equal(log.filter((c) => c.name === 'clients').length, before);
    assert.equal(await panelState(page), 'refused');
    assert.equal(await page.locator('#clients-note').textContent(), 'Clients are not available with a host filter.');
    assert.equal(await visible(page, '#clients-table'), false);
  });

  await check('not logged: the panel says so and how to log them, and shows no table (no zeros)', async () => {
    mode.clients = 'notlogged';
    await page.goto(base + '/?range=7d&live=0');
    gen = await waitForLoad(page, 0);
    assert.equal(await panelState(page), 'not-logged');
    await expectClientsPanel(page, clients(new URLSearchParams(lastCall('clients').params)));
    assert.equal(await visible(page, '#clients-table'), false);
    assert.equal(await page.locator('#clients-table tbody tr').count(), 0);
    const note = await page.locator('#clients-note').textContent();
    assert.match(note, /^Clients are not logged for \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d \(exclusive\)/);
    assert.match(note, /Add \$http_user_agent to the nginx log_format/);
    assert.doesNotMatch(await page.locator('#clients-panel').textContent(), /\b0(\.0+)?%|\b0 ms/);
    await shot(page, 'clients-not-logged.png');
  });

  await check('a partial answer shows the partial marker naming how many blocks were left out', async () => {
    mode.clients = 'partial';
    await page.goto(base + '/?range=24h&live=0');
    gen = await waitForLoad(page, 0);
    assert.equal(await panelState(page), 'table');
    const marker = page.locator('#clients-partial .partial');
    assert.equal(await marker.count(), 1);
    assert.match(await marker.textContent(), /^Partial data: 2 stored blocks failed their checks and were left out/);
    assert.match(await marker.getAttribute('title'), /apimeter:\{d20425\}:ua:b/);
    assert.equal(await page.locator('#clients-table tbody tr').count(), CLIENTS.length);
    await expectClientsPanel(page, clients(new URLSearchParams(lastCall('clients').params)));
    await shot(page, 'clients-partial.png');
    mode.clients = 'ok';
    await page.goto(base + '/?range=24h&live=0');
    gen = await waitForLoad(page, 0);
    assert.equal(await page.locator('#clients-partial .partial').count(), 0, 'a whole answer clears the marker');
  });

  await check('the console shows no errors and no CSP violations', async () => {
    assert.deepEqual(violations, []);
    assert.deepEqual(consoleErrors, []);
  });

  // A refused question: the browser logs the failed status itself, so only page errors count here.
  const ep = await ctx.newPage();
  const pageErrors = [];
  ep.on('pageerror', (e) => pageErrors.push(e.message));
  await check('a failed clients question shows "Clients unavailable" with the API\'s message; the rest loads', async () => {
    mode.clients = 'error';
    await ep.goto(base + '/?range=24h&live=0');
    await waitForLoad(ep, 0);
    assert.equal(await panelState(ep), 'error');
    assert.equal(await ep.locator('#clients-note').textContent(), 'Clients unavailable: limit: must be between 1 and 1000');
    assert.equal(await ep.locator('#endpoints-table tbody tr').count(), 1);
    assert.equal(await ep.locator('#banner').isVisible(), false);
    assert.deepEqual(pageErrors, []);
    mode.clients = 'ok';
  });

  await check('"Your API usage": the scoped customer\'s clients, also with an endpoint filter', async () => {
    mode.me = { role: 'viewer', customer: 'acme', customer_id: null, user: null };
    const sp = await ctx.newPage();
    const watched = await watchPage(sp);
    await sp.goto(base + '/?range=24h&live=0');
    let g = await waitForLoad(sp, 0);
    assert.equal(lastCall('clients').params.customer, 'acme');
    assert.equal(await sp.locator('#clients-title').textContent(), 'Your clients');
    assert.equal(await sp.locator('#clients-panel').isVisible(), true);
    assert.equal(await sp.locator('#clients-table tbody tr').count(), CLIENTS.length);
    await sp.getByRole('button', { name: 'Filter to endpoint GET /v1/x' }).first().click();
    g = await waitForLoad(sp, g);
    const p = lastCall('clients').params;
    assert.equal(p.customer, 'acme');
    assert.equal(p.endpoint, undefined);
    assert.match(await sp.locator('#clients-caveat').textContent(), /every endpoint/);
    await sp.locator('#clients-panel').screenshot({ path: path.join(artifacts, 'clients-scoped.png') });
    assert.deepEqual(watched.violations, []);
    assert.deepEqual(watched.errors, []);
    mode.me = { role: 'admin', customer: null, customer_id: null, user: null };
  });

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const pp = await phone.newPage();
  await pp.goto(base + '/?range=24h&live=0');
  await waitForLoad(pp, 0);
  await check('390 px: the panel does not widen the page', async () => {
    const overflow = await pp.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, 'page is ' + overflow + ' px wider than the phone');
    await pp.locator('#clients-panel').screenshot({ path: path.join(artifacts, 'clients-390.png') });
  });
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  server.close();
}
console.log(failed ? 'FAIL' : `PASS (${checksRun()} checks); screenshots in ${artifacts}`);
process.exit(failed ? 1 : 0);
