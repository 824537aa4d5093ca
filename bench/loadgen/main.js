'use strict';
// The load generator's coordinator: `node loadgen/main.js SPEC.json` forks the worker
// processes, hands each its share of the connections, runs the phases on the machine-wide
// monotonic clock, merges what the workers counted and prints one JSON result on stdout.
// Progress goes to stderr.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fork } = require('node:child_process');
const { Histogram, nowUs } = require('./stats');
const procstat = require('./procstat');
const { runStorm } = require('./stormrun');

const SATURATED = 0.9; // of one core, per worker process

const BORN = nowUs();

function log(text) {
  process.stderr.write(`  [loadgen +${((nowUs() - BORN) / 1e6).toFixed(1)}s] ${text}\n`);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class Worker {
  constructor(index) {
    this.index = index;
    this.child = fork(path.join(__dirname, 'worker.js'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.waiting = new Map();
    this.child.on('message', (msg) => {
      const resolve = this.waiting.get(msg.ev);
      if (msg.ev === 'failed') {
        for (const r of this.waiting.values()) r(Promise.reject(new Error(msg.error)));
        this.waiting.clear();
        return;
      }
      if (resolve) {
        this.waiting.delete(msg.ev);
        resolve(msg);
      }
    });
    this.child.on('exit', (code) => {
      for (const r of this.waiting.values()) r(Promise.reject(new Error(`worker exited ${code}`)));
      this.waiting.clear();
    });
  }

  ask(cmd, ev) {
    return new Promise((resolve) => {
      this.waiting.set(ev, resolve);
      this.child.send(cmd);
    });
  }

  async close() {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ cmd: 'close' });
    await Promise.race([exited, sleep(5000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

function merge(reports) {
  const sum = (key) => reports.reduce((acc, r) => acc.map((v, i) => v + r[key][i]), [0, 0, 0, 0]);
  const addMaps = (key) => {
    const out = {};
    for (const r of reports) for (const [k, v] of Object.entries(r[key])) out[k] = (out[k] || 0) + v;
    return out;
  };
  const hist = (key) =>
    reports.reduce((h, r) => h.merge(Histogram.fromJSON(r[key])), new Histogram());
  return {
    sent: sum('sent'),
    acked: sum('acked'),
    delivered: sum('delivered'),
    errors: addMaps('errors'),
    closed: addMaps('closed'),
    latency_warmup: hist('latency_warmup'),
    latency: hist('latency'),
    open: reports.reduce((n, r) => n + r.open, 0),
    expected: reports.reduce((n, r) => n + r.expected, 0),
  };
}

function loadgenCpu(reports) {
  const per = reports.map((r) => (r.cpu && r.cpu.wall_s > 0 ? r.cpu.cpu_s / r.cpu.wall_s : null));
  const known = per.filter((v) => v !== null);
  const total = known.reduce((a, b) => a + b, 0);
  return {
    per_worker_cores: per,
    total_cores: total,
    share_of_machine: total / os.availableParallelism(),
    saturated: known.some((v) => v > SATURATED),
  };
}

/** Busy cores on the machine during the measurement, and those not ours to explain. */
function machineShare(busy, server, loadgen) {
  const known = Object.values(server).reduce((n, g) => n + (g.cores || 0), 0) + loadgen.total_cores;
  return {
    busy_cores: busy,
    cores: os.availableParallelism(),
    other_cores: busy === null ? null : Math.max(0, busy - known),
  };
}

async function connectAll(workers, spec) {
  const shares = workers.map(() => []);
  spec.clients.forEach((client, i) => shares[i % workers.length].push(client));
  const { clients, ...rest } = spec;
  const results = await Promise.all(
    workers.map((w, i) =>
      w.ask({ cmd: 'connect', spec: { ...rest, clients: shares[i] } }, 'connected'),
    ),
  );
  const failures = {};
  const rooms = {};
  for (const r of results) {
    for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] || 0) + v;
    for (const [k, v] of Object.entries(r.rooms)) rooms[k] = (rooms[k] || 0) + v;
  }
  return {
    requested: clients.length,
    ok: results.reduce((n, r) => n + r.ok, 0),
    skipped_over_budget: results.reduce((n, r) => n + r.skipped, 0),
    failures,
    rooms,
    seconds: Math.max(...results.map((r) => r.seconds)),
  };
}

async function runTraffic(workers, spec, connected, step) {
  const margin = spec.start_margin_ms ?? 600;
  const startAt = nowUs() + margin * 1000;
  const measureAt = startAt + spec.warmup_s * 1e6;
  const stopAt = measureAt + spec.duration_s * 1e6;
  // Expected deliveries count the members actually connected, room by room.
  const fanout = connected.rooms;
  for (const w of workers) w.child.send({ cmd: 'run', startAt, measureAt, stopAt, fanout, step });
  log(`running: ${spec.warmup_s}s warm-up, ${spec.duration_s}s measured`);
  await sleep((measureAt - nowUs()) / 1000);
  const server0 = procstat.sample(spec.server_pids);
  const machine0 = procstat.machineTicks();
  const t0 = nowUs();
  await sleep((stopAt - nowUs()) / 1000);
  const server = procstat.usage(server0, procstat.sample(spec.server_pids), (nowUs() - t0) / 1e6);
  const busy = procstat.busyCores(machine0, procstat.machineTicks(), os.availableParallelism());
  // Drain: stop when every expected delivery arrived or the count stops moving.
  let reports = [];
  let last = -1;
  const drainUntil = nowUs() + (spec.drain_s ?? 5) * 1e6;
  for (;;) {
    reports = await Promise.all(workers.map((w) => w.ask({ cmd: 'report' }, 'report')));
    const m = merge(reports);
    const total = m.delivered.reduce((a, b) => a + b, 0);
    if (total >= m.expected || total === last || nowUs() > drainUntil) break;
    last = total;
    await sleep(500);
  }
  const m = merge(reports);
  const rate = (n, s) => (s > 0 ? n / s : 0);
  const total = (arr) => arr.reduce((a, b) => a + b, 0);
  return {
    warmup: {
      seconds: spec.warmup_s,
      sent_per_s: rate(m.sent[1], spec.warmup_s),
      acked_per_s: rate(m.acked[1], spec.warmup_s),
      delivered_per_s: rate(m.delivered[1], spec.warmup_s),
      latency: m.latency_warmup.summary(),
    },
    measured: {
      seconds: spec.duration_s,
      sent_per_s: rate(m.sent[2], spec.duration_s),
      acked_per_s: rate(m.acked[2], spec.duration_s),
      delivered_per_s: rate(m.delivered[2], spec.duration_s),
      latency: m.latency.summary(),
    },
    totals: {
      sent: total(m.sent),
      acked: total(m.acked),
      delivered: total(m.delivered),
      expected_deliveries: m.expected,
      completeness: m.expected ? total(m.delivered) / m.expected : null,
    },
    errors: m.errors,
    closed_during_run: m.closed,
    open_at_end: m.open,
    server,
    loadgen: loadgenCpu(reports),
    machine: machineShare(busy, server, loadgenCpu(reports)),
  };
}

/**
 * Waits (up to `settle_s`) until the servers use less than a fifth of a core: a system still
 * digesting thousands of connects (catch-up, presence) must not have that counted against its
 * first step's figure.
 */
async function settle(spec) {
  const until = nowUs() + (spec.settle_s ?? 20) * 1e6;
  let before = procstat.sample(spec.server_pids);
  let t = nowUs();
  while (nowUs() < until) {
    await sleep(500);
    const after = procstat.sample(spec.server_pids);
    const used = procstat.usage(before, after, (nowUs() - t) / 1e6);
    const cores = Object.entries(used)
      .filter(([name]) => name === 'server' || !/^(postgres|redis)/.test(name))
      .reduce((n, [, g]) => n + (g.cores || 0), 0);
    if (cores < 0.2) return;
    before = after;
    t = nowUs();
  }
  log('servers still busy after the settle time; measuring anyway');
}

/**
 * Several measurements on one set of connections, one per step ({room?, mode?, window?,
 * rate?, group?}). Steps of one `group` with `sweep` set form a window sweep: the rest of the
 * group is skipped once a window raised deliveries/s by less than `sweep_gain` (saturated).
 */
async function runSteps(workers, spec, connected) {
  const out = [];
  const best = {};
  const stalled = new Set();
  for (const step of spec.steps) {
    const group = step.group ?? 'all';
    if (stalled.has(group)) continue;
    const phases = { ...spec, warmup_s: step.warmup_s ?? spec.warmup_s, duration_s: step.duration_s ?? spec.duration_s };
    const r = await runTraffic(workers, phases, connected, step);
    const rate = r.measured.delivered_per_s;
    log(`step ${JSON.stringify(step)}: ${Math.round(rate)} deliveries/s`);
    out.push({ step, ...r });
    if (step.sweep && best[group] !== undefined && rate < best[group] * (1 + (spec.sweep_gain ?? 0.05))) {
      stalled.add(group);
    }
    best[group] = Math.max(best[group] ?? 0, rate);
  }
  return out;
}

async function runIdle(workers, spec, connected, before) {
  log(`holding ${connected.ok} connections for ${spec.hold_s}s`);
  await sleep(spec.hold_s * 1000);
  const after = procstat.sample(spec.server_pids);
  const reports = await Promise.all(workers.map((w) => w.ask({ cmd: 'report' }, 'report')));
  const open = reports.reduce((n, r) => n + r.open, 0);
  const memory = {};
  for (const [name, b] of Object.entries(before)) {
    const delta = after[name].rss_bytes - b.rss_bytes;
    const cpu = after[name].cpu_s - b.cpu_s;
    memory[name] = {
      rss_before_bytes: b.rss_bytes,
      rss_after_bytes: after[name].rss_bytes,
      per_connection_bytes: open > 0 ? delta / open : null,
      // CPU from before the first connect to the end of the hold, per connection made.
      cpu_ms_per_connection: connected.ok > 0 ? (cpu * 1000) / connected.ok : null,
    };
  }
  return {
    open_at_end: open,
    connect_per_s: connected.seconds > 0 ? connected.ok / connected.seconds : null,
    memory,
    closed_during_run: merge(reports).closed,
    loadgen_rss_bytes: reports.reduce((n, r) => n + r.memory_rss, 0),
  };
}

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const workers = Array.from({ length: spec.workers || 2 }, (_, i) => new Worker(i));
  let result = {};
  try {
    if (spec.mode === 'storm') {
      result = await runStorm(workers, spec, log);
    } else if (spec.mode === 'resume') {
      result = await workers[0].ask({ cmd: 'resume', spec }, 'resume');
      delete result.ev;
    } else {
      const before = procstat.sample(spec.server_pids);
      log(`connecting ${spec.clients.length} clients with ${workers.length} workers`);
      const connected = await connectAll(workers, spec);
      log(`connected ${connected.ok}/${connected.requested} in ${connected.seconds.toFixed(1)}s`);
      const { rooms, ...shown } = connected;
      result = { connections: shown };
      if (connected.ok === 0) {
        result.error = 'no connection succeeded';
      } else if (spec.mode === 'idle') {
        result = { ...result, ...(await runIdle(workers, spec, connected, before)) };
      } else if (spec.steps) {
        await settle(spec);
        result = { ...result, steps: await runSteps(workers, spec, connected) };
      } else {
        result = { ...result, ...(await runTraffic(workers, spec, connected)) };
      }
    }
  } catch (err) {
    result = { ...result, error: String(err && err.message ? err.message : err) };
  } finally {
    log('closing');
    await Promise.all(workers.map((w) => w.close()));
  }
  log('done');
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

module.exports = { Worker, sleep };

if (require.main === module) main();
