// Browser test for the dashboard (web/), runnable on its own: a tiny node
// server serves web/ exactly as apimeter_web maps it ("/" → index.html,
// "/assets/<file>", with the server's security headers, Content-Security-Policy
// included: page_harness.mjs) plus a fake /api/v1 answering JSON shaped per
// docs/api.md. Headless Chromium (system /usr/bin/chromium) drives the page,
// which must run with no console error and no CSP violation.
//
//   cd tests/web && npm install && node dashboard.spec.mjs
//
// Exits non-zero on the first failed check. Screenshots go to artifacts/.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { root, serveWebFile, serveLoginPage, watchPage, BROWSER_ARGS, SECURITY_HEADERS } from './page_harness.mjs';

const artifacts = process.env.APIMETER_ARTIFACTS || path.join(root, 'artifacts');
const TIMEOUT = 15000;

// ---------- fake API ----------
const ENDPOINTS = [
  ['GET /v1/orders/:id', 500, 18], ['POST /v1/orders', 210, 45], ['GET /v1/users/:id', 160, 12],
  ['GET /v1/search', 90, 420], ['DELETE /v1/orders/:id', 25, 30], ['GET /healthz', 15, 1],
];
const CUSTOMERS = [['acme', 0.46], ['globex', 0.27], ['k_3fa85f6457b2', 0.17], ['anonymous', 0.10]];
const iso = (s) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
const r3 = (x) => Math.round(x * 1000) / 1000;
const r6 = (x) => Math.round(x * 1e6) / 1e6;

const mode = { api: 'ok' }; // 'ok' | 'empty' | 'unavailable' | 'unauthorized' | 'heatmaperror' | 'badrequest'
const log = []; // every API request: {path, params}

function rangeOf(q) {
  const from = Number(q.get('from')); const to = Number(q.get('to'));
  return { from: Math.floor(from / 60) * 60, to: Math.ceil(to / 60) * 60, rf: from, rt: to };
}
function filterOf(q) {
  const f = {};
  for (const k of ['host', 'endpoint', 'customer']) if (q.get(k)) f[k] = q.get(k);
  return f;
}
// Requests per minute of the whole service, scaled by the filter.
function perMinute(f) {
  let n = 1010;
  if (f.endpoint) n = (ENDPOINTS.find((e) => e[0] === f.endpoint) || [0, 0])[1];
  if (f.customer) n = Math.round(n * ((CUSTOMERS.find((c) => c[0] === f.customer) || [0, 0])[1]));
  if (f.host) n = Math.round(n / 2);
  return mode.api === 'empty' ? 0 : n;
}
function latency(base, n) {
  if (n === 0) return { avg: null, p50: null, p90: null, p95: null, p99: null, max: null };
  return { avg: r3(base * 1.3), p50: r3(base), p90: r3(base * 3.1), p95: r3(base * 4.2), p99: r3(base * 9.7), max: r3(base * 40) };
}
function rangeHeader(q) {
  const { from, to, rf, rt } = rangeOf(q);
  return { from: iso(from), to: iso(to), requested_from: iso(rf), requested_to: iso(rt), adjusted: from !== rf || to !== rt,
    plan: [{ tier: 'minute', from: iso(from), to: iso(to), buckets: (to - from) / 60 }], filter: filterOf(q) };
}
function overview(q) {
  const { from, to } = rangeOf(q);
  const f = filterOf(q); const minutes = (to - from) / 60;
  const requests = perMinute(f) * minutes;
  const e4 = Math.floor(requests * 0.031); const e5 = Math.floor(requests * 0.012);
  const s304 = Math.floor(requests * 0.05); const s201 = Math.floor(requests * 0.2);
  const status = requests ? { 200: requests - e4 - e5 - s304 - s201, 201: s201, 304: s304, 404: e4 - Math.floor(e4 / 3), 429: Math.floor(e4 / 3), 500: e5 - Math.floor(e5 / 4), 503: Math.floor(e5 / 4) } : {};
  const rpsSeconds = to - from;
  return { ...rangeHeader(q), requests, errors_4xx: e4, errors_5xx: e5, error_rate: requests ? r6((e4 + e5) / requests) : null,
    status, status_class: { '1xx': 0, '2xx': requests - e4 - e5 - s304, '3xx': s304, '4xx': e4, '5xx': e5 },
    latency_ms: latency(f.endpoint ? (ENDPOINTS.find((e) => e[0] === f.endpoint) || [0, 0, 20])[2] : 21.4, requests),
    latency_count: requests, bytes_in: requests * 310, bytes_out: requests * 2048, rejected: f.customer || f.endpoint ? 0 : 3,
    rps: rpsSeconds > 0 ? r3(requests / rpsSeconds) : null, rps_seconds: rpsSeconds };
}
function timeseries(q) {
  const { from, to } = rangeOf(q); const span = to - from; const f = filterOf(q);
  const step = span <= 21600 ? 60 : span <= 14 * 86400 ? 3600 : 86400;
  const start = Math.floor(from / step) * step; const end = Math.ceil(to / step) * step;
  const points = [];
  for (let t = start; t < end; t += step) {
    const wave = 1 + 0.35 * Math.sin(t / 1800);
    const requests = Math.round(perMinute(f) * (step / 60) * wave);
    points.push({ t: iso(t), requests, errors_4xx: Math.floor(requests * 0.031), errors_5xx: Math.floor(requests * 0.012 * (t % 7 === 0 ? 5 : 1)), bytes_out: requests * 2048,
      p50: requests ? r3(20 * wave) : null, p95: requests ? r3(85 * wave) : null, p99: requests ? r3(210 * wave) : null });
  }
  return { from: iso(start), to: iso(end), requested_from: iso(rangeOf(q).rf), requested_to: iso(rangeOf(q).rt), step_s: step, step_chosen: true, filter: f, points };
}
function endpoints(q) {
  const { from, to } = rangeOf(q); const f = filterOf(q); const minutes = (to - from) / 60;
  const total = perMinute({ customer: f.customer }) * minutes;
  const rows = ENDPOINTS.filter((e) => !f.endpoint || e[0] === f.endpoint).map(([name, rate, lat], i) => {
    const requests = Math.round(rate * minutes * (f.customer ? (CUSTOMERS.find((c) => c[0] === f.customer) || [0, 0])[1] : 1));
    const e4 = Math.floor(requests * (0.01 + 0.02 * i)); const e5 = Math.floor(requests * (i === 4 ? 0.2 : 0.005));
    return { endpoint: name, requests, share: total ? r6(requests / total) : null, errors_4xx: e4, errors_5xx: e5, error_rate: requests ? r6((e4 + e5) / requests) : null,
      latency_ms: latency(lat, requests), bytes_in: requests * 300, bytes_out: requests * 2000 };
  }).filter((r) => r.requests > 0).sort((a, b) => b.requests - a.requests);
  return { ...rangeHeader(q), limit: Number(q.get('limit') || 20), total_requests: total, endpoints: rows.slice(0, Number(q.get('limit') || 20)) };
}
function customers(q) {
  const { from, to } = rangeOf(q); const f = filterOf(q); const minutes = (to - from) / 60;
  const total = perMinute({}) * minutes;
  const rows = CUSTOMERS.filter((c) => !f.customer || c[0] === f.customer).map(([name, share]) => {
    const requests = Math.round(total * share);
    return { customer: name, requests, share: total ? r6(requests / total) : null, errors_4xx: 0, errors_5xx: 0, error_rate: requests ? 0 : null,
      latency_ms: latency(20, requests), bytes_in: requests * 310, bytes_out: Math.round(total * 2048 * share * (name === 'acme' ? 1.2 : 0.83)) };
  }).filter((r) => r.requests > 0);
  if (f.endpoint) return endpointCustomers(q, f);
  return { ...rangeHeader(q), limit: Number(q.get('limit') || 20), total_requests: total, customers: rows };
}
// customers?endpoint=...: whole UTC days, first/last seen (docs/api.md).
function endpointCustomers(q, f) {
  const { from, to } = rangeOf(q);
  const day0 = Math.floor(from / 86400) * 86400; const day1 = Math.ceil(to / 86400) * 86400;
  const total = perMinute({ endpoint: f.endpoint }) * (to - from) / 60;
  const rows = CUSTOMERS.map(([name, share], i) => {
    const requests = Math.round(total * share);
    return { customer: name, requests, share: total ? r6(requests / total) : null, errors_4xx: i, errors_5xx: 0, error_rate: requests ? r6(i / requests) : null,
      latency_ms: { p50: 12, p95: r3(40 + i), p99: 90, max: 300 }, bytes_in: 0, bytes_out: 0,
      first_seen: i === 3 ? null : iso(day0 + 600 + 60 * i), last_seen: iso(to - 60 * (1 + 30 * i)) };
  }).filter((r) => r.requests > 0);
  return { from: iso(day0), to: iso(day1), requested_from: iso(from), requested_to: iso(to), adjusted: true, plan: [], filter: { endpoint: f.endpoint },
    total_requests: total, customer_count: rows.length, limit: Number(q.get('limit') || 20), customers: rows, resolution: 'day', note: 'whole UTC days' };
}
function slow(q) {
  const { rf, rt } = rangeOf(q); const f = filterOf(q);
  const rows = mode.api === 'empty' ? [] : [0, 1, 2, 3, 4].map((i) => ({ time: iso(rt - 600 * (i + 1)), time_us: (rt - 600 * (i + 1)) * 1e6 + 123456,
    endpoint: f.endpoint || ENDPOINTS[i % 4][0], customer: f.customer || CUSTOMERS[i % 4][0], status: i === 2 ? 504 : 200, latency_ms: r3(2400 - i * 310.5), host: f.host || 'web' + (i % 2 + 1) }));
  return { from: iso(rf), to: iso(rt), filter: f, limit: Number(q.get('limit') || 20), malformed: 0, requests: rows };
}
function heatmap(q) {
  const { from, to } = rangeOf(q);
  const start = Math.floor(from / 3600) * 3600; const cols = [];
  for (let t = start; t < to; t += 3600) cols.push(iso(t));
  // Shaped as docs/api.md's heatmap: endpoints × times, cells[endpoint][time].
  return { from: iso(start), to: iso(Math.ceil(to / 3600) * 3600), metric: 'p99', step_s: 3600, limit: 20,
    endpoints: ENDPOINTS.map(([name]) => name), times: cols,
    cells: ENDPOINTS.map(([, , lat], i) => cols.map((c, j) => (i === 5 && j % 3 === 1 ? null : r3(lat * 9.7 * (1 + 0.3 * Math.sin(j + i)))))) };
}
// web/report.js asks these (docs/reports.md); tests/web/report.spec.mjs checks them in depth.
function report(q) {
  const ov = overview(q);
  return { customer: { name: q.get('customer'), id: null, in_customers_file: false }, period: { from: ov.from, to: ov.to, days: 1 },
    totals: { requests: ov.requests, errors_4xx: ov.errors_4xx, errors_5xx: ov.errors_5xx, rate_4xx: null, rate_5xx: null, bytes_in: ov.bytes_in, bytes_out: ov.bytes_out, latency_ms: ov.latency_ms },
    daily: [], peak_day: null, peak_hour: null, endpoints: { rows: [] }, notes: [] };
}
function attribution(q) {
  const cus = customers(q).customers; let cum = 0;
  const rows = cus.map((c, i) => { cum += c.share; return { rank: i + 1, customer: c.customer, requests: c.requests, share_calls: c.share, cumulative_share_calls: r6(cum), bytes: c.bytes_out, share_bytes: null }; });
  return { from: iso(rangeOf(q).from), to: iso(rangeOf(q).to), total: { requests: perMinute({}) }, active_customers: rows.length, customers: rows,
    others: { customers: 0, requests: 0, share_calls: 0, bytes: 0, share_bytes: null }, curve: rows.map((r) => ({ customers: r.rank, share_calls: r.cumulative_share_calls })),
    highlights: [], matrix: { customers: [], endpoints: [], cells: [], other_endpoints: [] } };
}
// /api/v1/clients (web/clients.js; tests/web/clients.spec.mjs checks the panel in depth).
function clientsAnswer(q) {
  const { from, to } = rangeOf(q);
  const day0 = Math.floor(from / 86400) * 86400; const day1 = Math.ceil(to / 86400) * 86400;
  const n = perMinute(filterOf(q)) * (to - from) / 60;
  const rows = n ? [{ client: 'okhttp/4.12', requests: n, share: 1, errors_4xx: 0, errors_5xx: 0, error_rate: 0, latency_ms: latency(20, n), bytes_in: 0, bytes_out: 0 }] : [];
  return { from: iso(day0), to: iso(day1), requested_from: iso(from), requested_to: iso(to), adjusted: true, plan: [], filter: filterOf(q), resolution: 'day',
    note: 'whole UTC days', logged: true, total_requests: n, client_count: rows.length, limit: Number(q.get('limit') || 20), clients: rows };
}
const HANDLERS = { overview, timeseries, endpoints, customers, slow, heatmap, report, attribution, clients: clientsAnswer };

function sendJson(res, code, body) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
// GET /api/v1/alerts (web/alerts.js): one alert firing now, one resolved.
const ALERT_MINUTE = 1795730400;
const ALERTS = {
  evaluated_minute: '2026-11-26T22:05:00Z', rules: 2,
  active: [{ rule: 'orders-p99', scope: 'endpoint', name: 'GET /v1/orders/:id', state: 'firing', since: ALERT_MINUTE,
    value: 812.4, baseline: null, requests: 1200, severity: 'critical', metric: 'p99', threshold: '500ms' }],
  history: [{ kind: 'resolved', rule: 'api-5xx', scope: 'all', name: '', minute: ALERT_MINUTE - 600, since: ALERT_MINUTE - 900,
    metric: 'error_rate', condition: '5xx above 2%', value: 0.004, limit: 0.02, baseline: null, requests: 9000, window_s: 60, severity: 'warning', labels: {} }],
};
const BAD_FROM = "time '2026-02-30' is not understood; use now, a duration ago (1h, 24h, 7d, 30d), an ISO-8601 time such as 2026-11-26T10:00:00Z, or epoch seconds";
function serveApi(res, name, q) {
  // GET /api/v1/me (asked once at start): an admin token, every customer.
  if (name === 'me') return sendJson(res, 200, { role: 'admin', customer: null, customer_id: null, user: null });
  log.push({ name, params: Object.fromEntries(q) });
  if (name === 'alerts') return sendJson(res, 200, ALERTS); // no range parameters
  // Error bodies exactly as the server sends them (docs/api.md, Errors).
  if (mode.api === 'unavailable') return sendJson(res, 503, { error: { message: 'Redis unavailable: connection refused' } });
  if (mode.api === 'unauthorized') return sendJson(res, 401, { error: { message: 'authentication required' } });
  if (mode.api === 'badrequest') return sendJson(res, 400, { error: { parameter: 'from', message: BAD_FROM } });
  if (name === 'heatmap' && mode.api === 'heatmaperror') return sendJson(res, 400, { error: { parameter: 'from', message: 'range too long for the heatmap' } });
  const h = HANDLERS[name];
  if (!h) return sendJson(res, 404, { error: { message: 'no such API route; see /api/v1/openapi.json' } });
  if (!(Number(q.get('from')) < Number(q.get('to')))) return sendJson(res, 400, { error: { parameter: 'from', message: 'from must be before to' } });
  return sendJson(res, 200, h(q));
}
// /api/v1/live as Server-Sent Events (server/live_stream.h): one event at
// once, then one a second (faster than the real 5 s, to keep the test short).
const liveStreams = new Set();
function liveEvent(res, id) {
  const t = Math.floor(Date.now() / 60000) * 60 - 60;
  const last = { t: iso(t), requests: 1010, rps: r6(1010 / 60), errors_4xx: 31, errors_5xx: 12, error_rate: r6(43 / 1010), p99: 210.5 };
  res.write(`event: live\nid: ${id}\ndata: ${JSON.stringify({ window_s: 900, interval_s: 5, last_minute: last, points: [] })}\n\n`);
}
function serveLive(res, q) {
  log.push({ name: 'live', params: Object.fromEntries(q) });
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  let id = 1;
  liveEvent(res, id++);
  const timer = setInterval(() => liveEvent(res, id++), 1000);
  liveStreams.add(res);
  res.on('close', () => { clearInterval(timer); liveStreams.delete(res); });
}
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/api/v1/live') return serveLive(res, url.searchParams);
  if (url.pathname.startsWith('/api/v1/')) return serveApi(res, url.pathname.slice(8), url.searchParams);
  if (url.pathname === '/' || url.pathname === '/index.html') return serveWebFile(res, 'index.html');
  if (url.pathname === '/login') return serveLoginPage(res, url.searchParams.get('error'));
  if (url.pathname === '/favicon.ico') { res.writeHead(204); return res.end(); }
  if (url.pathname.startsWith('/assets/')) return serveWebFile(res, url.pathname.slice(8));
  res.writeHead(404); res.end('not found');
});

// ---------- helpers ----------
const nf = new Intl.NumberFormat('en-US');
let step = 0;
async function check(name, fn) {
  step++;
  try { await fn(); console.log(`ok ${step} - ${name}`); } catch (e) { console.log(`not ok ${step} - ${name}`); throw e; }
}
const lastCall = (name) => [...log].reverse().find((c) => c.name === name);
async function waitForLoad(page, prevGen) {
  await page.waitForFunction((g) => Number(document.body.dataset.loaded || 0) > g, prevGen, { timeout: TIMEOUT });
  return page.evaluate(() => Number(document.body.dataset.loaded));
}
async function tile(page, id) {
  return page.$eval('#' + id, (e) => ({ text: e.textContent, value: e.dataset.value }));
}

// ---------- the test ----------
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
fs.mkdirSync(artifacts, { recursive: true });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: BROWSER_ARGS });
let failed = false;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const { errors: consoleErrors, violations } = await watchPage(page);

  await check('the page is served with the Content-Security-Policy; the scripts are modules', async () => {
    const res = await page.goto(base + '/?range=1h&live=0');
    const csp = res.headers()['content-security-policy'];
    assert.equal(csp, SECURITY_HEADERS['Content-Security-Policy']);
    for (const d of ["default-src 'self'", "object-src 'none'", "frame-ancestors 'none'"]) assert.ok(csp.includes(d), d);
    assert.ok(!csp.includes('unsafe-inline'), csp);
    assert.equal(res.headers()['referrer-policy'], 'no-referrer');
    assert.deepEqual(await page.evaluate(() => Object.keys(window).filter((k) => k.startsWith('apimeter'))), []);
  });
  await page.goto(base + '/?range=1h&live=0');
  let gen = await waitForLoad(page, 0);

  await check('overview tiles equal the API answer', async () => {
    const ov = overview(new URLSearchParams(lastCall('overview').params));
    assert.equal((await tile(page, 'tile-requests')).value, String(ov.requests));
    assert.equal((await tile(page, 'tile-requests')).text, nf.format(ov.requests));
    assert.equal((await tile(page, 'tile-4xx')).text, nf.format(ov.errors_4xx));
    assert.equal((await tile(page, 'tile-5xx')).text, nf.format(ov.errors_5xx));
    assert.equal((await tile(page, 'tile-error-rate')).value, String(ov.error_rate));
    assert.equal((await tile(page, 'tile-rps')).value, String(ov.rps));
    for (const p of ['p50', 'p95', 'p99']) assert.equal((await tile(page, 'tile-' + p)).value, String(ov.latency_ms[p]));
    assert.equal((await tile(page, 'tile-p99')).text, ov.latency_ms.p99.toFixed(1) + ' ms');
  });

  await check('all seven questions are asked for the 1 h range; endpoints/customers limit=50, slow 20, clients 20, heatmap p99', async () => {
    for (const n of ['overview', 'timeseries', 'endpoints', 'customers', 'slow', 'heatmap', 'clients']) assert.ok(lastCall(n), n + ' not called');
    assert.equal(lastCall('clients').params.limit, '20');
    assert.equal(lastCall('endpoints').params.limit, '50');
    assert.equal(lastCall('customers').params.limit, '50');
    assert.equal(lastCall('slow').params.limit, '20');
    assert.equal(lastCall('heatmap').params.metric, 'p99');
    const p = lastCall('overview').params;
    assert.equal(Number(p.to) - Number(p.from), 3600);
  });

  await check('tables and heatmap are rendered', async () => {
    assert.equal(await page.locator('#endpoints-table tbody tr').count(), ENDPOINTS.length);
    assert.equal(await page.locator('#customers-table tbody tr').count(), CUSTOMERS.length);
    assert.equal(await page.locator('#slow-table tbody tr').count(), 5);
    assert.equal(await page.locator('#heatmap .hm-row').count(), ENDPOINTS.length);
    assert.ok(await page.locator('.hm-legend').isVisible());
  });

  await check('endpoints sort client-side by p99 and error rate', async () => {
    const before = log.length;
    await page.getByRole('button', { name: 'p99' }).click();
    assert.equal(await page.locator('#endpoints-table tbody tr:first-child .name').textContent(), 'GET /v1/search');
    await page.getByRole('button', { name: 'Error rate' }).click();
    assert.equal(await page.locator('#endpoints-table tbody tr:first-child .name').textContent(), 'DELETE /v1/orders/:id');
    assert.equal(log.length, before, 'sorting must not refetch');
    assert.match(page.url(), /sort=error_rate/);
    await page.getByRole('button', { name: 'Requests' }).click();
  });

  await page.screenshot({ path: path.join(artifacts, 'dashboard-1280.png'), fullPage: true });

  await check('changing the range to 24h refetches and updates the chart', async () => {
    const pointsBefore = await page.$eval('#charts', (e) => e.dataset.points);
    await page.getByRole('button', { name: '24h', exact: true }).click();
    gen = await waitForLoad(page, gen);
    const p = lastCall('timeseries').params;
    assert.equal(Number(p.to) - Number(p.from), 86400);
    const ts = timeseries(new URLSearchParams(p));
    const pointsAfter = await page.$eval('#charts', (e) => e.dataset.points);
    assert.equal(pointsAfter, String(ts.points.length));
    assert.notEqual(pointsAfter, pointsBefore);
    assert.match(page.url(), /range=24h/);
    const ov = overview(new URLSearchParams(lastCall('overview').params));
    assert.equal((await tile(page, 'tile-requests')).value, String(ov.requests));
  });

  await check('clicking an endpoint row adds a removable filter chip and refetches with it', async () => {
    await page.getByRole('button', { name: 'Filter to endpoint GET /v1/search' }).first().click();
    gen = await waitForLoad(page, gen);
    assert.equal(lastCall('overview').params.endpoint, 'GET /v1/search');
    assert.equal(lastCall('timeseries').params.endpoint, 'GET /v1/search');
    assert.match(page.url(), /endpoint=GET\+%2Fv1%2Fsearch/);
    assert.equal(await page.locator('.chip[data-kind="endpoint"] strong').textContent(), 'GET /v1/search');
    const ov = overview(new URLSearchParams(lastCall('overview').params));
    assert.equal((await tile(page, 'tile-requests')).text, nf.format(ov.requests));
    // The drill-down: the customers card lists this endpoint's customers with their last call.
    assert.equal(lastCall('customers').params.endpoint, 'GET /v1/search');
    assert.equal(lastCall('customers').params.customer, undefined);
    assert.equal(await page.locator('#customers-title').textContent(), 'Customers of GET /v1/search');
    assert.equal(await page.locator('#customers-table').getAttribute('data-mode'), 'endpoint');
    const want = endpointCustomers(new URLSearchParams(lastCall('customers').params), { endpoint: 'GET /v1/search' });
    assert.equal(await page.locator('#customers-table tbody tr').count(), want.customers.length);
    const firstRow = page.locator('#customers-table tbody tr').first();
    assert.equal(await firstRow.locator('td').first().textContent(), want.customers[0].customer);
    assert.equal(await firstRow.locator('td[data-seen="last"]').textContent(), want.customers[0].last_seen.replace('T', ' ').replace(':00Z', ''));
    assert.equal(await page.locator('#customers-table tbody tr').last().locator('td[data-seen="first"]').textContent(), '—'); // unknown, not a guess
    assert.match(await page.locator('#customers-table thead').textContent(), /Last call/);
    assert.match(await page.locator('#customers-note').textContent(), /Whole UTC days/);
    await page.screenshot({ path: path.join(artifacts, 'dashboard-endpoint-customers.png'), fullPage: true });
    await page.getByRole('button', { name: 'Remove filter endpoint GET /v1/search' }).click();
    gen = await waitForLoad(page, gen);
    assert.equal(lastCall('overview').params.endpoint, undefined);
    assert.equal(await page.locator('.chip').count(), 0);
    assert.equal(await page.locator('#customers-title').textContent(), 'Top customers'); // back to the top list
    assert.match(await page.locator('#customers-table thead').textContent(), /Share of bytes/);
  });

  await check('clicking a customer filters to it; state survives a reload from the URL', async () => {
    await page.getByRole('button', { name: 'Filter to customer globex' }).click();
    gen = await waitForLoad(page, gen);
    assert.equal(lastCall('endpoints').params.customer, 'globex');
    await page.reload();
    gen = await waitForLoad(page, 0);
    assert.equal(lastCall('overview').params.customer, 'globex');
    assert.equal(Number(lastCall('overview').params.to) - Number(lastCall('overview').params.from), 86400);
    assert.equal(await page.locator('[data-range="24h"]').getAttribute('aria-pressed'), 'true');
    await page.getByRole('button', { name: 'Remove filter customer globex' }).click();
    gen = await waitForLoad(page, gen);
  });

  await check('live: ticking it opens /api/v1/live, shows the last minute, and each pushed event reloads; disabled for 7d', async () => {
    await page.getByRole('checkbox', { name: /Live/ }).check();
    await page.waitForFunction(() => !document.getElementById('live-now').hidden, null, { timeout: TIMEOUT });
    assert.match(await page.locator('#live-now').textContent(), /16\.8 req\/s · 4\.26% errors · p99 210\.5 ms/);
    assert.equal(lastCall('live').params.interval, '5');
    gen = await waitForLoad(page, gen); // the next pushed event reloads the views without any click
    await page.getByRole('button', { name: '7d', exact: true }).click();
    gen = await waitForLoad(page, gen);
    assert.equal(await page.locator('#live').isDisabled(), true);
  });

  await check('alerts panel: firing now and recent, each linking to the view at the alert time', async () => {
    await page.waitForFunction(() => !document.getElementById('alerts-panel').hidden, null, { timeout: TIMEOUT });
    const now = page.locator('#alerts-now tbody tr');
    assert.equal(await now.count(), 1);
    assert.match(await now.first().textContent(), /firing.*orders-p99.*GET \/v1\/orders\/:id.*812\.4 ms \(500ms\).*critical/);
    const recent = page.locator('#alerts-recent tbody tr');
    assert.match(await recent.first().textContent(), /resolved.*api-5xx.*all traffic.*0\.40% \(5xx above 2%\)/);
    const link = now.first().locator('a');
    assert.equal(await link.getAttribute('href'),
      `/?range=custom&from=${ALERT_MINUTE - 1800}&to=${ALERT_MINUTE + 60 + 1800}&endpoint=GET+%2Fv1%2Forders%2F%3Aid`);
    await link.click();
    gen = await waitForLoad(page, 0);
    assert.equal(await page.locator('.chip[data-kind="endpoint"] strong').textContent(), 'GET /v1/orders/:id');
    assert.equal(lastCall('overview').params.endpoint, 'GET /v1/orders/:id');
    assert.equal(Number(lastCall('overview').params.from), ALERT_MINUTE - 1800);
  });

  await check('no console errors or warnings, no CSP violations', async () => {
    assert.deepEqual(violations, []);
    assert.deepEqual(consoleErrors, []);
  });

  await check('the sign-in page runs under the CSP: its stylesheet applies, no violations', async () => {
    const lp = await ctx.newPage();
    const watched = await watchPage(lp);
    await lp.goto(base + '/login?error=' + encodeURIComponent('That token is not valid. Try again.'));
    assert.equal(await lp.$eval('body', (b) => getComputedStyle(b).maxWidth), '384px'); // login.css: 24rem
    assert.equal(await lp.$eval('.err', (e) => getComputedStyle(e).color), 'rgb(187, 0, 0)');
    assert.ok(await lp.locator('#token').isVisible());
    await lp.screenshot({ path: path.join(artifacts, 'login.png') });
    assert.deepEqual(watched.violations, []);
    assert.deepEqual(watched.errors, []);
    await lp.close();
  });

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const pp = await phone.newPage();
  const { errors: phoneErrors, violations: phoneViolations } = await watchPage(pp);
  await pp.goto(base + '/?range=6h&live=0');
  await waitForLoad(pp, 0);
  await check('390 px: no horizontal page overflow, no errors', async () => {
    const overflow = await pp.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, 'page is ' + overflow + ' px wider than the phone');
    assert.deepEqual(phoneErrors, []);
    assert.deepEqual(phoneViolations, []);
  });
  await pp.screenshot({ path: path.join(artifacts, 'dashboard-390.png'), fullPage: true });

  // Error and empty states. The browser logs failed HTTP statuses itself
  // ("Failed to load resource"), so only page errors are collected here.
  const ep = await ctx.newPage();
  const stateErrors = [];
  ep.on('pageerror', (e) => stateErrors.push(e.message));
  await check('empty range shows "No data in this range yet" and dashes, not zeros, for percentiles', async () => {
    mode.api = 'empty';
    await ep.goto(base + '/?range=1h&live=0');
    await waitForLoad(ep, 0);
    assert.ok(await ep.getByText('No data in this range yet').isVisible());
    assert.equal((await tile(ep, 'tile-p99')).text, '—');
    assert.equal((await tile(ep, 'tile-error-rate')).text, '—');
    assert.equal((await tile(ep, 'tile-requests')).text, '0');
    await ep.screenshot({ path: path.join(artifacts, 'dashboard-empty.png') });
  });
  await check('a heatmap error shows "heatmap unavailable", the rest still loads', async () => {
    mode.api = 'heatmaperror';
    await ep.goto(base + '/?range=1h&live=0');
    await waitForLoad(ep, 0);
    assert.match(await ep.locator('#heatmap').textContent(), /Heatmap unavailable: from: range too long for the heatmap/);
    assert.equal(await ep.locator('#endpoints-table tbody tr').count(), ENDPOINTS.length);
  });
  await check('API 503 shows "Redis unavailable"', async () => {
    mode.api = 'unavailable';
    await ep.goto(base + '/?range=1h&live=0');
    await ep.waitForFunction(() => document.body.dataset.error === '503', null, { timeout: TIMEOUT });
    assert.match(await ep.locator('#banner').textContent(), /Redis unavailable/);
  });
  await check('API 400 shows the message of the error body, naming the parameter', async () => {
    mode.api = 'badrequest';
    await ep.goto(base + '/?range=1h&live=0');
    await ep.waitForFunction(() => document.body.dataset.error === '400', null, { timeout: TIMEOUT });
    const banner = await ep.locator('#banner').textContent();
    assert.ok(banner.includes('Invalid request: from: ' + BAD_FROM), banner);
    assert.doesNotMatch(banner, /object Object/);
  });
  await check('API 401 redirects to /login', async () => {
    mode.api = 'unauthorized';
    await ep.goto(base + '/?range=1h&live=0');
    await ep.waitForURL(/\/login/, { timeout: TIMEOUT });
    assert.deepEqual(stateErrors, []);
  });
  mode.api = 'ok';
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  for (const res of liveStreams) res.end();
  server.close();
}
console.log(failed ? 'FAIL' : `PASS (${step} checks); screenshots in ${artifacts}`);
process.exit(failed ? 1 : 0);
