// apimeter dashboard, reports and cost attribution (docs/reports.md): a
// "Download report" menu per customer row, a customer detail card when the
// page is filtered to one customer, and the cost attribution section (share
// of calls and bytes, cumulative share curve, customer × endpoint matrix,
// CSV exports). Reads GET /api/v1/report and /api/v1/attribution only; an ES
// module whose two exports app.js calls. Reports cover whole UTC days (the
// server rounds the page's range outward), which each card says.
import { $, el, isNum, fmtInt, fmtPct, fmtMs, fmtBytes } from './util.js';

const FORMATS = ['pdf', 'csv', 'json', 'html'];
const url = (path, params) => '/api/v1/' + path + '?' + new URLSearchParams(params).toString();
async function getJson(path, params, signal) {
  const res = await fetch(url(path, params), { credentials: 'same-origin', signal, headers: { Accept: 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error((body.error && body.error.message) || res.statusText), { status: res.status });
  return body;
}

// A small menu of download links (cookie auth: plain links work).
function downloadMenu(customer, range, label) {
  const links = FORMATS.map((f) => el('a', { href: url('report', { customer, from: range.from, to: range.to, format: f }), download: '', 'data-format': f, role: 'menuitem' }, f.toUpperCase()));
  return el('details', { class: 'dl-menu' }, el('summary', { 'aria-label': (label || 'Download report') + ' for ' + customer }, label || 'Download report'),
    el('div', { class: 'dl-items', role: 'menu' }, ...links));
}

// ---------- customer detail ----------
let detailCtrl = null;
async function renderDetail(customer, range) {
  const card = $('customer-detail');
  if (!card) return;
  if (detailCtrl) detailCtrl.abort();
  card.hidden = !customer;
  if (!customer) return;
  const ctrl = new AbortController(); detailCtrl = ctrl;
  card.textContent = '';
  card.append(el('h2', {}, 'Customer ', el('strong', {}, customer)), downloadMenu(customer, range));
  const body = el('div', { class: 'detail-body', 'aria-live': 'polite' }, 'Loading report…');
  card.append(body);
  try {
    const r = await getJson('report', { customer, from: range.from, to: range.to }, ctrl.signal);
    const t = r.totals; const lat = t.latency_ms;
    const pd = r.peak_day; const ph = r.peak_hour;
    const fig = (label, value) => el('div', { class: 'fig' }, el('span', { class: 'muted' }, label), el('strong', {}, value));
    body.textContent = '';
    body.append(el('p', { class: 'muted' }, 'Report period ' + r.period.from.slice(0, 10) + ' – ' + r.period.to.slice(0, 10) + ' (exclusive, whole UTC days)'),
      el('div', { class: 'figs' },
        fig('Requests', fmtInt(t.requests)), fig('4xx', fmtInt(t.errors_4xx) + ' (' + fmtPct(t.rate_4xx) + ')'),
        fig('5xx', fmtInt(t.errors_5xx) + ' (' + fmtPct(t.rate_5xx) + ')'), fig('p50 / p95 / p99', fmtMs(lat.p50) + ' / ' + fmtMs(lat.p95) + ' / ' + fmtMs(lat.p99)),
        fig('Data in / out', fmtBytes(t.bytes_in) + ' / ' + fmtBytes(t.bytes_out)),
        fig('Peak day', pd ? pd.date + ' (' + fmtInt(pd.requests) + ')' : '—'),
        fig('Peak hour', ph ? ph.hour.slice(0, 13).replace('T', ' ') + ':00 (' + fmtInt(ph.requests) + ')' : '—')));
    body.dataset.requests = String(t.requests);
  } catch (e) {
    if (e.name === 'AbortError') return;
    body.textContent = e.status === 404 ? 'No report: ' + e.message : 'Report unavailable: ' + e.message;
  }
}

// ---------- cost attribution ----------
let attrCtrl = null; let curvePlot = null;
function curveChart(box, curve) {
  if (curvePlot) { curvePlot.destroy(); curvePlot = null; }
  box.textContent = '';
  if (!window.uPlot || curve.length === 0) return;
  const xs = [0, ...curve.map((p) => p.customers)];
  const ys = [0, ...curve.map((p) => (isNum(p.share_calls) ? p.share_calls * 100 : null))];
  curvePlot = new window.uPlot({ width: Math.max(280, box.clientWidth || 600), height: 220,
    scales: { x: { time: false }, y: { range: [0, 100] } },
    axes: [{ label: 'customers (ranked by calls)' }, { values: (u, v) => v.map((x) => x + '%') }],
    series: [{}, { label: 'share of calls', stroke: '#2f6fd6', width: 2, fill: 'rgba(47,111,214,0.08)' }] }, [xs, ys], box);
}

async function renderAttribution(range) {
  const sec = $('attribution');
  if (!sec) return;
  if (attrCtrl) attrCtrl.abort();
  const ctrl = new AbortController(); attrCtrl = ctrl;
  const status = $('attribution-status');
  status.textContent = 'Loading…';
  try {
    const a = await getJson('attribution', { from: range.from, to: range.to, limit: 100 }, ctrl.signal);
    status.textContent = 'Period ' + a.from.slice(0, 10) + ' – ' + a.to.slice(0, 10) + ' (whole UTC days) · ' + fmtInt(a.active_customers) + ' active customers';
    const hl = $('attribution-highlights'); hl.textContent = '';
    for (const h of a.highlights) hl.append(el('li', {}, 'Top ' + h.top + (h.top === 1 ? ' customer makes ' : ' customers make ') + fmtPct(h.share_calls) + ' of calls'));
    const exports = $('attribution-exports'); exports.textContent = '';
    for (const s of ['customers', 'curve', 'matrix']) exports.append(el('a', { href: url('attribution', { from: range.from, to: range.to, limit: 1000, format: 'csv', section: s }), download: '', 'data-section': s }, 'CSV: ' + s));
    const body = $('attribution-table').tBodies[0]; body.textContent = '';
    for (const c of a.customers.slice(0, 20)) {
      body.append(el('tr', {}, el('td', { class: 'num' }, String(c.rank)), el('td', { class: 'name' }, c.customer), el('td', { class: 'num' }, fmtInt(c.requests)),
        el('td', { class: 'num' }, fmtPct(c.share_calls)), el('td', { class: 'num' }, fmtPct(c.cumulative_share_calls)),
        el('td', { class: 'num' }, fmtBytes(c.bytes)), el('td', { class: 'num' }, fmtPct(c.share_bytes)), el('td', {}, downloadMenu(c.customer, range, 'Report'))));
    }
    if (a.others.customers > 0) {
      body.append(el('tr', { class: 'muted' }, el('td', {}), el('td', {}, fmtInt(a.others.customers) + ' more customers'), el('td', { class: 'num' }, fmtInt(a.others.requests)),
        el('td', { class: 'num' }, fmtPct(a.others.share_calls)), el('td', {}), el('td', { class: 'num' }, fmtBytes(a.others.bytes)), el('td', { class: 'num' }, fmtPct(a.others.share_bytes)), el('td', {})));
    }
    curveChart($('attribution-curve'), a.curve);
    const m = a.matrix; const mt = $('attribution-matrix'); mt.textContent = '';
    mt.append(el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Customer'), ...m.endpoints.map((e) => el('th', { scope: 'col', class: 'num' }, e)),
      el('th', { scope: 'col', class: 'num' }, 'other endpoints'))));
    const mb = el('tbody');
    m.customers.forEach((c, i) => mb.append(el('tr', {}, el('th', { scope: 'row', class: 'name' }, c), ...m.cells[i].map((v) => el('td', { class: 'num' }, fmtInt(v))),
      el('td', { class: 'num' }, fmtInt(m.other_endpoints[i])))));
    mt.append(mb);
    sec.dataset.loaded = String(a.total.requests);
  } catch (e) {
    if (e.name === 'AbortError') return;
    status.textContent = 'Attribution unavailable: ' + e.message;
  }
}

// A cell with the download menu for one customer row of "Top customers".
export function customerCell(customer, range) { return el('td', { class: 'dl' }, downloadMenu(customer, range)); }

// After each load of the page: the detail card and the attribution section.
export function onLoad(state, range) {
  renderDetail(state.customer || '', range);
  // Attribution spans every customer: not for a customer-scoped session.
  if (!state.host && !state.endpoint && !document.body.dataset.scope) renderAttribution(range);
}
