'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { deadline, stalledMs } = require('./stall');

function block(ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // the loop is stalled, as when the server under test takes the CPU
  }
}

test('a deadline fires after its time when the loop runs freely', async () => {
  const started = Date.now();
  await new Promise((resolve) => deadline(120, resolve));
  const took = Date.now() - started;
  assert.ok(took >= 115 && took < 1000, took);
});

test('a stall of the loop moves the deadline back by as long', async () => {
  const started = Date.now();
  const before = stalledMs();
  const fired = new Promise((resolve) => deadline(200, resolve));
  await new Promise((resolve) => setTimeout(resolve, 60));
  block(500);
  await fired;
  const took = Date.now() - started;
  assert.ok(stalledMs() - before >= 400, stalledMs() - before);
  // 200 ms of running time plus the ~500 ms stall, not 200 ms of wall time.
  assert.ok(took >= 600, took);
});

test('a cancelled deadline does not fire', async () => {
  let fired = false;
  const cancel = deadline(50, () => {
    fired = true;
  });
  cancel();
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.equal(fired, false);
});
