// Small DOM helpers. Every piece of user text goes through textContent, never innerHTML.

/** Create an element: el("li", {class: "x", "aria-label": "y"}, child, "text", ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    // Through the CSSOM: the Content-Security-Policy refuses style attributes (no 'unsafe-inline').
    else if (key === "style") node.style.cssText = value;
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** A UUID; crypto.randomUUID exists only in secure contexts, so fall back on getRandomValues. */
export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
const shortDayFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** Clock time in the viewer's time zone ("14:05"). */
export const clockTime = (iso) => timeFmt.format(new Date(iso));
/** A full local date and time, for tooltips. */
export const fullTime = (iso) => fullFmt.format(new Date(iso));

/** "Today", "Yesterday" or a local date, for day separators in the chat. */
export function dayLabel(iso) {
  const d = new Date(iso);
  const now = new Date();
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(d, now)) return "Today";
  if (sameDay(d, yesterday)) return "Yesterday";
  return dayFmt.format(d);
}

/** Local time today, else a short date: what the room list shows for last activity. */
export function shortWhen(iso) {
  const d = new Date(iso);
  return sameDay(d, new Date()) ? timeFmt.format(d) : shortDayFmt.format(d);
}

export const sameLocalDay = (a, b) => sameDay(new Date(a), new Date(b));

/** Up to two initials of a display name, for avatar placeholders. */
export function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/).filter(Boolean);
  const letters = parts.slice(0, 2).map((p) => [...p][0].toUpperCase());
  return letters.join("") || "?";
}

/** A stable hue for a user id, so each person keeps one colour. */
export function hueOf(id) {
  let h = 0;
  for (const ch of String(id)) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return h;
}

let toastTimer = null;
/** Show a short message in the toast area (announced politely to screen readers). */
export function toast(text, kind = "info") {
  const box = $("#toast");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 6000 : 3500);
}

/** Show an error's text in a form's alert line (or clear it with null). */
export function showError(node, error) {
  if (!node) return;
  node.textContent = error ? (error.message || String(error)) : "";
  node.hidden = !error;
}
