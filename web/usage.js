// apimeter dashboard, "who calls what" (issue 18): when the page is filtered
// to one endpoint, the customers card lists that endpoint's customers with
// their errors, p95, first call and last call (GET /api/v1/customers with
// endpoint=...; whole UTC days, minute-exact first/last seen, "—" where the
// stored data has no minutes). An ES module; app.js calls its exports.
import { $, el, fmtInt, fmtPct, fmtMs } from './util.js';

const fmtMinute = (iso) => (typeof iso === 'string' ? iso.replace('T', ' ').replace(/:00Z$/, '') : '—');

let normalHead = null; // the card's own header row, restored when the filter goes
let normalTitle = null;

// Puts the customers card back as app.js built it (top customers).
export function showTopCustomersHead() {
  const table = $('customers-table');
  if (normalHead) { table.tHead.replaceWith(normalHead); normalHead = null; }
  if (normalTitle !== null) { $('customers-title').textContent = normalTitle; normalTitle = null; }
  table.removeAttribute('data-mode');
}

// The customers of one endpoint: ans is the /api/v1/customers answer with
// filter.endpoint set; filterButton(kind, name) makes a name a filter link.
export function renderEndpointCustomers(ans, filterButton) {
  const table = $('customers-table');
  if (!normalHead) {
    normalHead = table.tHead;
    normalTitle = $('customers-title').textContent;
    const head = el('thead', {}, el('tr', {}, ...['Customer', 'Requests', 'Share', 'Errors', 'p95', 'First call (UTC)', 'Last call (UTC)'].map(
      (h, i) => el('th', { scope: 'col', class: i > 0 && i < 5 ? 'num' : '' }, h))));
    table.tHead.replaceWith(head);
  }
  table.dataset.mode = 'endpoint';
  $('customers-title').textContent = 'Customers of ' + ans.filter.endpoint;
  const body = table.tBodies[0];
  body.textContent = '';
  const rows = Array.isArray(ans.customers) ? ans.customers : [];
  for (const r of rows) {
    const lat = r.latency_ms || {};
    body.append(el('tr', {}, el('td', { class: 'name' }, filterButton('customer', r.customer)), el('td', { class: 'num' }, fmtInt(r.requests)),
      el('td', { class: 'num' }, fmtPct(r.share)), el('td', { class: 'num' }, fmtPct(r.error_rate)), el('td', { class: 'num' }, fmtMs(lat.p95)),
      el('td', { class: 'mono', 'data-seen': 'first' }, fmtMinute(r.first_seen)), el('td', { class: 'mono', 'data-seen': 'last' }, fmtMinute(r.last_seen))));
  }
  if (!rows.length) body.append(el('tr', {}, el('td', { colspan: 7, class: 'muted' }, 'No customer called this endpoint in these days')));
  const more = ans.customer_count > rows.length ? ' Top ' + rows.length + ' of ' + fmtInt(ans.customer_count) + ' customers.' : '';
  const note = $('customers-note');
  note.hidden = false;
  note.textContent = 'Whole UTC days ' + fmtMinute(ans.from).slice(0, 10) + ' to ' + fmtMinute(ans.to).slice(0, 10) + ' (exclusive); first and last call to the minute.' + more;
}
