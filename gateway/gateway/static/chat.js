// The open conversation: history as you scroll up, live messages, sending, edit and delete.

import { api } from "./api.js";
import { errorText, t } from "./i18n.js";
import { $, clockTime, dayLabel, el, fullTime, sameLocalDay, showError, toast } from "./dom.js";
import { attachmentsNode } from "./attachments.js";
import { avatarNode, nameNode } from "./people.js";
import { noticeNode } from "./notices.js";
import { blocked, messageActions } from "./community.js";
import { canModerate, convoOf, state, storeMessage } from "./state.js";
import {
  actionButtons, mentionsMe, onThreadMessage, quoteNode, reactionsNode, seenByNode, threadLink,
} from "./conversations.js";

const PAGE = 50;

// Consecutive messages of one sender within this many ms share one header.
const GROUP_MS = 5 * 60 * 1000;

let conn = null;
const failed = new Map(); // client_msg_id -> { entry, message }

let wired = false;

export function initChat(connection) {
  conn = connection;
  if (wired) return;
  wired = true;
  const scroller = $("#scroller");
  scroller.addEventListener("scroll", () => {
    if (scroller.scrollTop < 150) loadOlder();
    if (nearBottom()) markSeen();
  });
  setupEditDialog();
}

const nearBottom = () => {
  const s = $("#scroller");
  return s.scrollHeight - s.scrollTop - s.clientHeight < 90;
};
export const scrollToBottom = () => { const s = $("#scroller"); s.scrollTop = s.scrollHeight; };

/** Load the newest page of a room (once) and show it, scrolled to the end. */
export async function showConversation(roomId) {
  const convo = convoOf(roomId);
  renderMessages();
  scrollToBottom();
  if (!convo.loaded) {
    setHistoryState(t("chat.loading"));
    try {
      const page = await api("GET", "messages", "/messages", { query: { room_id: roomId, limit: PAGE } });
      convo.loaded = true;
      for (const m of page.items) storeMessage(m);
      convo.hasMore = (convo.oldest ?? 1) > 1;
      await fillGap(roomId);
      await loadNotices(roomId);
    } catch (err) {
      setHistoryState(t("chat.load_failed", { reason: errorText(err) }));
      return;
    }
    if (state.currentRoomId !== roomId) return;
    renderMessages();
    scrollToBottom();
  }
  markSeen();
}

/** Fetch whatever the conversation lacks after its newest message (after a load or a gap). */
export async function fillGap(roomId) {
  const convo = state.convos.get(roomId);
  if (!convo?.loaded) return;
  let after = Math.max(0, ...convo.bySeq.keys());
  for (;;) {
    const page = await api("GET", "messages", "/messages", { query: { room_id: roomId, after_seq: after, limit: 200 } });
    for (const m of page.items) { storeMessage(m); after = Math.max(after, m.seq); }
    if (!page.next_cursor || !page.items.length) break;
  }
  if (state.currentRoomId === roomId) renderMessages();
}

let loadingOlder = false;
async function loadOlder() {
  const roomId = state.currentRoomId;
  const convo = roomId && state.convos.get(roomId);
  if (!convo?.loaded || !convo.hasMore || loadingOlder) return;
  loadingOlder = true;
  setHistoryState(t("chat.loading_older"));
  const scroller = $("#scroller");
  try {
    const page = await api("GET", "messages", "/messages", { query: { room_id: roomId, before_seq: convo.oldest, limit: PAGE } });
    for (const m of page.items) storeMessage(m);
    convo.hasMore = page.items.length > 0 && convo.oldest > 1;
    await loadNotices(roomId).catch(() => {});
    if (state.currentRoomId === roomId) {
      const before = scroller.scrollHeight - scroller.scrollTop;
      renderMessages();
      scroller.scrollTop = scroller.scrollHeight - before;
    }
  } catch (err) {
    setHistoryState(t("chat.load_older_failed", { reason: errorText(err) }));
  } finally {
    loadingOlder = false;
  }
}

function setHistoryState(text) { $("#history-state").textContent = text; }

/** A message arrived (live or resumed) or changed: show it if its room is open. */
export function onMessage(message) {
  onThreadMessage(message);
  const changed = storeMessage(message);
  if (message.room_id !== state.currentRoomId || !changed) return;
  const stick = nearBottom() || message.sender_id === state.me.id;
  renderMessages();
  if (stick) scrollToBottom();
  markSeen();
}

/** Tell the server (and the room list) that the newest message of the open room is read. */
export function markSeen() {
  const roomId = state.currentRoomId;
  const convo = roomId && state.convos.get(roomId);
  if (!convo?.loaded || document.visibilityState !== "visible" || !nearBottom()) return;
  const seq = Math.max(0, ...convo.bySeq.keys());
  if (seq > (convo.readSeq ?? 0)) {
    convo.readSeq = seq;
    conn.send({ type: "read", room_id: roomId, seq });
  }
  document.dispatchEvent(new CustomEvent("room-read", { detail: roomId }));
}

/** Whether a new message in this room is being read as it arrives. */
export const isReading = (roomId) => roomId === state.currentRoomId && document.visibilityState === "visible" && nearBottom();

/** A `membership` frame of the room's change stream as a notice to draw. */
const noticeOf = (frame) => ({
  pos: frame.pos, kind: frame.change === "joined" ? "joined" : "left", user: frame.user_id, by: frame.by, at: frame.at || new Date().toISOString(), afterSeq: frame.seq_at ?? 0,
});

/** Keep a conversation's notices once each (by position), in stream order. */
function keepNotices(convo, frames) {
  const byPos = new Map((convo.notices || []).map((n) => [n.pos, n]));
  for (const frame of frames) byPos.set(frame.pos, noticeOf(frame));
  convo.notices = [...byPos.values()].sort((a, b) => a.pos - b.pos);
}

/** Read the membership notices from the oldest loaded message on (they are part of the
 *  room's history: every reload and every member sees the same). */
async function loadNotices(roomId) {
  const convo = state.convos.get(roomId);
  if (!convo?.loaded) return;
  const frames = [];
  let query = { room_id: roomId, kind: "membership", after_seq: Math.max(0, (convo.oldest ?? 1) - 1) };
  for (;;) {
    const page = await api("GET", "messages", "/messages/changes", { query });
    frames.push(...page.items);
    if (!page.next_cursor || !page.items.length) break;
    query = { room_id: roomId, kind: "membership", after_pos: page.next_cursor };
  }
  keepNotices(convo, frames);
}

/** A `membership` frame arrived live: show its notice in the conversation. */
export function addNotice(roomId, frame) {
  const convo = state.convos.get(roomId);
  if (!convo?.loaded) return;
  keepNotices(convo, [frame]);
  if (roomId === state.currentRoomId) {
    const stick = nearBottom();
    renderMessages();
    if (stick) scrollToBottom();
  }
}

export function sendFailed({ entry, code }) {
  const text = errorText({ code });
  failed.set(entry.client_msg_id, { entry, message: text });
  if (entry.room_id === state.currentRoomId) renderMessages();
  toast(t("chat.not_sent", { reason: text }), "error");
}

/** Rebuild the message list of the open room. */
export function renderMessages() {
  const roomId = state.currentRoomId;
  const list = $("#message-list");
  const convo = roomId && state.convos.get(roomId);
  if (!convo) { list.replaceChildren(); return; }
  // Thread replies live in the thread panel; the timeline shows their root's "N replies".
  const messages = [...convo.bySeq.values()].filter((m) => !m.thread_root_id).sort((a, b) => a.seq - b.seq);
  const lastOwn = messages.filter((m) => m.sender_id === state.me.id).at(-1);
  const notices = convo.notices || [];
  const waiting = [...conn.pending.values(), ...[...failed.values()].map((f) => ({ ...f.entry, error: f.message }))]
    .filter((p) => p.room_id === roomId && !messages.some((m) => m.client_msg_id === p.client_msg_id && m.sender_id === state.me.id));
  const nodes = [];
  let prev = null;
  let n = 0;
  // One day label per day: notices and messages share it (a notice never starts a new one
  // on the same day).
  let lastDay = null;
  const dayLine = (iso) => {
    if (lastDay !== null && sameLocalDay(lastDay, iso)) return;
    nodes.push(el("li", { class: "day" }, el("span", { text: dayLabel(iso) })));
    lastDay = iso;
    prev = null;
  };
  const pushNotices = (upTo) => {
    while (n < notices.length && notices[n].afterSeq <= upTo) {
      dayLine(notices[n].at);
      nodes.push(noticeNode(notices[n]));
      prev = null;
      n += 1;
    }
  };
  let marked = convo.markerAfter === undefined || convo.markerAfter === null;
  pushNotices(convo.oldest ? convo.oldest - 1 : 0);
  for (const message of messages) {
    dayLine(message.created_at);
    if (!marked && message.seq > convo.markerAfter && message.sender_id !== state.me.id) {
      nodes.push(el("li", { class: "unread-marker", role: "separator", "aria-label": t("chat.new_messages") }, el("span", { text: t("chat.new_messages") })));
      marked = true;
      prev = null;
    }
    nodes.push(messageNode(message, prev));
    if (message === lastOwn) nodes.push(seenByNode(roomId, lastOwn));
    prev = message;
    pushNotices(message.seq);
  }
  pushNotices(Infinity);
  for (const p of waiting) if (!p.thread_root_id) nodes.push(pendingNode(p));
  list.replaceChildren(...nodes.filter(Boolean));
  setHistoryState(!convo.loaded ? t("chat.loading") : convo.hasMore ? "" : t(messages.length ? "chat.beginning" : "chat.no_messages"));
}

function messageNode(message, prev) {
  const own = message.sender_id === state.me.id;
  const grouped = prev && prev.sender_id === message.sender_id && !prev.deleted === !message.deleted
    && new Date(message.created_at) - new Date(prev.created_at) < GROUP_MS;
  const classes = ["msg", own ? "own" : "other", grouped ? "cont" : "first", message.deleted ? "deleted" : "", mentionsMe(message) ? "mentioned" : ""];
  // The message a search result opened the room at stays marked.
  if (state.convos.get(message.room_id)?.hitSeq === message.seq) classes.push("hit");
  const actions = [...actionButtons(message)];
  if (!message.deleted && own) {
    actions.push(el("button", { type: "button", class: "ghost small", "aria-label": t("chat.edit_message"), onclick: () => openEdit(message) }, t("chat.edit")));
  }
  if (!message.deleted && (own || canModerate(message.room_id))) {
    actions.push(el("button", { type: "button", class: "ghost small", "aria-label": t("chat.delete_message"), onclick: () => deleteMessage(message) }, t("chat.delete")));
  }
  actions.push(...messageActions(message));
  const hidden = !message.deleted && blocked.has(message.sender_id);
  // A message with actions takes focus (a tap on a phone, Tab on a keyboard) to reveal them.
  return el("li", { class: classes.join(" "), dataset: { seq: message.seq, id: message.id }, tabindex: actions.length ? "0" : null },
    !own ? (grouped ? el("span", { class: "avatar-gap" }) : avatarNode(message.sender_id, "avatar small")) : null,
    el("div", { class: "bubble" },
      !grouped ? el("div", { class: "meta" }, own ? el("span", { class: "name", text: t("common.you") }) : nameNode(message.sender_id)) : null,
      quoteNode(message),
      message.deleted
        ? el("p", { class: "body", text: t("chat.deleted") })
        : hidden
          ? el("p", { class: "body hidden-body", text: t("chat.hidden") })
          : message.body ? el("p", { class: "body", text: message.body }) : null,
      hidden ? null : attachmentsNode(message),
      el("div", { class: "foot" },
        message.edited_at && !message.deleted ? el("span", { class: "edited", title: t("chat.edited_at", { time: fullTime(message.edited_at) }) }, t("chat.edited")) : null,
        el("time", { datetime: message.created_at, title: fullTime(message.created_at), text: clockTime(message.created_at) })),
      reactionsNode(message),
      threadLink(message)),
    actions.length ? el("div", { class: "actions" }, ...actions) : null);
}

function pendingNode(p) {
  const failure = p.error;
  return el("li", { class: `msg own cont ${failure ? "failed" : "pending"}`, dataset: { clientMsgId: p.client_msg_id } },
    el("div", { class: "bubble" },
      p.body ? el("p", { class: "body", text: p.body }) : null,
      p.attachment_ids ? el("p", { class: "body muted", text: t("chat.files", { count: p.attachment_ids.length }) }) : null,
      el("div", { class: "foot" },
        el("span", { class: "status", text: failure ? t("chat.not_sent_short", { reason: failure }) : t(conn.state === "online" ? "chat.sending" : "chat.waiting") }))),
    failure ? el("div", { class: "actions visible" },
      el("button", { type: "button", class: "ghost small", onclick: () => retry(p.client_msg_id) }, t("chat.retry")),
      el("button", { type: "button", class: "ghost small", onclick: () => { failed.delete(p.client_msg_id); renderMessages(); } }, t("chat.discard"))) : null);
}

function retry(clientMsgId) {
  const f = failed.get(clientMsgId);
  if (!f) return;
  failed.delete(clientMsgId);
  conn.pending.set(clientMsgId, f.entry);
  if (conn.authed) conn.sendPending(f.entry);
  renderMessages();
}

async function deleteMessage(message) {
  if (!window.confirm(t("chat.delete_confirm"))) return;
  try {
    const answer = await api("DELETE", "messages", `/messages/${message.id}`);
    onMessage(answer?.id ? answer : { ...message, body: null, deleted: true });
  } catch (err) {
    toast(t("chat.delete_failed", { reason: errorText(err) }), "error");
  }
}

let editing = null;
/** Up-arrow in an empty composer: edit one's newest message of the open room. */
export function editLastOwn() {
  const convo = state.convos.get(state.currentRoomId);
  const mine = [...(convo?.bySeq.values() ?? [])].filter((m) => m.sender_id === state.me.id && !m.deleted && !m.thread_root_id && m.body);
  const last = mine.sort((a, b) => a.seq - b.seq).at(-1);
  if (!last) return false;
  openEdit(last);
  return true;
}

function openEdit(message) {
  editing = message;
  const dialog = $("#edit-dialog");
  $("#edit-input").value = message.body;
  showError($("#edit-form .form-error"), null);
  dialog.showModal();
  $("#edit-input").focus();
}

function setupEditDialog() {
  const form = $("#edit-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = $("#edit-input").value.trim();
    const error = form.querySelector(".form-error");
    if (!body) return showError(error, new Error(t("chat.edit_empty")));
    if ([...body].length > 4000) return showError(error, new Error(t("chat.edit_too_long", { count: [...body].length, limit: 4000 })));
    try {
      const answer = await api("PATCH", "messages", `/messages/${editing.id}`, { json: { body } });
      onMessage(answer?.id ? answer : { ...editing, body, edited_at: new Date().toISOString() });
      $("#edit-dialog").close();
    } catch (err) {
      showError(error, err);
    }
    return undefined;
  });
  $("#edit-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) { event.preventDefault(); form.requestSubmit(); }
  });
}
