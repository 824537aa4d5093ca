// Files in messages: upload by button, drag-and-drop or paste, with progress; the uploads
// waiting in the tray go with the next message sent; a message shows its images as
// thumbnails (click for full size) and its other files as download links with name and size.

import { api, getConfig, session } from "./api.js";
import { $, el, toast } from "./dom.js";
import { errorText, lang, t } from "./i18n.js";
import { state } from "./state.js";

// The most files one message carries (message-service's limit).
const MAX_FILES = 10;
const INLINE = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

// Uploads for the open room: { id, file, progress, attachment?, error? }.
const tray = [];
let wired = false;

/** An attachment URL (a signed path of message-service) made absolute. */
export function attachmentHref(url) {
  const href = new URL(url, getConfig().messages + "/");
  return href.protocol === "http:" || href.protocol === "https:" ? href.href : null;
}

export function formatSize(bytes) {
  const one = (n) => new Intl.NumberFormat(lang(), { maximumFractionDigits: 1, minimumFractionDigits: 1 }).format(n);
  if (bytes < 1024) return t("size.bytes", { n: bytes });
  if (bytes < 1024 * 1024) return t("size.kb", { n: one(bytes / 1024) });
  return t("size.mb", { n: one(bytes / 1024 / 1024) });
}

/** Wire the paperclip button, drag-and-drop onto the conversation and paste into the box. */
export function initAttachments() {
  if (wired) return;
  wired = true;
  const input = $("#attach-input");
  $("#attach-button").addEventListener("click", () => input.click());
  input.addEventListener("change", () => { addFiles([...input.files]); input.value = ""; });
  const zone = $("#chat-main");
  zone.addEventListener("dragover", (event) => {
    if (![...event.dataTransfer.types].includes("Files")) return;
    event.preventDefault();
    zone.classList.add("dropping");
  });
  zone.addEventListener("dragleave", (event) => { if (event.target === zone) zone.classList.remove("dropping"); });
  zone.addEventListener("drop", (event) => {
    zone.classList.remove("dropping");
    if (!event.dataTransfer.files.length) return;
    event.preventDefault();
    addFiles([...event.dataTransfer.files]);
  });
  $("#composer-input").addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (files.length) { event.preventDefault(); addFiles(files); }
  });
  $("#image-dialog").addEventListener("click", () => $("#image-dialog").close());
}

function addFiles(files) {
  const roomId = state.currentRoomId;
  if (!roomId) return;
  for (const file of files) {
    if (tray.length >= MAX_FILES) { toast(t("attach.too_many", { count: MAX_FILES }), "error"); break; }
    const item = { id: crypto.randomUUID(), roomId, file, progress: 0 };
    tray.push(item);
    upload(item);
  }
  renderTray();
}

async function upload(item) {
  const url = new URL(getConfig().messages + "/messages/attachments");
  url.searchParams.set("room_id", item.roomId);
  const token = await session.token();
  const xhr = new XMLHttpRequest();
  xhr.open("POST", url);
  xhr.setRequestHeader("Authorization", `Bearer ${token}`);
  xhr.setRequestHeader("Content-Type", item.file.type || "application/octet-stream");
  // Header values are ASCII: the name travels percent-encoded (Korean names included).
  xhr.setRequestHeader("X-Filename", encodeURIComponent(item.file.name || "file"));
  xhr.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) { item.progress = event.loaded / event.total; renderTray(); }
  });
  xhr.addEventListener("load", () => {
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch { /* not JSON: keep the status */ }
    if (xhr.status === 201) item.attachment = body;
    else item.error = body?.error?.code ? errorText(body.error) : t("attach.upload_failed", { status: xhr.status });
    item.progress = 1;
    renderTray();
  });
  xhr.addEventListener("error", () => { item.error = t("attach.unreachable"); renderTray(); });
  xhr.send(item.file);
}

function renderTray() {
  const roomId = state.currentRoomId;
  const node = $("#attach-tray");
  const shown = tray.filter((item) => item.roomId === roomId);
  node.hidden = shown.length === 0;
  node.replaceChildren(...shown.map((item) => el("li", { class: `upload${item.error ? " failed" : ""}` },
    el("span", { class: "name", text: item.file.name || t("attach.file") }),
    el("span", { class: "size muted", text: formatSize(item.file.size) }),
    item.error ? el("span", { class: "status", text: item.error })
      : item.attachment ? el("span", { class: "status", text: t("attach.ready") })
        : el("progress", { max: "1", value: String(item.progress), "aria-label": t("attach.progress") }),
    el("button", { type: "button", class: "ghost small", "aria-label": t("attach.remove"), onclick: () => drop(item) }, "×"))));
}

function drop(item) {
  tray.splice(tray.indexOf(item), 1);
  renderTray();
}

/** The ids of the finished uploads for the room, taken out of the tray for sending; null
 * while one is still uploading (the message waits for it). */
export function takeAttachmentIds(roomId) {
  const mine = tray.filter((item) => item.roomId === roomId && !item.error);
  if (mine.some((item) => !item.attachment)) return null;
  for (const item of mine) tray.splice(tray.indexOf(item), 1);
  renderTray();
  return mine.map((item) => item.attachment.id);
}

/** The room changed: show its tray. */
export const showTray = renderTray;

/** A message's attachments: images as thumbnails, other files as links. */
export function attachmentsNode(message) {
  const list = message.attachments || [];
  if (!list.length || message.deleted) return null;
  return el("ul", { class: "attachments" }, ...list.map((a) => {
    const href = attachmentHref(a.url);
    if (INLINE.has(a.content_type) && a.thumbnail_url) {
      const img = el("img", {
        src: attachmentHref(a.thumbnail_url), alt: a.filename, loading: "lazy", class: "thumb",
        width: a.width ? String(Math.min(a.width, 320)) : null,
      });
      // A signed URL expires (15 minutes): on a failed load, ask for fresh URLs once.
      img.addEventListener("error", async () => {
        if (img.dataset.retried) return;
        img.dataset.retried = "1";
        try {
          const fresh = await api("GET", "messages", `/messages/attachments/${a.id}`);
          Object.assign(a, fresh);
          img.src = attachmentHref(fresh.thumbnail_url);
        } catch { /* gone, or no longer a member: leave the broken image */ }
      });
      return el("li", { class: "image" },
        el("button", { type: "button", class: "thumb-button", "aria-label": t("attach.open", { name: a.filename }), onclick: () => openImage(a) }, img));
    }
    return el("li", { class: "file" },
      el("a", { href, download: a.filename, rel: "noopener", text: a.filename, onclick: (event) => downloadFresh(event, a) }),
      el("span", { class: "size muted", text: ` ${formatSize(a.size)}` }));
  }));
}

/** An expired signed URL would answer 404: fetch fresh URLs first, then download. */
async function downloadFresh(event, attachment) {
  const exp = Number(new URL(attachmentHref(attachment.url)).searchParams.get("exp"));
  if (!exp || exp * 1000 > Date.now() + 5000) return;
  event.preventDefault();
  try {
    const fresh = await api("GET", "messages", `/messages/attachments/${attachment.id}`);
    Object.assign(attachment, fresh);
    event.target.href = attachmentHref(fresh.url);
    window.location.assign(event.target.href);
  } catch (error) {
    toast(error?.code ? errorText(error) : t("attach.gone"), "error");
  }
}

/** Show an image at full size; its URL is fetched afresh (signed URLs expire). */
async function openImage(attachment) {
  let fresh = attachment;
  try { fresh = await api("GET", "messages", `/messages/attachments/${attachment.id}`); } catch { /* use the one we have */ }
  const dialog = $("#image-dialog");
  $("#image-full").src = attachmentHref(fresh.url);
  $("#image-full").alt = fresh.filename;
  dialog.showModal();
}
