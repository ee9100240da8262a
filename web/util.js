// apimeter page helpers shared by app.js, report.js and alerts.js: building
// DOM elements and writing numbers for people. An ES module with no side
// effects at import (it touches `document` only when called), so node can
// import it too (tests/web/util.test.mjs).
//
// Numbers agree with the C++ writers beside them: fmtMs with the reports'
// text::Ms (report/text_format.cpp), fmtMetricValue with the alert texts of
// `apimeter alerts` and webhooks (alerts/notifier.cpp FormatMetricValue).
// Both round as C's printf does (fixedC), so the page never shows a number
// one digit apart from a downloaded report or an alert message.

export const $ = (id) => document.getElementById(id);

// el('td', { class: 'num', onclick: fn, style: { background: c } }, child, ...):
// `class` sets className; `on<event>` with a function adds a listener;
// `style` takes an object of CSS properties, set through the CSSOM (the
// Content-Security-Policy refuses style attributes); null or undefined
// attributes and children are left out; other children become text.
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === 'class') e.className = v;
    else if (k === 'style') Object.assign(e.style, v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

export const isNum = (v) => typeof v === 'number' && isFinite(v);

// x with `d` decimals exactly as C's printf("%.*f", d, x) writes it: the
// nearest such number to x's exact binary value, an exact tie going to the
// even last digit. Number.prototype.toFixed differs only on exact ties,
// which it rounds away from zero (1.125 → "1.13" where printf says "1.12").
export function fixedC(x, d) {
  const s = x.toFixed(d);
  if (!(Math.abs(x) < 1e21)) return s;
  const extra = 30; // enough digits to see any double within 1e21 exactly to d+30 places
  const long = x.toFixed(d + extra);
  const tail = long.slice(-extra);
  if (tail !== '5' + '0'.repeat(extra - 1)) return s;
  // An exact tie: the truncated number if its last digit is even, else toFixed's.
  const truncated = long.slice(0, -extra).replace(/\.$/, '');
  return Number(truncated.slice(-1)) % 2 === 0 ? truncated : s;
}

const nf = new Intl.NumberFormat('en-US');
export const fmtInt = (v) => (isNum(v) ? nf.format(v) : '—');
export const fmtPct = (v) => (isNum(v) ? (v * 100).toFixed(v * 100 < 10 ? 2 : 1) + '%' : '—');
// Milliseconds as reports write them: 2 decimals under 10 ms, 1 under 1000, none from 1000.
export const fmtMs = (v) => (isNum(v) ? fixedC(v, v < 10 ? 2 : v < 1000 ? 1 : 0) + ' ms' : '—');
export const fmtRps = (v) => (isNum(v) ? (v < 10 ? v.toFixed(3) : nf.format(Math.round(v * 10) / 10)) : '—');
export function fmtBytes(v) {
  if (!isNum(v)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0; let x = v;
  while (x >= 1000 && i < units.length - 1) { x /= 1000; i++; }
  return (i === 0 ? x : x.toFixed(1)) + ' ' + units[i];
}

// An alert rule's metric value as `apimeter alerts` and webhooks write it:
// 2 decimals under 10, else 1; error rates as percentages, requests per minute.
export function fmtMetricValue(metric, v) {
  if (!isNum(v)) return '—';
  const number = (x) => fixedC(x, Math.abs(x) < 10 ? 2 : 1);
  if (metric === 'error_rate') return number(v * 100) + '%';
  if (metric === 'requests') return number(v) + '/min';
  return number(v) + ' ms';
}

// The page's partial marker: an answer that left damaged stored blocks out
// carries "partial": true and "damaged": [keys] (docs/api.md, Partial
// answers); its numbers are exact sums of what was read, so too low. Returns
// the marker element, or null for a whole answer.
export function partialMarker(ans) {
  if (!ans || ans.partial !== true) return null;
  const keys = Array.isArray(ans.damaged) ? ans.damaged : [];
  return el('p', { class: 'partial', role: 'note', title: keys.join('\n') || null },
    'Partial data: ' + keys.length + ' stored block' + (keys.length === 1 ? '' : 's') +
    ' failed their checks and were left out, so these numbers may be too low.');
}
