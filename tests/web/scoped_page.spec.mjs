// Browser test of "Your API usage": the page seen through a customer-scoped
// token, against a real `apimeter serve` (started with real data by
// tests/integration/scoped_test.py, which passes APIMETER_BASE, the scoped
// APIMETER_TOKEN, its APIMETER_CUSTOMER and the other customers' names and
// ids as JSON in APIMETER_OTHERS). Headless Chromium signs in with the
// token, then checks that the page says whose usage it is, shows tiles,
// charts, endpoints and the report download for that customer only, offers
// no customer picker, asks no question about every customer, shows no other
// customer's name anywhere, and keeps the console clean. Screenshots go to
// artifacts/ (scoped-page.png).
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { watchPage, BROWSER_ARGS, check, checksRun, waitForLoad, tileValue, expectClientsPanel } from './page_harness.mjs';

const base = process.env.APIMETER_BASE;
const token = process.env.APIMETER_TOKEN;
const customer = process.env.APIMETER_CUSTOMER;
const others = JSON.parse(process.env.APIMETER_OTHERS || '[]');
const artifacts = process.env.APIMETER_ARTIFACTS || 'artifacts';
if (!base || !token || !customer || !others.length) {
  console.error('usage: APIMETER_BASE=... APIMETER_TOKEN=... APIMETER_CUSTOMER=... APIMETER_OTHERS=[...] node scoped_page.spec.mjs');
  process.exit(64);
}
fs.mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: BROWSER_ARGS });
let failed = false;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const { errors: consoleErrors, violations } = await watchPage(page);
  const asked = [];
  const answers = [];
  page.on('request', (r) => { const u = new URL(r.url()); if (u.pathname.startsWith('/api/v1/')) asked.push(u); });
  page.on('response', (r) => { if (new URL(r.url()).pathname.startsWith('/api/v1/')) answers.push(r); });
  const lastAsked = (name) => [...asked].reverse().find((u) => u.pathname === '/api/v1/' + name);
  const api = async (u) => {
    const r = await page.request.get(u.toString());
    assert.equal(r.status(), 200, u.toString());
    return r.json();
  };

  let gen = 0;
  await check('signing in with the scoped token opens "Your API usage"', async () => {
    await page.goto(base + '/login');
    await page.fill('#token', token);
    await page.click('button[type=submit]');
    await page.waitForURL((u) => new URL(u).pathname === '/', { timeout: 20000 });
    await page.goto(base + '/?range=24h&live=0');
    gen = await waitForLoad(page, 0);
    assert.equal(await page.locator('#scope-title').isVisible(), true);
    assert.equal(await page.locator('#scope-customer').textContent(), customer);
    assert.match(await page.title(), /Your API usage/);
    assert.equal(await page.evaluate(() => document.body.dataset.scope), customer);
  });

  await check('tiles, charts and endpoints are the customer\'s own numbers', async () => {
    const ovUrl = lastAsked('overview');
    const ov = await api(ovUrl);
    assert.deepEqual(ov.filter, { customer });
    assert.ok(ov.requests > 0, 'the customer has requests in the last 24 h');
    assert.equal(await tileValue(page, 'tile-requests'), ov.requests);
    for (const p of ['p50', 'p95', 'p99']) assert.equal(await tileValue(page, 'tile-' + p), ov.latency_ms[p], p);
    assert.ok(Number(await page.$eval('#charts', (e) => e.dataset.points)) > 0);
    assert.ok(await page.$eval('#chart-rps', (e) => e.querySelectorAll('canvas').length) > 0);
    const eps = await api(lastAsked('endpoints'));
    const rows = await page.$$eval('#endpoints-table tbody tr', (trs) => trs.map((tr) => tr.cells[0].textContent));
    assert.ok(rows.length > 0);
    assert.deepEqual(rows, eps.endpoints.map((e) => e.endpoint));
  });

  await check('the Clients panel shows the customer\'s own clients, as the API answers them', async () => {
    const u = lastAsked('clients');
    assert.ok(u, 'the page asked for clients');
    assert.equal(u.searchParams.get('customer'), customer);
    assert.equal(u.searchParams.get('endpoint'), null);
    const ans = await api(u);
    assert.deepEqual(ans.filter, { customer });
    assert.equal(await expectClientsPanel(page, ans), 'table'); // scoped_test.py logs $http_user_agent
    assert.ok(ans.clients.length > 0);
    assert.equal(await page.locator('#clients-title').textContent(), 'Your clients');
    await page.locator('#clients-panel').screenshot({ path: path.join(artifacts, 'scoped-clients.png') });
  });

  await check('the report download is offered for this customer only', async () => {
    await page.waitForFunction(() => document.querySelector('#customer-detail .detail-body')?.dataset.requests, null, { timeout: 20000 });
    assert.equal(await page.locator('#customer-detail').isVisible(), true);
    const links = await page.$$eval('#customer-detail a[data-format]', (as) => as.map((a) => a.href));
    assert.deepEqual(links.map((h) => new URL(h).searchParams.get('format')).sort(), ['csv', 'html', 'json', 'pdf']);
    for (const h of links) assert.equal(new URL(h).searchParams.get('customer'), customer);
    const r = await page.request.get(links.find((h) => h.includes('format=csv')));
    assert.equal(r.status(), 200);
    assert.match(r.headers()['content-disposition'] || '', /attachment/);
  });

  await check('no customer picker, no section about every customer, no question about them', async () => {
    const kinds = await page.$$eval('#filter-kind option', (os) => os.map((o) => o.value));
    assert.deepEqual(kinds, ['endpoint']);
    assert.equal(await page.locator('#chips li').count(), 0);
    for (const sel of ['#customers-table', '#heatmap', '#attribution', '#alerts-panel']) {
      assert.equal(await page.locator(sel).isVisible(), false, sel + ' is visible');
    }
    const names = new Set(asked.map((u) => u.pathname.slice(8)));
    for (const n of ['heatmap', 'attribution', 'alerts']) assert.ok(!names.has(n), n + ' was asked');
    for (const r of answers) assert.ok(r.status() !== 403, 'refused: ' + r.url());
  });

  await check('no other customer is named anywhere on the page', async () => {
    const text = await page.evaluate(() => document.documentElement.outerHTML);
    for (const o of others) assert.ok(!text.includes(o), 'the page names ' + o);
    await page.screenshot({ path: path.join(artifacts, 'scoped-page.png'), fullPage: true });
  });

  await check('clicking an endpoint keeps the customer and adds the endpoint', async () => {
    const first = page.locator('#endpoints-table tbody tr button.linkish').first();
    const name = await first.textContent();
    await first.click();
    gen = await waitForLoad(page, gen);
    const u = lastAsked('overview');
    assert.equal(u.searchParams.get('endpoint'), name);
    assert.equal(u.searchParams.get('customer'), customer);
    const ov = await api(u);
    assert.equal(await tileValue(page, 'tile-requests'), ov.requests);
    await page.screenshot({ path: path.join(artifacts, 'scoped-page-endpoint.png'), fullPage: true });
  });

  await check('the console shows no errors and no CSP violations', async () => {
    assert.deepEqual(violations, []);
    assert.deepEqual(consoleErrors, []);
  });
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
}
console.log(failed ? 'FAIL' : `PASS (${checksRun()} checks); screenshots in ${artifacts}`);
process.exit(failed ? 1 : 0);
