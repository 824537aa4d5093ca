// The profile dialog: display name, status and avatar.

import { api, session } from "./api.js";
import { $, showError, toast } from "./dom.js";
import { avatarNode } from "./people.js";
import { rememberUser, state } from "./state.js";

const MAX_AVATAR = 1024 * 1024;
const TYPES = ["image/png", "image/jpeg", "image/webp"];

export function initProfile() {
  const dialog = $("#profile-dialog");
  const form = $("#profile-form");
  const error = form.querySelector(".form-error");
  $("#profile-button").addEventListener("click", () => {
    form.elements.display_name.value = state.me.display_name || "";
    form.elements.status_text.value = state.me.status_text || "";
    $("#profile-email").textContent = state.me.email ? `Signed in as ${state.me.email}` : "";
    $("#profile-avatar").replaceWith(avatarNode(state.me.id, "avatar large"));
    $(".avatar-edit .avatar").id = "profile-avatar";
    showError(error, null);
    dialog.showModal();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const displayName = form.elements.display_name.value.trim();
    if (!displayName) return showError(error, new Error("Your display name can't be empty."));
    try {
      const user = await api("PATCH", "auth", "/auth/me", {
        json: { display_name: displayName, status_text: form.elements.status_text.value.trim() },
      });
      adoptMe(user);
      dialog.close();
      toast("Profile saved.");
    } catch (err) {
      showError(error, err);
    }
    return undefined;
  });
  $("#avatar-input").addEventListener("change", async (event) => {
    const input = event.currentTarget;
    const file = input.files?.[0];
    input.value = "";
    if (!file) return;
    if (!TYPES.includes(file.type)) return showError(error, new Error("Choose a PNG, JPEG or WebP image."));
    if (file.size > MAX_AVATAR) return showError(error, new Error("That image is larger than 1 MB."));
    try {
      const user = await api("PUT", "auth", "/auth/me/avatar", { body: file, contentType: file.type });
      adoptMe(user, true);
      showError(error, null);
      toast("Photo updated.");
    } catch (err) {
      showError(error, err);
    }
    return undefined;
  });
}

/** Take a fresh copy of our own profile and repaint everything that shows it. */
export function adoptMe(user, newImage = false) {
  // The avatar URL can stay the same after an upload; a version parameter defeats the cache.
  const bust = newImage && user.avatar_url
    ? { avatar_url: `${user.avatar_url}${user.avatar_url.includes("?") ? "&" : "?"}v=${Date.now()}` }
    : {};
  state.me = { ...state.me, ...user, ...bust };
  session.user = state.me;
  rememberUser(state.me);
  $("#me-name").textContent = state.me.display_name;
}
