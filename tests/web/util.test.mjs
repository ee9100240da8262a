// Unit tests of web/util.js in node (no browser): the numbers the page
// writes, against number_cases.json, which number_format_test.cpp holds the
// C++ writers (reports, alerts) to as well; and el(), on a minimal fake DOM.
//
//   node --test util.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { fixedC, fmtMs, fmtMetricValue, fmtPct, fmtInt, el } from '../../web/util.js';

const cases = JSON.parse(fs.readFileSync(new URL('./number_cases.json', import.meta.url), 'utf8'));

test('fmtMs writes milliseconds as the reports do (report/text_format.cpp)', () => {
  for (const [v, want] of cases.ms) assert.equal(fmtMs(v), want, String(v));
});

test('fmtMetricValue writes alert values as apimeter alerts does (alerts/notifier.cpp)', () => {
  for (const [metric, v, want] of cases.metric) assert.equal(fmtMetricValue(metric, v), want, metric + ' ' + v);
});

test('no number is shown as a dash, never as a zero', () => {
  for (const v of [null, undefined, NaN, Infinity, '12']) {
    assert.equal(fmtMs(v), '—');
    assert.equal(fmtMetricValue('p99', v), '—');
    assert.equal(fmtPct(v), '—');
    assert.equal(fmtInt(v), '—');
  }
});

test('fixedC rounds exact ties to even like printf, everything else like toFixed', () => {
  assert.equal((1.125).toFixed(2), '1.13'); // the difference fixedC exists for
  assert.equal(fixedC(1.125, 2), '1.12');
  assert.equal(fixedC(1.375, 2), '1.38');
  assert.equal(fixedC(0.5, 0), '0');
  assert.equal(fixedC(1.5, 0), '2');
  assert.equal(fixedC(-2.5, 0), '-2');
  assert.equal(fixedC(-1.125, 2), '-1.12');
  assert.equal(fixedC(1.005, 2), '1.00'); // 1.005 is 1.00499999999999989...
  assert.equal(fixedC(99.95, 1), '100.0'); // 99.95 is 99.9500000000000028...
  for (let i = 0; i < 2000; i++) {
    const x = Math.random() * 5000;
    assert.equal(fixedC(x, 1), x.toFixed(1), String(x)); // random doubles are never exact ties
  }
});

// Just enough of a DOM for el(): elements with attributes, a style object,
// listeners and children.
class FakeNode {}
class FakeElement extends FakeNode {
  constructor(tag) { super(); this.tag = tag; this.attrs = {}; this.style = {}; this.listeners = {}; this.children = []; this.className = ''; }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  addEventListener(type, fn) { this.listeners[type] = fn; }
  append(c) { this.children.push(c); }
}

test('el sets class, style (through the CSSOM, never a style attribute), listeners and children', () => {
  globalThis.Node = FakeNode;
  globalThis.document = { createElement: (tag) => new FakeElement(tag) };
  try {
    const click = () => {};
    const child = el('strong', {}, 'x');
    const e = el('td', { class: 'num', style: { background: 'red' }, onclick: click, title: 't', colspan: 6, hidden: null, id: undefined },
      'a', 1, null, undefined, child);
    assert.equal(e.tag, 'td');
    assert.equal(e.className, 'num');
    assert.deepEqual(e.style, { background: 'red' });
    assert.equal(e.listeners.click, click);
    assert.deepEqual(e.attrs, { title: 't', colspan: '6' });
    assert.deepEqual(e.children, ['a', '1', child]);
  } finally {
    delete globalThis.Node;
    delete globalThis.document;
  }
});
