"""The web client against the real running system, in headless Chromium.

Each test registers its people through the page itself, so the whole path is exercised:
static files and /config.json from the gateway, the HTTP services cross-origin, and the
websocket. Screenshots of the main screens land in .artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, Route, expect

from chat_testkit.processes import ServiceProcess
from tests.browser.ui import (
    create_room,
    invite,
    message_in,
    open_members,
    open_room,
    png,
    register,
    send,
)

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

OWN = re.compile(r"\bown\b")
PENDING = re.compile(r"\bpending\b")
ONLINE = re.compile(r"\bonline\b")

NewPage = Callable[..., Awaitable[Page]]

# Chromium logs a blocked load to the console itself; this also reports what the page's own
# code was refused (an inline style, an eval), which the console may word differently.
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`);
});
"""


@pytest.fixture
async def new_page(browser: Browser) -> AsyncIterator[NewPage]:
    """``await new_page()``: a page in a fresh browser context (its own storage: one person).
    Every page runs under the gateway's Content-Security-Policy; a violation fails the test."""
    contexts: list[BrowserContext] = []
    violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    async def make(viewport: dict[str, int] = DESKTOP, *, bypass_csp: bool = False) -> Page:
        context = await browser.new_context(viewport=viewport, bypass_csp=bypass_csp)
        context.set_default_timeout(10_000)
        await context.add_init_script(CSP_REPORTER)
        contexts.append(context)
        page = await context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.on("console", on_console)
        return page

    yield make
    for context in contexts:
        await context.close()
    assert not violations, violations


async def seen_within(page: Page, text: str, seconds: float) -> float:
    """Wait for a message with `text` to show on `page`; returns how long it took."""
    started = time.monotonic()
    await expect(message_in(page, text)).to_be_visible(timeout=seconds * 1000)
    return time.monotonic() - started


async def test_two_people_chat_live(new_page: NewPage, web_url: str, screenshots: Path) -> None:
    """Two people in a room see each other's messages, typing, presence, edits and deletes."""
    page_a = await new_page()
    await page_a.goto(web_url)
    await expect(page_a.get_by_role("heading", name="Welcome to Chat")).to_be_visible()
    await page_a.screenshot(path=screenshots / "login.png")
    ana = await register(page_a, web_url, "Ana")
    bo = await register(await new_page(), web_url, "Bo")

    await create_room(ana, "Weekend plans")
    await invite(ana, bo)
    # The room reaches Bo's open page live (room_added), without a reload.
    await expect(bo.page.locator("#room-list")).to_contain_text("Weekend plans", timeout=3000)
    await open_room(bo, "Weekend plans")

    await send(ana, "Hello Bo, are you in for Saturday?")
    assert await seen_within(bo.page, "Hello Bo, are you in for Saturday?", 1.0) < 1.0
    await send(bo, "Count me in!")
    assert await seen_within(ana.page, "Count me in!", 1.0) < 1.0
    await expect(message_in(ana.page, "Hello Bo")).to_have_class(OWN)
    await expect(message_in(ana.page, "Count me in!")).not_to_have_class(OWN)

    await bo.page.get_by_label("Message", exact=True).press_sequentially("Let me check")
    await expect(ana.page.locator("#typing")).to_have_text(f"{bo.name} is typing…")
    await expect(ana.page.locator("#typing")).to_have_text("", timeout=6000)

    await open_members(ana)
    member_bo = ana.page.locator("#member-list li.person", has_text=bo.name)
    await expect(member_bo).to_have_class(ONLINE)
    await ana.page.screenshot(path=screenshots / "chat.png")

    mine = message_in(ana.page, "Hello Bo")
    await mine.hover()
    await mine.get_by_role("button", name="Edit message").click()
    await ana.page.locator("#edit-input").fill("Hello Bo, are you in for Sunday?")
    await ana.page.locator("#edit-dialog").get_by_role("button", name="Save").click()
    await expect(message_in(bo.page, "Sunday?")).to_contain_text("edited")
    edited = message_in(ana.page, "Sunday?")
    await edited.hover()
    await edited.get_by_role("button", name="Delete message").click()
    await expect(message_in(bo.page, "This message was deleted.")).to_be_visible()
    await expect(message_in(bo.page, "Sunday?")).to_have_count(0)

    await bo.page.close()
    await expect(member_bo).not_to_have_class(ONLINE, timeout=5000)
    await ana.page.locator("#members-close").click()
    await ana.page.screenshot(path=screenshots / "rooms.png")


async def test_reload_keeps_session_and_history(new_page: NewPage, web_url: str) -> None:
    """A reload stays signed in and shows the open room's history; signing out ends it."""
    ana = await register(await new_page(), web_url, "Ana")
    await create_room(ana, "Notes to self")
    for n in range(1, 4):
        await send(ana, f"note {n}")
    await expect(message_in(ana.page, "note 3")).not_to_have_class(PENDING)

    await ana.page.reload()
    await expect(ana.page.locator("#app-view")).to_be_visible()
    await expect(ana.page.locator("#chat-title")).to_have_text("Notes to self")
    for n in range(1, 4):
        await expect(message_in(ana.page, f"note {n}")).to_be_visible()
    assert await ana.page.evaluate("localStorage.getItem('chat.refresh_token')")

    await ana.page.get_by_role("button", name="Sign out").click()
    await expect(ana.page.locator("#auth-view")).to_be_visible()
    assert await ana.page.evaluate("localStorage.getItem('chat.refresh_token')") is None
    await ana.page.reload()
    await expect(ana.page.locator("#auth-view")).to_be_visible()


async def test_history_loads_when_scrolling_up(
    new_page: NewPage,
    web_url: str,
    auth_service: ServiceProcess,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
) -> None:
    """Older messages load as the reader scrolls to the top, in order and without gaps."""
    ana = await register(await new_page(), web_url, "Ana")
    await create_room(ana, "Long thread")
    async with httpx.AsyncClient(timeout=10) as http:
        login = await http.post(
            f"{auth_service.url}/auth/login", json={"email": ana.email, "password": ana.password}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        room = (await http.get(f"{room_service.url}/rooms", headers=headers)).json()["items"][0]
        for n in range(1, 121):
            body = {"room_id": room["id"], "body": f"line {n:03}", "client_msg_id": f"c{n}"}
            sent = await http.post(f"{message_service.url}/messages", headers=headers, json=body)
            if sent.status_code == 429:
                # 120 sends outrun the per-user burst (100) on a fast machine: wait as told.
                await asyncio.sleep(float(sent.headers["retry-after"]))
                sent = await http.post(
                    f"{message_service.url}/messages", headers=headers, json=body
                )
            assert sent.status_code == 201, sent.text
    await ana.page.reload()
    await expect(message_in(ana.page, "line 120")).to_be_visible()
    await expect(message_in(ana.page, "line 001")).to_have_count(0)
    for _ in range(20):
        await ana.page.locator("#scroller").evaluate("s => { s.scrollTop = 0; }")
        if await message_in(ana.page, "line 001").count():
            break
        await ana.page.wait_for_timeout(250)
    await expect(message_in(ana.page, "line 001")).to_be_visible()
    bodies = await ana.page.locator("#message-list li.msg .body").all_text_contents()
    assert bodies == [f"line {n:03}" for n in range(1, 121)]
    await expect(ana.page.locator("#history-state")).to_have_text(
        "This is the beginning of the conversation."
    )


async def test_direct_chat_from_directory(new_page: NewPage, web_url: str) -> None:
    """Finding someone in the directory opens the one direct chat with them."""
    ana = await register(await new_page(), web_url, "Ana")
    bo = await register(await new_page(), web_url, "Bo")
    page = ana.page
    await page.get_by_role("button", name="Find people").click()
    await page.get_by_label("Search by name or email").fill(bo.name)
    await page.get_by_role("button", name=f"Message {bo.name}").click()
    await expect(page.locator("#chat-title")).to_have_text(bo.name)
    await send(ana, "Psst, a direct hello")
    room = bo.page.locator("#room-list button.room", has_text=ana.name)
    await expect(room).to_contain_text("Psst, a direct hello")
    await expect(room).to_have_class(re.compile(r"\bunread\b"))
    await room.click()
    await expect(message_in(bo.page, "Psst, a direct hello")).to_be_visible()
    await expect(room).to_have_class(re.compile(r"\bactive\b"))
    await expect(room).not_to_have_class(re.compile(r"\bunread\b"))

    # The same person again gives the same room, not a second one.
    await page.get_by_role("button", name="Find people").click()
    await page.get_by_label("Search by name or email").fill(bo.name)
    await page.get_by_role("button", name=f"Message {bo.name}").click()
    await expect(page.locator("#room-list button.room", has_text=bo.name)).to_have_count(1)


async def test_profile_and_avatar_upload(
    new_page: NewPage, web_url: str, screenshots: Path
) -> None:
    """The profile dialog saves name and status, and an uploaded avatar shows at once."""
    ana = await register(await new_page(), web_url, "Ana")
    page = ana.page
    await page.get_by_role("button", name="Your profile").click()
    dialog = page.locator("#profile-dialog")
    await expect(dialog).to_be_visible()
    await page.locator("#avatar-input").set_input_files(
        files=[{"name": "me.png", "mimeType": "image/png", "buffer": png()}]
    )
    image = dialog.locator(".avatar img")
    await expect(image).to_be_visible()
    assert await image.evaluate("img => img.complete && img.naturalWidth") == 48
    await dialog.get_by_label("Status").fill("Out walking the dog")
    await page.screenshot(path=screenshots / "profile.png")
    await dialog.get_by_label("Display name").fill(f"{ana.name} (Ana B.)")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#me-name")).to_have_text(f"{ana.name} (Ana B.)")
    await expect(page.locator("#me-avatar img")).to_be_visible()

    await page.get_by_role("button", name="Your profile").click()
    await page.locator("#avatar-input").set_input_files(
        files=[{"name": "me.gif", "mimeType": "image/gif", "buffer": b"GIF89a"}]
    )
    await expect(dialog.locator(".form-error")).to_have_text("Choose a PNG, JPEG or WebP image.")


async def test_errors_show_the_services_message(new_page: NewPage, web_url: str) -> None:
    """A wrong password and a taken email show the service's own error message."""
    ana = await register(await new_page(), web_url, "Ana")
    page = await new_page()
    await page.goto(web_url)
    form = page.locator("#login-form")
    await form.get_by_label("Email").fill(ana.email)
    await form.get_by_label("Password").fill("not-the-password")
    await form.get_by_role("button", name="Sign in").click()
    await expect(form.get_by_role("alert")).to_have_text("Wrong email or password.")

    await page.get_by_role("tab", name="Create account").click()
    form = page.locator("#register-form")
    await form.get_by_label("Display name").fill("Someone")
    await form.get_by_label("Email").fill(ana.email)
    await form.get_by_label("Password").fill("long-enough-password")
    await form.get_by_role("button", name="Create account").click()
    await expect(form.get_by_role("alert")).not_to_be_empty()
    assert "email" in (await form.get_by_role("alert").text_content() or "").lower()


async def test_phone_layout_shows_one_pane(
    new_page: NewPage, web_url: str, screenshots: Path
) -> None:
    """On a phone-sized screen the room list and the chat are shown one at a time."""
    ana = await register(await new_page(PHONE), web_url, "Ana")
    page = ana.page
    await create_room(ana, "Pocket room")
    await send(ana, "Typed on a small screen")
    await expect(page.locator(".sidebar")).to_be_hidden()
    await expect(message_in(page, "Typed on a small screen")).to_be_visible()
    await page.screenshot(path=screenshots / "mobile-chat.png")
    await page.get_by_role("button", name="Back to rooms").click()
    await expect(page.locator(".sidebar")).to_be_visible()
    await expect(page.locator("#chat")).to_be_hidden()
    await page.screenshot(path=screenshots / "mobile-rooms.png")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]


async def test_reconnect_resumes_without_loss_or_repeats(
    new_page: NewPage,
    web_url: str,
    start_service: Callable[..., ServiceProcess],
    message_service: ServiceProcess,
) -> None:
    """After a gateway drop the page resumes: what it missed arrives once, what waited is sent."""
    # A gateway of its own for this page, so stopping it disturbs no other test.
    spare = start_service("gateway", migrate=False)
    # This page's ws URL is moved by the test, outside the policy the gateway sends for it.
    page = await new_page(bypass_csp=True)

    async def point_at_spare(route: Route) -> None:
        response = await route.fetch()
        config = await response.json()
        config["ws_url"] = f"ws://127.0.0.1:{spare.port}/ws"
        await route.fulfill(response=response, json=config)

    await page.route("**/config.json", point_at_spare)
    ana = await register(page, web_url, "Ana")
    bo = await register(await new_page(), web_url, "Bo")
    await create_room(ana, "Flaky network")
    await invite(ana, bo)
    await open_room(bo, "Flaky network")
    await send(ana, "before the drop")
    await expect(message_in(bo.page, "before the drop")).to_be_visible()
    await expect(page.locator("#conn-state")).to_have_text("Online")

    spare.stop()
    await expect(page.locator("#conn-state")).to_have_text("Reconnecting…")
    for n in range(1, 4):
        await send(bo, f"missed {n}")
    await send(ana, "written while offline")
    await expect(message_in(page, "written while offline")).to_have_class(PENDING)

    spare.start()
    await expect(page.locator("#conn-state")).to_have_text("Online", timeout=20_000)
    for n in range(1, 4):
        await expect(message_in(page, f"missed {n}")).to_have_count(1)
    await expect(message_in(bo.page, "written while offline")).to_have_count(1)
    await expect(message_in(page, "written while offline")).not_to_have_class(PENDING)
    bodies = await page.locator("#message-list li.msg .body").all_text_contents()
    assert bodies.count("missed 1") == 1
    assert bodies.count("written while offline") == 1


async def test_pages_carry_the_security_headers(
    browser: Browser, web_url: str, gateway_service: ServiceProcess
) -> None:
    """`/`, every script and style and /config.json carry the CSP (no inline script, never
    framed, network only to the configured services), nosniff and a Referrer-Policy; an
    inline script injected into the page is refused."""
    async with httpx.AsyncClient() as http:
        config = (await http.get(f"{gateway_service.url}/config.json")).json()
        paths = ["/", "/config.json", "/index.html", "/style.css", "/app.js", "/socket.js"]
        for path in paths:
            r = await http.get(f"{gateway_service.url}{path}")
            assert r.status_code == 200, path
            csp = r.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp, path
            assert "script-src 'self';" in csp, path
            assert "unsafe-inline" not in csp, path
            connect = next(d for d in csp.split("; ") if d.startswith("connect-src"))
            for name in ("auth_url", "rooms_url", "messages_url", "ws_url"):
                assert config[name].rstrip("/").split("/ws")[0] in connect, (name, connect)
            assert r.headers["x-content-type-options"] == "nosniff", path
            assert r.headers["referrer-policy"] == "no-referrer", path
    # Not through new_page: the refusal this provokes is the point, not a failure.
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(web_url)
    ran = await page.evaluate(
        """() => new Promise((done) => {
          document.addEventListener("securitypolicyviolation", () => done("refused"));
          const s = document.createElement("script");
          s.textContent = "window.__injected = true";
          document.body.append(s);
          setTimeout(() => done(window.__injected ? "ran" : "refused"), 500);
        })"""
    )
    await context.close()
    assert ran == "refused"
