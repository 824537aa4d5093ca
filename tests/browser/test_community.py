"""Community in the web client: the room directory, invite links, and a ban from the members
panel taking effect on the banned person's open page."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

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
NewPage = Callable[[], Awaitable[Page]]


@pytest.fixture
async def new_page(browser: Browser) -> AsyncIterator[NewPage]:
    """``await new_page()``: a page in a fresh browser context (its own storage: one person);
    confirmations and prompts are accepted."""
    contexts: list[BrowserContext] = []

    async def make() -> Page:
        context = await browser.new_context(viewport=DESKTOP)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = await context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield make
    for context in contexts:
        await context.close()


async def test_join_a_public_room_from_the_directory(new_page: NewPage, web_url: str) -> None:
    """A public room made with the "Public" box is found in "Browse rooms" by part of its
    name (Korean too) and joined with one click; the others' messages then arrive live."""
    ana = await register(await new_page(), web_url, "Ana")
    bo = await register(await new_page(), web_url, "Bo")
    title = f"회의실 {secrets.token_hex(3)}"
    page = ana.page
    await page.get_by_role("button", name="New room").click()
    await page.get_by_label("Room name").fill(title)
    await page.get_by_label("Public: anyone can find and join it").check()
    await page.locator("#room-dialog").get_by_role("button", name="Create").click()
    await expect(page.locator("#chat-title")).to_have_text(title)

    await bo.page.get_by_role("button", name="Browse rooms").click()
    await bo.page.get_by_label("Search public rooms").fill(title.replace("실", "")[:2])
    await bo.page.get_by_role("button", name=f"Join {title}").click()
    await expect(bo.page.locator("#chat-title")).to_have_text(title)
    await send(ana, "어서 오세요")
    await expect(message_in(bo.page, "어서 오세요")).to_be_visible(timeout=3000)


async def test_open_an_invite_link_as_another_user(new_page: NewPage, web_url: str) -> None:
    """The owner makes an invite link in the members panel; someone signed out opens it,
    signs up, and lands in the room."""
    ana = await register(await new_page(), web_url, "Ana")
    title = f"Invite only {secrets.token_hex(3)}"
    await create_room(ana, title)
    await open_members(ana)
    await ana.page.get_by_role("button", name="Invite link").click()
    link = ana.page.locator("#invite-url")
    await expect(link).to_have_value(re.compile(r"/#/join/[A-Za-z0-9_-]+$"))
    url = await link.input_value()
    await ana.page.locator("#invite-dialog").get_by_role("button", name="Copy link").click()

    page = await new_page()
    # Not ui.register, which opens the client's root: this person signs up on the link itself.
    await page.goto(url)
    await expect(page.get_by_role("heading", name="Welcome to Chat")).to_be_visible()
    await page.get_by_role("tab", name="Create account").click()
    form = page.locator("#register-form")
    tag = secrets.token_hex(3)
    await form.get_by_label("Display name").fill(f"Bo {tag}")
    await form.get_by_label("Email").fill(f"bo-{tag}@example.test")
    await form.get_by_label("Password").fill(f"pw-{secrets.token_hex(6)}")
    await form.get_by_role("button", name="Create account").click()
    await expect(page.locator("#chat-title")).to_have_text(title)
    await expect(ana.page.locator("#member-list")).to_contain_text(f"Bo {tag}", timeout=5000)


async def test_ban_from_the_members_panel_takes_effect_on_the_other_side(
    new_page: NewPage, web_url: str
) -> None:
    """Banning a member from the panel removes the room from their open page at once; they
    no longer see what is said there; the ban is then lifted from the room's ban list."""
    ana = await register(await new_page(), web_url, "Ana")
    bo = await register(await new_page(), web_url, "Bo")
    title = f"Moderated {secrets.token_hex(3)}"
    await create_room(ana, title)
    await invite(ana, bo)
    await expect(bo.page.locator("#room-list")).to_contain_text(title, timeout=3000)
    await open_room(bo, title)
    await send(ana, "before the ban")
    await expect(message_in(bo.page, "before the ban")).to_be_visible()

    await open_members(ana)
    await ana.page.get_by_role("button", name=f"Ban {bo.name}").click()
    await expect(ana.page.locator("#member-list")).not_to_contain_text(bo.name)
    await expect(bo.page.locator("#room-list")).not_to_contain_text(title, timeout=1500)
    await expect(bo.page.locator("#chat-main")).to_be_hidden()
    await send(ana, "after the ban")
    await bo.page.wait_for_timeout(500)
    await expect(message_in(bo.page, "after the ban")).to_have_count(0)

    # The ban is listed for the room's moderators and lifted from there.
    await ana.page.get_by_role("button", name="Bans").click()
    await ana.page.get_by_role("button", name=f"Unban {bo.name}").click()
    await expect(ana.page.locator("#bans-list")).to_contain_text("Nobody is banned.")
