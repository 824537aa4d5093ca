// The members panel: who is in the open room and online, inviting, removing and leaving.

import { api } from "./api.js";
import { $, el, showError, toast } from "./dom.js";
import { avatarNode, nameNode } from "./people.js";
import { canModerate, emit, state, userName } from "./state.js";
import { searchAsYouType } from "./rooms.js";
import { compareText, lang, t, tParts } from "./i18n.js";

let conn = null;

// When each offline person was last connected (user id -> ISO time), from the gateway.
const lastSeen = new Map();
const relative = new Intl.RelativeTimeFormat(lang(), { numeric: "auto" });
const dateOnly = new Intl.DateTimeFormat(lang(), { day: "numeric", month: "short", year: "numeric" });
const lastSeenText = (when) => t("members.last_seen", { when });

/** "Last seen 5 minutes ago" for someone offline, or plain "Offline" when we don't know. */
export function offlineText(userId) {
  const at = lastSeen.get(userId);
  if (!at) return t("members.offline");
  const seconds = Math.round((new Date(at) - Date.now()) / 1000);
  if (seconds > -60) return lastSeenText(t("members.just_now"));
  const steps = [[60, "minute", 60], [3600, "hour", 24], [86400, "day", 7]];
  for (const [size, unit, max] of steps) {
    const n = Math.round(seconds / size);
    if (-n < max) return lastSeenText(relative.format(n, unit));
  }
  return lastSeenText(dateOnly.format(new Date(at)));
}

const noteSeen = (map) => { for (const [id, at] of Object.entries(map || {})) lastSeen.set(id, at); };

let wired = false;

export function initMembers(connection) {
  conn = connection;
  if (wired) return;
  wired = true;
  $("#members-button").addEventListener("click", () => toggleMembers());
  $("#members-close").addEventListener("click", () => toggleMembers(false));
  $("#leave-button").addEventListener("click", leaveRoom);
  $("#invite-form").addEventListener("submit", (event) => event.preventDefault());
  searchAsYouType($("#invite-input"), $("#invite-results"), $("#members-error"), "members.add", async (user) => {
    const roomId = state.currentRoomId;
    await api("POST", "rooms", `/rooms/${roomId}/members`, { json: { user_id: user.id } });
    toast(t("members.added", { name: user.display_name }));
    $("#invite-input").value = "";
    $("#invite-results").replaceChildren();
    await loadMembers(roomId);
  }, (user) => (state.members.get(state.currentRoomId) || []).some((m) => m.user_id === user.id));
}

export function toggleMembers(open = $("#members-panel").hidden) {
  $("#members-panel").hidden = !open;
  $("#members-button").setAttribute("aria-expanded", String(open));
  $("#app-view").classList.toggle("with-members", open);
  if (open && state.currentRoomId) {
    loadMembers(state.currentRoomId);
    $("#members-close").focus();
  }
}

/** Fetch the member list of a room and ask the gateway who of them is online. */
export async function loadMembers(roomId) {
  try {
    const page = await api("GET", "rooms", `/rooms/${roomId}/members`);
    state.members.set(roomId, page.items);
    const room = state.rooms.get(roomId);
    if (room) room.member_count = page.items.length;
    showError($("#members-error"), null);
  } catch (err) {
    showError($("#members-error"), err);
  }
  // A room we have just made may not be the gateway's yet: its refusal (not_a_member) is
  // expected then, and room_added asks again (socket.js keeps that refusal quiet).
  conn.send({ type: "who", room_id: roomId });
  if (roomId === state.currentRoomId) renderMembers();
}

export function onPresenceState({ room_id: roomId, online, last_seen: seen }) {
  state.online.set(roomId, new Set(online));
  noteSeen(seen);
  if (roomId === state.currentRoomId) renderMembers();
}

export function onPresence({ room_id: roomId, user_id: userId, online, last_seen: seen }) {
  if (!online && seen) lastSeen.set(userId, seen);
  let set = state.online.get(roomId);
  if (!set) { set = new Set(); state.online.set(roomId, set); }
  if (online) set.add(userId); else set.delete(userId);
  if (roomId === state.currentRoomId) renderMembers();
}

const ROLE_ORDER = { owner: 0, admin: 1, member: 2 };

/** "Online", "Last seen 5 minutes ago", with the role when it is not plain member. */
function presenceText(member, isOnline) {
  const presence = isOnline ? t("members.online") : offlineText(member.user_id);
  if (member.role === "member" || !(member.role in ROLE_ORDER)) return presence;
  return t("members.presence_role", { presence, role: t(`members.role.${member.role}`) });
}

/** Draw the panel and the header's "n members, m online" line. */
export function renderMembers() {
  const roomId = state.currentRoomId;
  const room = state.rooms.get(roomId);
  if (!room) return;
  const members = [...(state.members.get(roomId) || [])];
  const online = new Set(state.online.get(roomId) || []);
  if (conn?.state === "online") online.add(state.me.id);
  const moderator = canModerate(roomId) && room.kind === "group";
  // Online first, then by role, then by name as the language sorts (가나다 in Korean).
  members.sort((a, b) => (online.has(b.user_id) - online.has(a.user_id)) || (ROLE_ORDER[a.role] - ROLE_ORDER[b.role])
    || compareText(userName(a.user_id), userName(b.user_id)));
  $("#member-list").replaceChildren(...members.map((m) => {
    const isOnline = online.has(m.user_id);
    const me = m.user_id === state.me.id;
    return el("li", { class: `person${isOnline ? " online" : ""}`, dataset: { userId: m.user_id } },
      el("span", { class: "avatar-wrap" }, avatarNode(m.user_id, "avatar"),
        el("span", { class: "dot", title: t(isOnline ? "members.online" : "members.offline") })),
      el("span", { class: "person-text" },
        el("span", { class: "person-name" }, ...(me ? tParts("members.you", { name: nameNode(m.user_id) }) : [nameNode(m.user_id)])),
        el("span", { class: "muted small presence-text", text: presenceText(m, isOnline) })),
      moderator && !me && m.role !== "owner"
        ? el("button", { type: "button", class: "ghost small", "aria-label": t("members.remove_from_room"), onclick: () => removeMember(roomId, m.user_id) }, t("members.remove"))
        : null);
  }));
  $("#invite-form").hidden = !moderator;
  $("#leave-button").hidden = room.kind !== "group";
  emit("members-rendered", roomId);
}

async function removeMember(roomId, userId) {
  try {
    await api("DELETE", "rooms", `/rooms/${roomId}/members/${userId}`);
    await loadMembers(roomId);
  } catch (err) {
    showError($("#members-error"), err);
  }
}

async function leaveRoom() {
  const roomId = state.currentRoomId;
  if (!roomId || !window.confirm(t("members.leave_confirm"))) return;
  try {
    await api("DELETE", "rooms", `/rooms/${roomId}/members/${state.me.id}`);
    toggleMembers(false);
    emit("room-gone", { roomId, text: t("members.left") });
  } catch (err) {
    showError($("#members-error"), err);
  }
}

/** A member's role changed in a room we are in: show the new role. */
export function onRoleChanged(frame) {
  const members = state.members.get(frame.room_id);
  const member = members?.find((m) => m.user_id === frame.user_id);
  if (member) member.role = frame.role;
  if (frame.room_id === state.currentRoomId) renderMembers();
}

/** Someone joined or left a room we are in: keep the list current. */
export function onMembership(frame, joined) {
  const members = state.members.get(frame.room_id);
  if (members) {
    const without = members.filter((m) => m.user_id !== frame.user_id);
    state.members.set(frame.room_id, joined ? [...without, { user_id: frame.user_id, role: "member", joined_at: new Date().toISOString() }] : without);
  }
  const room = state.rooms.get(frame.room_id);
  if (room && members) room.member_count = state.members.get(frame.room_id).length;
  if (frame.room_id === state.currentRoomId) {
    renderMembers();
    if (!$("#members-panel").hidden) loadMembers(frame.room_id);
  }
}
