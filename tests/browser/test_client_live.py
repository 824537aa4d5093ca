"""The web client kept current by the server (issue 23): join and leave notices that survive a
reload, a new name or photo reaching others live, and "last seen" for people offline."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from chat_testkit.processes import ServiceProcess
from tests.browser.edges import NewPage, leave_by_api, pair_in_room
from tests.browser.ui import invite, message_in, open_members, png, register, send

DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
async def new_page(browser: Browser) -> AsyncIterator[NewPage]:
    """``await new_page()``: a page in a fresh browser context (its own storage: one person)."""
    contexts: list[BrowserContext] = []

    async def make(viewport: dict[str, int] = DESKTOP) -> Page:
        context = await browser.new_context(viewport=viewport)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = await context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield make
    for context in contexts:
        await context.close()


async def test_profile_change_reaches_others_live(new_page: NewPage, web_url: str) -> None:
    """A new name and photo show on the other person's open page without a reload."""
    ana, bo = await pair_in_room(new_page, web_url, "Name change")
    await send(bo, "hello from Bo")
    bubble = message_in(ana.page, "hello from Bo")
    await expect(bubble).to_contain_text(bo.name)
    await expect(bubble.locator(".avatar img")).to_have_count(0)

    await bo.page.get_by_role("button", name="Your profile").click()
    dialog = bo.page.locator("#profile-dialog")
    await bo.page.locator("#avatar-input").set_input_files(
        files=[{"name": "me.png", "mimeType": "image/png", "buffer": png()}]
    )
    await expect(dialog.locator(".avatar img")).to_be_visible()
    await dialog.get_by_label("Display name").fill(f"{bo.name} 보")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden()

    await expect(bubble).to_contain_text(f"{bo.name} 보", timeout=5000)
    await expect(bubble.locator(".avatar img")).to_be_visible()
    await open_members(ana)
    await expect(ana.page.locator("#member-list")).to_contain_text(f"{bo.name} 보")


async def test_last_seen_for_people_offline(new_page: NewPage, web_url: str) -> None:
    """Someone who went offline shows when they were last seen, live and after a reload."""
    ana, bo = await pair_in_room(new_page, web_url, "Seen room")
    await open_members(ana)
    member = ana.page.locator("#member-list li.person", has_text=bo.name)
    await expect(member.locator(".presence-text")).to_have_text("Online")
    await bo.page.close()
    await expect(member.locator(".presence-text")).to_have_text("Last seen just now", timeout=8000)
    await ana.page.reload()
    await open_members(ana)
    member = ana.page.locator("#member-list li.person", has_text=bo.name)
    await expect(member.locator(".presence-text")).to_have_text("Last seen just now")


async def test_membership_notices_survive_reload(
    new_page: NewPage, web_url: str, auth_service: ServiceProcess, room_service: ServiceProcess
) -> None:
    """Join and leave notices are part of the room's history: after a reload, and for another
    member, the same notices show in the same place."""
    ana, bo = await pair_in_room(new_page, web_url, "Keeps notices")
    cy = await register(await new_page(), web_url, "Cy")
    await invite(ana, cy)
    room_id = await ana.page.evaluate("sessionStorage.getItem('chat.open_room')")
    await leave_by_api(auth_service, room_service, cy, room_id)
    notices = ana.page.locator("#message-list li.notice")
    expected = [f"You added {bo.name}.", f"You added {cy.name}.", f"{cy.name} left the room."]
    await expect(notices).to_have_text(expected)
    await send(ana, "after the comings and goings")

    await ana.page.reload()
    await expect(message_in(ana.page, "after the comings and goings")).to_be_visible()
    await expect(notices).to_have_text(expected)
    await bo.page.reload()
    await expect(bo.page.locator("#chat-title")).to_have_text("Keeps notices")
    await expect(bo.page.locator("#message-list li.notice")).to_have_text(
        [f"{ana.name} added you.", f"{ana.name} added {cy.name}.", f"{cy.name} left the room."]
    )
    await expect(ana.page.locator("#message-list li.day")).to_have_count(1)


async def test_direct_chat_header_says_when_last_seen(new_page: NewPage, web_url: str) -> None:
    """A direct chat's header says when the other person was last seen once they go."""
    ana = await register(await new_page(), web_url, "Ana")
    bo = await register(await new_page(), web_url, "Bo")
    await ana.page.get_by_role("button", name="Find people").click()
    await ana.page.get_by_label("Search by name or email").fill(bo.name)
    await ana.page.get_by_role("button", name=f"Message {bo.name}").click()
    await expect(ana.page.locator("#chat-sub")).to_have_text("Online")
    await bo.page.close()
    await expect(ana.page.locator("#chat-sub")).to_have_text("Last seen just now", timeout=8000)
