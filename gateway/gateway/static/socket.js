// The websocket to the gateway: authenticate with the first frame, stay connected, and
// never lose or repeat a message.
//
// It remembers the last seq seen in every room; after a drop it reconnects with exponential
// backoff and sends `resume` with those seqs, so the gateway replays exactly what was missed.
// Sends wait in `pending` until their `ack`; after a reconnect they are sent again with the
// same client_msg_id, which the server de-duplicates.

import { session } from "./api.js";
import { uuid } from "./dom.js";

// An application-level ping with a deadline: a cut network often leaves the socket "open" for
// a minute or more, so silence past the deadline counts as a dead connection.
const PING_EVERY_MS = 4000;
const PONG_WAIT_MS = 3000;
const READY_WAIT_MS = 10000;
const MAX_BACKOFF_MS = 15000;

export class Connection extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.state = "idle";
    this.attempt = 0;
    this.authed = false;
    this.stopped = true;
    this.lastSeq = new Map();
    // The last change position seen per room (docs/protocol.md): resume replays every change
    // after it, edits and reactions on messages we already hold included.
    this.lastPos = new Map();
    this.pending = new Map();
    this.retryTimer = null;
    this.pingTimer = null;
    this.readyTimer = null;
    this.pongTimer = null;
    this.generation = 0;
    this.onTokens = (event) => { if (this.authed) this.send({ type: "auth", token: event.detail }); };
    this.onOnline = () => { if (!this.stopped && this.state !== "online") this.reconnectNow(); };
    // The browser knows the network is gone before any socket does: say so at once.
    this.onOffline = () => { if (!this.stopped) this.drop(); };
  }

  start() {
    this.stopped = false;
    session.addEventListener("tokens", this.onTokens);
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    this.open();
  }

  stop() {
    this.stopped = true;
    session.removeEventListener("tokens", this.onTokens);
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    this.teardown();
    this.pending.clear();
    this.lastSeq.clear();
    this.lastPos.clear();
    this.setState("idle");
  }

  setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...detail } }));
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  async open() {
    this.teardown();
    // Only the newest open() may create a socket (an "online" event can race a retry timer).
    const generation = ++this.generation;
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    let token;
    try {
      token = await session.token();
    } catch (error) {
      // No session left (the app shows the login screen) or the network is down: retry later.
      if (!this.stopped && generation === this.generation && session.storedRefresh) this.scheduleRetry();
      return;
    }
    if (this.stopped || generation !== this.generation) return;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "auth", token }));
      this.readyTimer = setTimeout(() => this.drop(), READY_WAIT_MS);
    };
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = (event) => this.closed(ws, event.code);
    ws.onerror = () => {};
  }

  teardown() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.readyTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.authed = false;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000); } catch { /* already closed */ }
    }
  }

  /** Give up on the current socket (dead network, no ready) and reconnect with backoff. */
  drop() {
    this.teardown();
    if (!this.stopped) this.scheduleRetry();
  }

  reconnectNow() {
    this.teardown();
    this.open();
  }

  async closed(ws, code) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.authed = false;
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    clearTimeout(this.readyTimer);
    if (this.stopped) return;
    if (code === 4003) {
      // The account was deactivated: every session of it has ended.
      session.end("app.deactivated");
      return;
    }
    if (code === 4001) {
      // The access token was refused: get a new one first (this ends the session if the
      // refresh token is dead too, and the app then shows the login screen).
      try { await session.refresh(); } catch { if (!session.storedRefresh) return; }
    }
    this.scheduleRetry();
  }

  scheduleRetry() {
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt);
    const delay = Math.round(base * (0.5 + Math.random() * 0.5));
    this.attempt += 1;
    this.setState("reconnecting", { inMs: delay });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Queue a message; it is sent now if online, else after the next `ready`. */
  sendMessage(roomId, body, extra = {}) {
    const entry = { room_id: roomId, body, client_msg_id: uuid(), ...extra };
    this.pending.set(entry.client_msg_id, entry);
    if (this.authed) this.sendPending(entry);
    return entry;
  }

  sendPending(entry) {
    this.send({ type: "send", ref: entry.client_msg_id, ...entry });
  }

  receive(data) {
    let frame;
    try { frame = JSON.parse(data); } catch { return; }
    // Any frame proves the connection alive, a pong or not.
    clearTimeout(this.pongTimer);
    this.pongTimer = null;
    if (typeof frame.pos === "number") {
      const roomId = frame.room_id ?? frame.message?.room_id;
      if (roomId && frame.pos > (this.lastPos.get(roomId) ?? 0)) this.lastPos.set(roomId, frame.pos);
    }
    switch (frame.type) {
      case "ready": return this.ready(frame);
      case "message": return this.message(frame.message);
      case "ack": {
        const entry = this.pending.get(frame.ref) || this.pending.get(frame.message?.client_msg_id);
        if (entry) this.pending.delete(entry.client_msg_id);
        if (frame.message) this.message(frame.message);
        return this.emit("ack", { client_msg_id: entry?.client_msg_id || frame.message?.client_msg_id, message: frame.message });
      }
      case "error": {
        const entry = frame.ref ? this.pending.get(frame.ref) : null;
        if (entry && frame.code === "rate_limited") {
          // The gateway says when a retry will be let through (`retry_after`, seconds).
          const wait = Math.max(250, (Number(frame.retry_after) || 1.5) * 1000);
          setTimeout(() => { if (this.pending.has(entry.client_msg_id) && this.authed) this.sendPending(entry); }, wait);
          return undefined;
        }
        if (entry) {
          this.pending.delete(entry.client_msg_id);
          return this.emit("send_failed", { entry, code: frame.code, message: frame.message });
        }
        // A background frame (who, read, typing: they carry no ref) for a room the gateway
        // does not know yet, such as one just made: room_added follows and asks again.
        if (!frame.ref && frame.code === "not_a_member") return undefined;
        return this.emit("server_error", frame);
      }
      case "pong": return undefined;
      case "history_expired": {
        // Older messages expired: history begins at oldest_seq, so no gap lies below it.
        const seen = this.lastSeq.get(frame.room_id);
        if (seen !== undefined && seen < frame.oldest_seq - 1) this.lastSeq.set(frame.room_id, frame.oldest_seq - 1);
        return this.emit(frame.type, frame);
      }
      default: return this.emit(frame.type, frame);
    }
  }

  ready(frame) {
    clearTimeout(this.readyTimer);
    this.authed = true;
    this.attempt = 0;
    const resume = {};
    const positions = {};
    const current = new Set();
    for (const { room_id: roomId, last_seq: lastSeq, last_pos: lastPos } of frame.rooms || []) {
      current.add(roomId);
      if (this.lastSeq.has(roomId)) {
        resume[roomId] = this.lastSeq.get(roomId);
        if (this.lastPos.has(roomId)) positions[roomId] = this.lastPos.get(roomId);
      } else {
        this.lastSeq.set(roomId, lastSeq);
        if (typeof lastPos === "number") this.lastPos.set(roomId, lastPos);
      }
    }
    for (const roomId of [...this.lastSeq.keys()]) if (!current.has(roomId)) { this.lastSeq.delete(roomId); this.lastPos.delete(roomId); }
    // Always the first frame after `ready`, even empty: it ends the gateway's resume hold at
    // once, so live messages start without waiting for the hold's grace.
    this.send({ type: "resume", rooms: resume, positions });
    for (const entry of this.pending.values()) this.sendPending(entry);
    this.setState("online");
    this.emit("ready", frame);
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.heartbeat(), PING_EVERY_MS);
  }

  heartbeat() {
    if (this.pongTimer) return;
    if (!this.send({ type: "ping" })) { this.drop(); return; }
    this.pongTimer = setTimeout(() => { this.pongTimer = null; this.drop(); }, PONG_WAIT_MS);
  }

  message(message) {
    if (!message) return;
    const seen = this.lastSeq.get(message.room_id);
    if (seen !== undefined && message.seq <= seen) return;
    if (seen !== undefined && message.seq > seen + 1) {
      this.emit("gap", { room_id: message.room_id, after_seq: seen, seq: message.seq });
    }
    this.lastSeq.set(message.room_id, message.seq);
    this.emit("message", message);
  }

  /** Start tracking a room we were just added to, from its current seq. */
  track(roomId, seq = 0) {
    if (!this.lastSeq.has(roomId)) this.lastSeq.set(roomId, seq);
  }

  untrack(roomId) { this.lastSeq.delete(roomId); this.lastPos.delete(roomId); }
}
