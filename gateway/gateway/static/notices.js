// Membership notices: the system lines in a conversation ("Ana removed Bo") and the toasts
// for one's own rooms ("Ana started a direct chat with you"). A notice is kept as data
// ({kind, user, by, at}) and drawn with live name nodes, so names fill in when profiles load.

import { el } from "./dom.js";
import { nameNode } from "./people.js";
import { loadUser, roomTitle, state } from "./state.js";

const TEXT = {
  joined: (user) => [user, " joined the room."],
  added: (by, user) => [by, " added ", user, "."],
  addedYou: (by) => [by, " added you."],
  left: (user) => [user, " left the room."],
  removed: (by, user) => [by, " removed ", user, "."],
  youWereRemoved: (by) => [by, " removed you."],
  directStarted: (name) => `${name} started a direct chat with you.`,
  directNew: (name) => `New direct chat with ${name}.`,
  addedToRoom: (by, room) => `${by} added you to ${room}.`,
  addedToRoomNoActor: (room) => `You were added to ${room}.`,
  removedFromRoom: (by, room) => `${by} removed you from ${room}.`,
  removedNoActor: (room) => `You were removed from ${room}.`,
  youLeft: (room) => `You left ${room}.`,
  you: "You",
};

const who = (id) => (id === state.me?.id ? TEXT.you : nameNode(id));

/** The parts of a notice's sentence: strings and name nodes. */
function parts({ kind, user, by }) {
  const byOther = by && by !== user;
  if (kind === "joined") {
    if (!byOther) return TEXT.joined(who(user));
    return user === state.me?.id ? TEXT.addedYou(who(by)) : TEXT.added(who(by), who(user));
  }
  if (!byOther) return TEXT.left(who(user));
  return user === state.me?.id ? TEXT.youWereRemoved(who(by)) : TEXT.removed(who(by), who(user));
}

/** The line a notice shows in the conversation. */
export function noticeNode(notice) {
  return el("li", { class: "notice", dataset: { kind: notice.kind } }, el("span", {}, ...parts(notice)));
}

async function nameOf(id) {
  return (await loadUser(id))?.display_name ?? "Someone";
}

/** What to say when a room appears in one's list because someone else added us. */
export async function addedText(room, by) {
  if (room.kind === "direct") {
    const peerId = room.peerId || by;
    if (!peerId) return null;
    const name = await nameOf(peerId);
    return by && by !== state.me?.id ? TEXT.directStarted(name) : TEXT.directNew(name);
  }
  const title = roomTitle(room);
  return by && by !== state.me?.id ? TEXT.addedToRoom(await nameOf(by), title) : TEXT.addedToRoomNoActor(title);
}

/** What to say when one of our rooms goes: we left it, or someone removed us. */
export async function removedText(room, by) {
  const title = roomTitle(room);
  if (by && by === state.me?.id) return TEXT.youLeft(title);
  if (by) return TEXT.removedFromRoom(await nameOf(by), title);
  return TEXT.removedNoActor(title);
}
