"""The web client's rough edges (issue 23), each reproduced in headless Chromium.

Connection loss (a cut network, a frozen gateway), long pastes, membership notices, the
header's online count, human error wording, blank messages, keyboard shortcuts, the unread
marker, live profile changes and "last seen".
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from chat_testkit.processes import ServiceProcess
from tests.browser.edges import NewPage, leave_by_api, pair_in_room
from tests.browser.ui import (
    create_room,
    invite,
    message_in,
    open_members,
    open_room,
    register,
    send,
)

DESKTOP = {"width": 1280, "height": 800}
PENDING = re.compile(r"\bpending\b")


@pytest.fixture
async def new_page(browser: Browser) -> AsyncIterator[NewPage]:
    """``await new_page()``: a page in a fresh browser context (its own storage: one person)."""
    contexts: list[BrowserContext] = []

    async def make(viewport: dict[str, int] = DESKTOP, *, bypass_csp: bool = False) -> Page:
        context = await browser.new_context(viewport=viewport, bypass_csp=bypass_csp)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = await context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield make
    for context in contexts:
        await context.close()


async def test_cut_network_says_reconnecting_and_sends_pending_once(
    new_page: NewPage, web_url: str, screenshots: Path
) -> None:
    """With the network cut the page says Reconnecting… at once, holds what is written as
    pending, and sends it exactly once when the network is back."""
    ana, bo = await pair_in_room(new_page, web_url, "Cut cable")
    page = ana.page
    await expect(page.locator("#conn-state")).to_have_text("Online")

    await page.context.set_offline(True)
    await expect(page.locator("#conn-state")).to_have_text("Reconnecting…", timeout=5000)
    await expect(page.locator("#conn-banner")).to_be_visible()
    await send(ana, "typed with no network")
    pending = message_in(page, "typed with no network")
    await expect(pending).to_have_class(PENDING)
    await expect(pending).to_contain_text("Waiting for the connection…")
    await send(bo, "sent while Ana was cut off")
    await page.screenshot(path=screenshots / "offline.png")

    await page.context.set_offline(False)
    await expect(page.locator("#conn-state")).to_have_text("Online", timeout=20_000)
    await expect(message_in(bo.page, "typed with no network")).to_have_count(1)
    await expect(message_in(page, "typed with no network")).not_to_have_class(PENDING)
    await expect(message_in(page, "sent while Ana was cut off")).to_have_count(1)
    await page.wait_for_timeout(500)
    await expect(message_in(bo.page, "typed with no network")).to_have_count(1)


async def test_frozen_gateway_is_noticed_by_the_ping_deadline(
    new_page: NewPage, web_url: str, start_service: Callable[..., ServiceProcess]
) -> None:
    """A gateway that stops answering (socket still open) is noticed within seconds by the
    application ping; what was written meanwhile is sent once after the reconnect."""
    spare = start_service("gateway", migrate=False)
    # This page talks to another gateway than the one serving it, which the page's policy
    # (connect-src: its own gateway) would refuse; the policy itself is tested elsewhere.
    page = await new_page(bypass_csp=True)

    async def point_at_spare(route: Route) -> None:
        response = await route.fetch()
        config = await response.json()
        config["ws_url"] = f"ws://127.0.0.1:{spare.port}/ws"
        await route.fulfill(response=response, json=config)

    await page.route("**/config.json", point_at_spare)
    ana = await register(page, web_url, "Ana")
    bo = await register(await new_page(), web_url, "Bo")
    await create_room(ana, "Frozen edge")
    await invite(ana, bo)
    await open_room(bo, "Frozen edge")
    await expect(page.locator("#conn-state")).to_have_text("Online")

    assert spare.process is not None
    os.kill(spare.process.pid, signal.SIGSTOP)
    try:
        await expect(page.locator("#conn-state")).to_have_text("Reconnecting…", timeout=9000)
        await send(ana, "written to a frozen gateway")
        await expect(message_in(page, "written to a frozen gateway")).to_have_class(PENDING)
    finally:
        os.kill(spare.process.pid, signal.SIGCONT)
    await expect(page.locator("#conn-state")).to_have_text("Online", timeout=20_000)
    await expect(message_in(bo.page, "written to a frozen gateway")).to_have_count(1)
    await expect(message_in(page, "written to a frozen gateway")).not_to_have_class(PENDING)


async def test_long_paste_is_refused_not_cut(new_page: NewPage, web_url: str) -> None:
    """A 70,000-character paste is refused with the limit named, the text left whole; a
    counter shows near the limit."""
    ana = await register(await new_page(), web_url, "Ana")
    await create_room(ana, "Pastebin")
    box = ana.page.get_by_label("Message", exact=True)
    counter = ana.page.locator("#composer-count")
    await box.fill("가" * 3000)
    await expect(counter).to_be_hidden()
    await box.fill("가" * 3600)
    await expect(counter).to_have_text("3,600 / 4,000")
    await box.fill("x" * 70_000)
    await expect(counter).to_have_text("70,000 / 4,000")
    await expect(counter).to_have_class(re.compile(r"\bover\b"))
    await box.press("Enter")
    await expect(ana.page.locator("#composer-note")).to_contain_text("limit is 4,000")
    assert await box.evaluate("b => b.value.length") == 70_000
    await expect(ana.page.locator("#message-list li.msg")).to_have_count(0)

    await box.fill("한" * 4000)
    await box.press("Enter")
    await expect(ana.page.locator("#composer-note")).to_be_hidden()
    await expect(ana.page.locator("#message-list li.msg")).to_have_count(1)
    await expect(ana.page.locator("#message-list li.msg")).not_to_have_class(PENDING)


async def test_spaces_only_message_gets_a_word(new_page: NewPage, web_url: str) -> None:
    """A message of only spaces is not sent, and the page says why."""
    ana = await register(await new_page(), web_url, "Ana")
    await create_room(ana, "Blank stare")
    box = ana.page.get_by_label("Message", exact=True)
    await box.fill("     ")
    await box.press("Enter")
    await expect(ana.page.locator("#composer-note")).to_have_text(
        "Type something first: a message of only spaces isn't sent."
    )
    await expect(ana.page.locator("#message-list li.msg")).to_have_count(0)
    await box.fill("now with words")
    await expect(ana.page.locator("#composer-note")).to_be_hidden()


async def test_new_direct_chat_names_the_other_person(new_page: NewPage, web_url: str) -> None:
    """The person a direct chat is opened with is told who opened it."""
    ana = await register(await new_page(), web_url, "Ana")
    bo = await register(await new_page(), web_url, "Bo")
    await ana.page.get_by_role("button", name="Find people").click()
    await ana.page.get_by_label("Search by name or email").fill(bo.name)
    await ana.page.get_by_role("button", name=f"Message {bo.name}").click()
    await expect(bo.page.locator("#toast")).to_have_text(
        f"{ana.name} started a direct chat with you."
    )


async def test_notices_share_day_labels_and_tell_removal_from_leaving(
    new_page: NewPage, web_url: str, auth_service: ServiceProcess, room_service: ServiceProcess
) -> None:
    """Join and leave notices do not repeat the day label; a removal names who removed whom,
    leaving reads as leaving, and the removed person is told who removed them."""
    ana, bo = await pair_in_room(new_page, web_url, "Notice board")
    cy = await register(await new_page(), web_url, "Cy")
    await invite(ana, cy)
    await send(ana, "welcome both")
    page = ana.page
    await expect(
        page.locator("#message-list li.notice", has_text=f"You added {cy.name}.")
    ).to_be_visible()

    room_id = await page.evaluate("sessionStorage.getItem('chat.open_room')")
    await leave_by_api(auth_service, room_service, cy, room_id)
    await expect(
        page.locator("#message-list li.notice", has_text=f"{cy.name} left the room.")
    ).to_be_visible()

    await open_members(ana)
    member = page.locator("#member-list li.person", has_text=bo.name)
    await member.get_by_role("button", name="Remove from room").click()
    await expect(
        page.locator("#message-list li.notice", has_text=f"You removed {bo.name}.")
    ).to_be_visible()
    await expect(bo.page.locator("#toast")).to_have_text(
        f"{ana.name} removed you from Notice board."
    )
    await expect(page.locator("#message-list li.day")).to_have_count(1)


async def test_header_online_count_stays_fresh(new_page: NewPage, web_url: str) -> None:
    """The header's online count is right after a reload and follows presence, with the
    members panel never opened."""
    ana, bo = await pair_in_room(new_page, web_url, "Headcount")
    await ana.page.reload()
    await expect(ana.page.locator("#chat-title")).to_have_text("Headcount")
    await expect(ana.page.locator("#members-panel")).to_be_hidden()
    await expect(ana.page.locator("#chat-sub")).to_have_text("2 members · 2 online")
    await bo.page.close()
    await expect(ana.page.locator("#chat-sub")).to_have_text("2 members", timeout=8000)


async def test_errors_read_as_sentences(new_page: NewPage, web_url: str) -> None:
    """Refusals show a sentence for people, never the service's developer message."""
    page = await new_page()
    await page.goto(web_url)
    await page.get_by_role("tab", name="Create account").click()
    form = page.locator("#register-form")
    await form.get_by_label("Display name").fill("Someone")
    await form.get_by_label("Email").fill("someone@@example")
    await form.get_by_label("Password").fill("long-enough-password")
    await form.get_by_role("button", name="Create account").click()
    await expect(form.get_by_role("alert")).to_have_text("Enter a valid email address.")

    ana = await register(await new_page(), web_url, "Ana")
    await ana.page.get_by_role("button", name="Your profile").click()
    dialog = ana.page.locator("#profile-dialog")
    await ana.page.locator("#avatar-input").set_input_files(
        files=[{"name": "fake.png", "mimeType": "image/png", "buffer": b"GIF89a not a png"}]
    )
    alert = dialog.locator(".form-error")
    await expect(alert).to_be_visible()
    text = await alert.text_content() or ""
    assert "image/png" not in text
    assert "Value error" not in text
    assert text.endswith(".")
    assert text[0].isupper()


async def test_keyboard_shortcuts(new_page: NewPage, web_url: str, screenshots: Path) -> None:
    """Up-arrow edits the last own message, Ctrl+K and Alt+Up/Down switch rooms, Escape
    closes the members panel, and `?` lists the shortcuts."""
    ana = await register(await new_page(), web_url, "Ana")
    page = ana.page
    await create_room(ana, "Alpha keys")
    await create_room(ana, "Beta keys")
    await send(ana, "first draft")
    await expect(message_in(page, "first draft")).not_to_have_class(PENDING)
    box = page.get_by_label("Message", exact=True)
    await box.press("ArrowUp")
    await expect(page.locator("#edit-dialog")).to_be_visible()
    await page.locator("#edit-input").fill("second draft")
    await page.locator("#edit-input").press("Enter")
    await expect(message_in(page, "second draft")).to_contain_text("edited")

    await box.press("Control+k")
    await expect(page.locator("#switch-dialog")).to_be_visible()
    await page.locator("#switch-input").fill("alpha")
    await page.locator("#switch-input").press("Enter")
    await expect(page.locator("#chat-title")).to_have_text("Alpha keys")
    await page.locator("#scroller").focus()
    await page.keyboard.press("Alt+ArrowUp")
    await expect(page.locator("#chat-title")).to_have_text("Beta keys")
    await page.keyboard.press("Alt+ArrowDown")
    await expect(page.locator("#chat-title")).to_have_text("Alpha keys")

    await open_members(ana)
    await page.keyboard.press("Escape")
    await expect(page.locator("#members-panel")).to_be_hidden()
    await page.locator("#scroller").focus()
    await page.keyboard.press("?")
    shortcuts = page.locator("#shortcuts-dialog")
    await expect(shortcuts).to_be_visible()
    await expect(shortcuts).to_contain_text("Ctrl + K")
    await page.screenshot(path=screenshots / "shortcuts.png")
    await page.keyboard.press("Escape")
    await expect(shortcuts).to_be_hidden()


async def test_unread_marker_on_opening_a_room(
    new_page: NewPage, web_url: str, screenshots: Path
) -> None:
    """Opening a room with unread messages shows a "New messages" line above the first one."""
    ana, bo = await pair_in_room(new_page, web_url, "Catch up")
    await send(bo, "read before")
    await expect(message_in(ana.page, "read before")).to_be_visible()
    await create_room(ana, "Elsewhere")
    for n in range(1, 4):
        await send(bo, f"unread {n}")
    await expect(ana.page.locator("#room-list button.room", has_text="Catch up")).to_contain_text(
        "3"
    )
    await open_room(ana, "Catch up")
    marker = ana.page.locator("#message-list li.unread-marker")
    await expect(marker).to_have_text("New messages")
    after = ana.page.locator("#message-list li.unread-marker + li.msg")
    await expect(after).to_contain_text("unread 1")
    await ana.page.screenshot(path=screenshots / "unread-marker.png")
