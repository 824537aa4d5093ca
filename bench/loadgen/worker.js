'use strict';
// One load generator process: opens its share of the connections, sends on the schedule the
// coordinator gives (in machine-wide monotonic microseconds), and counts what arrives.
// Every event is classified by its own timestamp into warm-up or measurement, so the phase
// boundaries are exact whatever the IPC delay.

const { Histogram, nowUs } = require('./stats');
const { Connection, makeBody, parseStamp } = require('./protocols');
const { runResume } = require('./resume');
const storm = require('./storm');

const PAD = 'x'.repeat(24);

class Phases {
  constructor() {
    this.startAt = Infinity;
    this.measureAt = Infinity;
    this.stopAt = Infinity;
  }

  /** 0 before start, 1 warm-up, 2 measurement, 3 after stop. */
  of(t) {
    if (t < this.startAt) return 0;
    if (t < this.measureAt) return 1;
    if (t < this.stopAt) return 2;
    return 3;
  }
}

class Counters {
  constructor() {
    this.sent = [0, 0, 0, 0];
    this.acked = [0, 0, 0, 0];
    this.delivered = [0, 0, 0, 0];
    this.errors = {};
    this.closed = {};
    this.latency = [null, new Histogram(), new Histogram(), null];
  }
}

const phases = new Phases();
let counters = new Counters();
const conns = [];
let spec = null;
let cpuAtMeasure = null;
let cpuMeasured = null;
let stormStats = null;
let stormClients = [];

function noteError(buf) {
  let code = 'unparsable';
  try {
    code = JSON.parse(buf.toString()).code || 'error';
  } catch {
    code = buf.toString().slice(0, 40);
  }
  counters.errors[code] = (counters.errors[code] || 0) + 1;
}

/** A sender: a window of unsettled sends (acked and echoed back), or a fixed-rate schedule. */
class Sender {
  constructor(client, conn) {
    this.gid = client.gid;
    this.room = client.send.room;
    this.mode = client.send.mode;
    this.window = client.send.window || 1;
    this.rate = client.send.rate || 0;
    this.tag = `${spec.tag}-${client.gid}`;
    this.conn = conn;
    this.n = 0;
    this.acks = 0;
    this.echoes = 0;
    this.timer = null;
    this.started = false;
    this.n0 = 0; // sends before this step
  }

  /** A new step on the same connection: another room, window or rate; earlier sends settled. */
  restep(step) {
    this.stop();
    this.started = false;
    if (step.room) this.room = step.room;
    if (step.mode) this.mode = step.mode;
    if (step.window) this.window = step.window;
    if (step.rate) this.rate = step.rate;
    this.n0 = this.n;
    this.acks = this.n;
    this.echoes = this.n;
  }

  start() {
    this.started = true;
    if (this.mode === 'rate') {
      this.t0 = phases.startAt;
      this.tick();
    } else {
      this.pump();
    }
  }

  sendOne(ts) {
    const phase = phases.of(ts);
    if (!this.conn.send(this.room, makeBody(ts, this.gid, PAD), `${this.tag}-${this.n}`)) return false;
    this.n += 1;
    counters.sent[phase] += 1;
    return true;
  }

  pump() {
    // Only once started: an error frame before the start must not start it early.
    if (this.mode !== 'window' || !this.started) return;
    // Settled: acked by the system and delivered back to this very connection.
    while (this.n - Math.min(this.acks, this.echoes) < this.window) {
      const t = nowUs();
      if (t >= phases.stopAt) return;
      if (!this.sendOne(t)) return;
    }
  }

  /** Fixed rate: each message's stamp is its scheduled time, so a late send shows as latency. */
  tick() {
    const now = nowUs();
    const at = (k) => this.t0 + ((k - this.n0) * 1e6) / this.rate;
    while (at(this.n) <= now) {
      const due = at(this.n);
      if (due >= phases.stopAt) return;
      if (!this.sendOne(due)) return;
    }
    const next = at(this.n);
    this.timer = setTimeout(() => this.tick(), Math.max(0, (next - nowUs()) / 1000));
  }

  stop() {
    if (this.timer) clearTimeout(this.timer);
  }
}

function handlersFor(slot) {
  return {
    message(buf) {
      const t = nowUs();
      const phase = phases.of(t);
      counters.delivered[phase] += 1;
      const stamp = parseStamp(buf);
      if (stamp === null) return;
      const hist = counters.latency[phase];
      if (hist !== null) hist.record(t - stamp[0]);
      const sender = slot.sender;
      if (sender !== null && stamp[1] === sender.gid) {
        sender.echoes += 1;
        sender.pump();
      }
    },
    ack() {
      counters.acked[phases.of(nowUs())] += 1;
      const sender = slot.sender;
      if (sender !== null) {
        sender.acks += 1;
        sender.pump();
      }
    },
    error(buf) {
      noteError(buf);
      // A refused send never comes back: count it as settled so the window keeps moving.
      const sender = slot.sender;
      if (sender !== null) {
        sender.acks += 1;
        sender.echoes += 1;
        sender.pump();
      }
    },
    resumed() {},
    other() {},
    closed(code) {
      counters.closed[code] = (counters.closed[code] || 0) + 1;
    },
  };
}

async function connectAll() {
  const started = nowUs();
  // A slow system gets a connect budget, not the whole run: past it no new connect starts
  // and the scenario runs with what is connected (the result says how many).
  const deadline = started + (spec.connect_budget_s || 60) * 1e6;
  const failures = {};
  const rooms = {};
  let ok = 0;
  let skipped = 0;
  let next = 0;
  const clients = spec.clients;
  const addresses = spec.local_addresses || [undefined];
  async function lane() {
    while (next < clients.length) {
      const index = next++;
      if (nowUs() > deadline) {
        skipped += 1;
        continue;
      }
      const client = clients[index];
      const slot = { sender: null };
      const conn = new Connection(spec.protocol, spec.url, {
        token: client.token,
        rooms: client.rooms,
        localAddress: addresses[index % addresses.length],
        handlers: handlersFor(slot),
      });
      try {
        await conn.connect(spec.connect_timeout_ms || 30000);
        ok += 1;
        for (const room of client.member_of || (client.room ? [client.room] : [])) {
          rooms[room] = (rooms[room] || 0) + 1;
        }
        if (client.send) slot.sender = new Sender(client, conn);
        conns.push({ conn, slot });
      } catch (err) {
        const key = String(err.message || err).slice(0, 80);
        failures[key] = (failures[key] || 0) + 1;
      }
    }
  }
  const lanes = Math.min(spec.connect_concurrency || 100, clients.length);
  await Promise.all(Array.from({ length: lanes }, lane));
  return {
    ok,
    failed: clients.length - ok - skipped,
    skipped,
    failures,
    rooms,
    seconds: (nowUs() - started) / 1e6,
  };
}

function schedule(at, fn) {
  setTimeout(fn, Math.max(0, (at - nowUs()) / 1000));
}

function run(msg) {
  spec.fanout = msg.fanout;
  if (msg.step) {
    // One more measurement on the same connections: fresh counters, senders re-aimed.
    counters = new Counters();
    cpuAtMeasure = null;
    cpuMeasured = null;
    for (const { slot } of conns) if (slot.sender) slot.sender.restep(msg.step);
  }
  phases.startAt = msg.startAt;
  phases.measureAt = msg.measureAt;
  phases.stopAt = msg.stopAt;
  schedule(phases.startAt, () => {
    for (const { slot } of conns) if (slot.sender) slot.sender.start();
  });
  schedule(phases.measureAt, () => {
    cpuAtMeasure = [process.cpuUsage(), nowUs()];
  });
  schedule(phases.stopAt, () => {
    const [cpu0, t0] = cpuAtMeasure || [process.cpuUsage(), nowUs()];
    const used = process.cpuUsage(cpu0);
    cpuMeasured = { cpu_s: (used.user + used.system) / 1e6, wall_s: (nowUs() - t0) / 1e6 };
    for (const { slot } of conns) if (slot.sender) slot.sender.stop();
  });
}

function report() {
  const open = conns.filter(({ conn }) => conn.open).length;
  const senders = conns.filter(({ slot }) => slot.sender).map(({ slot }) => slot.sender);
  return {
    sent: counters.sent,
    acked: counters.acked,
    delivered: counters.delivered,
    errors: counters.errors,
    closed: counters.closed,
    latency_warmup: counters.latency[1].toJSON(),
    latency: counters.latency[2].toJSON(),
    cpu: cpuMeasured,
    open,
    expected: senders.reduce((sum, s) => sum + (s.n - s.n0) * (spec.fanout[s.room] || 0), 0),
    memory_rss: process.memoryUsage().rss,
  };
}

// The coordinator is gone (killed on a timeout): nothing left to report to.
process.on('disconnect', () => process.exit(0));

process.on('message', async (msg) => {
  try {
    if (msg.cmd === 'connect') {
      spec = msg.spec;
      process.send({ ev: 'connected', ...(await connectAll()) });
    } else if (msg.cmd === 'run') {
      run(msg);
    } else if (msg.cmd === 'report') {
      process.send({ ev: 'report', ...report() });
    } else if (msg.cmd === 'resume') {
      process.send({ ev: 'resume', ...(await runResume(msg.spec)) });
    } else if (msg.cmd === 'storm_connect') {
      spec = msg.spec;
      stormStats = storm.newStats();
      const started = nowUs();
      const got = await storm.connectStorm(spec, stormStats);
      stormClients = got.clients;
      process.send({ ev: 'storm_connected', ok: got.clients.length, rooms: got.rooms, seconds: (nowUs() - started) / 1e6 });
    } else if (msg.cmd === 'storm_report') {
      const { resumed, ...rest } = stormStats;
      process.send({ ev: 'storm_report', ...rest, resumed: msg.full ? resumed : resumed.length, clients: stormClients.length });
    } else if (msg.cmd === 'close') {
      for (const { conn } of conns) conn.close();
      for (const c of stormClients) c.stop();
      process.send({ ev: 'closed' }, () => process.exit(0));
    }
  } catch (err) {
    process.send({ ev: 'failed', error: String(err && err.stack ? err.stack : err) });
  }
});
