// The web client's entry point: sign-in screens, then the rooms and the live connection.

import { ApiError, api, getConfig, loadConfig, login, logout, register, resumeSession, session } from "./api.js";
import { $, showError, toast } from "./dom.js";
import {
  addNotice, fillGap, initChat, isReading, markSeen, onMessage, renderMessages, sendFailed, showConversation,
} from "./chat.js";
import { afterSignIn, initCommunity } from "./community.js";
import { initAttachments, showTray } from "./attachments.js";
import { initComposer, onTyping, renderTyping, stopTyping } from "./composer.js";
import { initConversations, loadReceipts, mentionsMe, onReaction, onReceipt, onThreadUpdated } from "./conversations.js";
import { forgetDevice, initNotifications, openFromLink } from "./notifications.js";
import { initMembers, loadMembers, onMembership, onPresence, onRoleChanged, onPresenceState, renderMembers, toggleMembers } from "./members.js";
import { avatarNode } from "./people.js";
import { adoptMe, initProfile } from "./profile.js";
import { addRoom, loadRooms, markRead, noteMessage, removeRoom, renderRooms, setupRoomDialogs } from "./rooms.js";
import { initSearch } from "./search.js";
import { Connection } from "./socket.js";
import { bus, rememberUser, roomTitle, state, userName } from "./state.js";

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
  $("#login-form").hidden = !loginTab;
  $("#register-form").hidden = loginTab;
  $("#auth-sub").textContent = loginTab ? "Sign in to pick up where you left off." : "It takes ten seconds.";
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
    showError(error, err.retryAfter ? new Error(`${err.message} Try again in ${err.retryAfter} s.`) : err);
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
    if (!f.email.value.trim() || !f.password.value) return showError(loginForm.querySelector(".form-error"), new Error("Enter your email and password."));
    return submitAuth(loginForm, () => login(f.email.value.trim(), f.password.value));
  });
  const registerForm = $("#register-form");
  registerForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const f = registerForm.elements;
    const error = registerForm.querySelector(".form-error");
    if (!f.display_name.value.trim()) return showError(error, new Error("Choose a display name."));
    if (!f.email.value.includes("@")) return showError(error, new Error("Enter a valid email address."));
    if (f.password.value.length < 8) return showError(error, new Error("The password needs at least 8 characters."));
    return submitAuth(registerForm, () => register(f.email.value.trim(), f.password.value, f.display_name.value.trim()));
  });
}

// ---- the app ------------------------------------------------------------------------------

const CONN_TEXT = { idle: "Offline", connecting: "Connecting…", online: "Online", reconnecting: "Reconnecting…" };

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
    node.textContent = CONN_TEXT[event.detail.state];
    $("#conn-banner").hidden = event.detail.state !== "reconnecting";
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
    toast(`Could not load your rooms: ${err.message}`, "error");
  }
  const wanted = sessionStorage.getItem("chat.open_room");
  if (wanted && state.rooms.has(wanted)) openRoom(wanted);
  await afterSignIn();
  openFromLink();
}

function wire(c) {
  c.addEventListener("ready", () => {
    // Rooms that appeared or went while we were away: reload the list, keep what is open.
    if (!state.rooms.size) return;
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
  c.addEventListener("server_error", (event) => toast(event.detail.message || event.detail.code, "error"));
  for (const type of ["message_edited", "message_deleted"]) {
    c.addEventListener(type, (event) => { onMessage(event.detail.message); noteEdit(event.detail.message); });
  }
  c.addEventListener("typing", (event) => onTyping(event.detail));
  c.addEventListener("presence", (event) => onPresence(event.detail));
  c.addEventListener("presence_state", (event) => onPresenceState(event.detail));
  c.addEventListener("member_joined", (event) => {
    onMembership(event.detail, true);
    addNotice(event.detail.room_id, `${userName(event.detail.user_id)} joined the room.`);
  });
  c.addEventListener("member_left", (event) => {
    onMembership(event.detail, false);
    addNotice(event.detail.room_id, `${userName(event.detail.user_id)} left the room.`);
  });
  c.addEventListener("room_updated", (event) => { addRoom(event.detail.room).then(updateHeader).catch(() => {}); });
  c.addEventListener("member_role_changed", (event) => onRoleChanged(event.detail));
  c.addEventListener("room_added", async (event) => {
    const room = event.detail.room;
    c.track(room.id);
    const stored = await addRoom(room);
    // Rooms we created ourselves arrive this way too; only someone else's invitation is news.
    if (room.created_by !== state.me?.id) toast(`You were added to ${roomTitle(stored)}.`);
  });
  c.addEventListener("room_removed", (event) => {
    const room = event.detail.room;
    bus.dispatchEvent(new CustomEvent("room-gone", { detail: { roomId: room.id, text: `You are no longer in ${roomTitle(state.rooms.get(room.id) || room)}.` } }));
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
  if (room.kind === "direct") sub = online.has(room.peerId) ? "Online" : "Offline";
  else {
    const count = state.members.get(room.id)?.length ?? room.member_count;
    const others = [...online].filter((id) => id !== state.me.id).length;
    sub = `${count} ${count === 1 ? "member" : "members"}${others ? ` · ${others + 1} online` : ""}`;
  }
  $("#chat-sub").textContent = sub;
}

function setupApp() {
  setupRoomDialogs();
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
    try { await logout(); } catch (err) { toast(`Signed out here, but the server said: ${err.message}`, "error"); }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !document.querySelector("dialog[open]")) {
      if (!$("#members-panel").hidden) toggleMembers(false);
      else if ($("#app-view").dataset.pane === "chat" && window.matchMedia("(max-width: 720px)").matches) closeRoom();
    }
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
  if (reason === "Signed out.") { window.location.reload(); return; }
  show("auth");
  selectTab("login");
  showError($("#login-form .form-error"), new Error(reason));
}

/** Start: the configuration, then a session from the stored refresh token, else sign-in. */
async function boot() {
  setupAuth();
  for (;;) {
    try {
      await loadConfig();
      break;
    } catch (err) {
      $("#boot").textContent = `Could not start: ${err.message} Retrying…`;
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
      $("#boot").textContent = `${err.message} Retrying…`;
      await new Promise((resolve) => { setTimeout(resolve, 3000); });
    }
  }
  show("auth");
  selectTab("login");
}

boot();
