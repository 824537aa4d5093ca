// Membership notices: the system lines in a conversation ("Ana removed Bo") and the toasts
// for one's own rooms ("Ana started a direct chat with you"). A notice is kept as data
// ({kind, user, by, at}) and drawn with live name nodes, so names fill in when profiles load.
// Sentences about oneself have their own keys: languages word "You left" and "Ana left"
// differently (Korean drops the subject and the honorific 님 for oneself).

import { el } from "./dom.js";
import { t, tParts } from "./i18n.js";
import { nameNode } from "./people.js";
import { loadUser, roomTitle, state } from "./state.js";

const isMe = (id) => id === state.me?.id;

/** The parts of a notice's sentence: strings and name nodes. */
function parts({ kind, user, by }) {
  const byOther = by && by !== user;
  if (kind === "joined") {
    if (!byOther) return isMe(user) ? [t("notice.you_joined")] : tParts("notice.joined", { user: nameNode(user) });
    if (isMe(user)) return tParts("notice.added_you", { by: nameNode(by) });
    if (isMe(by)) return tParts("notice.you_added", { user: nameNode(user) });
    return tParts("notice.added", { by: nameNode(by), user: nameNode(user) });
  }
  if (!byOther) return isMe(user) ? [t("notice.you_left")] : tParts("notice.left", { user: nameNode(user) });
  if (isMe(user)) return tParts("notice.removed_you", { by: nameNode(by) });
  if (isMe(by)) return tParts("notice.you_removed", { user: nameNode(user) });
  return tParts("notice.removed", { by: nameNode(by), user: nameNode(user) });
}

/** The line a notice shows in the conversation. */
export function noticeNode(notice) {
  return el("li", { class: "notice", dataset: { kind: notice.kind } }, el("span", {}, ...parts(notice)));
}

async function nameOf(id) {
  return (await loadUser(id))?.display_name ?? t("notice.someone");
}

/** What to say when a room appears in one's list because someone else added us. */
export async function addedText(room, by) {
  if (room.kind === "direct") {
    const peerId = room.peerId || by;
    if (!peerId) return null;
    const name = await nameOf(peerId);
    return t(by && !isMe(by) ? "notice.direct_started" : "notice.direct_new", { name });
  }
  const title = roomTitle(room);
  if (by && !isMe(by)) return t("notice.added_to_room", { by: await nameOf(by), room: title });
  return t("app.added_to", { title });
}

/** What to say when one of our rooms goes: we left it, or someone removed us. */
export async function removedText(room, by) {
  const title = roomTitle(room);
  if (by && isMe(by)) return t("notice.you_left_room", { room: title });
  if (by) return t("notice.removed_from_room", { by: await nameOf(by), room: title });
  return t("notice.removed_no_actor", { room: title });
}
