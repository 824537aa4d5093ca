// Languages of the web client: message catalogues (locales/<code>.json), plurals, dates and
// times in the viewer's time zone, locale-aware sorting, and translated server error codes.
//
// The catalogue is loaded before any module that imports this one runs (top-level await),
// so t() is synchronous everywhere. Adding a language is adding one file: locales/<code>.json
// (the gateway lists the files in locales/index.json).

const STORE_KEY = "chat.lang";
const FALLBACK = "en";

let catalogue = {};
let english = {};
let current = FALLBACK;
let languages = [{ code: "en", name: "English" }];

async function fetchJson(path) {
  const answer = await fetch(new URL(path, import.meta.url), { cache: "no-cache" });
  if (!answer.ok) throw new Error(`${path}: ${answer.status}`);
  return answer.json();
}

/** The language to show: the remembered choice, else the browser's first one we have. */
export function pickLanguage(available, remembered, wanted) {
  const codes = available.map((l) => l.code);
  if (remembered && codes.includes(remembered)) return remembered;
  for (const tag of wanted) {
    const lower = String(tag).toLowerCase();
    if (codes.includes(lower)) return lower;
    const base = lower.split("-")[0];
    if (codes.includes(base)) return base;
  }
  return FALLBACK;
}

async function load() {
  try { languages = (await fetchJson("locales/index.json")).languages; } catch { /* English only */ }
  let remembered = null;
  try { remembered = localStorage.getItem(STORE_KEY); } catch { /* storage blocked */ }
  current = pickLanguage(languages, remembered, navigator.languages?.length ? navigator.languages : [navigator.language]);
  try { english = await fetchJson("locales/en.json"); } catch { english = {}; }
  try { catalogue = current === FALLBACK ? english : await fetchJson(`locales/${current}.json`); } catch {
    current = FALLBACK;
    catalogue = english;
  }
  document.documentElement.lang = current;
}

await load();

/** The language in use ("en", "ko"). */
export const lang = () => current;
/** The languages there are catalogues for: [{code, name}]. */
export const availableLanguages = () => languages;

/** Remember a language and show the page in it. */
export function setLanguage(code) {
  try { localStorage.setItem(STORE_KEY, code); } catch { /* storage blocked: this visit only */ }
  window.location.reload();
}

const pluralRules = new Map();
function pluralOf(count) {
  if (!pluralRules.has(current)) pluralRules.set(current, new Intl.PluralRules(current));
  return pluralRules.get(current).select(count);
}

function interpolate(text, vars) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in vars)) return whole;
    const value = vars[name];
    return typeof value === "number" ? new Intl.NumberFormat(current).format(value) : String(value);
  });
}

/** Whether a key is in the current language's catalogue or in English. */
export const has = (key) => key in catalogue || key in english;

/**
 * The text for a key with {name} placeholders filled from vars. A value may be an object of
 * plural forms ({one, other, ...}) chosen by Intl.PluralRules for vars.count. A key missing
 * from the language falls back to English, then to the key itself.
 */
export function t(key, vars = {}) {
  let value = key in catalogue ? catalogue[key] : english[key];
  if (value === undefined) return key;
  if (typeof value === "object") {
    const form = pluralOf(Number(vars.count ?? 0));
    const english_forms = english[key] && typeof english[key] === "object" ? english[key] : {};
    value = value[form] ?? value.other ?? english_forms.other ?? key;
  }
  return interpolate(value, vars);
}

/**
 * The pieces of a sentence whose placeholders may be DOM nodes (a person's live name): the
 * translated text split around them, for el(tag, {}, ...tParts(key, {name: node})).
 */
export function tParts(key, vars = {}) {
  const nodes = {};
  const plain = {};
  for (const [name, value] of Object.entries(vars)) {
    if (value instanceof Node) nodes[name] = value; else plain[name] = value;
  }
  const text = t(key, plain);
  return text.split(/(\{\w+\})/).filter(Boolean).map((part) => {
    const name = part.match(/^\{(\w+)\}$/)?.[1];
    return name && name in nodes ? nodes[name] : part;
  });
}

// The codes that mean "something you entered is not valid": the field, if named, says which.
const INVALID = new Set(["invalid_input", "invalid_field", "missing_field", "bad_request"]);
// An answer with an unlisted code still says what kind of refusal it was by its status.
const BY_STATUS = {
  400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict",
  413: "too_large", 415: "unsupported_media_type", 422: "invalid_input", 429: "rate_limited",
};

/**
 * A refusal in words, in the viewer's language: {status, code, field, retryAfter} (an
 * ApiError, a websocket error frame, or a plain Error of the client's own). The sentence for
 * its code, else for its status; never the server's own text. A code missing from the
 * language is shown in English; an unknown one gets the generic sentence.
 */
export function errorText(error) {
  const code = error?.code ?? "";
  const status = Number(error?.status ?? 0);
  if (code === "rate_limited" || status === 429) {
    const seconds = Number(error?.retryAfter);
    return seconds > 0 ? t("error.rate_limited_in", { count: seconds }) : t("error.rate_limited");
  }
  if (INVALID.has(code) || (status === 422 && !has(`error.${code}`))) {
    // A refused field says which: "Enter a valid email address." beats "not valid".
    const name = String(error?.field || "").split(".").at(-1);
    if (name && has(`error.field.${name}`)) return t(`error.field.${name}`);
    return t(has(`error.${code}`) ? `error.${code}` : "error.invalid_input");
  }
  if (code && has(`error.${code}`)) return t(`error.${code}`);
  if (BY_STATUS[status]) return t(`error.${BY_STATUS[status]}`);
  if (status >= 500) return t("error.unavailable");
  // The client's own sentences (new Error(t(...))) carry neither code nor status; a failed
  // fetch (a TypeError in the browser's words) means the server could not be reached.
  if (error?.constructor === Error && !code && !status && error.message) return error.message;
  if (error instanceof TypeError) return t("error.network");
  return t("error.unknown");
}

// ---- dates and times, in the viewer's time zone ------------------------------------------

const formats = new Map();
function fmt(name, options) {
  const key = `${current}|${name}`;
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat(current, options));
  return formats.get(key);
}
const startOfDay = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate());

/** Clock time ("3:05 PM", "오후 3:05"). */
export const clockTime = (iso) => fmt("time", { hour: "numeric", minute: "2-digit" }).format(new Date(iso));
/** A full date and time, for tooltips. */
export const fullTime = (iso) => fmt("full", { dateStyle: "full", timeStyle: "medium" }).format(new Date(iso));
/** A date and time, shorter ("Dec 5, 2026, 3:05 PM"). */
export const dateTime = (iso) => fmt("medium", { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));

/** Whole days from `now` to `iso` in local time: -1 is yesterday. */
export function daysFrom(iso, now = new Date()) {
  return Math.round((startOfDay(new Date(iso)) - startOfDay(now)) / 86_400_000);
}

/** "Today", "Yesterday" ("오늘", "어제") or a local date, for day separators. */
export function dayLabel(iso, now = new Date()) {
  const days = daysFrom(iso, now);
  if (days === 0 || days === -1) {
    const text = new Intl.RelativeTimeFormat(current, { numeric: "auto" }).format(days, "day");
    return text.charAt(0).toLocaleUpperCase(current) + text.slice(1);
  }
  return fmt("day", { weekday: "long", day: "numeric", month: "long" }).format(new Date(iso));
}

/** Local time today, "Yesterday", else a short date: the room list's last activity. */
export function shortWhen(iso, now = new Date()) {
  const days = daysFrom(iso, now);
  if (days === 0) return clockTime(iso);
  if (days === -1) return dayLabel(iso, now);
  return fmt("short", { day: "numeric", month: "short" }).format(new Date(iso));
}

/** "5 minutes ago", "3분 전": a time relative to now, in the largest fitting unit. */
export function relativeTime(iso, now = new Date()) {
  const seconds = (new Date(iso) - now) / 1000;
  const rtf = new Intl.RelativeTimeFormat(current, { numeric: "auto" });
  const units = [["year", 31_536_000], ["month", 2_592_000], ["day", 86_400], ["hour", 3600], ["minute", 60]];
  for (const [unit, size] of units) if (Math.abs(seconds) >= size) return rtf.format(Math.round(seconds / size), unit);
  return rtf.format(Math.round(seconds), "second");
}

/** A list in words ("A, B and C", "A, B 및 C"). */
export const listOf = (items) => new Intl.ListFormat(current, { style: "long", type: "conjunction" }).format(items);

// ---- sorting ---------------------------------------------------------------------------------

let collator = null;
/** Compare two strings as the language sorts them (Hangul in 가나다 order, case folded). */
export function compareText(a, b) {
  collator ??= new Intl.Collator(current, { sensitivity: "base", numeric: true });
  return collator.compare(a ?? "", b ?? "");
}
/** A copy of items sorted by the text keyOf gives (people by name, rooms by title). */
export const sortByText = (items, keyOf) => [...items].sort((a, b) => compareText(keyOf(a), keyOf(b)));

// ---- the page's static text ----

// A label that wraps its input keeps the input: only its own first words are replaced.
function setText(node, text) {
  if (!node.children.length) { node.textContent = text; return; }
  const words = [...node.childNodes].find((c) => c.nodeType === Node.TEXT_NODE && c.textContent.trim());
  if (words) words.textContent = words.textContent.replace(words.textContent.trim(), text);
  else node.prepend(document.createTextNode(`${text} `));
}

// The page's shell outside the feature dialogs, by selector (markup other modules own).
const SHELL = {
  "#boot p": "shell.loading",
  "#auth-title": "auth.title",
  "#auth-sub": "auth.subtitle",
  "#tab-login": "auth.sign_in",
  "#tab-register": "auth.create_account",
  "#login-form label:nth-of-type(1)": "auth.email",
  "#login-form label:nth-of-type(2)": "auth.password",
  "#login-form button[type=submit]": "auth.sign_in",
  "#register-form label:nth-of-type(1)": "auth.display_name",
  "#register-form label:nth-of-type(2)": "auth.email",
  "#register-form label:nth-of-type(3)": "auth.password",
  "#pw-hint": "auth.password_hint",
  "#register-form button[type=submit]": "auth.create_account",
  "#new-room-button": "shell.new_room",
  "#new-chat-button": "shell.find_people",
  "#browse-rooms-button": "shell.browse_rooms",
  "#admin-button": "shell.admin",
  "#rooms-empty": "shell.no_rooms",
  "#chat-empty p": "shell.pick_room",
  "#members-button .button-label": "shell.members",
  "#members-panel h2": "shell.members",
  "#leave-button": "shell.leave_room",
  "label[for=invite-input]": "shell.add_people",
  "#conn-banner": "shell.reconnecting",
  "label[for=composer-input]": "shell.message",
  "#composer button[type=submit]": "shell.send",
  "#room-dialog-title": "shell.new_room",
  "#room-form label:nth-of-type(1)": "shell.room_name",
  "#room-form label.check": "shell.room_public",
  "#room-form button[type=submit]": "shell.create",
  "#room-form [data-close]": "common.cancel",
  "#people-title": "shell.find_people",
  "#people-form label": "shell.search_people",
  "#people-form [data-close]": "common.close",
  "#edit-title": "shell.edit_message",
  "label[for=edit-input]": "shell.message_text",
  "#edit-form [data-close]": "common.cancel",
  "#edit-form button[type=submit]": "common.save",
};
const SHELL_ATTRS = {
  "#auth-view .tabs": { "aria-label": "auth.tabs" },
  ".sidebar": { "aria-label": "shell.your_rooms" },
  "#profile-button": { "aria-label": "profile.title" },
  "#logout-button": { "aria-label": "shell.sign_out", title: "shell.sign_out" },
  ".room-nav": { "aria-label": "shell.rooms" },
  "#chat": { "aria-label": "shell.conversation" },
  "#back-button": { "aria-label": "shell.back" },
  "#members-button": { "aria-label": "shell.members" },
  "#members-panel": { "aria-label": "shell.members" },
  "#members-close": { "aria-label": "shell.close_members" },
  "#invite-input": { placeholder: "shell.name_or_email" },
  "#invite-results": { "aria-label": "shell.people_to_add" },
  "#member-list": { "aria-label": "shell.room_members" },
  "#scroller": { "aria-label": "shell.messages" },
  "#attach-tray": { "aria-label": "attach.tray" },
  "#attach-button": { "aria-label": "attach.button", title: "attach.button" },
  "#composer-input": { placeholder: "shell.write_message" },
  "#composer button[type=submit]": { "aria-label": "shell.send_message" },
  "#room-form input[name=title]": { placeholder: "shell.room_name_example" },
  "#people-results": { "aria-label": "shell.search_results" },
  "#image-dialog": { "aria-label": "attach.image" },
};

function applyShell() {
  for (const [selector, key] of Object.entries(SHELL)) {
    for (const node of document.querySelectorAll(selector)) setText(node, t(key));
  }
  for (const [selector, attrs] of Object.entries(SHELL_ATTRS)) {
    for (const node of document.querySelectorAll(selector)) {
      for (const [attr, key] of Object.entries(attrs)) node.setAttribute(attr, t(key));
    }
  }
}

/**
 * Translate the markup: data-i18n="key" sets the text, data-i18n-attr="attr:key;attr:key"
 * sets attributes (aria-label, placeholder, title).
 */
export function applyTranslations(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) setText(node, t(node.dataset.i18n));
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) node.setAttribute(attr, t(key));
    }
  }
}

function applyAll() {
  document.title = t("app.title");
  if (current !== FALLBACK) applyShell();
  applyTranslations();
}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", applyAll);
else applyAll();
