'use strict';
// Resume (ours only): one member is away while another sends `count` messages round-robin to
// the rooms they share (`rooms`); then the away member connects and resumes every room from
// the seq it had. We time how long until it holds all of them, and check each room's came in
// seq order, each once.

const os = require('node:os');
const procstat = require('./procstat');
const { nowUs } = require('./stats');
const { Connection, makeBody, parseSeq } = require('./protocols');

function quietHandlers(overrides) {
  const noop = () => {};
  return {
    message: noop,
    ack: noop,
    error: noop,
    resumed: noop,
    other: noop,
    closed: noop,
    ...overrides,
  };
}

/**
 * Sends `count` messages with at most `window` unacked, within `send_budget_s` (a slow system
 * gets that long; the away member then resumes what was sent). Resolves with the figures.
 */
function sendAll(url, spec) {
  return new Promise((resolve, reject) => {
    let n = 0;
    let acked = 0;
    let refused = 0;
    let started = 0;
    let deadline = Infinity;
    const codes = {};
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      conn.close();
      const seconds = (nowUs() - started) / 1e6;
      resolve({ seconds, sent: n, acked, refused, refusals: codes, acked_per_s: acked / seconds });
    };
    const pump = () => {
      while (n < spec.count && n - acked - refused < spec.window && nowUs() < deadline) {
        conn.send(spec.rooms[n % spec.rooms.length], makeBody(nowUs(), 0, 'resume'), `${spec.tag}-${n}`);
        n += 1;
      }
      if (acked + refused >= n && (n >= spec.count || nowUs() >= deadline)) finish();
    };
    const conn = new Connection('ours', url, {
      token: spec.sender_token,
      handlers: quietHandlers({
        ack() {
          acked += 1;
          pump();
        },
        error(buf) {
          let code = 'error';
          try {
            code = JSON.parse(buf.toString()).code || code;
          } catch {
            // Counted under "error".
          }
          codes[code] = (codes[code] || 0) + 1;
          refused += 1;
          pump();
        },
        closed(code) {
          reject(new Error(`sender closed with ${code} after ${acked} acks`));
        },
      }),
    });
    conn
      .connect(30000)
      .then(() => {
        started = nowUs();
        const budget = spec.send_budget_s || 60;
        deadline = started + budget * 1e6;
        // Acks that never come (a stuck system) do not hold the run: give up 30 s later.
        setTimeout(finish, (budget + 30) * 1000).unref();
        pump();
      })
      .catch(reject);
  });
}

/** Connects the away member and resumes each room from `fromSeqs[room]`; the timings. */
function resumeFrom(url, spec, fromSeqs, expected) {
  return new Promise((resolve, reject) => {
    let got = 0;
    const last = { ...fromSeqs };
    let outOfOrder = 0;
    let resumedAt = null;
    let allAt = null;
    let resumeSentAt = null;
    const connectAt = nowUs();
    const timer = setTimeout(() => {
      conn.close();
      resolve(result(`timed out after ${spec.timeout_ms} ms`));
    }, spec.timeout_ms);
    const result = (error) => ({
      error,
      expected,
      received: got,
      out_of_order: outOfOrder,
      connect_to_all_s: allAt && (allAt - connectAt) / 1e6,
      resume_to_all_s: allAt && (allAt - resumeSentAt) / 1e6,
      resume_to_resumed_s: resumedAt && (resumedAt - resumeSentAt) / 1e6,
      connect_to_ready_s: resumeSentAt && (resumeSentAt - connectAt) / 1e6,
    });
    const maybeDone = () => {
      if (got >= expected && resumedAt !== null) {
        clearTimeout(timer);
        conn.close();
        resolve(result(null));
      }
    };
    const conn = new Connection('ours', url, {
      token: spec.away_token,
      handlers: quietHandlers({
        message(buf) {
          const parsed = parseSeq(buf);
          if (parsed === null || !(parsed[1] in fromSeqs) || parsed[0] <= fromSeqs[parsed[1]]) return;
          const room = parsed[1];
          if (parsed[0] !== last[room] + 1) outOfOrder += 1;
          last[room] = Math.max(last[room], parsed[0]);
          got += 1;
          if (got === expected) allAt = nowUs();
          maybeDone();
        },
        resumed() {
          resumedAt = nowUs();
          maybeDone();
        },
        closed(code) {
          clearTimeout(timer);
          resolve(result(`connection closed with ${code}`));
        },
      }),
    });
    conn
      .connect(30000)
      .then(() => {
        resumeSentAt = nowUs();
        conn.resume(fromSeqs, 'bench-resume');
      })
      .catch(reject);
  });
}

async function runResume(spec) {
  // The seq the away member had: the room's newest when it left, read from a `ready`.
  const probe = new Connection('ours', spec.url, {
    token: spec.away_token,
    handlers: quietHandlers({}),
  });
  const ready = await probe.connect(30000);
  probe.close();
  const fromSeqs = {};
  for (const room of spec.rooms) {
    const entry = (ready.rooms || []).find((r) => r.room_id === room);
    if (!entry) return { error: `the away member is not in room ${room}` };
    fromSeqs[room] = entry.last_seq;
  }
  const sent = await sendAll(spec.url, spec);
  // CPU from the away member's connect until it holds every message: what the resume cost
  // each process group, robust to a busy machine as the times are not.
  const server0 = procstat.sample(spec.server_pids);
  const machine0 = procstat.machineTicks();
  const t0 = nowUs();
  const resumed = await resumeFrom(spec.url, spec, fromSeqs, sent.acked);
  const seconds = (nowUs() - t0) / 1e6;
  const server1 = procstat.sample(spec.server_pids);
  const busy = procstat.busyCores(machine0, procstat.machineTicks(), os.availableParallelism());
  const cpu = {};
  for (const [name, before] of Object.entries(server0)) {
    cpu[name] = (server1[name] || before).cpu_s - before.cpu_s;
  }
  const serverCpu = Object.values(cpu).reduce((a, b) => a + b, 0);
  return {
    count: spec.count,
    rooms: spec.rooms.length,
    send: sent,
    ...resumed,
    cpu_s: cpu,
    cpu_s_total: serverCpu,
    // Busy cores not explained by the servers (the load generator's own share included).
    machine: { busy_cores: busy, other_cores: busy === null ? null : Math.max(0, busy - serverCpu / seconds) },
  };
}

module.exports = { runResume };
