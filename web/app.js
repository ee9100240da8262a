// apimeter dashboard: reads the JSON API (docs/api.md) and renders tiles,
// charts (uPlot), tables and the heatmap. State lives in the URL query string
// so a view can be bookmarked and shared. Plain JS, no build step: an ES
// module, the page's one entry point (index.html); it imports report.js and
// alerts.js, usage.js and clients.js, and uses the vendored uPlot's global `uPlot` (a classic script,
// run before any module). A customer-scoped session sees "Your API usage"
// (see "who is signed in" below).
import { $, el, isNum, fmtInt, fmtPct, fmtMs, fmtRps, fmtBytes } from './util.js';
import * as report from './report.js';
import * as usage from './usage.js';
import * as clients from './clients.js';
import { startAlerts } from './alerts.js';

const RANGES = { '1h': 3600, '6h': 21600, '24h': 86400, '7d': 604800, '30d': 2592000 };
const LIVE_MAX_SPAN = 86400; // live refresh only for ranges up to 24 h
const REFRESH_MS = 5000;
const FILTER_KINDS = ['host', 'endpoint', 'customer'];

// ---------- state <-> URL ----------
function readState() {
  const q = new URLSearchParams(location.search);
  const range = q.get('range') in RANGES || q.get('range') === 'custom' ? q.get('range') : '1h';
  const st = { range, sort: q.get('sort') || 'requests', live: q.get('live') !== '0' };
  if (!['requests', 'p99', 'error_rate'].includes(st.sort)) st.sort = 'requests';
  for (const k of FILTER_KINDS) st[k] = q.get(k) || '';
  st.from = parseInt(q.get('from'), 10);
  st.to = parseInt(q.get('to'), 10);
  if (range === 'custom' && !(st.from < st.to)) st.range = '1h';
  return st;
}

function writeState(st, push) {
  const q = new URLSearchParams();
  q.set('range', st.range);
  if (st.range === 'custom') { q.set('from', st.from); q.set('to', st.to); }
  for (const k of FILTER_KINDS) if (st[k] && !(scope && k !== 'endpoint')) q.set(k, st[k]);
  if (st.sort !== 'requests') q.set('sort', st.sort);
  if (!st.live) q.set('live', '0');
  const url = location.pathname + '?' + q.toString();
  if (push) history.pushState(null, '', url); else history.replaceState(null, '', url);
}

// ---------- who is signed in ----------
// GET /api/v1/me (docs/api.md, "Roles and customer scope"). A session
// limited to one customer sees "Your API usage": that customer is the page's
// fixed filter (only endpoint filters can be added), sections about every
// customer (marked data-scope="all" in index.html: top customers, heatmap,
// attribution, alerts) are hidden and their questions are not asked (the
// server refuses them anyway). Any other section, such as a Clients panel,
// shows as it is; its API route must be registered in server/access.h to be
// answered for a scoped session. Other modules read
// document.body.dataset.scope ('' = every customer).
let scope = '';
async function loadAccess() {
  let me = {};
  try { me = await api('me', {}); } catch (e) { if (e.status === 401) throw e; }
  scope = typeof me.customer === 'string' ? me.customer : '';
  document.body.dataset.scope = scope;
  document.body.dataset.role = me.role || '';
  if (!scope) return;
  document.body.classList.add('scoped');
  document.title = 'Your API usage · ' + scope + ' · apimeter';
  $('scope-customer').textContent = scope;
  $('scope-title').hidden = false;
  for (const o of [...$('filter-kind').options]) if (o.value !== 'endpoint') o.remove();
}
// The URL's state, with a scoped session's customer fixed.
function scopedState(st) {
  if (scope) Object.assign(st, { customer: scope, host: '' });
  return st;
}

let state = readState();

function effectiveRange() {
  if (state.range === 'custom') return { from: state.from, to: state.to };
  const now = Math.floor(Date.now() / 1000);
  return { from: now - RANGES[state.range], to: now };
}

// ---------- formatting (numbers: util.js) ----------
const isoToEpoch = (s) => Math.floor(Date.parse(s) / 1000);
const fmtTime = (s) => (typeof s === 'string' ? s.replace('T', ' ').replace(/Z$/, '') : '—');
function toLocalInput(epoch) { return new Date(epoch * 1000).toISOString().slice(0, 16); }
function fromLocalInput(v) { const t = Date.parse(v + ':00Z'); return isNaN(t) ? NaN : Math.floor(t / 1000); }

// ---------- API ----------
class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// The message of an API error body, naming the parameter at fault when the
// message does not already start with it; '' when the body is not one.
function apiErrorMessage(body) {
  const err = body && body.error;
  if (!err || typeof err.message !== 'string') return '';
  const p = typeof err.parameter === 'string' ? err.parameter : '';
  return p && !err.message.startsWith(p) ? p + ': ' + err.message : err.message;
}

async function api(path, params, signal) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined && v !== null) q.set(k, v);
  const res = await fetch('/api/v1/' + path + '?' + q.toString(), { credentials: 'same-origin', signal, headers: { Accept: 'application/json' } });
  if (res.status === 401) {
    location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
    throw new ApiError(401, 'Signed out');
  }
  if (!res.ok) {
    let msg = res.statusText || ('HTTP ' + res.status);
    // Errors are {"error":{"message":…,"parameter":…}} (docs/api.md, Errors).
    try { msg = apiErrorMessage(await res.json()) || msg; } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, msg);
  }
  return res.json();
}

// Filters each question accepts (docs/api.md); a refused combination is
// shown as a note instead of sending a request that must fail.
function filtersFor(question) {
  const f = { host: state.host, endpoint: state.endpoint, customer: state.customer };
  switch (question) {
    case 'endpoints':
      if (f.host) return { refused: 'Top endpoints are not available with a host filter (per-host series are totals only).' };
      return { params: { endpoint: f.endpoint, customer: f.customer } };
    case 'customers':
      if (scope) return { refused: 'Only your own usage is shown.' };
      if (f.host) return { refused: 'Top customers are not available with a host filter.' };
      if (f.endpoint && f.customer) return { refused: 'The tiles above show this customer on this endpoint.' };
      if (f.endpoint) return { params: { endpoint: f.endpoint } }; // its customers, with first and last call
      return { params: { customer: f.customer } };
    default:
      return { params: f };
  }
}

// ---------- charts ----------
const charts = {};
const COLORS = { rps: '#2563eb', e4: '#d97706', e5: '#dc2626', p50: '#059669', p95: '#7c3aed', p99: '#db2777' };

// Axis labels: 24 h UTC clock, with the date when the range spans days.
function timeTicks(u, vals) {
  const span = vals.length > 1 ? vals[vals.length - 1] - vals[0] : 0;
  return vals.map((v) => {
    const d = new Date(v * 1000).toISOString();
    const hm = d.slice(11, 16);
    if (span >= 2 * 86400) return hm === '00:00' ? d.slice(5, 10) : d.slice(5, 10) + ' ' + hm;
    return hm;
  });
}
// Axis numbers: as few decimals as the tick spacing needs.
function axisNum(vals, suffix) {
  const stepv = vals.length > 1 ? Math.abs(vals[1] - vals[0]) : 1;
  const dec = stepv >= 1 || stepv === 0 ? 0 : Math.min(4, Math.ceil(-Math.log10(stepv)));
  return vals.map((v) => (v == null ? '' : v.toFixed(dec) + suffix));
}

function chartOpts(id, series, yFmt, ySuffix) {
  const box = $(id);
  return {
    width: Math.max(240, box.clientWidth), height: 200,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [
      { stroke: '#475569', grid: { stroke: '#e2e8f0' }, ticks: { stroke: '#e2e8f0' }, values: timeTicks },
      { stroke: '#475569', grid: { stroke: '#e2e8f0' }, ticks: { stroke: '#e2e8f0' }, size: 60, values: (u, vals) => (ySuffix === '%' ? axisNum(vals.map((v) => v * 100), '%') : axisNum(vals, ySuffix)) },
    ],
    series: [{ label: 'time (UTC)' }].concat(series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: false, points: { show: false }, value: (u, v) => (v == null ? '—' : yFmt(v)) }))),
  };
}

function drawChart(id, series, data, yFmt, ySuffix) {
  if (charts[id]) { charts[id].setData(data); return; }
  $(id).textContent = '';
  charts[id] = new uPlot(chartOpts(id, series, yFmt, ySuffix), data, $(id));
}

function renderCharts(ts) {
  const pts = Array.isArray(ts.points) ? ts.points : [];
  const step = ts.step_s > 0 ? ts.step_s : 60;
  const x = pts.map((p) => isoToEpoch(p.t));
  const rate = (n, d) => (d > 0 ? n / d : null);
  drawChart('chart-rps', [{ label: 'req/s', color: COLORS.rps }], [x, pts.map((p) => p.requests / step)], (v) => fmtRps(v), '');
  drawChart('chart-errors', [{ label: '4xx', color: COLORS.e4 }, { label: '5xx', color: COLORS.e5 }],
    [x, pts.map((p) => rate(p.errors_4xx, p.requests)), pts.map((p) => rate(p.errors_5xx, p.requests))], (v) => fmtPct(v), '%');
  drawChart('chart-latency', [{ label: 'p50', color: COLORS.p50 }, { label: 'p95', color: COLORS.p95 }, { label: 'p99', color: COLORS.p99 }],
    [x, pts.map((p) => p.p50), pts.map((p) => p.p95), pts.map((p) => p.p99)], (v) => fmtMs(v), ' ms');
  $('charts').dataset.points = String(pts.length);
  $('charts').dataset.from = ts.from || '';
}

const resizer = new ResizeObserver(() => {
  for (const [id, u] of Object.entries(charts)) {
    const w = Math.max(240, $(id).clientWidth);
    if (Math.abs(u.width - w) > 2) u.setSize({ width: w, height: 200 });
  }
});
['chart-rps', 'chart-errors', 'chart-latency'].forEach((id) => resizer.observe($(id)));

// ---------- tiles and tables ----------
function setTile(id, text, raw) { const e = $(id); e.textContent = text; e.dataset.value = raw == null ? '' : String(raw); }

function renderOverview(o) {
  setTile('tile-requests', fmtInt(o.requests), o.requests);
  setTile('tile-rps', fmtRps(o.rps), o.rps);
  setTile('tile-error-rate', fmtPct(o.error_rate), o.error_rate);
  setTile('tile-4xx', fmtInt(o.errors_4xx), o.errors_4xx);
  setTile('tile-5xx', fmtInt(o.errors_5xx), o.errors_5xx);
  const lat = o.latency_ms || {};
  for (const p of ['p50', 'p95', 'p99']) setTile('tile-' + p, fmtMs(lat[p]), lat[p]);
  $('range-label').textContent = fmtTime(o.from) + ' → ' + fmtTime(o.to) + ' UTC' + (o.adjusted ? ' (adjusted)' : '');
  const note = $('note');
  note.hidden = !o.note;
  note.textContent = o.note || '';
  renderStatus(o);
}

function renderStatus(o) {
  const body = $('status-table').tBodies[0];
  body.textContent = '';
  const codes = Object.entries(o.status || {}).sort((a, b) => a[0].localeCompare(b[0]));
  for (const [code, n] of codes) {
    body.append(el('tr', { class: 'st' + code[0] }, el('td', {}, el('span', { class: 'dot' }), code), el('td', { class: 'num' }, fmtInt(n)), el('td', { class: 'num' }, fmtPct(o.requests > 0 ? n / o.requests : null))));
  }
  if (!codes.length) body.append(el('tr', {}, el('td', { colspan: 3, class: 'muted' }, 'No requests')));
  const bar = $('status-bar');
  bar.textContent = '';
  const cls = o.status_class || {};
  for (const k of ['1xx', '2xx', '3xx', '4xx', '5xx']) {
    if (cls[k] > 0 && o.requests > 0) bar.append(el('span', { class: 'seg st' + k[0], style: { flexGrow: String(cls[k]) }, title: k + ': ' + fmtInt(cls[k]) }));
  }
}

function filterButton(kind, name) {
  return el('button', { type: 'button', class: 'linkish', title: 'Filter to this ' + kind, 'aria-label': 'Filter to ' + kind + ' ' + name, onclick: () => addFilter(kind, name) }, name);
}

let lastEndpoints = null;
const sortValue = {
  requests: (r) => r.requests,
  p99: (r) => (r.latency_ms && isNum(r.latency_ms.p99) ? r.latency_ms.p99 : -1),
  error_rate: (r) => (isNum(r.error_rate) ? r.error_rate : -1),
};

function renderEndpoints(ans) {
  if (ans) lastEndpoints = ans;
  const body = $('endpoints-table').tBodies[0];
  body.textContent = '';
  const rows = (lastEndpoints && Array.isArray(lastEndpoints.endpoints) ? lastEndpoints.endpoints : []).slice();
  const key = sortValue[state.sort];
  rows.sort((a, b) => key(b) - key(a) || String(a.endpoint).localeCompare(String(b.endpoint)));
  for (const r of rows) {
    const lat = r.latency_ms || {};
    body.append(el('tr', {}, el('td', { class: 'name' }, filterButton('endpoint', r.endpoint)), el('td', { class: 'num' }, fmtInt(r.requests)), el('td', { class: 'num' }, fmtPct(r.share)),
      el('td', { class: 'num' }, fmtPct(r.error_rate)), el('td', { class: 'num' }, fmtMs(lat.p50)), el('td', { class: 'num' }, fmtMs(lat.p99))));
  }
  if (!rows.length) body.append(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No endpoints in this range')));
  for (const th of document.querySelectorAll('#endpoints-table th[data-sort]')) {
    th.setAttribute('aria-sort', th.dataset.sort === state.sort ? 'descending' : 'none');
  }
}

function renderCustomers(ans, overview, range) {
  if (ans.filter && ans.filter.endpoint) { usage.renderEndpointCustomers(ans, filterButton); return; }
  usage.showTopCustomersHead();
  const body = $('customers-table').tBodies[0];
  body.textContent = '';
  const rows = Array.isArray(ans.customers) ? ans.customers : [];
  // The bytes share needs all requests' bytes: only the unfiltered overview has it.
  const allBytes = overview && overview.filter && Object.keys(overview.filter).length === 0 ? overview.bytes_out : null;
  for (const r of rows) {
    body.append(el('tr', {}, el('td', { class: 'name' }, filterButton('customer', r.customer)), el('td', { class: 'num' }, fmtInt(r.requests)), el('td', { class: 'num' }, fmtPct(r.share)),
      el('td', { class: 'num' }, fmtBytes(r.bytes_out)), el('td', { class: 'num' }, fmtPct(allBytes > 0 ? r.bytes_out / allBytes : null)),
      report.customerCell(r.customer, range)));
  }
  if (!rows.length) body.append(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No customers in this range')));
}

function renderSlow(ans) {
  const body = $('slow-table').tBodies[0];
  body.textContent = '';
  const rows = Array.isArray(ans.requests) ? ans.requests : [];
  for (const r of rows) {
    body.append(el('tr', {}, el('td', { class: 'mono' }, fmtTime(r.time)), el('td', { class: 'name' }, filterButton('endpoint', r.endpoint)), el('td', {}, r.customer ?? '—'), el('td', {}, r.host ?? '—'),
      el('td', { class: 'num' }, r.status ?? '—'), el('td', { class: 'num' }, fmtMs(r.latency_ms))));
  }
  if (!rows.length) body.append(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No slow requests recorded in this range')));
}

function showTableNote(id, text) { const n = $(id); n.hidden = !text; n.textContent = text || ''; }

// ---------- heatmap ----------
// Answer (docs/api.md, heatmap): {"metric": "p99", "step_s": 3600,
// "endpoints": ["GET /x", ...], "times": ["2026-11-26T10:00:00Z", ...], "cells": [[ms|null, ...] per endpoint]}
function heatColor(f) {
  // light yellow → orange → deep red, perceptually ordered
  const stops = [[255, 247, 204], [253, 174, 97], [215, 48, 39], [103, 0, 13]];
  const x = Math.min(1, Math.max(0, f)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x)); const t = x - i;
  const c = stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * t));
  return 'rgb(' + c.join(',') + ')';
}

function renderHeatmap(ans, err) {
  const box = $('heatmap');
  box.textContent = '';
  if (err) {
    box.append(el('p', { class: 'muted', id: 'heatmap-unavailable' }, 'Heatmap unavailable: ' + err.message));
    return;
  }
  const cols = Array.isArray(ans.times) ? ans.times : [];
  const cells = Array.isArray(ans.cells) ? ans.cells : [];
  const rows = (Array.isArray(ans.endpoints) ? ans.endpoints : []).map((endpoint, i) => ({ endpoint, values: cells[i] }));
  const vals = rows.flatMap((r) => (Array.isArray(r.values) ? r.values : [])).filter(isNum);
  if (!cols.length || !rows.length || !vals.length) { box.append(el('p', { class: 'muted' }, 'No latency data in this range')); return; }
  const lo = Math.max(0.001, Math.min(...vals)); const hi = Math.max(...vals);
  // Log scale: latencies span orders of magnitude; one slow endpoint still stands out.
  const frac = (v) => (hi > lo ? (Math.log(Math.max(v, lo)) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)) : 0.5);
  const grid = el('div', { class: 'heatmap', role: 'table', 'aria-label': 'p99 latency by endpoint and hour', style: { gridTemplateColumns: 'minmax(120px, 220px) repeat(' + cols.length + ', minmax(14px, 1fr))' } });
  grid.append(el('div', { class: 'hm-corner', role: 'columnheader' }, 'endpoint'));
  cols.forEach((c, i) => grid.append(el('div', { class: 'hm-col', role: 'columnheader', title: fmtTime(c) }, i % Math.ceil(cols.length / 12) === 0 ? String(c).slice(11, 13) + 'h' : '')));
  for (const r of rows) {
    grid.append(el('div', { class: 'hm-row', role: 'rowheader', title: r.endpoint }, r.endpoint));
    cols.forEach((c, i) => {
      const v = Array.isArray(r.values) ? r.values[i] : null;
      const label = r.endpoint + ' at ' + fmtTime(c) + ': ' + fmtMs(v);
      grid.append(el('div', { class: 'hm-cell' + (isNum(v) ? '' : ' hm-empty'), role: 'cell', title: label, 'aria-label': label, style: isNum(v) ? { background: heatColor(frac(v)) } : null }));
    });
  }
  const legend = el('div', { class: 'hm-legend', 'aria-label': 'Color scale' },
    el('span', {}, fmtMs(lo)), el('span', { class: 'hm-scale', style: { background: 'linear-gradient(to right,' + [0, 0.33, 0.66, 1].map(heatColor).join(',') + ')' } }), el('span', {}, fmtMs(hi)), el('span', { class: 'muted' }, '(log scale, ' + (ans.metric || 'p99') + ')'));
  box.append(el('div', { class: 'hm-scroll' }, grid), legend);
}

// ---------- loading ----------
let inflight = null;
let generation = 0;

function showBanner(text, kind) { const b = $('banner'); b.hidden = !text; b.textContent = text || ''; b.className = 'banner ' + (kind || ''); }

async function load() {
  if (inflight) inflight.abort();
  const ctrl = new AbortController(); inflight = ctrl;
  const gen = ++generation;
  const { from, to } = effectiveRange();
  const base = { from, to };
  const signal = ctrl.signal;
  document.body.classList.add('loading');
  const ep = filtersFor('endpoints'); const cu = filtersFor('customers');
  const cl = clients.clientsQuestion({ host: state.host, endpoint: state.endpoint, customer: state.customer }, scope);
  const soft = (p) => p.then((v) => ({ v }), (e) => ({ e }));
  try {
    const [ov, ts, eps, cus, slow, hm, cls] = await Promise.all([
      api('overview', { ...base, ...filtersFor('overview').params }, signal),
      api('timeseries', { ...base, ...filtersFor('timeseries').params }, signal),
      ep.params ? api('endpoints', { ...base, ...ep.params, limit: 50 }, signal) : Promise.resolve(null),
      cu.params ? api('customers', { ...base, ...cu.params, limit: 50 }, signal) : Promise.resolve(null),
      api('slow', { ...base, ...filtersFor('slow').params, limit: 20 }, signal),
      scope ? Promise.resolve({ e: null, v: null }) : soft(api('heatmap', { from, to, metric: 'p99' }, signal)),
      cl.params ? soft(api('clients', { ...base, ...cl.params, limit: clients.CLIENTS_LIMIT }, signal)) : Promise.resolve({ e: null, v: null }),
    ]);
    if (gen !== generation) return;
    showBanner('');
    $('empty').hidden = ov.requests !== 0;
    document.body.classList.toggle('is-empty', ov.requests === 0);
    renderOverview(ov);
    renderCharts(ts);
    showTableNote('endpoints-note', ep.refused);
    renderEndpoints(eps || { endpoints: [] });
    showTableNote('customers-note', cu.refused);
    renderCustomers(cus || { customers: [] }, ov, { from, to });
    renderSlow(slow);
    if (cls.e && cls.e.status === 401) return; // redirecting to /login
    clients.renderClients(cl, cls.v, cls.e);
    if (!scope) renderHeatmap(hm.v, hm.e);
    report.onLoad(state, { from, to });
    document.body.dataset.loaded = String(gen);
  } catch (e) {
    if (e.name === 'AbortError' || gen !== generation) return;
    if (e.status === 401) return; // redirecting to /login
    if (e.status === 503) showBanner('Redis unavailable — the numbers cannot be read right now. Retrying…', 'error');
    else if (e.status === 400) showBanner('Invalid request: ' + e.message, 'error');
    else showBanner('Could not load data: ' + e.message, 'error');
    document.body.dataset.error = String(e.status || 'network');
  } finally {
    if (gen === generation) { document.body.classList.remove('loading'); inflight = null; }
  }
}

// ---------- live updates ----------
// /api/v1/live (Server-Sent Events) pushes the newest minutes every 5 s:
// each event shows the last closed minute's rates and reloads the views.
// EventSource reconnects by itself when the stream ends or the server restarts.
let live = null;
function liveAllowed() { return state.range !== 'custom' && RANGES[state.range] <= LIVE_MAX_SPAN; }
function renderNow(m) {
  const box = $('live-now');
  box.hidden = !m;
  if (!m) return;
  box.textContent = 'Last minute (' + fmtTime(m.t).slice(11, 16) + ' UTC): ' + fmtRps(m.rps) + ' req/s · ' +
    fmtPct(m.error_rate) + ' errors · p99 ' + fmtMs(m.p99);
  box.dataset.requests = String(m.requests);
}
function scheduleLive() {
  if (live) { live.close(); live = null; }
  const box = $('live');
  box.disabled = !liveAllowed();
  box.checked = state.live && liveAllowed();
  box.parentElement.title = liveAllowed() ? 'Updates pushed every 5 seconds' : 'Live updates are for ranges up to 24 h';
  if (!box.checked) { renderNow(null); return; }
  const q = new URLSearchParams({ interval: String(REFRESH_MS / 1000) });
  const f = filtersFor('timeseries').params;
  for (const k of FILTER_KINDS) if (f[k]) q.set(k, f[k]);
  live = new EventSource('/api/v1/live?' + q.toString());
  let first = true;
  live.addEventListener('live', (ev) => {
    const d = JSON.parse(ev.data);
    renderNow(d.last_minute);
    document.body.dataset.liveEvents = String(Number(document.body.dataset.liveEvents || 0) + 1);
    // The first event arrives as the view has just been loaded.
    if (!first && !document.hidden) load();
    first = false;
  });
  live.addEventListener('live-error', (ev) => {
    const d = JSON.parse(ev.data);
    showBanner((d.error && d.error.message) || 'Live update failed', 'error');
  });
}

// ---------- controls ----------
function renderControls() {
  for (const b of document.querySelectorAll('[data-range]')) {
    b.setAttribute('aria-pressed', String(b.dataset.range === state.range));
  }
  $('custom-form').hidden = state.range !== 'custom' && !$('custom-form').dataset.open;
  const chips = $('chips');
  chips.textContent = '';
  for (const k of FILTER_KINDS) {
    if (!state[k] || (scope && k === 'customer')) continue;  // a scoped session's customer is fixed
    chips.append(el('li', { class: 'chip', 'data-kind': k }, el('span', {}, k + ': ', el('strong', {}, state[k])),
      el('button', { type: 'button', 'aria-label': 'Remove filter ' + k + ' ' + state[k], onclick: () => removeFilter(k) }, '×')));
  }
  scheduleLive();
}

function update(push) { writeState(state, push); renderControls(); load(); }

function addFilter(kind, value) {
  if (!value || (scope && kind !== 'endpoint')) return;
  state[kind] = value;
  // host cannot be combined with endpoint/customer (docs/api.md): the newest filter wins.
  if (kind === 'host') { state.endpoint = ''; state.customer = ''; } else state.host = '';
  update(true);
}
function removeFilter(kind) { if (scope && kind === 'customer') return; state[kind] = ''; update(true); }

function setRange(r) {
  if (r === 'custom') {
    const f = $('custom-form'); f.hidden = false; f.dataset.open = '1';
    const { from, to } = effectiveRange();
    $('custom-from').value = toLocalInput(from); $('custom-to').value = toLocalInput(to);
    $('custom-from').focus();
    return;
  }
  delete $('custom-form').dataset.open;
  state.range = r; update(true);
}

for (const b of document.querySelectorAll('[data-range]')) b.addEventListener('click', () => setRange(b.dataset.range));
$('custom-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const from = fromLocalInput($('custom-from').value); const to = fromLocalInput($('custom-to').value);
  if (!(from < to)) { showBanner('Custom range: "from" must be before "to".', 'error'); return; }
  Object.assign(state, { range: 'custom', from, to }); update(true);
});
$('live').addEventListener('change', (ev) => { state.live = ev.target.checked; writeState(state, false); scheduleLive(); });
$('filter-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const v = $('filter-value').value.trim();
  if (v) { addFilter($('filter-kind').value, v); $('filter-value').value = ''; }
});
for (const b of document.querySelectorAll('button.sort')) {
  b.addEventListener('click', () => { state.sort = b.dataset.sortKey; writeState(state, false); renderEndpoints(null); });
}
window.addEventListener('popstate', () => { state = scopedState(readState()); renderControls(); load(); });

loadAccess().then(() => {
  state = scopedState(state);
  renderControls();
  load();
  if (!scope) startAlerts();
}, () => { /* 401: redirecting to /login */ });
