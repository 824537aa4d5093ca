'use strict';
// Reconnect storm, coordinator side. After every client is connected it prints
// {"ev":"restart"} on stdout and reads one JSON line from stdin: the harness restarted the
// server (SIGTERM, then started again) and answers with the new process groups and the
// instant the new server was ready. Meanwhile (ours) messages are posted over HTTP to the
// storm's rooms, so some are committed while the gateway is down: every connected member
// must get each of them once, live or by resume. CPU is read from /proc per process group:
// the restarted server from its readiness on, the others from the restart request on.

const readline = require('node:readline');
const { nowUs } = require('./stats');
const { makeBody } = require('./protocols');
const procstat = require('./procstat');
const { HTTP_SENDER } = require('./storm');

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function askHarness() {
  const rl = readline.createInterface({ input: process.stdin });
  const answer = new Promise((resolve) => rl.once('line', (line) => {
    rl.close();
    // Nothing more comes on stdin: let the process exit when its work is done.
    process.stdin.destroy();
    resolve(JSON.parse(line));
  }));
  process.stdout.write(`${JSON.stringify({ ev: 'restart' })}\n`);
  return answer;
}

/** Posts `count` messages at `rate`/s round-robin over `senders` ({token, room}); per room acked. */
async function postMessages(http, tag) {
  const acked = {};
  const refused = {};
  let inflight = 0;
  const started = nowUs();
  const one = async (n) => {
    const s = http.senders[n % http.senders.length];
    inflight += 1;
    try {
      const res = await fetch(`${http.messages_url}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token}` },
        body: JSON.stringify({ room_id: s.room, body: makeBody(nowUs(), HTTP_SENDER, 'storm'), client_msg_id: `${tag}-${n}` }),
      });
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 201) acked[s.room] = (acked[s.room] || 0) + 1;
      else refused[res.status] = (refused[res.status] || 0) + 1;
    } catch (err) {
      const key = String(err.message || err).slice(0, 40);
      refused[key] = (refused[key] || 0) + 1;
    } finally {
      inflight -= 1;
    }
  };
  const pending = [];
  for (let n = 0; n < http.count; n += 1) {
    const due = started + (n * 1e6) / http.rate;
    const wait = (due - nowUs()) / 1000;
    if (wait > 0) await sleep(wait);
    pending.push(one(n));
  }
  await Promise.all(pending);
  return { acked, refused, seconds: (nowUs() - started) / 1e6 };
}

function cpuMs(before, after) {
  const out = {};
  for (const [name, b] of Object.entries(before)) {
    const a = after[name];
    if (a) out[name] = (a.cpu_s - b.cpu_s) * 1000;
  }
  return out;
}

function percentileAt(sortedTimes, fraction) {
  if (!sortedTimes.length) return null;
  const i = Math.min(sortedTimes.length - 1, Math.ceil(fraction * sortedTimes.length) - 1);
  return sortedTimes[i];
}

async function runStorm(workers, spec, log) {
  const shares = workers.map(() => []);
  spec.clients.forEach((c, i) => shares[i % workers.length].push(c));
  const { clients, ...rest } = spec;
  log(`storm: connecting ${clients.length} clients`);
  const got = await Promise.all(workers.map((w, i) => w.ask({ cmd: 'storm_connect', spec: { ...rest, clients: shares[i] } }, 'storm_connected')));
  const connected = got.reduce((n, g) => n + g.ok, 0);
  const rooms = {};
  for (const g of got) for (const [k, v] of Object.entries(g.rooms)) rooms[k] = (rooms[k] || 0) + v;
  log(`storm: ${connected}/${clients.length} connected in ${Math.max(...got.map((g) => g.seconds)).toFixed(1)}s; restarting the server`);
  if (connected === 0) return { error: 'no connection succeeded' };
  const edge = spec.edge_group;
  const others = Object.fromEntries(Object.entries(spec.server_pids).filter(([k]) => k !== edge));
  const othersBefore = procstat.sample(others);
  const restartAt = nowUs();
  const sending = spec.http ? postMessages(spec.http, spec.tag) : Promise.resolve(null);
  const answer = await askHarness();
  log(`storm: server back (${((answer.ready_us - restartAt) / 1e6).toFixed(2)}s after the restart request)`);
  const deadline = nowUs() + spec.storm_timeout_s * 1e6;
  let reports = [];
  let sent = null;
  sending.then((v) => { sent = v; });
  for (;;) {
    await sleep(200);
    reports = await Promise.all(workers.map((w) => w.ask({ cmd: 'storm_report' }, 'storm_report')));
    const resumed = reports.reduce((n, r) => n + r.resumed, 0);
    if ((resumed >= connected && (sent !== null || !spec.http)) || nowUs() > deadline) break;
  }
  const allAt = nowUs();
  const edgeAfter = procstat.sample({ [edge]: answer.pids[edge] });
  // The restarted edge: all it spent since it started, less what its first start took
  // before it was ready (no client then). Connects it served before the harness saw it
  // ready count too: a restart swamped by returning clients answers its readiness check late.
  const edgeStart = { [edge]: { cpu_s: answer.startup_cpu_s } };
  const cpu = {
    ...cpuMs(othersBefore, procstat.sample(others)),
    ...cpuMs(edgeStart, edgeAfter),
  };
  sent = await sending;
  // Drain: the last posted messages reach every member (or 5 s pass).
  const expected = sent ? Object.entries(sent.acked).reduce((n, [room, k]) => n + k * (rooms[room] || 0), 0) : 0;
  const drainUntil = nowUs() + 5e6;
  for (;;) {
    reports = await Promise.all(workers.map((w) => w.ask({ cmd: 'storm_report', full: true }, 'storm_report')));
    const received = reports.reduce((n, r) => n + r.received, 0);
    if (received >= expected || nowUs() > drainUntil) break;
    await sleep(300);
  }
  const times = reports.flatMap((r) => r.resumed).sort((a, b) => a - b);
  const closes = {};
  const failures = {};
  for (const r of reports) {
    for (const [k, v] of Object.entries(r.closes)) closes[k] = (closes[k] || 0) + v;
    for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] || 0) + v;
  }
  const received = reports.reduce((n, r) => n + r.received, 0);
  const since = (t, from) => (t === null ? null : (t - from) / 1e6);
  const firstClose = answer.first_close_us ?? restartAt;
  const reconnects = times.length;
  const totalMs = Object.values(cpu).reduce((a, b) => a + b, 0);
  return {
    connections: { requested: clients.length, ok: connected },
    resumed: reconnects,
    restart_s: since(answer.ready_us, restartAt),
    restart_stop_s: answer.stop_s ?? null,
    restart_start_s: answer.start_s ?? null,
    // From the restart request (SIGTERM): what a user waits, the server's own restart included.
    resumed_99_s: since(percentileAt(times, 0.99), restartAt),
    resumed_all_s: reconnects >= connected ? since(times[times.length - 1], restartAt) : null,
    // From the new server's readiness: the reconnect work alone.
    ready_to_99_s: since(percentileAt(times, 0.99), answer.ready_us),
    ready_to_all_s: reconnects >= connected ? since(times[times.length - 1], answer.ready_us) : null,
    attempts: reports.reduce((n, r) => n + r.attempts, 0),
    closes,
    connect_failures: failures,
    cpu_ms: cpu,
    // Of the edge's: spent before it was seen ready, its startup excluded.
    edge_cpu_ms_before_ready: (answer.ready_cpu_s - answer.startup_cpu_s) * 1000,
    cpu_ms_per_connect: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, reconnects ? v / reconnects : null])),
    cpu_ms_per_connect_total: reconnects ? totalMs / reconnects : null,
    messages: sent && {
      posted_acked: Object.values(sent.acked).reduce((a, b) => a + b, 0),
      refused: sent.refused,
      expected_deliveries: expected,
      received,
      lost: Math.max(0, expected - received),
      duplicates: reports.reduce((n, r) => n + r.duplicates, 0),
    },
    wall_s: since(allAt, restartAt),
  };
}

module.exports = { runStorm, percentileAt };
