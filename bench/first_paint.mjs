// First paint of the dashboard against a running `apimeter serve`: signs in,
// then loads /?range=R&live=0 N times and reports, per load, the browser's
// first contentful paint and the time until every view has its data
// (document.body.dataset.loaded is set by web/app.js after the last render).
//
//   node bench/first_paint.mjs http://127.0.0.1:8080 TOKEN [range=24h] [runs=10]
//
// Uses playwright-core from tests/web/node_modules (scripts/setup.sh installs
// it) and Debian's /usr/bin/chromium.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../tests/web/package.json'));
const { chromium } = require('playwright-core');

const [base, token, range = '24h', runsArg = '10'] = process.argv.slice(2);
if (!base || !token) {
  console.error('usage: node bench/first_paint.mjs BASE_URL TOKEN [range] [runs]');
  process.exit(64);
}
const runs = Number(runsArg);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu'] });
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await ctx.newPage();
await page.goto(base + '/login');
await page.fill('#token', token);
await page.click('button[type=submit]');
await page.waitForURL((u) => new URL(u).pathname === '/');
const fcp = [], ready = [];
for (let i = 0; i < runs; i++) {
  await page.goto(`${base}/?range=${range}&live=0`);
  // The predicate's value is the time it first held (checked every frame).
  const at = await page.waitForFunction(() => Number(document.body.dataset.loaded || 0) > 0 && performance.now(),
    null, { timeout: 30000 });
  ready.push(await at.jsonValue());
  fcp.push(await page.evaluate(() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime));
}
await browser.close();
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)]; };
const f = (x) => x.toFixed(0) + ' ms';
console.log(`range=${range} runs=${runs}`);
console.log(`first contentful paint: p50 ${f(pct(fcp, 50))}  p95 ${f(pct(fcp, 95))}`);
console.log(`all views loaded:       p50 ${f(pct(ready, 50))}  p95 ${f(pct(ready, 95))}`);
