// apimeter dashboard: the alerts panel. Reads GET /api/v1/alerts (docs/api.md)
// and lists what is pending or firing now and the recent firing/resolved
// events. Each row links to the dashboard's endpoint (or customer) view
// around the alert's time: a plain link with the URL state app.js reads
// (range=custom&from&to&endpoint), so it can also be opened in a new tab.
// The panel stays hidden when no alert rules are configured. An ES module:
// app.js calls startAlerts(). Values read as `apimeter alerts` writes them.
import { el, fmtMetricValue } from './util.js';

const REFRESH_MS = 30000;
const HISTORY = 20;

const iso = (t) => new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ');

// The dashboard at the alert's time: 30 minutes before it started to 30 after.
function viewLink(scope, name, since, minute) {
  const q = new URLSearchParams();
  q.set('range', 'custom');
  q.set('from', String(Math.floor((Math.min(since, minute) - 1800) / 60) * 60));
  q.set('to', String(minute + 60 + 1800));
  if (scope === 'endpoint' || scope === 'customer' || scope === 'host') q.set(scope, name);
  return '/?' + q.toString();
}
const what = (a) => (a.scope === 'all' ? 'all traffic' : a.name);

function row(cells, cls) {
  return el('tr', { class: cls || '' }, ...cells.map((c) => el('td', {}, c)));
}

function render(ans) {
  const panel = document.getElementById('alerts-panel');
  if (!panel) return;
  panel.hidden = !(ans.rules > 0);
  const now = document.getElementById('alerts-now').tBodies[0];
  now.textContent = '';
  for (const a of ans.active || []) {
    const link = el('a', { href: viewLink(a.scope, a.name, a.since, a.since) }, what(a));
    now.append(row([el('span', { class: 'alert-badge ' + a.state }, a.state), a.rule, link,
      fmtMetricValue(a.metric, a.value) + (a.threshold ? ' (' + a.threshold + ')' : ''),
      a.severity || '—', iso(a.since)], 'alert-' + a.state));
  }
  if (!(ans.active || []).length) now.append(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'Nothing firing')));
  const recent = document.getElementById('alerts-recent').tBodies[0];
  recent.textContent = '';
  for (const e of ans.history || []) {
    const link = el('a', { href: viewLink(e.scope, e.name, e.since, e.minute) }, what(e));
    recent.append(row([el('span', { class: 'alert-badge ' + e.kind }, e.kind), e.rule, link,
      fmtMetricValue(e.metric, e.value) + ' (' + e.condition + ')', e.severity, iso(e.minute + 60)]));
  }
  if (!(ans.history || []).length) recent.append(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No alerts yet')));
  const note = document.getElementById('alerts-note');
  note.textContent = ans.evaluated_minute ? 'Evaluated up to ' + ans.evaluated_minute.replace('T', ' ').replace(/:00Z$/, '') + ' UTC' : 'Not evaluated yet: run apimeter alerts, or set alerts.evaluate_in_serve';
}

async function load() {
  try {
    const res = await fetch('/api/v1/alerts?limit=' + HISTORY, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (res.status === 401) return; // app.js sends the page to /login
    const body = await res.json();
    if (!res.ok) throw new Error((body.error && body.error.message) || ('HTTP ' + res.status));
    render(body);
  } catch (e) {
    const panel = document.getElementById('alerts-panel');
    if (!panel) return;
    panel.hidden = false;
    document.getElementById('alerts-note').textContent = 'Could not load alerts: ' + e.message;
  }
}

// Loads the panel now and every REFRESH_MS while the page is visible.
export function startAlerts() {
  load();
  setInterval(() => { if (!document.hidden) load(); }, REFRESH_MS);
}
