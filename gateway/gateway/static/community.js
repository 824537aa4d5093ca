// Community and moderation in the web client: the room directory, invite links (and opening
// /#/join/<code>), member actions (ban, mute, role, block), reporting a message, and the
// moderators' reports and the site administrators' page.

import { api, session } from "./api.js";
import { $, el, fullTime, showError, toast } from "./dom.js";
import { errorText, t } from "./i18n.js";
import { nameNode } from "./people.js";
import { renderMessages } from "./chat.js";
import { loadMembers, renderMembers } from "./members.js";
import { addRoom } from "./rooms.js";
import { bus, canModerate, emit, myRole, rememberUser, state, userName } from "./state.js";

const JOIN_HASH = /^#\/join\/([A-Za-z0-9_-]{1,64})$/;
const PENDING_JOIN = "chat.join_code";
const MUTE_CHOICES = [["members.mute_10m", 10], ["members.mute_1h", 60], ["members.mute_1d", 1440]];

// People the signed-in user blocked: their messages are hidden in shared rooms.
export const blocked = new Set();

let wired = false;

/** Wire the buttons and dialogs once; called when the app starts. */
export function initCommunity() {
  noteJoinLink();
  window.addEventListener("hashchange", () => { noteJoinLink(); if (state.me) joinPending(); });
  if (wired) return;
  wired = true;
  $("#browse-rooms-button").addEventListener("click", openDirectory);
  $("#directory-input").addEventListener("input", debounce(searchDirectory, 250));
  $("#directory-form").addEventListener("submit", (event) => { event.preventDefault(); searchDirectory(); });
  $("#invite-link-button").addEventListener("click", makeInviteLink);
  $("#copy-invite").addEventListener("click", copyInviteLink);
  $("#room-reports-button").addEventListener("click", () => openReports(state.currentRoomId));
  $("#room-bans-button").addEventListener("click", () => openBans(state.currentRoomId));
  $("#admin-button").addEventListener("click", openAdmin);
  $("#admin-user-form").addEventListener("submit", (event) => { event.preventDefault(); lookUpAccount(); });
  for (const tab of document.querySelectorAll("#audit-tabs button")) {
    tab.addEventListener("click", () => loadAudit(tab.dataset.service, null));
  }
  $("#audit-more").addEventListener("click", () => loadAudit(auditService, auditCursor));
  bus.addEventListener("members-rendered", decorateMembers);
  bus.addEventListener("blocks-changed", () => { renderMembers(); renderMessages(); });
}

/** After sign-in: the blocks, the admin button, and a pending invite link. */
export async function afterSignIn() {
  $("#admin-button").hidden = !isSiteAdmin();
  try {
    const page = await api("GET", "rooms", "/rooms/blocks", { query: { limit: 200 } });
    blocked.clear();
    for (const b of page.items) blocked.add(b.user_id);
  } catch {
    // Without the list nothing is hidden; blocking still works on the server.
  }
  await joinPending();
}

/** Whether the access token carries the site administrator role. */
export function isSiteAdmin() {
  try {
    const part = session.accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
    return Array.isArray(claims.roles) && claims.roles.includes("admin");
  } catch {
    return false;
  }
}

// ---- invite links -----------------------------------------------------------------------

function noteJoinLink() {
  const match = JOIN_HASH.exec(window.location.hash);
  if (!match) return;
  sessionStorage.setItem(PENDING_JOIN, match[1]);
  history.replaceState(null, "", window.location.pathname + window.location.search);
}

async function joinPending() {
  const code = sessionStorage.getItem(PENDING_JOIN);
  if (!code) return;
  sessionStorage.removeItem(PENDING_JOIN);
  try {
    const room = await api("POST", "rooms", "/rooms/join", { json: { code } });
    await addRoom(room);
    emit("open-room", room.id);
    toast(t("invite.joined", { title: room.title }));
  } catch (err) {
    toast(t("invite.join_failed", { reason: errorText(err) }), "error");
  }
}

async function makeInviteLink() {
  const roomId = state.currentRoomId;
  const dialog = $("#invite-dialog");
  const error = $("#invite-dialog .form-error");
  showError(error, null);
  $("#invite-url").value = "";
  dialog.showModal();
  try {
    const invite = await api("POST", "rooms", `/rooms/${roomId}/invites`, { json: {} });
    $("#invite-url").value = invite.url;
    $("#invite-url").select();
  } catch (err) {
    showError(error, err);
  }
}

async function copyInviteLink() {
  const input = $("#invite-url");
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select();
    document.execCommand("copy");
  }
  toast(t("invite.copied"));
}

// ---- the directory of public rooms ---------------------------------------------------------

function openDirectory() {
  $("#directory-input").value = "";
  showError($("#directory-form .form-error"), null);
  $("#directory-dialog").showModal();
  $("#directory-input").focus();
  searchDirectory();
}

let asked = 0;
async function searchDirectory() {
  const ticket = ++asked;
  const error = $("#directory-form .form-error");
  try {
    const page = await api("GET", "rooms", "/rooms/public", { query: { q: $("#directory-input").value.trim(), limit: 50 } });
    if (ticket !== asked) return;
    showError(error, null);
    $("#directory-results").replaceChildren(...(page.items.length ? page.items.map(directoryRow) : [el("li", { class: "empty", text: t("directory.none") })]));
  } catch (err) {
    if (ticket === asked) showError(error, err);
  }
}

function directoryRow(room) {
  const joined = Boolean(room.my_role) || state.rooms.has(room.id);
  return el("li", { class: "person" },
    el("span", { class: "person-text" },
      el("span", { class: "person-name", text: room.title }),
      el("span", { class: "muted small", text: t("directory.members", { count: room.member_count }) })),
    el("button", {
      type: "button", class: "secondary small", "aria-label": t(joined ? "directory.open_room" : "directory.join_room", { title: room.title }),
      onclick: async (event) => {
        event.currentTarget.disabled = true;
        try {
          const answer = joined ? room : await api("POST", "rooms", `/rooms/${room.id}/join`);
          if (!joined) await addRoom(answer);
          $("#directory-dialog").close();
          emit("open-room", room.id);
        } catch (err) {
          showError($("#directory-form .form-error"), err);
          event.currentTarget.disabled = false;
        }
      },
    }, t(joined ? "directory.open" : "directory.join")));
}

// ---- member actions ------------------------------------------------------------------------

/** Add ban, mute, role and block buttons to the members panel's rows. */
function decorateMembers() {
  const roomId = state.currentRoomId;
  const room = state.rooms.get(roomId);
  if (!room) return;
  const moderator = canModerate(roomId) && room.kind === "group";
  $("#invite-link-button").hidden = !moderator;
  $("#room-reports-button").hidden = !moderator;
  $("#room-bans-button").hidden = !moderator;
  const members = new Map((state.members.get(roomId) || []).map((m) => [m.user_id, m]));
  for (const row of document.querySelectorAll("#member-list li[data-user-id]")) {
    const userId = row.dataset.userId;
    const member = members.get(userId);
    if (!member || userId === state.me.id || row.querySelector(".member-actions")) continue;
    const buttons = [];
    const outranks = myRole(roomId) === "owner" ? member.role !== "owner" : member.role === "member";
    if (moderator && outranks) {
      buttons.push(action(t("members.ban"), t("members.ban_who", { name: userName(userId) }), () => ban(roomId, userId)));
      buttons.push(action(t("members.mute"), t("members.mute_who", { name: userName(userId) }), () => mute(roomId, userId)));
    }
    if (myRole(roomId) === "owner" && member.role !== "owner" && room.kind === "group") {
      const next = member.role === "admin" ? "member" : "admin";
      buttons.push(action(t(`members.make_${next}`), t(`members.make_${next}_who`, { name: userName(userId) }), () => setRole(roomId, userId, next)));
    }
    const isBlocked = blocked.has(userId);
    buttons.push(action(t(isBlocked ? "members.unblock" : "members.block"), t(isBlocked ? "members.unblock_who" : "members.block_who", { name: userName(userId) }), () => toggleBlock(userId)));
    row.append(el("span", { class: "member-actions" }, ...buttons));
  }
}

function action(label, ariaLabel, run) {
  return el("button", {
    type: "button", class: "ghost small", "aria-label": ariaLabel,
    onclick: async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      try { await run(); } catch (err) { showError($("#members-error"), err); }
      button.disabled = false;
    },
  }, label);
}

async function ban(roomId, userId) {
  if (!window.confirm(t("members.ban_confirm", { name: userName(userId) }))) return;
  await api("POST", "rooms", `/rooms/${roomId}/bans`, { json: { user_id: userId } });
  toast(t("members.banned", { name: userName(userId) }));
  await loadMembers(roomId);
}

async function mute(roomId, userId) {
  const hint = MUTE_CHOICES.map(([key, minutes]) => `${minutes} = ${t(key)}`).join(", ");
  const answer = window.prompt(t("members.mute_prompt", { name: userName(userId), choices: hint }), "60");
  if (answer === null) return;
  const minutes = Number.parseInt(answer, 10);
  if (!Number.isFinite(minutes) || minutes < 1) throw new Error(t("members.mute_minutes"));
  const until = new Date(Date.now() + minutes * 60_000).toISOString();
  await api("POST", "rooms", `/rooms/${roomId}/mutes`, { json: { user_id: userId, until } });
  toast(t("members.muted_until", { name: userName(userId), time: fullTime(until) }));
}

async function setRole(roomId, userId, role) {
  await api("PATCH", "rooms", `/rooms/${roomId}/members/${userId}`, { json: { role } });
  await loadMembers(roomId);
}

async function toggleBlock(userId) {
  if (blocked.has(userId)) {
    await api("DELETE", "rooms", `/rooms/blocks/${userId}`);
    blocked.delete(userId);
    toast(t("members.unblocked", { name: userName(userId) }));
  } else {
    if (!window.confirm(t("members.block_confirm", { name: userName(userId) }))) return;
    await api("PUT", "rooms", `/rooms/blocks/${userId}`);
    blocked.add(userId);
    toast(t("members.blocked", { name: userName(userId) }));
  }
  emit("blocks-changed", userId);
}

async function openBans(roomId) {
  $("#bans-dialog").showModal();
  await loadBans(roomId);
}

async function loadBans(roomId) {
  const error = $("#bans-dialog .form-error");
  try {
    const page = await api("GET", "rooms", `/rooms/${roomId}/bans`, { query: { limit: 200 } });
    showError(error, null);
    $("#bans-list").replaceChildren(...(page.items.length ? page.items.map((b) => el("li", { class: "person" },
      el("span", { class: "person-text" },
        el("span", { class: "person-name" }, nameNode(b.user_id)),
        el("span", { class: "muted small", text: `${b.reason ? `${b.reason} · ` : ""}${b.until ? t("bans.until", { time: fullTime(b.until) }) : t("bans.until_lifted")}` })),
      el("button", {
        type: "button", class: "secondary small", "aria-label": t("bans.unban_who", { name: userName(b.user_id) }),
        onclick: async () => {
          try {
            await api("DELETE", "rooms", `/rooms/${roomId}/bans/${b.user_id}`);
            await loadBans(roomId);
          } catch (err) {
            showError(error, err);
          }
        },
      }, t("bans.unban")))) : [el("li", { class: "empty", text: t("bans.none") })]));
  } catch (err) {
    showError(error, err);
  }
}

// ---- reports ---------------------------------------------------------------------------

/** Extra buttons for a message's actions (chat.js): report someone else's message. */
export function messageActions(message) {
  if (message.deleted || message.sender_id === state.me.id) return [];
  return [el("button", { type: "button", class: "ghost small", "aria-label": t("reports.report_message"), onclick: () => report(message) }, t("reports.report"))];
}

async function report(message) {
  const reason = window.prompt(t("reports.why"), "");
  if (reason === null) return;
  if (!reason.trim()) { toast(t("reports.needs_reason"), "error"); return; }
  try {
    await api("POST", "messages", `/messages/${message.id}/report`, { json: { reason: reason.trim() } });
    toast(t("reports.thanks"));
  } catch (err) {
    toast(t("reports.failed", { reason: errorText(err) }), "error");
  }
}

let reportsRoom = null;
async function openReports(roomId) {
  reportsRoom = roomId;
  $("#reports-title").textContent = t(roomId ? "reports.in_room" : "reports.open");
  $("#reports-dialog").showModal();
  await loadReports($("#reports-list"), $("#reports-dialog .form-error"), roomId);
}

async function loadReports(list, error, roomId) {
  try {
    const page = await api("GET", "messages", "/messages/reports", { query: { room_id: roomId, limit: 100 } });
    showError(error, null);
    list.replaceChildren(...(page.items.length ? page.items.map((r) => reportRow(r, list, error, roomId)) : [el("li", { class: "empty", text: t("reports.none") })]));
  } catch (err) {
    showError(error, err);
  }
}

function reportRow(report, list, error, roomId) {
  const resolve = (actionName, label) => el("button", {
    type: "button", class: "ghost small", "aria-label": t("reports.action_label", { action: label, name: userName(report.reporter_id) }),
    onclick: async () => {
      try {
        await api("POST", "messages", `/messages/reports/${report.id}/resolve`, { json: { action: actionName } });
        toast(t("reports.resolved", { action: t(`reports.action.${actionName}`) }));
        await loadReports(list, error, roomId);
      } catch (err) {
        showError(error, err);
      }
    },
  }, label);
  return el("li", { class: "report" },
    el("span", { class: "person-text" },
      el("span", { class: "person-name" }, nameNode(report.sender_id), el("span", { class: "muted small", text: ` · ${fullTime(report.created_at)}` })),
      el("span", { class: "small", text: `“${report.reason}” — ${userName(report.reporter_id)}` })),
    el("span", { class: "member-actions" },
      resolve("delete", t("reports.delete")), resolve("ban", t("reports.ban")), resolve("dismiss", t("reports.dismiss"))));
}

// ---- site administration ----------------------------------------------------------------

const AUDIT_PATHS = { auth: "/auth/admin/audit", rooms: "/rooms/admin/audit", messages: "/messages/admin/audit" };
let auditService = "rooms";
let auditCursor = null;

async function openAdmin() {
  $("#admin-dialog").showModal();
  showError($("#admin-dialog .form-error"), null);
  $("#admin-account").replaceChildren();
  await Promise.all([
    loadReports($("#admin-reports"), $("#admin-dialog .form-error"), null),
    loadAudit("rooms", null),
  ]);
}

async function lookUpAccount() {
  const q = $("#admin-user-input").value.trim();
  const error = $("#admin-dialog .form-error");
  if (!q) return;
  try {
    const page = await api("GET", "auth", "/auth/users", { query: { q, limit: 10 } });
    page.items.forEach(rememberUser);
    const accounts = await Promise.all(page.items.map((u) => api("GET", "auth", `/auth/admin/users/${u.id}`)));
    showError(error, null);
    $("#admin-account").replaceChildren(...(accounts.length ? accounts.map(accountRow) : [el("li", { class: "empty", text: t("admin.nobody") })]));
  } catch (err) {
    showError(error, err);
  }
}

function accountRow(account) {
  const active = !account.deactivated_at;
  return el("li", { class: "person" },
    el("span", { class: "person-text" },
      el("span", { class: "person-name", text: account.is_admin ? t("admin.is_admin", { name: account.display_name }) : account.display_name }),
      el("span", { class: "muted small", text: `${account.email}${active ? "" : ` · ${t("admin.deactivated", { time: fullTime(account.deactivated_at) })}`}` })),
    account.id === state.me.id ? null : el("button", {
      type: "button", class: active ? "danger small" : "secondary small",
      "aria-label": t(active ? "admin.deactivate_who" : "admin.reactivate_who", { name: account.display_name }),
      onclick: async (event) => {
        if (active && !window.confirm(t("admin.deactivate_confirm", { name: account.display_name }))) return;
        try {
          const updated = await api("POST", "auth", `/auth/admin/users/${account.id}/${active ? "deactivate" : "reactivate"}`);
          event.currentTarget.closest("li").replaceWith(accountRow(updated));
        } catch (err) {
          showError($("#admin-dialog .form-error"), err);
        }
      },
    }, t(active ? "admin.deactivate" : "admin.reactivate")));
}

async function loadAudit(service, cursor) {
  auditService = service;
  for (const tab of document.querySelectorAll("#audit-tabs button")) tab.setAttribute("aria-pressed", String(tab.dataset.service === service));
  try {
    const page = await api("GET", service, AUDIT_PATHS[service], { query: { limit: 50, cursor } });
    const rows = page.items.map((e) => el("li", { class: "audit" },
      el("time", { class: "muted small", datetime: e.at, text: fullTime(e.at) }),
      el("span", { text: ` ${e.actor_id ? userName(e.actor_id) : t("admin.operator")} · ${e.action}${e.target_id ? ` · ${userName(e.target_id)}` : ""}` })));
    if (cursor) $("#audit-list").append(...rows);
    else $("#audit-list").replaceChildren(...(rows.length ? rows : [el("li", { class: "empty", text: t("admin.nothing") })]));
    auditCursor = page.next_cursor;
    $("#audit-more").hidden = !auditCursor;
  } catch (err) {
    showError($("#admin-dialog .form-error"), err);
  }
}

function debounce(run, ms) {
  let timer = null;
  return () => { clearTimeout(timer); timer = setTimeout(run, ms); };
}
