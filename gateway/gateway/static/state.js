// What the page knows: the signed-in user, their rooms, loaded conversations, people.

import { api } from "./api.js";
import { t } from "./i18n.js";

export const bus = new EventTarget();
export const emit = (type, detail) => bus.dispatchEvent(new CustomEvent(type, { detail }));

export const state = {
  me: null,
  rooms: new Map(), // id -> room, plus unread, lastAt, preview, peerId (direct rooms)
  convos: new Map(), // room id -> { bySeq: Map, oldest, hasMore, loaded }
  pending: new Map(), // client_msg_id -> { room_id, body, client_msg_id, failed? }
  online: new Map(), // room id -> Set of user ids
  typing: new Map(), // room id -> Map user id -> timer
  members: new Map(), // room id -> [{user_id, role, joined_at}]
  currentRoomId: null,
};

const users = new Map();
const loading = new Map();

/** Remember a profile we already have (login, directory results, our own edits). */
export function rememberUser(user) {
  if (user?.id) {
    users.set(user.id, user);
    emit("user", user);
  }
}

/** A cached profile, or undefined; asks for it in the background and emits "user" when loaded. */
export function userInfo(id) {
  if (users.has(id)) return users.get(id);
  if (!loading.has(id)) {
    loading.set(id, api("GET", "auth", `/auth/users/${id}`)
      .then((user) => rememberUser(user))
      .catch(() => rememberUser({ id, display_name: t("common.unknown_user"), avatar_url: null }))
      .finally(() => loading.delete(id)));
  }
  return undefined;
}

/** A profile, loaded first if we do not have it yet (undefined if it can't be). */
export async function loadUser(id) {
  if (!users.has(id)) {
    userInfo(id);
    await loading.get(id);
  }
  return users.get(id);
}

/** The display name to show for a user id ("You" is left to callers). */
export function userName(id) {
  return userInfo(id)?.display_name ?? "…";
}

/** A room's title as this user sees it: a direct room is named for the other person. */
export function roomTitle(room) {
  if (room.kind === "direct") {
    if (room.peerId) return userName(room.peerId);
    return room.title || t("common.direct_chat");
  }
  return room.title || t("common.untitled_room");
}

export function convoOf(roomId) {
  let convo = state.convos.get(roomId);
  if (!convo) {
    convo = { bySeq: new Map(), oldest: null, hasMore: true, loaded: false };
    state.convos.set(roomId, convo);
  }
  return convo;
}

/** Put a message into its conversation (new, edited or deleted); true if it changed it. */
export function storeMessage(message) {
  const convo = state.convos.get(message.room_id);
  if (!convo || !convo.loaded) return false;
  const had = convo.bySeq.get(message.seq);
  convo.bySeq.set(message.seq, message);
  if (convo.oldest === null || message.seq < convo.oldest) convo.oldest = message.seq;
  return !had || had.edited_at !== message.edited_at || had.deleted !== message.deleted;
}

export const myRole = (roomId) => state.rooms.get(roomId)?.my_role ?? "member";
export const canModerate = (roomId) => ["owner", "admin"].includes(myRole(roomId));
