// The profile dialog: display name, status and avatar.

import { api, session } from "./api.js";
import { $, el, showError, toast } from "./dom.js";
import { availableLanguages, lang, setLanguage, t } from "./i18n.js";
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
    $("#profile-email").textContent = state.me.email ? t("profile.signed_in_as", { email: state.me.email }) : "";
    $("#profile-avatar").replaceWith(avatarNode(state.me.id, "avatar large"));
    $(".avatar-edit .avatar").id = "profile-avatar";
    showError(error, null);
    dialog.showModal();
  });
  addLanguageSwitch(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const displayName = form.elements.display_name.value.trim();
    if (!displayName) return showError(error, new Error(t("profile.name_empty")));
    try {
      const user = await api("PATCH", "auth", "/auth/me", {
        json: { display_name: displayName, status_text: form.elements.status_text.value.trim() },
      });
      adoptMe(user);
      dialog.close();
      toast(t("profile.saved"));
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
    if (!TYPES.includes(file.type)) return showError(error, new Error(t("profile.bad_type")));
    if (file.size > MAX_AVATAR) return showError(error, new Error(t("profile.too_big")));
    try {
      const user = await api("PUT", "auth", "/auth/me/avatar", { body: file, contentType: file.type });
      adoptMe(user, true);
      showError(error, null);
      toast(t("profile.photo_updated"));
    } catch (err) {
      showError(error, err);
    }
    return undefined;
  });
}

/** The language switch (remembered in this browser): a choice reloads the page in it. */
function addLanguageSwitch(form) {
  if ($("#language-select")) return;
  const select = el("select", { id: "language-select", name: "language", "aria-describedby": "language-hint" },
    ...availableLanguages().map((l) => el("option", { value: l.code, lang: l.code, selected: l.code === lang() }, l.name)));
  select.addEventListener("change", () => setLanguage(select.value));
  form.querySelector(".form-error").before(
    el("label", {}, `${t("profile.language")} `, select),
    el("p", { class: "hint", id: "language-hint", text: t("profile.language_hint") }));
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
