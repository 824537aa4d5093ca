"""Files in the web client: an image dragged into the conversation reaches the other person
live as a thumbnail; a PDF picked with the button downloads on the other side."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from chat_testkit.attachments import PDF
from chat_testkit.attachments import png as make_png
from tests.browser.ui import create_room, invite, message_in, open_room, register, send

NewPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def new_page(browser: Browser) -> AsyncIterator[NewPage]:
    """``await new_page()``: a page in a fresh browser context (its own storage: one person)."""
    contexts: list[BrowserContext] = []

    async def make() -> Page:
        context = await browser.new_context(
            viewport={"width": 1280, "height": 800}, accept_downloads=True
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return await context.new_page()

    yield make
    for context in contexts:
        await context.close()


async def drop_file(page: Page, name: str, mime: str, data: bytes) -> None:
    """Drag a file from outside the browser onto the open conversation."""
    transfer = await page.evaluate_handle(
        """([name, mime, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: mime }));
            return dt;
        }""",
        [name, mime, base64.b64encode(data).decode()],
    )
    zone = page.locator("#chat-main")
    await zone.dispatch_event("dragover", {"dataTransfer": transfer})
    await zone.dispatch_event("drop", {"dataTransfer": transfer})


async def test_dragged_image_shows_live_and_pdf_downloads(
    new_page: NewPage, web_url: str, screenshots: Path
) -> None:
    """Ana drags a photo in and sends it; Bo sees its thumbnail appear live and opens it full
    size. Ana attaches a PDF with the button; Bo sees its name and size and downloads it."""
    ana = await register(await new_page(), web_url, "Ana")
    bo = await register(await new_page(), web_url, "Bo")
    await create_room(ana, "Photos 사진")
    await invite(ana, bo)
    await expect(bo.page.locator("#room-list")).to_contain_text("Photos 사진", timeout=3000)
    await open_room(bo, "Photos 사진")

    await drop_file(ana.page, "해변.png", "image/png", make_png(400, 300, (20, 160, 220)))
    await expect(ana.page.locator("#attach-tray")).to_contain_text("Ready")
    await send(ana, "")
    thumb = bo.page.locator("#message-list img.thumb")
    await expect(thumb).to_be_visible(timeout=5000)
    await expect(thumb).to_have_attribute("alt", "해변.png")
    loaded = await thumb.evaluate("img => img.complete && img.naturalWidth > 0")
    assert loaded
    await bo.page.screenshot(path=screenshots / "attachment-image.png")
    await thumb.click()
    full = bo.page.locator("#image-full")
    await expect(full).to_be_visible()
    await bo.page.wait_for_function(
        "() => document.querySelector('#image-full').naturalWidth === 400"
    )
    await bo.page.keyboard.press("Escape")

    await ana.page.locator("#attach-input").set_input_files(
        {"name": "보고서.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    await expect(ana.page.locator("#attach-tray")).to_contain_text("Ready")
    await send(ana, "the report")
    bubble = message_in(bo.page, "the report")
    link = bubble.get_by_role("link", name="보고서.pdf")
    await expect(link).to_be_visible(timeout=5000)
    await expect(bubble).to_contain_text(f"{len(PDF)} B")
    async with bo.page.expect_download() as info:
        await link.click()
    download = await info.value
    assert download.suggested_filename == "보고서.pdf"
    assert Path(await download.path()).read_bytes() == PDF
