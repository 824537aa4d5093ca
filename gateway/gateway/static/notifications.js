// Notifications: the settings panel (level, per-room mute, this device on or off), Web Push
// through the service worker (sw.js), and the Notification API while the tab is open but
// hidden (an open tab holds a connection, so the server sends it no push).
//
// Permission is asked only when the user turns notifications on here, never at page load.

import { api } from "./api.js";
import { $, el, toast } from "./dom.js";
import { errorText, sortByText, t } from "./i18n.js";
import { emit, roomTitle, state, userName } from "./state.js";

const ENABLED_KEY = "chat.notifications";
const PREVIEW_CHARS = 120;

let prefs = { level: "mentions", rooms: {} };
let registration = null;

const supported = () => "Notification" in window;
const enabled = () => localStorage.getItem(ENABLED_KEY) === "on" && supported() && Notification.permission === "granted";

/** Wire the panel and the service worker; call once after signing in. */
export function initNotifications(conn) {
  addPanel();
  conn.addEventListener("message", (event) => notifyHidden(event.detail));
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data?.type === "open-room") openRoom(event.data.room_id);
    });
    if (enabled()) registerWorker().catch(() => {});
  }
  loadPrefs().catch(() => {});
}

/** Open the room a notification's link names (``#room=<id>``), once the rooms are loaded. */
export function openFromLink() {
  const match = /^#room=([0-9a-f-]{36})$/i.exec(window.location.hash);
  if (!match) return;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  openRoom(match[1]);
}

function openRoom(roomId) {
  window.focus();
  if (roomId && state.rooms.has(roomId)) emit("open-room", roomId);
}

async function loadPrefs() {
  prefs = await api("GET", "messages", "/messages/notifications/settings");
}

function levelIn(roomId) {
  return prefs.rooms?.[roomId] || prefs.level;
}

/** The tab is open but not looked at: show the message with the Notification API. */
function notifyHidden(message) {
  if (!enabled() || document.visibilityState !== "hidden" || !state.me) return;
  if (message.sender_id === state.me.id || message.deleted) return;
  const room = state.rooms.get(message.room_id);
  if (!room) return;
  const mentioned = Array.isArray(message.mentions) && message.mentions.includes(state.me.id);
  if (levelIn(room.id) === "none" || (room.kind !== "direct" && !mentioned && levelIn(room.id) !== "all")) return;
  const sender = userName(message.sender_id);
  const title = room.kind === "direct" ? sender : `${sender} · ${roomTitle(room)}`;
  const body = (message.body || "").split(/\s+/).join(" ").trim();
  const options = {
    body: body.length > PREVIEW_CHARS ? body.slice(0, PREVIEW_CHARS - 1) + "…" : body,
    tag: message.id,
    data: { room_id: room.id },
  };
  if (registration) {
    // Through the active worker: just after notifications are turned on, the registered one
    // may still be installing, and showNotification on it would fail.
    navigator.serviceWorker.ready.then((active) => active.showNotification(title, options)).catch(() => {});
    return;
  }
  const shown = new Notification(title, options);
  shown.addEventListener("click", () => { shown.close(); openRoom(room.id); });
}

async function registerWorker() {
  registration = await navigator.serviceWorker.register("sw.js", { scope: "./" });
  await navigator.serviceWorker.ready;
  return registration;
}

function keyBytes(base64url) {
  const text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4));
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Subscribe this browser to Web Push and register the subscription; false if the browser
 * has no push service it can reach (the hidden-tab notifications still work). */
async function subscribePush() {
  if (!registration || !("PushManager" in window)) return false;
  const { public_key: key } = await api("GET", "messages", "/messages/notifications/vapid", { auth: false });
  let subscription = await registration.pushManager.getSubscription();
  try {
    subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  } catch {
    return false;
  }
  const json = subscription.toJSON();
  await api("POST", "messages", "/messages/notifications/push", { json: { endpoint: json.endpoint, keys: json.keys } });
  return true;
}

async function unsubscribePush() {
  const subscription = await registration?.pushManager?.getSubscription();
  if (!subscription) return;
  await api("DELETE", "messages", "/messages/notifications/push", { json: { endpoint: subscription.endpoint } }).catch(() => {});
  await subscription.unsubscribe().catch(() => {});
}

/** Before signing out: this browser stops receiving the user's pushes. */
export async function forgetDevice() {
  if (!registration && "serviceWorker" in navigator) registration = await navigator.serviceWorker.getRegistration() || null;
  await unsubscribePush();
  localStorage.removeItem(ENABLED_KEY);
}

/** Turn this device's notifications on (asking permission now) or off. */
async function setDevice(on) {
  if (!on) {
    localStorage.removeItem(ENABLED_KEY);
    await unsubscribePush();
    return t("notify.off");
  }
  if (!supported()) throw new Error(t("notify.unsupported"));
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new Error(t("notify.blocked"));
  localStorage.setItem(ENABLED_KEY, "on");
  if ("serviceWorker" in navigator) await registerWorker();
  const pushed = await subscribePush().catch(() => false);
  return pushed ? t("notify.on") : t("notify.on_tab_only");
}

// ---- the panel ----------------------------------------------------------------------------

function addPanel() {
  if ($("#notify-dialog")) return;
  const device = el("input", { type: "checkbox", id: "notify-device" });
  const level = el("select", { id: "notify-level", name: "level" },
    el("option", { value: "all", text: t("notify.level.all") }),
    el("option", { value: "mentions", text: t("notify.level.mentions") }),
    el("option", { value: "none", text: t("notify.level.none") }));
  const rooms = el("ul", { id: "notify-rooms", class: "notify-rooms", "aria-label": t("notify.rooms") });
  const error = el("p", { class: "form-error", role: "alert", hidden: true });
  const dialog = el("dialog", { id: "notify-dialog", "aria-labelledby": "notify-title" },
    el("form", { method: "dialog", class: "stack", id: "notify-form" },
      el("h2", { id: "notify-title", text: t("notify.title") }),
      el("label", { class: "row" }, device, ` ${t("notify.device")}`),
      el("label", {}, `${t("notify.about")} `, level),
      el("p", { class: "hint", text: t("notify.mute_hint") }),
      rooms,
      error,
      el("div", { class: "row end" },
        el("button", { type: "button", class: "ghost", "data-close": true, text: t("common.close") }),
        el("button", { type: "submit", class: "primary", text: t("common.save") }))));
  document.body.append(dialog);
  const button = el("button", { type: "button", id: "notify-button", class: "secondary", text: t("notify.button") });
  $(".sidebar-actions")?.append(button);
  button.addEventListener("click", () => openPanel());
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  device.addEventListener("change", async () => {
    error.hidden = true;
    try {
      toast(await setDevice(device.checked));
    } catch (err) {
      device.checked = false;
      error.textContent = errorText(err);
      error.hidden = false;
    }
  });
  dialog.querySelector("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const muted = {};
    for (const box of rooms.querySelectorAll("input[type=checkbox]")) if (box.checked) muted[box.value] = "none";
    try {
      prefs = await api("PUT", "messages", "/messages/notifications/settings", { json: { level: level.value, rooms: muted } });
      dialog.close();
      toast(t("notify.saved"));
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    }
  });
}

async function openPanel() {
  const dialog = $("#notify-dialog");
  await loadPrefs().catch(() => {});
  $("#notify-device").checked = enabled();
  $("#notify-level").value = prefs.level;
  const list = $("#notify-rooms");
  list.replaceChildren(...sortByText(state.rooms.values(), roomTitle).map((room) => el("li", {},
    el("label", { class: "row" },
      el("input", { type: "checkbox", value: room.id, checked: prefs.rooms?.[room.id] === "none" }),
      ` ${t("notify.mute_room", { title: roomTitle(room) })}`))));
  dialog.showModal();
}
