// Message search: a dialog ("/" outside a text field, or the Search button; Ctrl+K is the
// room switcher of keys.js), results grouped by room,
// and a click opens the room at the hit with its context loaded around it.

import { api } from "./api.js";
import { renderMessages } from "./chat.js";
import { $, clockTime, el, fullTime } from "./dom.js";
import { nameNode } from "./people.js";
import { bus, convoOf, roomTitle, state, storeMessage } from "./state.js";
import { errorText, t } from "./i18n.js";

const PAGE = 30;
const CONTEXT = 50;
const DEBOUNCE_MS = 250;

let timer = null;
let asked = 0; // the latest query sent; older answers arriving late are dropped
let nextCursor = null;
let hits = [];

export function initSearch() {
  const dialog = $("#search-dialog");
  const input = $("#search-input");
  $("#search-button").addEventListener("click", openSearch);
  document.addEventListener("keydown", (event) => {
    const inField = event.target.closest?.("input, textarea, select, [contenteditable]");
    if (event.key === "/" && !inField && !$("#app-view").hidden && !dialog.open && !document.querySelector("dialog[open]")) {
      event.preventDefault();
      openSearch();
    }
  });
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => runSearch(false), DEBOUNCE_MS);
  });
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    runSearch(false);
  });
  $("#search-more").addEventListener("click", () => runSearch(true));
}

function openSearch() {
  const dialog = $("#search-dialog");
  if (!dialog.open) dialog.showModal();
  $("#search-input").select();
}

async function runSearch(more) {
  const q = $("#search-input").value.trim();
  const ticket = ++asked;
  if (!q) {
    hits = [];
    nextCursor = null;
    render("");
    return;
  }
  const query = { q, limit: PAGE };
  if (more && nextCursor) query.cursor = nextCursor;
  setState(t("search.searching"));
  try {
    const page = await api("GET", "messages", "/messages/search", { query });
    if (ticket !== asked) return;
    hits = more ? [...hits, ...page.items] : page.items;
    nextCursor = page.next_cursor;
    // Announced (aria-live): how many were found, or that nothing was.
    const found = nextCursor ? "search.found_more" : "search.found";
    render(hits.length ? t(found, { count: hits.length }) : t("search.none"));
  } catch (err) {
    if (ticket !== asked) return;
    setState(err.status === 429 ? t("search.too_fast") : t("search.failed", { reason: errorText(err) }));
  }
}

function setState(text) { $("#search-state").textContent = text; }

function render(status) {
  setState(status);
  // Grouped by room, rooms in the order of their best hit.
  const groups = new Map();
  for (const hit of hits) {
    const roomId = hit.message.room_id;
    if (!groups.has(roomId)) groups.set(roomId, []);
    groups.get(roomId).push(hit);
  }
  const sections = [...groups].map(([roomId, roomHits]) => {
    const room = state.rooms.get(roomId);
    return el("section", { class: "search-group" },
      el("h3", { text: room ? roomTitle(room) : t("search.room") }),
      el("ul", {}, ...roomHits.map((hit) => el("li", {}, hitNode(hit)))));
  });
  $("#search-results").replaceChildren(...sections);
  $("#search-more").hidden = !nextCursor;
}

function hitNode(hit) {
  const m = hit.message;
  return el("button", { type: "button", class: "search-hit", dataset: { roomId: m.room_id, seq: m.seq }, onclick: () => openHit(m) },
    el("span", { class: "search-meta" },
      m.sender_id === state.me.id ? el("span", { class: "name", text: t("common.you") }) : nameNode(m.sender_id),
      el("time", { datetime: m.created_at, title: fullTime(m.created_at), text: clockTime(m.created_at) })),
    el("span", { class: "snippet" }, ...highlightNodes(hit.highlight)));
}

const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": "\"", "&#x27;": "'", "&#39;": "'" };

/**
 * The server's highlight (escaped text with <mark> around the matches) as DOM nodes, built
 * without innerHTML: the only markup honoured is <mark>; every other piece becomes text.
 */
export function highlightNodes(highlight) {
  const nodes = [];
  const parts = String(highlight).split(/(<mark>|<\/mark>)/);
  let marked = false;
  for (const part of parts) {
    if (part === "<mark>") { marked = true; continue; }
    if (part === "</mark>") { marked = false; continue; }
    if (!part) continue;
    const text = part.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (entity) => ENTITIES[entity]);
    nodes.push(marked ? el("mark", { text }) : document.createTextNode(text));
  }
  return nodes;
}

/** Open the hit's room with the messages around it loaded, scrolled to it and marked. */
async function openHit(message) {
  $("#search-dialog").close();
  const roomId = message.room_id;
  try {
    await loadAround(roomId, message.seq);
  } catch (err) {
    setState(t("search.open_failed", { reason: errorText(err) }));
    $("#search-dialog").showModal();
    return;
  }
  convoOf(roomId).hitSeq = message.seq;
  bus.dispatchEvent(new CustomEvent("open-room", { detail: roomId }));
  renderMessages();
  const node = $(`#message-list li[data-seq="${message.seq}"]`);
  node?.scrollIntoView({ block: "center" });
  node?.focus({ preventScroll: true });
}

/**
 * Make sure the conversation holds ``seq``: the page around it, then what lies between that
 * page and what was already loaded (or the newest message), so it stays one unbroken range.
 */
async function loadAround(roomId, seq) {
  const convo = convoOf(roomId);
  if (convo.loaded && convo.bySeq.has(seq)) return;
  const wasLoaded = convo.loaded;
  const loadedFrom = convo.oldest;
  const page = await api("GET", "messages", "/messages", { query: { room_id: roomId, around_seq: seq, limit: CONTEXT } });
  convo.loaded = true;
  let after = seq;
  for (const m of page.items) { storeMessage(m); after = Math.max(after, m.seq); }
  let cursor = page.next_cursor;
  while (cursor && !(wasLoaded && after >= loadedFrom - 1)) {
    const query = { room_id: roomId, after_seq: after, limit: 200 };
    if (wasLoaded) query.before_seq = loadedFrom;
    const more = await api("GET", "messages", "/messages", { query });
    for (const m of more.items) { storeMessage(m); after = Math.max(after, m.seq); }
    cursor = more.next_cursor;
  }
  convo.hasMore = (convo.oldest ?? 1) > 1;
}
