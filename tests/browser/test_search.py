"""Message search in the web client: the dialog, highlights, and opening a room at a hit."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from chat_testkit.processes import ServiceProcess
from tests.browser.ui import create_room, message_in, register

NewPage = Callable[..., Awaitable[Page]]
HIT = re.compile(r"\bhit\b")


@pytest.fixture
async def new_page(browser: Browser) -> AsyncIterator[NewPage]:
    """``await new_page()``: a page in a fresh browser context (its own storage: one person)."""
    contexts: list[BrowserContext] = []

    async def make() -> Page:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return await context.new_page()

    yield make
    for context in contexts:
        await context.close()


async def test_search_opens_the_room_at_the_hit(
    new_page: NewPage,
    web_url: str,
    auth_service: ServiceProcess,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
) -> None:
    """Ctrl+K searches (Korean part of a word, markup shown as text, only <mark> as markup);
    clicking a hit far back in a long room loads it with its context, in view and marked."""
    ana = await register(await new_page(), web_url, "Ana")
    await create_room(ana, "Planning")
    await create_room(ana, "Lunch")
    async with httpx.AsyncClient(timeout=10) as http:
        login = await http.post(
            f"{auth_service.url}/auth/login", json={"email": ana.email, "password": ana.password}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        rooms = (await http.get(f"{room_service.url}/rooms", headers=headers)).json()["items"]
        by_title = {room["title"]: room["id"] for room in rooms}

        async def post(room: str, body: str, n: int) -> None:
            payload = {"room_id": by_title[room], "body": body, "client_msg_id": f"{room}{n}"}
            while True:
                r = await http.post(
                    f"{message_service.url}/messages", headers=headers, json=payload
                )
                if r.status_code != 429:  # past the send burst: wait as told, then again
                    break
                await asyncio.sleep(float(r.headers["retry-after"]))
            assert r.status_code == 201, r.text

        for n in range(1, 121):
            body = "회의는 내일 오후 3시입니다 <b>&amp;</b>" if n == 20 else f"plan line {n:03}"
            await post("Planning", body, n)
        await post("Lunch", "오늘 회의실에서 점심", 1)
    page = ana.page
    await page.reload()
    await expect(page.locator("#app-view")).to_be_visible()
    # The reload reopens the last room, which focuses its composer once the rooms are in: a
    # blur before that moment left the "/" below to land in the composer.
    await expect(page.locator("#composer-input")).to_be_focused()

    # "/" opens search from anywhere but a text field (Ctrl+K is the room switcher).
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    await page.keyboard.press("/")
    await expect(page.locator("#search-dialog")).to_be_visible()
    await page.locator("#search-input").fill("회의")
    groups = page.locator("#search-results .search-group")
    await expect(groups).to_have_count(2)
    assert sorted(await groups.locator("h3").all_text_contents()) == ["Lunch", "Planning"]
    hit = page.locator(".search-hit", has_text="3시입니다")
    await expect(hit.locator("mark")).to_have_text(["회의"])
    # The body's markup is text: no <b> element, the entity shown as typed.
    await expect(hit.locator(".snippet")).to_have_text("회의는 내일 오후 3시입니다 <b>&amp;</b>")
    assert await hit.locator("b").count() == 0

    await hit.click()
    await expect(page.locator("#search-dialog")).to_be_hidden()
    await expect(page.locator("#chat-title")).to_have_text("Planning")
    found = message_in(page, "3시입니다")
    await expect(found).to_have_class(HIT)
    await expect(found).to_be_in_viewport()
    # Its context is loaded around it, and the conversation still reaches the newest message.
    await expect(message_in(page, "plan line 019")).to_have_count(1)
    await expect(message_in(page, "plan line 021")).to_have_count(1)
    await expect(message_in(page, "plan line 120")).to_have_count(1)
    seqs = await page.locator("#message-list li.msg").evaluate_all(
        "nodes => nodes.map(n => Number(n.dataset.seq))"
    )
    assert seqs == list(range(seqs[0], 121))
    assert seqs[0] <= 19

    # "/" opens it too, and a query of symbols only finds nothing, quietly.
    await page.locator("#scroller").click()
    await page.keyboard.press("/")
    await page.locator("#search-input").fill("%%%")
    await expect(page.locator("#search-state")).to_have_text("No messages match.")
