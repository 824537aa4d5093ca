// The room list: loading, ordering, unread counts, and starting new rooms and direct chats.

import { api, listAll } from "./api.js";
import { $, el, hueOf, initials, shortWhen, showError, toast } from "./dom.js";
import { emit, rememberUser, roomTitle, state, userName } from "./state.js";
import { avatarNode } from "./people.js";
import { compareText, errorText, t } from "./i18n.js";

/** Load the caller's rooms with unread counts and each room's latest message. */
export async function loadRooms() {
  const [rooms, unread] = await Promise.all([
    listAll("rooms", "/rooms"),
    api("GET", "messages", "/messages/unread"),
  ]);
  const counts = new Map(unread.items.map((u) => [u.room_id, u]));
  state.rooms.clear();
  for (const room of rooms) {
    const u = counts.get(room.id);
    state.rooms.set(room.id, { ...room, unread: u?.unread ?? 0, mentions: u?.mentions ?? 0, lastSeq: u?.last_seq ?? 0, readSeq: u?.read_seq ?? 0, lastAt: room.created_at, preview: null });
  }
  renderRooms();
  await Promise.all([...state.rooms.values()].map((room) => fillRoom(room)));
  renderRooms();
}

/** Fetch what the list shows beyond the room itself: the latest message, the direct peer. */
async function fillRoom(room) {
  const jobs = [];
  if (room.lastSeq > 0 || room.preview === null) {
    jobs.push(api("GET", "messages", "/messages", { query: { room_id: room.id, limit: 1 } })
      .then((page) => { if (page.items[0]) noteLatest(room, page.items[0]); })
      .catch(() => {}));
  }
  if (room.kind === "direct" && !room.peerId) {
    jobs.push(api("GET", "rooms", `/rooms/${room.id}/members`)
      .then((page) => {
        state.members.set(room.id, page.items);
        room.peerId = page.items.find((m) => m.user_id !== state.me.id)?.user_id ?? state.me.id;
      })
      .catch(() => {}));
  }
  await Promise.all(jobs);
}

function noteLatest(room, message) {
  if (message.seq < (room.latestSeq ?? 0)) return;
  room.latestSeq = message.seq;
  room.lastAt = message.created_at;
  room.previewSender = message.sender_id;
  room.preview = message.deleted ? t("rooms.preview_deleted") : message.body;
}

/** The list's second line: the latest message, with who wrote it where that is not obvious. */
function previewOf(room) {
  if (room.preview === null || room.preview === undefined) {
    return room.kind === "direct" ? t("common.direct_chat") : t("rooms.members", { count: room.member_count });
  }
  if (room.previewSender === state.me.id) return t("rooms.you_said", { text: room.preview });
  if (room.kind === "group") return t("rooms.they_said", { name: userName(room.previewSender), text: room.preview });
  return room.preview;
}

/** A new live message: move the room up, and count it as unread unless it is being read. */
export function noteMessage(message, isRead, mentionsMe = false) {
  const room = state.rooms.get(message.room_id);
  if (!room) return;
  noteLatest(room, message);
  room.lastSeq = Math.max(room.lastSeq, message.seq);
  if (isRead) room.readSeq = Math.max(room.readSeq ?? 0, message.seq);
  if (message.sender_id !== state.me.id && !isRead) {
    room.unread += 1;
    if (mentionsMe) room.mentions = (room.mentions ?? 0) + 1;
  }
  renderRooms();
}

/** Add a room (created here, or a room_added frame); returns the stored room. */
export async function addRoom(room) {
  const existing = state.rooms.get(room.id);
  const stored = { unread: 0, lastSeq: 0, lastAt: room.created_at, preview: null, ...existing, ...room };
  state.rooms.set(room.id, stored);
  await fillRoom(stored);
  renderRooms();
  return stored;
}

export function removeRoom(roomId) {
  state.rooms.delete(roomId);
  state.convos.delete(roomId);
  state.members.delete(roomId);
  renderRooms();
}

export function markRead(roomId) {
  const room = state.rooms.get(roomId);
  if (room) room.readSeq = Math.max(room.readSeq ?? 0, room.lastSeq ?? 0);
  if (room && (room.unread || room.mentions)) {
    room.unread = 0;
    room.mentions = 0;
    renderRooms();
  }
}

function roomAvatar(room) {
  if (room.kind === "direct" && room.peerId) return avatarNode(room.peerId, "avatar");
  return el("span", { class: "avatar group", style: `--hue:${hueOf(room.id)}`, "aria-hidden": "true" }, initials(roomTitle(room)));
}

/** What a screen reader says for a room in the list: its title, unread count and mentions. */
function roomLabel(room, title) {
  if (room.unread > 0) return t(room.mentions ? "rooms.label_unread_mentions" : "rooms.label_unread", { title, count: room.unread });
  return room.mentions ? t("rooms.label_mentions", { title }) : title;
}

/** Draw the list, most recently active first (rooms as active sort by title, as the language does). */
export function renderRooms() {
  const list = $("#room-list");
  const rooms = [...state.rooms.values()]
    .sort((a, b) => String(b.lastAt).localeCompare(String(a.lastAt)) || compareText(roomTitle(a), roomTitle(b)));
  $("#rooms-empty").hidden = rooms.length > 0;
  const unread = rooms.reduce((sum, room) => sum + room.unread, 0);
  document.title = unread ? t("app.title_unread", { count: unread }) : t("app.title");
  list.replaceChildren(...rooms.map((room) => {
    const title = roomTitle(room);
    const unread = room.unread > 0;
    const label = roomLabel(room, title);
    return el("li", {},
      el("button", {
        type: "button",
        class: `room${room.id === state.currentRoomId ? " active" : ""}${unread ? " unread" : ""}`,
        "aria-label": label,
        "aria-current": room.id === state.currentRoomId ? "page" : null,
        dataset: { roomId: room.id },
        onclick: () => emit("open-room", room.id),
      },
      roomAvatar(room),
      el("span", { class: "room-text" },
        el("span", { class: "room-top" },
          el("span", { class: "room-title", text: title }),
          el("time", { class: "room-when", datetime: room.lastAt, text: room.lastAt ? shortWhen(room.lastAt) : "" })),
        el("span", { class: "room-bottom" },
          el("span", { class: "room-preview", text: previewOf(room) }),
          room.mentions ? el("span", { class: "badge mention", title: t("rooms.mentions", { count: room.mentions }), "aria-hidden": "true", text: "@" }) : null,
          unread ? el("span", { class: "badge", "aria-hidden": "true", text: room.unread > 99 ? "99+" : String(room.unread) }) : null)))
    );
  }));
}

/** Wire the "New room" and "Find people" dialogs. */
export function setupRoomDialogs() {
  const roomDialog = $("#room-dialog");
  const roomForm = $("#room-form");
  $("#new-room-button").addEventListener("click", () => {
    roomForm.reset();
    showError(roomForm.querySelector(".form-error"), null);
    roomDialog.showModal();
  });
  roomForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = roomForm.elements.title.value.trim();
    const error = roomForm.querySelector(".form-error");
    if (!title) return showError(error, new Error(t("rooms.name_needed")));
    try {
      const visibility = roomForm.elements.public?.checked ? "public" : "private";
      const room = await api("POST", "rooms", "/rooms", { json: { title, visibility } });
      await addRoom(room);
      roomDialog.close();
      emit("open-room", room.id);
    } catch (err) {
      showError(error, err);
    }
    return undefined;
  });

  const peopleDialog = $("#people-dialog");
  const input = $("#people-input");
  const results = $("#people-results");
  const peopleError = $("#people-form .form-error");
  $("#new-chat-button").addEventListener("click", () => {
    input.value = "";
    results.replaceChildren();
    showError(peopleError, null);
    peopleDialog.showModal();
    input.focus();
  });
  $("#people-form").addEventListener("submit", (event) => event.preventDefault());
  searchAsYouType(input, results, peopleError, "rooms.message", async (user) => {
    const room = await api("POST", "rooms", "/rooms/direct", { json: { user_id: user.id } });
    await addRoom(room);
    peopleDialog.close();
    emit("open-room", room.id);
  });
  for (const button of document.querySelectorAll("dialog [data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }
}

/**
 * Search the directory as the user types into `input`, listing people in `results`, each
 * with a button that calls `onPick(user)`: `action` is the catalogue key of its word
 * ("rooms.message"), and `${action}_who` of its accessible name ("Message {name}").
 */
export function searchAsYouType(input, results, errorNode, action, onPick, exclude = () => false) {
  let timer = null;
  let asked = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = input.value.trim();
      const ticket = ++asked;
      if (!q) { results.replaceChildren(); return; }
      try {
        const page = await api("GET", "auth", "/auth/users", { query: { q, limit: 20 } });
        if (ticket !== asked) return;
        showError(errorNode, null);
        const people = page.items.filter((u) => u.id !== state.me.id && !exclude(u));
        people.forEach(rememberUser);
        results.replaceChildren(...(people.length ? people.map((user) => el("li", { class: "person" },
          avatarNode(user.id, "avatar"),
          el("span", { class: "person-text" },
            el("span", { class: "person-name", text: user.display_name }),
            el("span", { class: "muted small", text: user.email || user.status_text || "" })),
          el("button", {
            type: "button", class: "secondary small", "aria-label": t(`${action}_who`, { name: user.display_name }),
            onclick: async (event) => {
              const button = event.currentTarget;
              button.disabled = true;
              try { await onPick(user); } catch (err) { showError(errorNode, err); toast(errorText(err), "error"); }
              button.disabled = false;
            },
          }, t(action)))) : [el("li", { class: "empty", text: t("rooms.nobody") })]));
      } catch (err) {
        if (ticket === asked) showError(errorNode, err);
      }
    }, 250);
  });
}
