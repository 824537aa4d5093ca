// HTTP calls to the services and the session's tokens.
//
// The refresh token lives in localStorage so a reload, a new tab or a browser restart stays
// signed in, as people expect of a chat app. The access token lives only in memory. Because
// refresh tokens rotate and a re-used one revokes the whole family, tabs refresh one at a
// time under a Web Lock and always re-read the newest refresh token inside it. The page never
// puts user data into innerHTML and loads no third-party script, which is what keeps the
// stored token out of reach of injected code.

import { errorText, t } from "./i18n.js";

const REFRESH_KEY = "chat.refresh_token";
// Refresh this long before the access token expires, so calls never race the expiry.
const REFRESH_MARGIN_S = 60;

/** An error answer from a service (or no answer at all: status 0). */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

let config = null;

/** Load /config.json from the gateway once: where the HTTP services and the websocket are. */
export async function loadConfig() {
  if (config) return config;
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new ApiError(response.status, "config", t("error.config"));
  const raw = await response.json();
  // Behind one ingress the services may share the page's origin: "" or "/" means this origin.
  const http = (value) => new URL(value || "/", window.location.href).href.replace(/\/$/, "");
  const ws = new URL(raw.ws_url || "/ws", window.location.href);
  if (ws.protocol === "http:") ws.protocol = "ws:";
  if (ws.protocol === "https:") ws.protocol = "wss:";
  config = { auth: http(raw.auth_url), rooms: http(raw.rooms_url), messages: http(raw.messages_url), ws: ws.href };
  return config;
}

export const getConfig = () => config;

async function errorFrom(response) {
  let code = "http_" + response.status;
  let serverMessage = `${response.status} ${response.statusText}`.trim();
  let field = null;
  try {
    const body = await response.json();
    if (body?.error) {
      code = body.error.code || code;
      serverMessage = body.error.message || serverMessage;
      field = body.error.field || null;
    }
  } catch {
    // Not JSON (a proxy page, an empty body): keep the status line.
  }
  const retry = response.headers.get("Retry-After");
  const retryAfter = retry ? Number(retry) : null;
  // People read `message`; the service's own words stay on the error for debugging.
  const error = new ApiError(response.status, code, errorText({ status: response.status, code, field, retryAfter }), retryAfter);
  error.field = field;
  error.serverMessage = serverMessage;
  return error;
}

class Session extends EventTarget {
  constructor() {
    super();
    this.accessToken = null;
    this.expiresAt = 0;
    this.user = null;
    this.timer = null;
    this.inflight = null;
    // Another tab logging out ends this tab's session too.
    window.addEventListener("storage", (event) => {
      if (event.key === REFRESH_KEY && !event.newValue && this.accessToken) this.end("session.other_tab");
    });
  }

  get storedRefresh() { return localStorage.getItem(REFRESH_KEY); }

  /** Take a token pair from login or refresh. */
  adopt(pair) {
    this.accessToken = pair.access_token;
    this.expiresAt = Date.now() + pair.expires_in * 1000;
    if (pair.refresh_token) localStorage.setItem(REFRESH_KEY, pair.refresh_token);
    if (pair.user) this.user = pair.user;
    clearTimeout(this.timer);
    const wait = Math.max(5, pair.expires_in - REFRESH_MARGIN_S) * 1000;
    this.timer = setTimeout(() => this.refresh().catch(() => {}), wait);
    this.dispatchEvent(new CustomEvent("tokens", { detail: this.accessToken }));
  }

  /** Get a new pair with the stored refresh token; one refresh at a time across tabs. */
  refresh() {
    if (!this.inflight) {
      const run = () => this.refreshNow();
      const locked = navigator.locks ? navigator.locks.request("chat-refresh", run) : run();
      this.inflight = locked.finally(() => { this.inflight = null; });
    }
    return this.inflight;
  }

  async refreshNow() {
    const token = this.storedRefresh;
    if (!token) { this.end("session.log_in"); throw new ApiError(401, "no_session", t("error.no_session")); }
    let response;
    try {
      response = await fetch(`${config.auth}/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: token }),
      });
    } catch {
      throw new ApiError(0, "network", t("error.network"));
    }
    if (response.status === 401) {
      const error = await errorFrom(response);
      this.end("session.ended");
      throw error;
    }
    if (!response.ok) throw await errorFrom(response);
    this.adopt(await response.json());
  }

  /** A valid access token, refreshing first when it is about to expire. */
  async token() {
    if (!this.accessToken || Date.now() > this.expiresAt - 5000) await this.refresh();
    return this.accessToken;
  }

  /** Forget everything locally and tell the app (which shows the login screen); `reason` is
   * the catalogue key of what the login screen says. */
  end(reason) {
    clearTimeout(this.timer);
    const wasIn = Boolean(this.accessToken);
    this.accessToken = null;
    this.user = null;
    localStorage.removeItem(REFRESH_KEY);
    if (wasIn) this.dispatchEvent(new CustomEvent("ended", { detail: reason }));
  }
}

export const session = new Session();

/**
 * Call a service: api("GET", "rooms", "/rooms", {query: {...}}). Returns the parsed JSON
 * (null for 204); throws ApiError whose message is the translated sentence for its code. A
 * 401 refreshes the access token once and retries.
 */
export async function api(method, service, path, options = {}) {
  const { json, body, contentType, query, auth = true } = options;
  const url = new URL(config[service] + path);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const send = async () => {
    const headers = {};
    if (auth) headers.Authorization = `Bearer ${await session.token()}`;
    if (json !== undefined) headers["Content-Type"] = "application/json";
    else if (contentType) headers["Content-Type"] = contentType;
    try {
      return await fetch(url, { method, headers, body: json !== undefined ? JSON.stringify(json) : body });
    } catch {
      throw new ApiError(0, "network", t("error.network"));
    }
  };
  let response = await send();
  if (response.status === 401 && auth) {
    await session.refresh();
    response = await send();
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && auth) session.end("session.ended");
    throw error;
  }
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : null;
}

/** Log in and start the session. */
export async function login(email, password) {
  const pair = await api("POST", "auth", "/auth/login", { json: { email, password }, auth: false });
  session.adopt(pair);
  return pair.user;
}

export async function register(email, password, displayName) {
  await api("POST", "auth", "/auth/register", {
    json: { email, password, display_name: displayName },
    auth: false,
  });
  return login(email, password);
}

/** Resume from a stored refresh token after a reload; false if there is none or it is dead. */
export async function resumeSession() {
  if (!session.storedRefresh) return false;
  await session.refresh();
  if (!session.user) session.user = await api("GET", "auth", "/auth/me");
  return true;
}

/** Revoke the refresh token family on the server, then forget the session locally. */
export async function logout() {
  const token = session.storedRefresh;
  try {
    if (token) await api("POST", "auth", "/auth/logout", { json: { refresh_token: token }, auth: false });
  } finally {
    session.end("session.signed_out");
  }
}

/** Fetch every page of a paginated list. */
export async function listAll(service, path, query = {}) {
  const items = [];
  let cursor = null;
  do {
    const page = await api("GET", service, path, { query: { ...query, limit: 200, cursor } });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/** Where an avatar_url points, made absolute against auth-service when it is a path. */
export function avatarSrc(user) {
  if (!user?.avatar_url) return null;
  const url = new URL(user.avatar_url, config.auth + "/");
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
}
