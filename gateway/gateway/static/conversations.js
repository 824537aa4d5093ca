// Replies, threads, reactions, mentions and read receipts in the open conversation.
//
// chat.js asks this module for the extra parts of a message (the quote, the reaction chips,
// the thread link, the Reply / React / Thread actions) and for the "Seen by" line; app.js
// hands it the `reaction`, `thread_updated` and `receipt` frames. Frames carry nothing per
// viewer: "mine" is found by comparing user ids with our own.

import { api } from "./api.js";
import { $, el, toast } from "./dom.js";
import { errorText, listOf, sortByText, t } from "./i18n.js";
import { nameNode } from "./people.js";
import { state, userName } from "./state.js";

// A small built-in picker: the reactions people use most.
export const PICKER = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀", "🔥", "✅", "👏", "🚀"];

let conn = null;
let rerender = () => {};
let replyTo = null; // the message the composer is replying to
let thread = null; // { rootId, roomId, root, replies: Map seq -> message }
const receipts = new Map(); // room id -> Map user id -> read seq

/** Wire the module: the connection to send with, and how to redraw the conversation. */
export function initConversations(connection, redraw) {
  conn = connection;
  rerender = redraw;
}

const findMessage = (roomId, id) => {
  const convo = state.convos.get(roomId);
  if (convo) for (const m of convo.bySeq.values()) if (m.id === id) return m;
  if (thread?.root?.id === id) return thread.root;
  if (thread) for (const m of thread.replies.values()) if (m.id === id) return m;
  return null;
};

const preview = (m) => (m.deleted ? t("convo.deleted") : m.body.length > 80 ? `${m.body.slice(0, 80)}…` : m.body);

// ---- parts of a message ---------------------------------------------------------------------

/** The quoted message above a reply's body (sender and a short preview, or "deleted"). */
export function quoteNode(message) {
  if (!message.reply_to) return null;
  const quoted = findMessage(message.room_id, message.reply_to);
  return el("blockquote", { class: "quote" },
    quoted ? nameNode(quoted.sender_id) : null,
    el("span", { text: quoted ? ` ${preview(quoted)}` : t("convo.earlier_message") }));
}

/** Reaction chips: press one to add or take back one's own. */
export function reactionsNode(message) {
  if (!message.reactions?.length) return null;
  return el("div", { class: "reactions" }, ...message.reactions.map((r) => {
    const mine = r.user_ids.includes(state.me.id);
    const names = r.user_ids.slice(0, 10).map((id) => (id === state.me.id ? t("common.you") : userName(id))).join(", ");
    return el("button", {
      type: "button", class: `chip${mine ? " mine" : ""}`, "aria-pressed": String(mine),
      title: names, "aria-label": t(mine ? "convo.reaction_label_mine" : "convo.reaction_label", { emoji: r.emoji, count: r.count }),
      onclick: () => react(message, r.emoji, !mine),
    }, `${r.emoji} ${r.count}`);
  }));
}

/** "3 replies" under a thread root; opens the thread. */
export function threadLink(message) {
  if (!message.thread?.reply_count) return null;
  const n = message.thread.reply_count;
  return el("button", { type: "button", class: "link thread-link", onclick: () => openThread(message) },
    t("convo.replies", { count: n }));
}

/** Reply, React and Thread buttons for a message's actions. */
export function actionButtons(message) {
  if (message.deleted) return [];
  const inThread = Boolean(message.thread_root_id);
  return [
    inThread ? null : el("button", { type: "button", class: "ghost small", "aria-label": t("convo.reply_to_message"), onclick: () => startReply(message) }, t("convo.reply")),
    el("button", { type: "button", class: "ghost small", "aria-label": t("convo.react_to_message"), "aria-haspopup": "true", onclick: (event) => openPicker(message, event.currentTarget) }, t("convo.react")),
    inThread ? null : el("button", { type: "button", class: "ghost small", "aria-label": t("convo.open_thread"), onclick: () => openThread(message) }, t("convo.thread")),
  ].filter(Boolean);
}

/** Whether a message names us (highlighted, and counted in the room's mention badge). */
export const mentionsMe = (message) => Boolean(message.mentions?.includes(state.me?.id));

// ---- reactions ------------------------------------------------------------------------------

async function react(message, emoji, add) {
  try {
    await api(add ? "PUT" : "DELETE", "messages", `/messages/${message.id}/reactions/${encodeURIComponent(emoji)}`);
  } catch (err) {
    toast(t("convo.react_failed", { reason: errorText(err) }), "error");
  }
}

let picker = null;
function openPicker(message, anchor) {
  closePicker();
  const mine = new Set((message.reactions || []).filter((r) => r.user_ids.includes(state.me.id)).map((r) => r.emoji));
  picker = el("div", { class: "picker", role: "menu", "aria-label": t("convo.pick_reaction") },
    ...PICKER.map((emoji) => el("button", {
      type: "button", role: "menuitem", class: "ghost", "aria-label": t("convo.react_with", { emoji }),
      onclick: () => { closePicker(); react(message, emoji, !mine.has(emoji)); refocus(message); },
    }, emoji)));
  picker.addEventListener("keydown", (event) => {
    const items = [...picker.querySelectorAll("button")];
    const at = items.indexOf(document.activeElement);
    if (event.key === "Escape") { closePicker(); refocus(message); }
    else if (event.key === "ArrowRight" || event.key === "ArrowDown") { event.preventDefault(); items[(at + 1) % items.length].focus(); }
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp") { event.preventDefault(); items[(at - 1 + items.length) % items.length].focus(); }
  });
  // On the page, not in the message: the conversation is redrawn whenever anything changes.
  const box = anchor.getBoundingClientRect();
  picker.style.left = `${Math.max(8, Math.min(box.left, window.innerWidth - 240))}px`;
  picker.style.top = `${Math.max(8, box.top - 100)}px`;
  document.body.append(picker);
  picker.querySelector("button").focus();
}
function closePicker() { picker?.remove(); picker = null; }
// The message's node may have been redrawn meanwhile: find it again by id.
const refocus = (message) => document.querySelector(`#message-list li[data-id="${message.id}"]`)?.focus();

/** A `reaction` frame: adjust the message's chips (the frame says the count after it). */
export function onReaction(frame) {
  const message = findMessage(frame.room_id, frame.message_id);
  if (!message) return;
  const list = (message.reactions ||= []);
  let entry = list.find((r) => r.emoji === frame.emoji);
  if (!entry && frame.added) { entry = { emoji: frame.emoji, count: 0, user_ids: [] }; list.push(entry); }
  if (!entry) return;
  entry.count = frame.count;
  const others = entry.user_ids.filter((id) => id !== frame.user_id);
  entry.user_ids = frame.added ? [...others, frame.user_id] : others;
  if (entry.count <= 0) message.reactions = list.filter((r) => r !== entry);
  redraw(frame.room_id);
}

// ---- replies and mentions ---------------------------------------------------------------------

function startReply(message) {
  replyTo = message;
  const bar = replyBar();
  bar.replaceChildren(
    el("span", { class: "muted" }, t("convo.replying_to"), nameNode(message.sender_id), `: ${preview(message)}`),
    el("button", { type: "button", class: "ghost icon", "aria-label": t("convo.cancel_reply"), onclick: cancelReply }, "×"));
  bar.hidden = false;
  $("#composer-input").focus();
}

function cancelReply() {
  replyTo = null;
  replyBar().hidden = true;
}

function replyBar() {
  let bar = $("#reply-bar");
  if (!bar) {
    bar = el("div", { id: "reply-bar", class: "reply-bar", hidden: true });
    $("#composer").before(bar);
  }
  return bar;
}

/** The members named as @Name in a text (display names of the room's members). */
export function mentionsIn(roomId, body) {
  const members = state.members.get(roomId) || [];
  return members.map((m) => m.user_id)
    .filter((id) => id !== state.me.id && userName(id) !== "…" && body.includes(`@${userName(id)}`));
}

/** What the composer's next send adds: reply_to (then forgotten) and mentions. */
export function sendExtras(roomId, body) {
  const extra = {};
  if (replyTo && replyTo.room_id === roomId) extra.reply_to = replyTo.id;
  const mentions = mentionsIn(roomId, body);
  if (mentions.length) extra.mentions = mentions;
  cancelReply();
  return extra;
}

// ---- threads ---------------------------------------------------------------------------------

function panel() {
  let node = $("#thread-panel");
  if (!node) {
    node = el("aside", { id: "thread-panel", class: "thread-panel", "aria-label": t("convo.thread"), hidden: true },
      el("header", { class: "panel-head" },
        el("h2", { text: t("convo.thread") }),
        el("button", { type: "button", class: "ghost icon", "aria-label": t("convo.close_thread"), dataset: { closeThread: "" }, onclick: closeThread }, "×")),
      el("ol", { id: "thread-list", class: "messages" }),
      el("form", { id: "thread-form", class: "composer" },
        el("label", { for: "thread-input", class: "sr-only" }, t("convo.reply_in_thread")),
        el("textarea", { id: "thread-input", rows: "1", maxlength: "4000", placeholder: t("convo.reply_in_thread_placeholder") }),
        el("button", { type: "submit", class: "primary" }, t("convo.reply"))));
    node.querySelector("form").addEventListener("submit", (event) => { event.preventDefault(); sendInThread(); });
    node.querySelector("textarea").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) { event.preventDefault(); sendInThread(); }
      if (event.key === "Escape") closeThread();
    });
    $("#app-view").append(node);
  }
  return node;
}

export async function openThread(root) {
  thread = { rootId: root.id, roomId: root.room_id, root, replies: new Map() };
  panel().hidden = false;
  renderThread();
  $("#thread-input").focus();
  try {
    const page = await api("GET", "messages", `/messages/threads/${root.id}`, { query: { limit: 200 } });
    if (thread?.rootId !== root.id) return;
    thread.root = page.root;
    for (const m of page.items) thread.replies.set(m.seq, m);
    renderThread();
  } catch (err) {
    toast(t("convo.thread_failed", { reason: errorText(err) }), "error");
  }
}

function closeThread() {
  thread = null;
  const node = $("#thread-panel");
  if (node) node.hidden = true;
}

function sendInThread() {
  const input = $("#thread-input");
  const body = input.value.trim();
  if (!body || !thread) return;
  const mentions = mentionsIn(thread.roomId, body);
  conn.sendMessage(thread.roomId, body, { thread_root_id: thread.rootId, ...(mentions.length ? { mentions } : {}) });
  input.value = "";
}

function renderThread() {
  if (!thread) return;
  const item = (m) => el("li", { class: `msg ${m.sender_id === state.me.id ? "own" : "other"} first${mentionsMe(m) ? " mentioned" : ""}`, dataset: { id: m.id } },
    el("div", { class: "bubble" },
      el("div", { class: "meta" }, m.sender_id === state.me.id ? el("span", { class: "name", text: t("common.you") }) : nameNode(m.sender_id)),
      el("p", { class: "body", text: m.deleted ? t("convo.message_deleted") : m.body }),
      reactionsNode(m)));
  const replies = [...thread.replies.values()].sort((a, b) => a.seq - b.seq);
  $("#thread-list").replaceChildren(item(thread.root), ...replies.map(item));
}

/** A message of the room arrived or changed: a reply of the open thread is shown there. */
export function onThreadMessage(message) {
  if (!thread || message.room_id !== thread.roomId) return;
  if (message.id === thread.rootId) thread.root = message;
  else if (message.thread_root_id === thread.rootId) thread.replies.set(message.seq, message);
  else return;
  renderThread();
}

/** A `thread_updated` frame: the root's summary changed. */
export function onThreadUpdated(frame) {
  const root = findMessage(frame.room_id, frame.root_id);
  if (root) root.thread = frame.thread;
  redraw(frame.room_id);
}

// ---- receipts --------------------------------------------------------------------------------

export async function loadReceipts(roomId) {
  try {
    const page = await api("GET", "messages", "/messages/receipts", { query: { room_id: roomId } });
    receipts.set(roomId, new Map(page.items.map((r) => [r.user_id, r.read_seq])));
    redraw(roomId);
  } catch {
    // Receipts are a nicety; the conversation works without them.
  }
}

export function onReceipt(frame) {
  let seen = receipts.get(frame.room_id);
  if (!seen) { seen = new Map(); receipts.set(frame.room_id, seen); }
  seen.set(frame.user_id, Math.max(seen.get(frame.user_id) ?? 0, frame.seq));
  redraw(frame.room_id);
}

/** "Seen by …" under one's own last message of the timeline, if anyone has read it. */
export function seenByNode(roomId, lastOwn) {
  if (!lastOwn) return null;
  const readers = [...(receipts.get(roomId) || new Map())]
    .filter(([id, seq]) => id !== state.me.id && seq >= lastOwn.seq).map(([id]) => userName(id));
  if (!readers.length) return null;
  const seen = t("convo.seen_by", { names: listOf(sortByText(readers, (name) => name)) });
  return el("li", { class: "seen-by", "aria-label": seen }, seen);
}

function redraw(roomId) {
  if (roomId === state.currentRoomId) rerender();
  if (thread?.roomId === roomId) renderThread();
}
