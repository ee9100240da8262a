// apimeter dashboard, the Clients panel (issue 18 part 2): which clients
// (user agents reduced to product/major.minor) called, with their requests,
// share, error rate and p95, from GET /api/v1/clients (docs/api.md). It
// follows the page's filters: every client, or one endpoint's clients (the
// endpoint drill-down), or one customer's (a customer filter, or the fixed
// customer of "Your API usage"). Client series are kept per whole UTC day,
// so the panel says which days it covers.
//
// Promises: when no source logged $http_user_agent in the range
// ("logged": false) the panel says clients are not logged, never a table of
// zeros; a partial answer (damaged stored blocks) shows the page's partial
// marker; a failed question shows "Clients unavailable" in the panel only.
// An ES module; app.js calls its exports.
import { $, el, fmtInt, fmtPct, fmtMs, partialMarker } from './util.js';

export const CLIENTS_LIMIT = 20;

const fmtDay = (iso) => (typeof iso === 'string' ? iso.slice(0, 10) : '—');

// The parameters of the clients question for the page's filters, or
// { refused } when the API cannot answer it. The API takes an endpoint or a
// customer, not both (per customer × endpoint client series are not kept):
// with both, the customer's clients on every endpoint are shown, and said.
// `scope` is a scoped session's customer (the server forces it anyway).
export function clientsQuestion(filters, scope) {
  const f = { ...filters };
  if (scope) { f.customer = scope; f.host = ''; }
  if (f.host) return { refused: 'Clients are not available with a host filter.' };
  if (f.customer && f.endpoint) {
    return { params: { customer: f.customer }, title: scope ? 'Your clients' : 'Clients of ' + f.customer,
      caveat: 'Clients of this customer on every endpoint: clients are not kept per customer and endpoint.' };
  }
  if (f.endpoint) return { params: { endpoint: f.endpoint }, title: 'Clients of ' + f.endpoint };
  if (f.customer) return { params: { customer: f.customer }, title: scope ? 'Your clients' : 'Clients of ' + f.customer };
  return { params: {}, title: 'Clients' };
}

function setNote(id, text) { const n = $(id); n.hidden = !text; n.textContent = text || ''; }

function clearBody() {
  const body = $('clients-table').tBodies[0];
  body.textContent = '';
  return body;
}

// Shows the panel in one of its states: 'table', 'not-logged', 'refused', 'error'.
function setState(state, title) {
  const panel = $('clients-panel');
  panel.dataset.state = state;
  $('clients-title').textContent = title || 'Clients';
  $('clients-table').closest('.table-wrap').hidden = state !== 'table';
  $('clients-partial').replaceChildren();
}

// question: clientsQuestion's result; ans: the answer (null when refused);
// err: the error when the question failed.
export function renderClients(question, ans, err) {
  setNote('clients-caveat', question.caveat);
  if (question.refused) {
    setState('refused', 'Clients');
    clearBody();
    setNote('clients-note', question.refused);
    return;
  }
  if (err) {
    setState('error', question.title);
    clearBody();
    setNote('clients-note', 'Clients unavailable: ' + err.message);
    return;
  }
  const marker = partialMarker(ans);
  if (ans.logged === false) {
    setState('not-logged', question.title);
    clearBody();
    setNote('clients-note', 'Clients are not logged for ' + fmtDay(ans.from) + ' to ' + fmtDay(ans.to) +
      ' (exclusive): no log source recorded the User-Agent. Add $http_user_agent to the nginx log_format to see them.');
    if (marker) $('clients-partial').append(marker);
    return;
  }
  setState('table', question.title);
  if (marker) $('clients-partial').append(marker);
  const body = clearBody();
  const rows = Array.isArray(ans.clients) ? ans.clients : [];
  for (const r of rows) {
    const lat = r.latency_ms || {};
    body.append(el('tr', {}, el('td', { class: 'name', title: r.client }, r.client), el('td', { class: 'num' }, fmtInt(r.requests)),
      el('td', { class: 'num' }, fmtPct(r.share)), el('td', { class: 'num' }, fmtPct(r.error_rate)), el('td', { class: 'num' }, fmtMs(lat.p95))));
  }
  if (!rows.length) body.append(el('tr', {}, el('td', { colspan: 5, class: 'muted' }, 'No requests in these days')));
  const more = ans.client_count > rows.length ? ' Top ' + rows.length + ' of ' + fmtInt(ans.client_count) + ' clients.' : '';
  setNote('clients-note', 'Whole UTC days ' + fmtDay(ans.from) + ' to ' + fmtDay(ans.to) + ' (exclusive).' + more);
}
