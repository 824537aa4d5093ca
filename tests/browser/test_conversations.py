"""Replies, threads, reactions, mentions and receipts in the web client, between two people."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.ui import create_room, invite, message_in, open_room, register, send

DESKTOP = {"width": 1280, "height": 800}
MENTIONED = re.compile(r"\bmentioned\b")

NewPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def new_page(browser: Browser) -> AsyncIterator[NewPage]:
    """``await new_page()``: a page in a fresh browser context (one person)."""
    contexts: list[BrowserContext] = []

    async def make() -> Page:
        context = await browser.new_context(viewport=DESKTOP)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return await context.new_page()

    yield make
    for context in contexts:
        await context.close()


async def test_reply_thread_reaction_mention_and_receipt_seen_live(
    new_page: NewPage, web_url: str, screenshots: Path
) -> None:
    """Ana's reply, thread reply and reaction reach Bo live; Bo's mention of Ana is
    highlighted for her; Ana sees "Seen by Bo" under her last message once Bo has read it;
    replying and reacting work from the keyboard."""
    ana = await register(await new_page(), web_url, "Ana")
    bo = await register(await new_page(), web_url, "Bo")
    await create_room(ana, "Plans 계획")
    await invite(ana, bo)
    await expect(bo.page.locator("#room-list")).to_contain_text("Plans 계획", timeout=3000)
    await open_room(bo, "Plans 계획")

    await send(bo, "Shall we meet at noon? 정오에 만날까요?")
    # The first message of the room (a reply quoting it contains its text too).
    question = ana.page.locator('#message-list li.msg[data-seq="1"]')
    await expect(question).to_be_visible()

    # Reply from the keyboard: focus the message, Tab to its Reply action, Enter.
    await question.focus()
    await question.get_by_role("button", name="Reply to message").press("Enter")
    await expect(ana.page.locator("#reply-bar")).to_contain_text("Replying to")
    await send(ana, "Noon works")
    reply = message_in(bo.page, "Noon works")
    await expect(reply.locator(".quote")).to_contain_text("Shall we meet at noon?")

    # React from the keyboard: the picker opens with focus on its first emoji.
    await question.focus()
    await question.get_by_role("button", name="React to message").press("Enter")
    await ana.page.get_by_role("menuitem", name="React with 🎉").press("Enter")
    await expect(
        bo.page.locator('#message-list li.msg[data-seq="1"]').locator(".chip")
    ).to_have_text("🎉 1")
    # Bo adds his own by pressing the chip; Ana sees the count go up.
    await bo.page.locator('#message-list li.msg[data-seq="1"]').locator(".chip").click()
    await expect(question.locator(".chip")).to_have_text("🎉 2")

    # A thread: Ana replies in the thread panel; Bo sees "1 reply" live and opens it.
    await question.get_by_role("button", name="Open thread").click()
    await expect(ana.page.locator("#thread-panel")).to_be_visible()
    await ana.page.get_by_role("textbox", name="Reply in thread").fill("I'll book a table")
    await ana.page.get_by_role("textbox", name="Reply in thread").press("Enter")
    await expect(ana.page.locator("#thread-list")).to_contain_text("I'll book a table")
    link = bo.page.locator('#message-list li.msg[data-seq="1"]').get_by_role(
        "button", name="1 reply"
    )
    await expect(link).to_be_visible()
    await expect(bo.page.locator("#message-list")).not_to_contain_text("I'll book a table")
    await link.click()
    await expect(bo.page.locator("#thread-list")).to_contain_text("I'll book a table")
    await bo.page.get_by_role("button", name="Close thread").click()

    # A mention: Bo names Ana; her copy of the message is highlighted.
    await send(bo, f"@{ana.name} see you there")
    await expect(message_in(ana.page, "see you there")).to_have_class(MENTIONED)
    await expect(message_in(bo.page, "see you there")).not_to_have_class(MENTIONED)

    # Receipts: Ana's last message shows who has read it.
    await send(ana, "Great, done")
    await expect(message_in(bo.page, "Great, done")).to_be_visible()
    await expect(ana.page.locator(".seen-by")).to_have_text(f"Seen by {bo.name}", timeout=5000)
    await ana.page.screenshot(path=screenshots / "conversations.png")
