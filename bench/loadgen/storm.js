'use strict';
// Reconnect storm, worker side: hold this worker's share of the clients; when the server
// restarts, every client reconnects with the jittered exponential backoff docs/protocol.md's
// clients use (min(15 s, 0.5 s x 2^attempt) x [0.5, 1)) and resumes: ours sends `resume` with
// the last seq it saw in each room and waits for `resumed`; Socket.IO joins its rooms again.
// Counts every stamped message each connection gets once per (room, seq), for the loss check.

const { nowUs } = require('./stats');
const { Connection, parseSeq, parseStamp, oursKind, RESUMED } = require('./protocols');

const MAX_BACKOFF_MS = 15000;
// As the web client (gateway/gateway/static/socket.js, READY_WAIT_MS): a reconnect with no
// `ready` (Socket.IO: not every room joined) after this long is given up and retried with
// backoff.
const READY_WAIT_MS = 10000;
const HTTP_SENDER = 999999; // the stamp's sender id of messages posted over HTTP

class StormClient {
  constructor(spec, client, index, stats) {
    this.spec = spec;
    this.client = client;
    this.index = index;
    this.stats = stats;
    this.positions = {}; // ours: room_id -> last seq seen
    this.conn = null;
    this.attempt = 0;
    this.closedAt = null;
    this.resumedAt = null;
    this.stopped = false;
  }

  handlers() {
    const self = this;
    return {
      message(buf) {
        const stamp = parseStamp(buf);
        if (self.spec.protocol === 'ours') {
          const seq = parseSeq(buf);
          if (seq === null) return;
          const [n, room] = seq;
          const last = self.positions[room] ?? 0;
          if (n <= last) {
            self.stats.duplicates += 1;
            return;
          }
          self.positions[room] = n;
        }
        if (stamp !== null && stamp[1] === HTTP_SENDER) self.stats.received += 1;
      },
      ack() {},
      error() {},
      resumed() {
        if (self.resumedAt === null && self.closedAt !== null) {
          self.resumedAt = nowUs();
          self.stats.resumed.push(self.resumedAt);
        }
      },
      other() {},
      closed(code) {
        self.stats.closes[code] = (self.stats.closes[code] || 0) + 1;
        if (self.closedAt === null) self.closedAt = nowUs();
        self.later();
      },
    };
  }

  /** Connects once; resolves true when in (ready, rooms joined), false when refused. */
  async open(timeoutMs) {
    this.conn = new Connection(this.spec.protocol, this.spec.url, {
      token: this.client.token,
      rooms: this.client.rooms,
      localAddress: this.spec.local_addresses?.[this.index % this.spec.local_addresses.length],
      handlers: this.handlers(),
    });
    try {
      const ready = await this.conn.connect(timeoutMs);
      if (this.spec.protocol === 'ours' && this.closedAt === null) {
        for (const r of ready.rooms || []) this.positions[r.room_id] = r.last_seq;
      }
      return true;
    } catch (err) {
      const key = String(err.message || err).slice(0, 60);
      this.stats.failures[key] = (this.stats.failures[key] || 0) + 1;
      return false;
    }
  }

  later() {
    if (this.stopped) return;
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt);
    const delay = base * (0.5 + Math.random() * 0.5);
    this.attempt += 1;
    setTimeout(() => this.reconnect(), delay);
  }

  async reconnect() {
    if (this.stopped) return;
    this.stats.attempts += 1;
    if (!(await this.open(READY_WAIT_MS))) {
      this.later();
      return;
    }
    this.attempt = 0;
    if (this.spec.protocol === 'ours') {
      this.conn.resume(this.positions, 'storm');
    } else if (this.resumedAt === null) {
      // Socket.IO: in again once every room is joined (connect() waited for the join acks).
      this.resumedAt = nowUs();
      this.stats.resumed.push(this.resumedAt);
    }
  }

  stop() {
    this.stopped = true;
    if (this.conn) this.conn.close();
  }
}

function newStats() {
  return { received: 0, duplicates: 0, attempts: 0, resumed: [], closes: {}, failures: {} };
}

/** Connects every client of this worker, `concurrency` at a time; the connected ones. */
async function connectStorm(spec, stats) {
  const clients = spec.clients.map((c, i) => new StormClient(spec, c, i, stats));
  const ok = [];
  let next = 0;
  const deadline = nowUs() + (spec.connect_budget_s || 60) * 1e6;
  async function lane() {
    while (next < clients.length && nowUs() < deadline) {
      const c = clients[next++];
      if (await c.open(spec.connect_timeout_ms || 30000)) ok.push(c);
    }
  }
  await Promise.all(Array.from({ length: Math.min(spec.connect_concurrency || 64, clients.length) }, lane));
  const rooms = {};
  for (const c of ok) for (const r of c.client.member_of || []) rooms[r] = (rooms[r] || 0) + 1;
  return { clients: ok, rooms };
}

module.exports = { connectStorm, newStats, HTTP_SENDER, oursKind, RESUMED };
