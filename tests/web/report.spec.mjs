// Browser test for reports and cost attribution on the dashboard
// (web/report.js): a tiny node server serves web/ as apimeter_web maps it and
// a fake /api/v1 (core answers shaped per docs/api.md, plus /report and
// /attribution per docs/reports.md), with the server's security headers
// (page_harness.mjs). Headless Chromium clicks "Download report" and the
// download must arrive with the server's bytes; no CSP violation on the way.
//
//   cd tests/web && npm install && node report.spec.mjs
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { root, serveWebFile, watchPage, BROWSER_ARGS, SECURITY_HEADERS } from './page_harness.mjs';

const artifacts = process.env.APIMETER_ARTIFACTS || path.join(root, 'artifacts');
const TIMEOUT = 15000;
const iso = (s) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
const CUSTOMERS = [['acme', 600], ['globex', 300], ['k_3fa85f6457b2', 100]];
const log = [];

const lat = { avg: 20, p50: 15, p90: 40, p95: 55, p99: 90, max: 300 };
function core(name, q) {
  const from = Number(q.get('from')); const to = Number(q.get('to'));
  const head = { from: iso(from), to: iso(to), requested_from: iso(from), requested_to: iso(to), adjusted: false, plan: [], filter: {} };
  switch (name) {
    case 'overview': return { ...head, requests: 1000, errors_4xx: 10, errors_5xx: 5, error_rate: 0.015, status: { 200: 985, 404: 10, 500: 5 },
      status_class: { '1xx': 0, '2xx': 985, '3xx': 0, '4xx': 10, '5xx': 5 }, latency_ms: lat, latency_count: 1000, bytes_in: 1e5, bytes_out: 1e6, rejected: 0, rps: 0.3, rps_seconds: to - from };
    case 'timeseries': return { ...head, step_s: 3600, step_chosen: true, points: [{ t: iso(from), requests: 1000, errors_4xx: 10, errors_5xx: 5, bytes_out: 1e6, p50: 15, p95: 55, p99: 90 }] };
    case 'endpoints': return { ...head, limit: 50, total_requests: 1000, endpoints: [{ endpoint: 'GET /v1/x', requests: 1000, share: 1, errors_4xx: 10, errors_5xx: 5, error_rate: 0.015, latency_ms: lat, bytes_in: 1e5, bytes_out: 1e6 }] };
    case 'customers': return { ...head, limit: 50, total_requests: 1000, customers: CUSTOMERS.map(([c, n]) => ({ customer: c, requests: n, share: n / 1000, errors_4xx: 0, errors_5xx: 0, error_rate: 0, latency_ms: lat, bytes_in: n * 100, bytes_out: n * 1000 })) };
    case 'slow': return { from: iso(from), to: iso(to), filter: {}, limit: 20, malformed: 0, requests: [] };
    case 'heatmap': return { from: iso(from), to: iso(to), metric: 'p99', step_s: 3600, limit: 20, endpoints: [], times: [], cells: [] };
    default: return null;
  }
}
function report(q) {
  const c = CUSTOMERS.find((x) => x[0] === q.get('customer'));
  if (!c) return [404, 'application/json', JSON.stringify({ error: { message: "customer '" + q.get('customer') + "' is not in the customers file and has no requests" } })];
  const n = c[1];
  const doc = { report: 'customer_usage', customer: { name: c[0], id: null, in_customers_file: false }, generated_at: iso(Date.now() / 1000 | 0),
    period: { from: '2026-10-28T00:00:00Z', to: '2026-11-27T00:00:00Z', days: 30 },
    totals: { requests: n, errors_4xx: 7, errors_5xx: 3, rate_4xx: 7 / n, rate_5xx: 3 / n, bytes_in: n * 100, bytes_out: n * 1000, latency_ms: { avg: 20, p50: 15, p95: 55, p99: 90, max: 300 } },
    daily: [], peak_day: { date: '2026-11-03', requests: 77 }, peak_hour: { hour: '2026-11-03T14:00:00Z', requests: 9 }, endpoints: { rows: [] }, notes: [] };
  const fmt = q.get('format') || 'json';
  if (fmt === 'json') return [200, 'application/json', JSON.stringify(doc)];
  const body = fmt === 'csv' ? 'record,customer,requests\r\ntotal,' + c[0] + ',' + n + '\r\n' : fmt === 'pdf' ? '%PDF-1.5 fake ' + c[0] : '<!doctype html><title>' + c[0] + '</title>';
  return [200, { csv: 'text/csv', pdf: 'application/pdf', html: 'text/html' }[fmt], body, `attachment; filename="apimeter-${c[0]}-2026-10-28_2026-11-26.${fmt}"`];
}
function attribution(q) {
  if (q.get('format') === 'csv') return [200, 'text/csv', 'rank,customer\r\n1,acme\r\n', `attachment; filename="apimeter-attribution-${q.get('section')}.csv"`];
  let cum = 0;
  const customers = CUSTOMERS.map(([c, n], i) => { cum += n; return { rank: i + 1, customer: c, requests: n, share_calls: n / 1000, cumulative_share_calls: cum / 1000, bytes_in: n * 100, bytes_out: n * 1000, bytes: n * 1100, share_bytes: n / 1000, rank_bytes: i + 1 }; });
  return [200, 'application/json', JSON.stringify({ from: '2026-10-28T00:00:00Z', to: '2026-11-27T00:00:00Z', total: { requests: 1000, bytes: 1.1e6 }, active_customers: 3, limit: 100, customers,
    others: { customers: 0, requests: 0, share_calls: 0, bytes: 0, share_bytes: 0 }, curve: customers.map((c) => ({ customers: c.rank, share_calls: c.cumulative_share_calls })),
    highlights: [{ top: 1, share_calls: 0.6 }], matrix: { customers: ['acme', 'globex'], endpoints: ['GET /v1/x'], cells: [[600], [300]], other_endpoints: [0, 0], totals: [600, 300] } })];
}
const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (u.pathname.startsWith('/api/v1/')) {
    const name = u.pathname.slice(8);
    if (name === 'me') {  // GET /api/v1/me, asked once at start: an admin token
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'application/json' });
      return res.end(JSON.stringify({ role: 'admin', customer: null, customer_id: null, user: null }));
    }
    log.push({ name, params: Object.fromEntries(u.searchParams) });
    let out = name === 'report' ? report(u.searchParams) : name === 'attribution' ? attribution(u.searchParams) : null;
    if (!out) { const b = core(name, u.searchParams); out = b ? [200, 'application/json', JSON.stringify(b)] : [404, 'application/json', '{}']; }
    const headers = { ...SECURITY_HEADERS, 'content-type': out[1] };
    if (out[3]) headers['content-disposition'] = out[3];
    res.writeHead(out[0], headers);
    return res.end(out[2]);
  }
  const rel = u.pathname === '/' ? 'index.html' : u.pathname.startsWith('/assets/') ? u.pathname.slice(8) : null;
  if (!rel) { res.writeHead(404); return res.end(); }
  serveWebFile(res, rel);
});

let step = 0;
async function check(name, fn) {
  step++;
  try { await fn(); console.log(`ok ${step} - ${name}`); } catch (e) { console.log(`not ok ${step} - ${name}`); throw e; }
}
const lastCall = (name) => [...log].reverse().find((c) => c.name === name);

await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
fs.mkdirSync(artifacts, { recursive: true });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: BROWSER_ARGS });
let failed = false;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  // The browser logs the unknown customer's 404 itself: page errors and CSP
  // violations only.
  const watched = await watchPage(page);
  const errors = []; const violations = watched.violations;
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(base + '/?range=30d&live=0');
  await page.waitForFunction(() => Number(document.body.dataset.loaded || 0) > 0, null, { timeout: TIMEOUT });

  await check('each customer row has a Download report menu with PDF, CSV, JSON and HTML', async () => {
    assert.equal(await page.locator('#customers-table tbody .dl-menu').count(), CUSTOMERS.length);
    const hrefs = await page.$$eval('#customers-table tbody tr:first-child .dl-menu a', (as) => as.map((a) => a.getAttribute('href')));
    assert.deepEqual(hrefs.map((h) => new URLSearchParams(h.split('?')[1]).get('format')), ['pdf', 'csv', 'json', 'html']);
    const q = new URLSearchParams(hrefs[0].split('?')[1]);
    const ov = lastCall('overview').params;
    assert.equal(q.get('customer'), 'acme');
    assert.equal(q.get('from'), ov.from);
    assert.equal(q.get('to'), ov.to);
  });

  await check('clicking Download report → CSV downloads the server file', async () => {
    await page.getByLabel('Download report for globex').first().click();
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: TIMEOUT }),
      page.locator('#customers-table tbody tr:nth-child(2) .dl-menu a[data-format="csv"]').click()]);
    assert.equal(dl.suggestedFilename(), 'apimeter-globex-2026-10-28_2026-11-26.csv');
    const file = path.join(artifacts, 'report-download.csv');
    await dl.saveAs(file);
    assert.equal(fs.readFileSync(file, 'utf8'), 'record,customer,requests\r\ntotal,globex,300\r\n');
    assert.equal(lastCall('report').params.format, 'csv');
  });

  await check('PDF download too', async () => {
    await page.getByLabel('Download report for acme').first().click();
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: TIMEOUT }),
      page.locator('#customers-table tbody tr:first-child .dl-menu a[data-format="pdf"]').click()]);
    assert.equal(dl.suggestedFilename(), 'apimeter-acme-2026-10-28_2026-11-26.pdf');
    assert.match(fs.readFileSync(await dl.path(), 'utf8'), /^%PDF-/);
  });

  await check('cost attribution: highlights, ranked table, curve chart, matrix and CSV exports', async () => {
    await page.waitForFunction(() => document.getElementById('attribution').dataset.loaded === '1000', null, { timeout: TIMEOUT });
    assert.match(await page.locator('#attribution-highlights').textContent(), /Top 1 customer makes 60\.0% of calls/);
    assert.equal(await page.locator('#attribution-table tbody tr').count(), 3);
    assert.equal(await page.locator('#attribution-curve .uplot').count(), 1);
    assert.equal(await page.locator('#attribution-matrix tbody tr').count(), 2);
    assert.equal(await page.locator('#attribution-matrix tbody tr:first-child td').first().textContent(), '600');
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: TIMEOUT }), page.locator('#attribution-exports a[data-section="matrix"]').click()]);
    assert.equal(dl.suggestedFilename(), 'apimeter-attribution-matrix.csv');
  });

  await check('filtering to a customer shows its detail card with the report numbers and downloads', async () => {
    await page.getByRole('button', { name: 'Filter to customer acme' }).click();
    await page.waitForFunction(() => document.querySelector('#customer-detail .detail-body')?.dataset.requests === '600', null, { timeout: TIMEOUT });
    const text = await page.locator('#customer-detail').textContent();
    assert.match(text, /Peak day2026-11-03 \(77\)/);
    assert.equal(await page.locator('#customer-detail .dl-menu a').count(), 4);
    await page.screenshot({ path: path.join(artifacts, 'dashboard-report.png'), fullPage: true });
  });

  await check('an unknown customer shows the 404 message in the card', async () => {
    await page.goto(base + '/?range=30d&live=0&customer=nobody');
    await page.waitForFunction(() => /No report/.test(document.getElementById('customer-detail').textContent), null, { timeout: TIMEOUT });
  });

  await check('no page errors, no CSP violations', async () => { assert.deepEqual(errors, []); assert.deepEqual(violations, []); });
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
