'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Histogram, nowUs } = require('./stats');

test('quantiles of a uniform 1..100000 us sample are within bucket precision', () => {
  const h = new Histogram();
  for (let v = 1; v <= 100000; v += 1) h.record(v);
  const s = h.summary();
  assert.equal(s.samples, 100000);
  assert.ok(Math.abs(s.p50_ms - 50) <= 0.5, `p50 ${s.p50_ms}`);
  assert.ok(Math.abs(s.p99_ms - 99) <= 1, `p99 ${s.p99_ms}`);
  assert.equal(s.max_ms, 100);
});

test('histograms merge across workers through JSON as if recorded in one', () => {
  const a = new Histogram();
  const b = new Histogram();
  const whole = new Histogram();
  for (let v = 0; v < 5000; v += 1) {
    (v % 2 ? a : b).record(v * 37);
    whole.record(v * 37);
  }
  const merged = Histogram.fromJSON(JSON.parse(JSON.stringify(a))).merge(b);
  assert.deepEqual(merged.summary(), whole.summary());
});

test('an empty histogram reports no figures rather than zeros', () => {
  assert.deepEqual(new Histogram().summary(), {
    samples: 0,
    p50_ms: null,
    p99_ms: null,
    p999_ms: null,
    max_ms: null,
  });
});

test('the clock is monotonic and in microseconds', () => {
  const t0 = nowUs();
  const start = Date.now();
  while (Date.now() - start < 20);
  const elapsed = nowUs() - t0;
  assert.ok(elapsed >= 15000 && elapsed < 200000, `elapsed ${elapsed}`);
});
