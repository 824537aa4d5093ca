'use strict';
// The two wire protocols the load generator speaks, on the same `ws` client so the client-side
// cost per frame is the same for every system: our gateway's JSON frames, and Socket.IO v5
// over Engine.IO v4 (websocket transport only), which both peers serve.
//
// Receivers never JSON.parse a delivered message: they find the stamp in the raw bytes
// (Buffer.indexOf is native), which keeps the generator far from being the bottleneck.

const WebSocket = require('ws');
const { deadline } = require('./stall');

const STAMP = Buffer.from('@T');
const TYPE = Buffer.from('"type":"');
const SEQ = Buffer.from('"seq":');
const ROOM = Buffer.from('"room_id":"');

/** The body of a benchmark message: send time and sender id, padded to a small message. */
function makeBody(tsUs, sender, pad) {
  return `@T${tsUs}@S${sender}@${pad}`;
}

/** Reads an unsigned decimal integer at buf[i...]; returns [value, index after it]. */
function readInt(buf, i) {
  let value = 0;
  let c = buf[i];
  while (c >= 0x30 && c <= 0x39) {
    value = value * 10 + (c - 0x30);
    i += 1;
    c = buf[i];
  }
  return [value, i];
}

/** [sendTimeUs, senderId] from a delivered frame, or null when it carries no stamp. */
function parseStamp(buf) {
  const i = buf.indexOf(STAMP);
  if (i < 0) return null;
  const [ts, j] = readInt(buf, i + 2);
  if (buf[j] !== 0x40 || buf[j + 1] !== 0x53) return [ts, -1];
  const [sender] = readInt(buf, j + 2);
  return [ts, sender];
}

/** The `seq` and `room_id` of one of our message frames (resume checks order with them). */
function parseSeq(buf) {
  const i = buf.indexOf(SEQ);
  const r = buf.indexOf(ROOM);
  if (i < 0 || r < 0) return null;
  const end = buf.indexOf(0x22, r + ROOM.length);
  return [readInt(buf, i + SEQ.length)[0], buf.toString('latin1', r + ROOM.length, end)];
}

// Frame kinds the harness cares about; everything else (presence, typing, ...) is "other".
const MESSAGE = 1;
const ACK = 2;
const ERROR = 3;
const READY = 4;
const RESUMED = 5;
const OTHER = 0;

/** Our gateway's frame kind, read from the bytes after `"type":"`. */
function oursKind(buf) {
  const i = buf.indexOf(TYPE);
  if (i < 0) return OTHER;
  const t = i + TYPE.length;
  const c = buf[t];
  if (c === 0x6d /* m */) {
    // "message" (not "message_edited", not "member_joined").
    return buf[t + 2] === 0x73 && buf[t + 7] === 0x22 ? MESSAGE : OTHER;
  }
  if (c === 0x61 /* a */ && buf[t + 3] === 0x22) return ACK;
  if (c === 0x65 /* e */ && buf[t + 1] === 0x72) return ERROR;
  if (c === 0x72 /* r */) {
    if (buf[t + 2] === 0x61 && buf[t + 5] === 0x22) return READY; // not "reaction"
    if (buf[t + 2] === 0x73 && buf[t + 7] === 0x22) return RESUMED;
  }
  return OTHER;
}

/** Kind of a Channels peer frame: `{"type":"msg"|"ack"|"joined"|"error",...}`. */
function jsonKind(buf) {
  const i = buf.indexOf(TYPE);
  if (i < 0) return OTHER;
  switch (buf[i + TYPE.length]) {
    case 0x6d: return MESSAGE; // msg
    case 0x61: return ACK; // ack
    case 0x6a: return READY; // joined
    case 0x65: return ERROR; // error
    default: return OTHER;
  }
}

/** Socket.IO packet kind: `42[...]` event, `43<id>[...]` ack, Engine.IO ping `2`, ... */
function sioKind(buf) {
  if (buf[0] === 0x34 /* 4 */) {
    if (buf[1] === 0x32) return MESSAGE;
    if (buf[1] === 0x33) return ACK;
    if (buf[1] === 0x30) return READY;
    if (buf[1] === 0x34) return ERROR;
    return OTHER;
  }
  if (buf[0] === 0x32 /* 2: ping */ && buf.length === 1) return RESUMED;
  return OTHER;
}

class Connection {
  /**
   * One websocket client. `handlers` get: message(buf), ack(buf), error(buf), other(buf),
   * resumed(buf), closed(code). `connect()` resolves once the system says we are in.
   */
  constructor(protocol, url, options) {
    this.protocol = protocol;
    this.url = url;
    this.token = options.token;
    this.rooms = options.rooms || [];
    this.localAddress = options.localAddress;
    this.handlers = options.handlers;
    this.ws = null;
    this.ready = null;
    this.ackId = 0;
    this.open = false;
  }

  connect(timeoutMs) {
    return new Promise((resolve, reject) => {
      const headers = {};
      if (this.protocol === 'ours') headers.Authorization = `Bearer ${this.token}`;
      const ws = new WebSocket(this.url, {
        headers,
        perMessageDeflate: false,
        localAddress: this.localAddress,
        // No timer of ws's own: the deadline below covers the handshake too.
      });
      this.ws = ws;
      let settled = false;
      let joinsLeft = this.rooms.length;
      // Counted in the generator's running time (stall.js), not across its own stalls.
      const cancel = deadline(timeoutMs, () => fail(new Error('timeout waiting for ready')));
      const done = (value) => {
        if (settled) return;
        settled = true;
        cancel();
        this.open = true;
        resolve(value);
      };
      const fail = (err) => {
        if (settled) return;
        settled = true;
        cancel();
        ws.terminate();
        reject(err);
      };
      ws.on('error', (err) => fail(err));
      if (this.protocol === 'json') {
        // Channels: one acknowledged join per room once open.
        ws.on('open', () => {
          if (joinsLeft === 0) done({});
          for (const room of this.rooms) ws.send(JSON.stringify({ type: 'join', room }));
        });
      }
      ws.on('close', (code) => {
        const wasOpen = this.open;
        this.open = false;
        fail(new Error(`closed ${code} before ready`));
        if (wasOpen) this.handlers.closed(code);
      });
      ws.on('message', (buf) => {
        if (settled) {
          this.dispatch(buf);
          return;
        }
        if (this.protocol === 'ours') {
          const kind = oursKind(buf);
          if (kind === READY) done(JSON.parse(buf));
          else if (kind === ERROR) this.handlers.error(buf);
          return;
        }
        if (this.protocol === 'json') {
          const kind = jsonKind(buf);
          if (kind === READY) {
            joinsLeft -= 1;
            if (joinsLeft === 0) done({});
          } else if (kind === ERROR) fail(new Error(`join refused ${buf.toString().slice(0, 80)}`));
          return;
        }
        // Socket.IO handshake: Engine.IO open, namespace connect, then one acked join per room.
        const text = buf.toString();
        if (text[0] === '0') ws.send('40');
        else if (text.startsWith('40')) {
          if (joinsLeft === 0) done({});
          for (const room of this.rooms) ws.send(`42${this.ackId++}${JSON.stringify(['join', room])}`);
        } else if (text.startsWith('43')) {
          joinsLeft -= 1;
          if (joinsLeft === 0) done({});
        } else if (text === '2') ws.send('3');
        else if (text.startsWith('44')) fail(new Error(`connect_error ${text}`));
      });
    });
  }

  dispatch(buf) {
    const h = this.handlers;
    if (this.protocol === 'ours') {
      switch (oursKind(buf)) {
        case MESSAGE: return h.message(buf);
        case ACK: return h.ack(buf);
        case ERROR: return h.error(buf);
        case RESUMED: return h.resumed(buf);
        default: return h.other(buf);
      }
    }
    if (this.protocol === 'json') {
      switch (jsonKind(buf)) {
        case MESSAGE: return h.message(buf);
        case ACK: return h.ack(buf);
        case ERROR: return h.error(buf);
        default: return h.other(buf);
      }
    }
    switch (sioKind(buf)) {
      case MESSAGE: return h.message(buf);
      case ACK: return h.ack(buf);
      case ERROR: return h.error(buf);
      case RESUMED: // Engine.IO ping: answer, or the server closes us after pingTimeout.
        this.ws.send('3');
        return undefined;
      default: return h.other(buf);
    }
  }

  /** Sends one chat message; ours asks for an ack by `ref`, Socket.IO by ack id. */
  send(room, body, clientMsgId) {
    if (!this.open) return false;
    if (this.protocol === 'ours') {
      this.ws.send(
        `{"type":"send","room_id":"${room}","body":"${body}","client_msg_id":"${clientMsgId}","ref":"${clientMsgId}"}`,
      );
    } else if (this.protocol === 'json') {
      this.ws.send(`{"type":"send","room":"${room}","body":"${body}"}`);
    } else {
      this.ws.send(`42${this.ackId++}["send","${room}","${body}"]`);
    }
    return true;
  }

  resume(rooms, ref) {
    this.ws.send(JSON.stringify({ type: 'resume', ref, rooms }));
  }

  close() {
    if (this.ws) {
      this.open = false;
      this.ws.removeAllListeners('close');
      this.ws.on('close', () => {});
      this.ws.terminate();
    }
  }
}

module.exports = {
  Connection,
  makeBody,
  parseStamp,
  parseSeq,
  oursKind,
  sioKind,
  jsonKind,
  MESSAGE,
  ACK,
  ERROR,
  READY,
  RESUMED,
  OTHER,
};
