// The web client's entry point: sign-in screens, then the rooms and the live connection.

import { ApiError, api, getConfig, loadConfig, login, logout, register, resumeSession, session } from "./api.js";
import { $, showError, toast } from "./dom.js";
import { errorText, t } from "./i18n.js";
import {
  addNotice, fillGap, initChat, isReading, markSeen, onMessage, renderMessages, sendFailed, showConversation,
} from "./chat.js";
import { addedText, removedText } from "./notices.js";
import { initKeys } from "./keys.js";
import { afterSignIn, initCommunity } from "./community.js";
import { initAttachments, showTray } from "./attachments.js";
import { initComposer, onTyping, renderTyping, stopTyping } from "./composer.js";
import { initConversations, loadReceipts, mentionsMe, onReaction, onReceipt, onThreadUpdated } from "./conversations.js";
import { forgetDevice, initNotifications, openFromLink } from "./notifications.js";
import {
  initMembers, loadMembers, offlineText, onMembership, onPresence, onRoleChanged, onPresenceState, renderMembers, toggleMembers,
} from "./members.js";
import { avatarNode } from "./people.js";
import { adoptMe, initProfile } from "./profile.js";
import { addRoom, loadRooms, markRead, noteMessage, removeRoom, renderRooms, setupRoomDialogs } from "./rooms.js";
import { initSearch } from "./search.js";
import { Connection } from "./socket.js";
import { bus, convoOf, rememberUser, roomTitle, state, userInfo } from "./state.js";

let conn = null;

function show(view) {
  $("#boot").hidden = view !== "boot";
  $("#auth-view").hidden = view !== "auth";
  $("#app-view").hidden = view !== "app";
}

// ---- signing in ---------------------------------------------------------------------------

function selectTab(which) {
  const loginTab = which === "login";
  $("#tab-login").setAttribute("aria-selected", String(loginTab));
  $("#tab-register").setAttribute("aria-selected", String(!loginTab));
  $("#login-panel").hidden = !loginTab;
  $("#register-panel").hidden = loginTab;
  $("#auth-sub").textContent = t(loginTab ? "auth.subtitle" : "auth.subtitle_register");
  (loginTab ? $("#login-form") : $("#register-form")).querySelector("input").focus();
}

async function submitAuth(form, action) {
  const error = form.querySelector(".form-error");
  const button = form.querySelector("button[type=submit]");
  showError(error, null);
  button.disabled = true;
  try {
    await action();
    form.reset();
    await enterApp();
  } catch (err) {
    showError(error, err);
  } finally {
    button.disabled = false;
  }
}

function setupAuth() {
  $("#tab-login").addEventListener("click", () => selectTab("login"));
  $("#tab-register").addEventListener("click", () => selectTab("register"));
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("keydown", (event) => {
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") selectTab(tab.id === "tab-login" ? "register" : "login");
    });
  }
  const loginForm = $("#login-form");
  loginForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const f = loginForm.elements;
    if (!f.email.value.trim() || !f.password.value) return showError(loginForm.querySelector(".form-error"), new Error(t("auth.need_credentials")));
    return submitAuth(loginForm, () => login(f.email.value.trim(), f.password.value));
  });
  const registerForm = $("#register-form");
  registerForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const f = registerForm.elements;
    const error = registerForm.querySelector(".form-error");
    if (!f.display_name.value.trim()) return showError(error, new Error(t("auth.need_name")));
    if (!f.email.value.includes("@")) return showError(error, new Error(t("auth.need_email")));
    if (f.password.value.length < 8) return showError(error, new Error(t("auth.need_password")));
    return submitAuth(registerForm, () => register(f.email.value.trim(), f.password.value, f.display_name.value.trim()));
  });
}

// ---- the app ------------------------------------------------------------------------------

async function enterApp() {
  state.me = session.user;
  rememberUser(state.me);
  $("#me-name").textContent = state.me.display_name;
  $("#me-avatar").replaceChildren(avatarNode(state.me.id, "avatar"));
  show("app");
  conn = new Connection(getConfig().ws);
  conn.addEventListener("state", (event) => {
    const node = $("#conn-state");
    node.dataset.state = event.detail.state;
    node.textContent = t(`conn.${event.detail.state}`);
    $("#conn-banner").hidden = event.detail.state !== "reconnecting";
    // Unsent messages say whether they are on their way or waiting for the connection.
    if (state.currentRoomId) renderMessages();
    if (event.detail.state === "reconnecting" && state.online.size) {
      // Who is online is unknown while we are cut off; `who` asks again after `ready`.
      state.online.clear();
      renderMembers();
      updateHeader();
    }
  });
  wire(conn);
  initChat(conn);
  initConversations(conn, renderMessages);
  initComposer(conn);
  initAttachments();
  initMembers(conn);
  initNotifications(conn);
  conn.start();
  try {
    await loadRooms();
  } catch (err) {
    toast(t("app.rooms_failed", { reason: errorText(err) }), "error");
  }
  const wanted = sessionStorage.getItem("chat.open_room");
  if (wanted && state.rooms.has(wanted)) openRoom(wanted);
  await afterSignIn();
  openFromLink();
}

function wire(c) {
  c.addEventListener("ready", () => {
    // Rooms that appeared or went while we were away: reload the list, keep what is open.
    if (!state.rooms.size) {
      // The first `ready` can come before the room list: ask who is online in the open room
      // once it is there, so the header's count is right without opening the members panel.
      if (state.currentRoomId) loadMembers(state.currentRoomId);
      return;
    }
    loadRooms().then(() => {
      const open = state.currentRoomId;
      if (open && !state.rooms.has(open)) closeRoom();
      else if (open) { updateHeader(); loadMembers(open); fillGap(open).catch(() => {}); }
    }).catch(() => {});
  });
  c.addEventListener("message", (event) => {
    const message = event.detail;
    if (!state.rooms.has(message.room_id)) addRoom({ id: message.room_id, kind: "group", title: "", created_at: message.created_at, member_count: 0 }).then(refreshRoom);
    stopTyping(message.room_id, message.sender_id);
    onMessage(message);
    noteMessage(message, isReading(message.room_id) || message.sender_id === state.me.id, mentionsMe(message));
  });
  c.addEventListener("reaction", (event) => onReaction(event.detail));
  c.addEventListener("thread_updated", (event) => onThreadUpdated(event.detail));
  c.addEventListener("receipt", (event) => onReceipt(event.detail));
  c.addEventListener("ack", (event) => { if (event.detail.message) onMessage(event.detail.message); else renderMessages(); });
  c.addEventListener("gap", (event) => fillGap(event.detail.room_id).catch(() => {}));
  c.addEventListener("send_failed", (event) => sendFailed(event.detail));
  c.addEventListener("server_error", (event) => toast(errorText({ code: event.detail.code }), "error"));
  for (const type of ["message_edited", "message_deleted"]) {
    c.addEventListener(type, (event) => { onMessage(event.detail.message); noteEdit(event.detail.message); });
  }
  c.addEventListener("typing", (event) => onTyping(event.detail));
  c.addEventListener("presence", (event) => onPresence(event.detail));
  c.addEventListener("presence_state", (event) => onPresenceState(event.detail));
  c.addEventListener("member_joined", (event) => {
    onMembership(event.detail, true);
  });
  c.addEventListener("member_left", (event) => {
    onMembership(event.detail, false);
  });
  // Join and leave notices are part of the room's change stream (stored, so a reload shows them).
  c.addEventListener("membership", (event) => addNotice(event.detail.room_id, event.detail));
  c.addEventListener("room_updated", (event) => { addRoom(event.detail.room).then(updateHeader).catch(() => {}); });
  c.addEventListener("member_role_changed", (event) => onRoleChanged(event.detail));
  c.addEventListener("room_added", async (event) => {
    const room = event.detail.room;
    c.track(room.id);
    const stored = await addRoom(room);
    // Opened before the gateway had it (a room or direct chat we just made): ask who is online
    // now that the gateway answers for it.
    if (state.currentRoomId === room.id) loadMembers(room.id);
    // Rooms we created ourselves arrive this way too; only someone else's invitation is news.
    const by = event.detail.by ?? room.created_by;
    if (by !== state.me?.id) {
      const text = await addedText(stored, by);
      if (text) toast(text);
    }
  });
  c.addEventListener("room_removed", async (event) => {
    const room = event.detail.room;
    const text = await removedText(state.rooms.get(room.id) || room, event.detail.by);
    bus.dispatchEvent(new CustomEvent("room-gone", { detail: { roomId: room.id, text } }));
  });
  // Someone sharing a room with us changed their name or photo: repaint them everywhere.
  c.addEventListener("profile_updated", (event) => {
    const user = event.detail.user;
    if (!user?.id) return;
    const known = userInfo(user.id);
    const fresh = { ...known, ...user };
    // Our own upload already shows under a cache-busting URL of the same picture: keep it.
    if (known?.avatar_url && user.avatar_url && known.avatar_url.startsWith(user.avatar_url)) fresh.avatar_url = known.avatar_url;
    const same = known && ["display_name", "avatar_url", "status_text"].every((k) => (known[k] ?? null) === (fresh[k] ?? null));
    if (same) return;
    if (user.id === state.me?.id) {
      state.me = { ...state.me, ...fresh };
      $("#me-name").textContent = state.me.display_name;
    }
    rememberUser(fresh);
  });
}

async function refreshRoom(room) {
  try {
    const fresh = await api("GET", "rooms", `/rooms/${room.id}`);
    await addRoom(fresh);
  } catch {
    // The room may already be gone again; the list shows what we know.
  }
}

function noteEdit(message) {
  const room = state.rooms.get(message.room_id);
  if (room && room.latestSeq === message.seq) noteMessage(message, true);
}

function openRoom(roomId) {
  const room = state.rooms.get(roomId);
  if (!room) return;
  state.currentRoomId = roomId;
  // A "New messages" line above the first message this reader has not seen yet.
  const convo = convoOf(roomId);
  convo.markerAfter = room.unread > 0 && typeof room.readSeq === "number" ? room.readSeq : null;
  showTray();
  sessionStorage.setItem("chat.open_room", roomId);
  $("#chat-empty").hidden = true;
  $("#chat-main").hidden = false;
  $("#app-view").dataset.pane = "chat";
  updateHeader();
  renderRooms();
  renderTyping();
  renderMembers();
  loadMembers(roomId);
  loadReceipts(roomId);
  showConversation(roomId).then(() => { markRead(roomId); });
  $("#composer-input").focus({ preventScroll: true });
}

function closeRoom() {
  state.currentRoomId = null;
  sessionStorage.removeItem("chat.open_room");
  $("#chat-main").hidden = true;
  $("#chat-empty").hidden = false;
  $("#app-view").dataset.pane = "list";
  toggleMembers(false);
  renderRooms();
}

function updateHeader() {
  const room = state.rooms.get(state.currentRoomId);
  if (!room) return;
  $("#chat-title").textContent = roomTitle(room);
  const online = state.online.get(room.id) || new Set();
  let sub;
  if (room.kind === "direct") sub = online.has(room.peerId) ? t("members.online") : offlineText(room.peerId);
  else {
    const count = state.members.get(room.id)?.length ?? room.member_count;
    const others = [...online].filter((id) => id !== state.me.id).length;
    const members = t("rooms.members", { count });
    sub = others ? t("app.members_online", { members, count: others + 1 }) : members;
  }
  $("#chat-sub").textContent = sub;
}

function setupApp() {
  setupRoomDialogs();
  initKeys({ closeRoom });
  initCommunity();
  initProfile();
  initSearch();
  bus.addEventListener("open-room", (event) => openRoom(event.detail));
  bus.addEventListener("members-rendered", updateHeader);
  bus.addEventListener("room-gone", (event) => {
    const { roomId, text } = event.detail;
    conn?.untrack(roomId);
    const wasOpen = state.currentRoomId === roomId;
    removeRoom(roomId);
    if (wasOpen) closeRoom();
    toast(text);
  });
  let userTimer = null;
  bus.addEventListener("user", () => {
    clearTimeout(userTimer);
    userTimer = setTimeout(() => { renderRooms(); updateHeader(); renderTyping(); }, 50);
  });
  document.addEventListener("room-read", (event) => markRead(event.detail));
  document.addEventListener("visibilitychange", () => markSeen());
  $("#back-button").addEventListener("click", closeRoom);
  $("#logout-button").addEventListener("click", async () => {
    await forgetDevice().catch(() => {});
    try { await logout(); } catch (err) { toast(t("app.signed_out_but", { reason: errorText(err) }), "error"); }
  });
  session.addEventListener("ended", (event) => leaveApp(event.detail));
}

function leaveApp(reason) {
  conn?.stop();
  conn = null;
  for (const key of ["rooms", "convos", "online", "typing", "members"]) state[key].clear();
  state.me = null;
  state.currentRoomId = null;
  sessionStorage.removeItem("chat.open_room");
  // The app's listeners hang off nodes that stay; a reload gives a clean page for the next user.
  if (reason === "session.signed_out") { window.location.reload(); return; }
  show("auth");
  selectTab("login");
  showError($("#login-form .form-error"), new Error(t(reason)));
}

/** Start: the configuration, then a session from the stored refresh token, else sign-in. */
async function boot() {
  setupAuth();
  for (;;) {
    try {
      await loadConfig();
      break;
    } catch (err) {
      $("#boot").textContent = t("app.start_failed", { reason: errorText(err) });
      await new Promise((resolve) => { setTimeout(resolve, 3000); });
    }
  }
  setupApp();
  for (;;) {
    try {
      if (await resumeSession()) {
        await enterApp();
        return;
      }
      break;
    } catch (err) {
      // Only a network failure is worth waiting out; a refused token means signing in again.
      if (!(err instanceof ApiError && err.status === 0)) break;
      $("#boot").textContent = t("app.retrying", { reason: errorText(err) });
      await new Promise((resolve) => { setTimeout(resolve, 3000); });
    }
  }
  show("auth");
  selectTab("login");
}

boot();
