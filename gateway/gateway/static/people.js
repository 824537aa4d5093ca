// People on screen: avatars and names that fill in once a profile has loaded.

import { avatarSrc } from "./api.js";
import { el, hueOf, initials } from "./dom.js";
import { bus, userInfo, userName } from "./state.js";

function paintAvatar(node, id) {
  const user = userInfo(id);
  const src = avatarSrc(user);
  node.style.setProperty("--hue", hueOf(id));
  if (src) {
    // The same picture again (a profile repeated live): keep the loaded image.
    if (node.querySelector("img")?.getAttribute("src") === src) return;
    node.replaceChildren(el("img", { src, alt: "", loading: "lazy", decoding: "async" }));
    node.classList.add("has-image");
  } else {
    node.textContent = initials(user?.display_name);
    node.classList.remove("has-image");
  }
}

/** An avatar for a user id: the uploaded image, or initials on a colour of their own. */
export function avatarNode(id, cls = "avatar") {
  const node = el("span", { class: cls, "aria-hidden": "true", dataset: { avatarUser: id } });
  paintAvatar(node, id);
  return node;
}

/** A text node holder for a user's display name that updates when the profile arrives. */
export function nameNode(id, cls = "name") {
  return el("span", { class: cls, dataset: { nameUser: id } }, userName(id));
}

// When a profile loads (or changes), repaint every avatar and name that shows it.
bus.addEventListener("user", (event) => {
  const id = event.detail.id;
  for (const node of document.querySelectorAll(`[data-avatar-user="${CSS.escape(id)}"]`)) paintAvatar(node, id);
  for (const node of document.querySelectorAll(`[data-name-user="${CSS.escape(id)}"]`)) node.textContent = userName(id);
});
