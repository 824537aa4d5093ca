"""Browser-test fixtures: a headless system Chromium driven by Playwright, and the web client's URL.

Playwright's own browser download is impossible here, so tests launch /usr/bin/chromium
(installed by scripts/install-browser.sh) with the flags this closed network needs.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from chat_testkit.processes import ServiceProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".artifacts" / "screenshots"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """A headless Chromium for the whole session."""
    if not shutil.which(CHROMIUM):
        pytest.fail("Chromium is not installed: run scripts/install-browser.sh", pytrace=False)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture(scope="session")
def web_url(gateway_service: ServiceProcess) -> str:
    """Where the web client is served: the gateway's root."""
    return gateway_service.url + "/"


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


LOCAL_VIEWPORT = {"width": 1280, "height": 800}

NewLocalPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def local_page(browser: Browser) -> AsyncIterator[NewLocalPage]:
    """``await local_page("ko-KR", "dark")``: a page in a fresh context with that browser
    language, colour scheme and the Seoul time zone."""
    contexts: list[BrowserContext] = []

    async def make(locale: str = "ko-KR", scheme: str = "light", tz: str = "Asia/Seoul") -> Page:
        context = await browser.new_context(
            viewport=LOCAL_VIEWPORT,
            locale=locale,
            color_scheme=scheme,  # type: ignore[arg-type]
            timezone_id=tz,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = await context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield make
    for context in contexts:
        await context.close()
