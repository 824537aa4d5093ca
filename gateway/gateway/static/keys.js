// Keyboard shortcuts: Up-arrow edits one's last message, Ctrl+K finds a room, Alt+Up/Down
// moves through the room list, Escape closes panels, and `?` lists all of them.

import { $, el } from "./dom.js";
import { editLastOwn } from "./chat.js";
import { toggleMembers } from "./members.js";
import { emit, roomTitle, state } from "./state.js";
import { t } from "./i18n.js";

// Each shortcut: its keys (catalogue key "keys.key.<name>") and what it does ("keys.do.<name>").
const SHORTCUTS = ["send", "newline", "edit_last", "switch", "step", "close", "help"];

let closeRoomFn = () => {};

/** Rooms in the order the list shows them. */
function roomOrder() {
  return [...document.querySelectorAll("#room-list button.room")].map((b) => b.dataset.roomId);
}

function step(delta) {
  const order = roomOrder();
  if (!order.length) return;
  const at = order.indexOf(state.currentRoomId);
  const next = at < 0 ? (delta > 0 ? 0 : order.length - 1) : Math.min(order.length - 1, Math.max(0, at + delta));
  if (order[next] !== state.currentRoomId) emit("open-room", order[next]);
}

function dialog(id, title, ...body) {
  let node = $(`#${id}`);
  if (node) return node;
  const close = el("button", { type: "button", class: "ghost", onclick: () => node.close() }, t("common.close"));
  node = el("dialog", { id, "aria-labelledby": `${id}-title` },
    el("div", { class: "stack" }, el("h2", { id: `${id}-title`, text: title }), ...body, el("div", { class: "row end" }, close)));
  document.body.append(node);
  return node;
}

function showShortcuts() {
  const node = dialog("shortcuts-dialog", t("keys.shortcuts"),
    el("dl", { class: "shortcuts" }, ...SHORTCUTS.flatMap((name) => [
      el("dt", {}, el("kbd", { text: t(`keys.key.${name}`) })), el("dd", { text: t(`keys.do.${name}`) })])));
  if (!node.open) node.showModal();
}

function showSwitcher() {
  const input = el("input", { id: "switch-input", type: "search", autocomplete: "off", placeholder: t("keys.switch_placeholder") });
  const list = el("ul", { id: "switch-results", class: "people", "aria-label": t("keys.switch_title") });
  const node = dialog("switch-dialog", t("keys.switch_title"), el("label", {}, t("shell.room_name"), " ", input), list);
  const field = $("#switch-input", node);
  const results = $("#switch-results", node);
  const matches = () => {
    const q = field.value.trim().toLocaleLowerCase();
    return roomOrder().map((id) => state.rooms.get(id)).filter((room) => room && roomTitle(room).toLocaleLowerCase().includes(q));
  };
  const pick = (room) => { node.close(); emit("open-room", room.id); };
  const draw = () => {
    const rooms = matches();
    results.replaceChildren(...(rooms.length
      ? rooms.map((room) => el("li", {}, el("button", { type: "button", class: "ghost", dataset: { roomId: room.id }, onclick: () => pick(room) }, roomTitle(room))))
      : [el("li", { class: "empty", text: t("keys.no_rooms") })]));
  };
  if (!node.dataset.wired) {
    node.dataset.wired = "1";
    field.addEventListener("input", draw);
    field.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault();
      const first = matches()[0];
      if (first) pick(first);
    });
  }
  field.value = "";
  draw();
  if (!node.open) node.showModal();
  field.focus();
}

const typingInField = (target) => target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));

function onKey(event) {
  if ($("#app-view").hidden) return;
  const modal = document.querySelector("dialog[open]");
  if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
    event.preventDefault();
    showSwitcher();
    return;
  }
  if (modal) return; // a dialog handles its own keys (Escape closes it)
  if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
    event.preventDefault();
    step(event.key === "ArrowUp" ? -1 : 1);
    return;
  }
  if (event.key === "ArrowUp" && event.target === $("#composer-input") && !$("#composer-input").value && !event.shiftKey) {
    if (editLastOwn()) event.preventDefault();
    return;
  }
  if (event.key === "?" && !typingInField(event.target)) {
    event.preventDefault();
    showShortcuts();
    return;
  }
  if (event.key === "Escape") {
    if (event.target instanceof Element && event.target.closest("#thread-panel")) return; // the thread closes itself
    const thread = $("#thread-panel");
    if (thread && !thread.hidden) thread.querySelector("button[data-close-thread]")?.click();
    else if (!$("#members-panel").hidden) toggleMembers(false);
    else if (window.matchMedia("(max-width: 720px)").matches && $("#app-view").dataset.pane === "chat") closeRoomFn();
  }
}

/** Wire the shortcuts once; `closeRoom` goes back to the room list (phones). */
export function initKeys({ closeRoom }) {
  closeRoomFn = closeRoom;
  document.addEventListener("keydown", onKey);
}
