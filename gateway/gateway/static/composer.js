// The message box and the typing indicator.

import { $, toast } from "./dom.js";
import { renderMessages, scrollToBottom } from "./chat.js";
import { sendExtras } from "./conversations.js";
import { state, userName } from "./state.js";
import { takeAttachmentIds } from "./attachments.js";

// Tell the room at most this often that we are typing; the others show it for 3 s.
const TYPING_EVERY_MS = 2500;

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
    if (body.length > 4000) { toast("That message is too long (4,000 characters at most).", "error"); return; }
    const attachmentIds = takeAttachmentIds(state.currentRoomId);
    if (attachmentIds === null) { toast("Wait for the files to finish uploading.", "info"); return; }
    if (!body && !attachmentIds.length) return;
    const extra = sendExtras(state.currentRoomId, body);
    if (attachmentIds.length) extra.attachment_ids = attachmentIds;
    conn.sendMessage(state.currentRoomId, body, extra);
    lastTypingSent = 0;
    input.value = "";
    grow();
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
  const text = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…`
    : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : "Several people are typing…";
  $("#typing").textContent = text;
}
