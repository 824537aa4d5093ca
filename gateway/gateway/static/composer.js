// The message box and the typing indicator.

import { $, toast } from "./dom.js";
import { renderMessages, scrollToBottom } from "./chat.js";
import { sendExtras } from "./conversations.js";
import { state, userName } from "./state.js";
import { takeAttachmentIds } from "./attachments.js";
import { t } from "./i18n.js";

// Tell the room at most this often that we are typing; the others show it for 3 s.
const TYPING_EVERY_MS = 2500;
// The server's limit on a message body, in characters (code points, as the server counts).
export const MAX_CHARS = 4000;
// The counter shows from here on, so the limit is never a surprise.
const COUNT_FROM = 3500;

/** Characters as the server counts them: code points, not UTF-16 units. */
export const charCount = (text) => [...text].length;

function note(text) {
  const node = $("#composer-note");
  node.textContent = text || "";
  node.hidden = !text;
}

function updateCount(input) {
  const n = charCount(input.value);
  const counter = $("#composer-count");
  counter.hidden = n < COUNT_FROM;
  counter.textContent = t("composer.counter", { count: n, limit: MAX_CHARS });
  counter.classList.toggle("over", n > MAX_CHARS);
  input.setAttribute("aria-invalid", String(n > MAX_CHARS));
  if (n <= MAX_CHARS && $("#composer-note").dataset.kind === "long") note(null);
}

let conn = null;
let wired = false;
let lastTypingSent = 0;

/** Wire the message box: Enter sends, Shift+Enter starts a new line, typing is announced. */
export function initComposer(connection) {
  conn = connection;
  if (wired) return;
  wired = true;
  const form = $("#composer");
  const input = $("#composer-input");
  const grow = () => { input.style.height = "auto"; input.style.height = `${Math.min(input.scrollHeight, 160)}px`; };
  input.addEventListener("input", () => {
    grow();
    updateCount(input);
    if ($("#composer-note").dataset.kind === "spaces" && input.value.trim()) note(null);
    if (input.value.trim() && Date.now() - lastTypingSent > TYPING_EVERY_MS && state.currentRoomId) {
      lastTypingSent = Date.now();
      conn.send({ type: "typing", room_id: state.currentRoomId });
    }
  });
  input.addEventListener("keydown", (event) => {
    // An IME commits a Hangul syllable with Enter: isComposing (keyCode 229 in Safari) is not a send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) { event.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!state.currentRoomId) return;
    const noteNode = $("#composer-note");
    // Refuse, never cut: the whole text stays in the box for the writer to shorten.
    if (charCount(body) > MAX_CHARS) { noteNode.dataset.kind = "long"; note(t("composer.too_long_count", { count: charCount(body), limit: MAX_CHARS })); return; }
    const attachmentIds = takeAttachmentIds(state.currentRoomId);
    if (attachmentIds === null) { toast(t("composer.wait_uploads"), "info"); return; }
    if (!body && !attachmentIds.length) {
      if (input.value.length) { noteNode.dataset.kind = "spaces"; note(t("composer.only_spaces")); }
      return;
    }
    note(null);
    const extra = sendExtras(state.currentRoomId, body);
    if (attachmentIds.length) extra.attachment_ids = attachmentIds;
    conn.sendMessage(state.currentRoomId, body, extra);
    lastTypingSent = 0;
    input.value = "";
    grow();
    updateCount(input);
    renderMessages();
    scrollToBottom();
  });
}

/** Someone is typing in a room: show it for about three seconds. */
export function onTyping({ room_id: roomId, user_id: userId }) {
  if (userId === state.me.id) return;
  let typers = state.typing.get(roomId);
  if (!typers) { typers = new Map(); state.typing.set(roomId, typers); }
  clearTimeout(typers.get(userId));
  typers.set(userId, setTimeout(() => { typers.delete(userId); renderTyping(); }, 3000));
  renderTyping();
}

/** A message from someone ends their typing indicator at once. */
export function stopTyping(roomId, userId) {
  const typers = state.typing.get(roomId);
  if (typers?.has(userId)) { clearTimeout(typers.get(userId)); typers.delete(userId); renderTyping(); }
}

export function renderTyping() {
  const typers = [...(state.typing.get(state.currentRoomId)?.keys() ?? [])];
  const names = typers.map(userName);
  // One or two people by name; more by count, in the language's plural ("3 people are typing…").
  const text = names.length === 0 ? ""
    : names.length === 1 ? t("composer.typing_one", { name: names[0] })
      : names.length === 2 ? t("composer.typing_two", { first: names[0], second: names[1] })
        : t("composer.typing_count", { count: names.length });
  $("#typing").textContent = text;
}
