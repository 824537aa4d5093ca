'use strict';
// The time this process's event loop was stalled: a tick every TICK_MS, and whatever a tick
// came later than that (beyond SLACK_MS) is added up. The load generator shares the box with
// the server it measures; when the server takes the CPU, the generator's loop can stall for
// seconds, and a client timer that fires right after such a stall says "no answer in 10 s"
// about an answer that has been waiting in the socket. A client's timeout counts its own
// running time instead (`deadline` below): what a client on its own machine would see.

const TICK_MS = 50;
const SLACK_MS = 20;

let stalled = 0;
let last = Date.now();
setInterval(() => {
  const now = Date.now();
  stalled += Math.max(0, now - last - TICK_MS - SLACK_MS);
  last = now;
}, TICK_MS).unref();

/** Milliseconds the loop has been stalled since the process started. */
function stalledMs() {
  return stalled;
}

/**
 * Calls `expire` once `ms` of the loop's running time have passed: a stall meanwhile moves
 * the deadline back by as long. Returns a function that cancels it.
 */
function deadline(ms, expire) {
  let seen = stalledMs();
  let timer = null;
  const check = () => {
    const more = stalledMs() - seen;
    if (more > 0) {
      seen += more;
      timer = setTimeout(check, more);
      return;
    }
    expire();
  };
  timer = setTimeout(check, ms);
  return () => clearTimeout(timer);
}

module.exports = { stalledMs, deadline, TICK_MS, SLACK_MS };
