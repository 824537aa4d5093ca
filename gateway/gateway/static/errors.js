// What the client says when a service or the gateway refuses something: one sentence per
// error code, written for people. A service's own message is never shown as is (it is written
// for developers: "email: Value error, …"); it is kept on the error for debugging.

const TEXT = {
  // Signing in and accounts
  invalid_credentials: "Wrong email or password.",
  email_taken: "An account with that email already exists. Sign in instead?",
  too_many_attempts: "Too many sign-in attempts. Wait a moment and try again.",
  account_deactivated: "This account has been deactivated.",
  token_expired: "Your session has ended. Please sign in again.",
  token_revoked: "Your session has ended. Please sign in again.",
  invalid_token: "Your session has ended. Please sign in again.",
  invalid_refresh_token: "Your session has ended. Please sign in again.",
  refresh_token_reused: "For your safety you were signed out everywhere. Please sign in again.",
  unauthorized: "Your session has ended. Please sign in again.",
  user_not_found: "That person could not be found.",
  name_taken: "That name is already taken. Try another one.",
  // Rooms and members
  room_not_found: "That room no longer exists, or you are not in it.",
  not_member: "You are not a member of that room.",
  not_a_member: "You are not a member of that room.",
  already_member: "They are already in this room.",
  not_admin: "Only the room's owner or admins can do that.",
  forbidden: "You are not allowed to do that.",
  last_owner: "You are the only owner: make someone else an owner before leaving.",
  direct_room: "That can't be done in a direct chat.",
  direct_with_self: "You can't start a direct chat with yourself.",
  cannot_moderate_self: "You can't do that to yourself.",
  cannot_moderate_owner: "You can't do that to the room's owner.",
  banned: "You have been banned from that room.",
  blocked: "You can't message this person.",
  muted: "You are muted in this room for now.",
  invite_not_found: "That invite link is no longer valid.",
  // Messages
  message_not_found: "That message no longer exists.",
  message_deleted: "That message was deleted.",
  not_sender: "You can only change your own messages.",
  too_many_reactions: "That message has too many reactions already.",
  // Files
  too_large: "That is too large to send.",
  type_not_allowed: "That kind of file can't be sent here.",
  unsupported_media_type: "That kind of file isn't supported. Choose a PNG, JPEG or WebP image.",
  quota_exceeded: "You have used up your storage for files.",
  upload_incomplete: "The upload did not finish. Try again.",
  attachment_not_found: "That file is no longer available.",
  attachment_wrong_room: "That file belongs to another room.",
  attachment_in_use: "That file is already attached to a message.",
  duplicate_attachment: "That file is attached twice.",
  // Anything
  rate_limited: "You're going a little fast. Try again in a moment.",
  busy: "The server is busy. Try again in a moment.",
  unavailable: "The server is having trouble. Try again in a moment.",
  network: "Can't reach the server. Check your connection.",
};

// What a refused field means, for the "invalid input" family of codes.
const FIELD_TEXT = {
  email: "Enter a valid email address.",
  password: "The password needs at least 8 characters.",
  display_name: "Choose a display name (up to 64 characters).",
  title: "Give the room a name (up to 100 characters).",
  body: "A message must have some text, up to 4,000 characters.",
  status_text: "The status is too long.",
  avatar: "Choose a PNG, JPEG or WebP image.",
  file: "Choose a PNG, JPEG or WebP image.",
};

const BY_STATUS = {
  400: "Something about that request wasn't right. Try again.",
  401: "Your session has ended. Please sign in again.",
  403: "You are not allowed to do that.",
  404: "That could not be found. It may have been removed.",
  409: "That changed in the meantime. Reload and try again.",
  413: "That is too large to send.",
  415: "That kind of file isn't supported.",
  422: "Some of what you entered isn't valid. Check it and try again.",
  429: "You're going a little fast. Try again in a moment.",
};

const INVALID = new Set(["invalid_input", "invalid_field", "missing_field", "bad_request"]);

/** One human sentence for a refusal: {status, code, field, retryAfter}. */
export function humanError({ status = 0, code = "", field = null, retryAfter = null } = {}) {
  if (code === "rate_limited" || status === 429) {
    const seconds = Number(retryAfter);
    return seconds > 0
      ? `You're going a little fast. Try again in ${seconds} ${seconds === 1 ? "second" : "seconds"}.`
      : TEXT.rate_limited;
  }
  if (INVALID.has(code) || (status === 422 && !TEXT[code])) {
    const name = String(field || "").split(".").at(-1);
    return FIELD_TEXT[name] || BY_STATUS[422];
  }
  if (TEXT[code]) return TEXT[code];
  if (BY_STATUS[status]) return BY_STATUS[status];
  if (status >= 500) return TEXT.unavailable;
  return "Something went wrong. Try again.";
}
