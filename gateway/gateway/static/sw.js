// The web client's service worker: shows Web Push notifications and opens their room.
//
// A push message's data is the JSON message-service encrypted for this browser:
// {room_id, message_id, title, preview, sender_name, reason, ...}. Clicking the notification
// focuses an open tab of the app and tells it which room to show, or opens a new one on it.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { preview: event.data ? event.data.text() : "" };
  }
  event.waitUntil(show(data));
});

// The worker has no page to ask: it reads the catalogue of the browser's first language there
// is one for, as the page does before a choice is remembered (i18n.js).
async function newMessageTitle() {
  try {
    const base = new URL("locales/", self.registration.scope);
    const { languages } = await (await fetch(new URL("index.json", base))).json();
    const codes = languages.map((l) => l.code);
    const wanted = (navigator.languages?.length ? navigator.languages : [navigator.language]).map((tag) => String(tag).toLowerCase());
    const code = wanted.map((tag) => (codes.includes(tag) ? tag : tag.split("-")[0])).find((c) => codes.includes(c)) ?? "en";
    const catalogue = await (await fetch(new URL(`${code}.json`, base))).json();
    return catalogue["notify.new_message"];
  } catch {
    return null;
  }
}

async function show(data) {
  const title = data.title || data.sender_name || (await newMessageTitle()) || "New message";
  await self.registration.showNotification(title, {
    body: data.preview || "",
    tag: data.message_id || undefined,
    data: { room_id: data.room_id || null },
  });
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const roomId = event.notification.data?.room_id;
  event.waitUntil(openRoom(roomId));
});

async function openRoom(roomId) {
  const tabs = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const scope = new URL(self.registration.scope);
  for (const tab of tabs) {
    if (new URL(tab.url).origin === scope.origin) {
      if (roomId) tab.postMessage({ type: "open-room", room_id: roomId });
      return tab.focus();
    }
  }
  const url = new URL(scope.href);
  if (roomId) url.hash = `room=${roomId}`;
  return self.clients.openWindow(url.href);
}
