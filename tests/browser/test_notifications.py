"""Notifications in the browser: the settings panel, the Notification API while the tab is
hidden, and the service worker showing a Web Push message.

Headless Chromium has no push service of its own (PushManager.subscribe fails with
"Registration failed - permission denied": it can only register with Google's, which this
closed network cannot reach), and a browser takes push messages only from the service it
subscribed with. So the push path is tested in two halves that meet in the middle: the server
pushes to a loopback push service (which checks VAPID and decrypts, as a browser's would),
and the decrypted message is handed to the page's service worker through the DevTools
protocol (ServiceWorker.deliverPushMessage), which is how Chromium itself delivers one.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.push import PushService
from chat_testkit.users import TestUser
from tests.browser.ui import Person, register

NewContext = Callable[[], Awaitable[BrowserContext]]

# The notifications the page asked the browser to show, and those the browser lists as on
# screen: headless Chromium sometimes drops one it was asked to show (showNotification resolved,
# getNotifications lists nothing), and what the browser does with a notification is not the
# client's to test.
RECORD_SHOWN = """(() => {
  const show = ServiceWorkerRegistration.prototype.showNotification;
  window.__shown = [];
  ServiceWorkerRegistration.prototype.showNotification = function (title, options) {
    window.__shown.push({ title, body: options?.body, room_id: options?.data?.room_id });
    return show.call(this, title, options);
  };
})();"""

NOTIFICATIONS = """async () => {
  const registration = await navigator.serviceWorker.ready;
  const listed = (await registration.getNotifications()).map(
    (n) => ({ title: n.title, body: n.body, room_id: n.data && n.data.room_id }));
  return [...(window.__shown || []), ...listed];
}"""

HIDE = """() => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


@pytest.fixture
async def new_context(browser: Browser, web_url: str) -> AsyncIterator[NewContext]:
    """``await new_context()``: a browser context (one person) allowed to show notifications."""
    contexts: list[BrowserContext] = []

    async def make() -> BrowserContext:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(10_000)
        await context.grant_permissions(["notifications"], origin=web_url.rstrip("/"))
        await context.add_init_script(RECORD_SHOWN)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        await context.close()


async def signed_in(http: httpx.AsyncClient, auth_url: str, person: Person) -> TestUser:
    """The person of the page, logged in over HTTP too (for the other side's calls)."""
    r = await http.post(
        f"{auth_url}/auth/login", json={"email": person.email, "password": person.password}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    return TestUser(
        uuid.UUID(body["user"]["id"]),
        person.email,
        person.password,
        person.name,
        body["access_token"],
        body["refresh_token"],
    )


async def turn_on(page: Page) -> None:
    """Turn notifications on in the settings panel (permission is already granted)."""
    await page.get_by_role("button", name="Notifications").click()
    dialog = page.locator("#notify-dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("Notify me on this device").check()
    await expect(page.locator("#toast")).to_contain_text("Notifications are on")
    await dialog.get_by_role("button", name="Close").click()


async def direct_message(
    http: httpx.AsyncClient,
    rooms_url: str,
    messages_url: str,
    sender: TestUser,
    to: TestUser,
    body: str,
) -> dict[str, Any]:
    r = await http.post(
        f"{rooms_url}/rooms/direct", json={"user_id": str(to.id)}, headers=sender.headers
    )
    assert r.status_code in (200, 201), r.text
    r = await http.post(
        f"{messages_url}/messages",
        json={"room_id": r.json()["id"], "body": body, "client_msg_id": uuid.uuid4().hex},
        headers=sender.headers,
    )
    assert r.status_code == 201, r.text
    message: dict[str, Any] = r.json()
    return message


async def live_message(
    page: Page,
    http: httpx.AsyncClient,
    rooms_url: str,
    messages_url: str,
    sender: TestUser,
    to: TestUser,
    body: str,
) -> dict[str, Any]:
    """A direct message that reached the open page as a live frame. The room list shows the
    first one from the read that fills a new room in, so its showing says nothing of the frame
    (which could then come after the tab is hidden, and be notified): messages go until one
    moves the preview of the room already listed, which only a live frame does."""
    for attempt in range(10):
        message = await direct_message(
            http, rooms_url, messages_url, sender, to, f"{body} {attempt}"
        )
        try:
            await expect(page.locator("#room-list")).to_contain_text(
                f"{body} {attempt}", timeout=2000
            )
        except AssertionError:
            continue
        if attempt > 0:
            return message  # only a live frame moves the preview of a room already listed
    raise AssertionError(f"no live message reached the page: {body}")


async def shown(page: Page, text: str) -> list[dict[str, Any]]:
    """The notifications on screen whose body has ``text`` (waits up to 10 s for one)."""
    for _ in range(100):
        found = [n for n in await page.evaluate(NOTIFICATIONS) if text in n["body"]]
        if found:
            return found
        await asyncio.sleep(0.1)
    return []


async def test_settings_panel_saves_level_and_room_mute(
    new_context: NewContext,
    web_url: str,
    http: httpx.AsyncClient,
    auth_service: ServiceProcess,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
    make_user: MakeUser,
) -> None:
    """The panel turns the device on (asking nothing more once allowed), and saves the level
    and a muted room where the server keeps them."""
    page = await (await new_context()).new_page()
    bob = await register(page, web_url, "Bob")
    bob_http = await signed_in(http, auth_service.url, bob)
    alice = await make_user(display_name="Alice")
    message = await direct_message(
        http, room_service.url, message_service.url, alice, bob_http, "hello"
    )
    await expect(page.locator("#room-list")).to_contain_text("Alice")
    await turn_on(page)
    await page.get_by_role("button", name="Notifications").click()
    dialog = page.locator("#notify-dialog")
    await dialog.get_by_label("Notify me about").select_option("all")
    await dialog.get_by_label("Mute Alice").check()
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden()
    r = await http.get(
        f"{message_service.url}/messages/notifications/settings", headers=bob_http.headers
    )
    assert r.json() == {"level": "all", "rooms": {message["room_id"]: "none"}}


async def test_hidden_tab_shows_a_notification(
    new_context: NewContext,
    web_url: str,
    http: httpx.AsyncClient,
    auth_service: ServiceProcess,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
    make_user: MakeUser,
) -> None:
    """With the tab open but hidden, a direct message shows a notification with its text and
    room; a message while the tab is visible shows none."""
    page = await (await new_context()).new_page()
    bob = await register(page, web_url, "Bob")
    bob_http = await signed_in(http, auth_service.url, bob)
    alice = await make_user(display_name="Alice")
    await turn_on(page)
    first = await live_message(
        page, http, room_service.url, message_service.url, alice, bob_http, "seen in the open tab"
    )
    await page.evaluate(HIDE)
    await direct_message(
        http, room_service.url, message_service.url, alice, bob_http, "안녕, are you there?"
    )
    found = await shown(page, "안녕, are you there?")
    assert found, "no notification shown"
    assert found[0]["room_id"] == first["room_id"]
    assert not [n for n in await page.evaluate(NOTIFICATIONS) if "open tab" in n["body"]]


async def test_service_worker_shows_a_pushed_message(
    new_context: NewContext,
    web_url: str,
    http: httpx.AsyncClient,
    auth_service: ServiceProcess,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
    make_user: MakeUser,
) -> None:
    """A message to a user with no open tab is pushed (VAPID-signed, encrypted) and, given to
    their service worker, shows as a notification naming the sender, with the preview and
    the room."""
    context = await new_context()
    page = await context.new_page()
    bob = await register(page, web_url, "Bob")
    bob_http = await signed_in(http, auth_service.url, bob)
    await turn_on(page)
    # Bob leaves: no connection, so the server pushes instead.
    await page.goto(web_url + "config.json")
    key = (await http.get(f"{message_service.url}/messages/notifications/vapid")).json()
    service = await PushService.start(key["public_key"])
    try:
        endpoint, subscription = service.subscribe()
        r = await http.post(
            f"{message_service.url}/messages/notifications/push",
            json=subscription,
            headers=bob_http.headers,
        )
        assert r.status_code == 201, r.text
        alice = await make_user(display_name="Alice 앨리스")
        message = await direct_message(
            http, room_service.url, message_service.url, alice, bob_http, "pushed to you"
        )
        for _ in range(100):
            if endpoint.delivered:
                break
            await asyncio.sleep(0.1)
        assert service.refused == []
        (payload,) = endpoint.delivered
        cdp = await context.new_cdp_session(page)
        registrations: list[dict[str, Any]] = []
        cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda event: registrations.extend(event["registrations"]),
        )
        await cdp.send("ServiceWorker.enable")
        for _ in range(50):
            if registrations:
                break
            await asyncio.sleep(0.1)
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": web_url,
                "registrationId": registrations[0]["registrationId"],
                "data": json.dumps(payload),
            },
        )
        (notification,) = await shown(page, "pushed to you")
        assert notification["title"] == "Alice 앨리스"
        assert notification["room_id"] == message["room_id"]
    finally:
        await service.close()
