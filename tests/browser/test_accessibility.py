"""Accessibility measured with axe-core (bundled and pinned by axe-playwright-python) on the
main screens, in English and Korean, light and dark; and the whole flow from the keyboard.

Every violation is printed; the tests fail on any serious or critical one, and on the page
structure rules (one main landmark, one level-one heading) on any screen.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from tests.browser.conftest import NewLocalPage
from tests.browser.ui import Person, create_room, message_in, open_members, register, send

BLOCKING = {"serious", "critical"}
# Moderate rules the signed-in screen once broke: held at zero on every screen.
STRUCTURE = {"landmark-one-main", "page-has-heading-one"}
AXE = Axe()

# The labels each language gives the controls the audit walks through.
WORDS = {
    "en-US": {
        "new_room": "New room",
        "room_name": "Room name",
        "create": "Create",
        "search": "Search",
    },
    "ko-KR": {"new_room": "새 방", "room_name": "방 이름", "create": "만들기", "search": "검색"},
}


async def audit(page: Page, screen: str) -> list[dict[str, Any]]:
    """Run axe on the page as it is; print each violation and return the serious ones and
    those of the page structure rules."""
    results = await AXE.run(page)
    violations = results.response["violations"]
    for v in violations:
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"]][:5]
        print(f"[axe {screen}] {v['impact']}: {v['id']}: {v['help']} ({len(v['nodes'])}) {targets}")
        if v["impact"] in BLOCKING:
            for node in v["nodes"][:3]:
                print(f"    {node['html'][:120]}: {node.get('failureSummary', '')[:300]}")
    return [
        {"screen": screen, "id": v["id"], "impact": v["impact"]}
        for v in violations
        if v["impact"] in BLOCKING or v["id"] in STRUCTURE
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
async def test_main_screens_have_no_serious_axe_violations(
    local_page: NewLocalPage, web_url: str, locale: str, scheme: str
) -> None:
    """Sign-in, room list, a room, members, profile, search and settings pass axe with no
    serious or critical violation, in both languages and both colour schemes."""
    words = WORDS[locale]
    page = await local_page(locale, scheme)
    tag = f"{locale}/{scheme}"
    await page.goto(web_url)
    await expect(page.locator("#auth-view")).to_be_visible()
    found = await audit(page, f"sign-in {tag}")

    if locale == "en-US":
        ana = await register(page, web_url, "Ana")
    else:
        from tests.browser.people_ko import register_ko

        ana = await register_ko(page, web_url, "지안")
    found += await audit(page, f"room list {tag}")

    await page.get_by_role("button", name=words["new_room"]).click()
    await page.get_by_label(words["room_name"]).fill("Audit 점검")
    await page.locator("#room-dialog").get_by_role("button", name=words["create"]).click()
    await expect(page.locator("#chat-title")).to_have_text("Audit 점검")
    await send(ana, "Hello 안녕하세요") if locale == "en-US" else await send_ko(ana)
    await expect(message_in(page, "Hello 안녕하세요")).to_have_count(1)
    found += await audit(page, f"room {tag}")

    await open_members(ana)
    found += await audit(page, f"members {tag}")
    await page.locator("#members-close").click()

    await page.locator("#profile-button").click()
    await expect(page.locator("#profile-dialog")).to_be_visible()
    found += await audit(page, f"profile {tag}")
    await page.locator("#profile-dialog [data-close]").click()

    await page.locator("#notify-button").click()
    await expect(page.locator("#notify-dialog")).to_be_visible()
    found += await audit(page, f"settings {tag}")
    await page.keyboard.press("Escape")
    await expect(page.locator("#notify-dialog")).to_be_hidden()

    await page.get_by_role("button", name=words["search"], exact=True).click()
    await page.locator("#search-input").fill("안녕하세요")
    # The page's 10 s (local_page), not expect's 5 s: a search under a loaded machine took
    # longer once.
    await expect(page.locator("#search-results .search-hit")).to_have_count(1, timeout=10_000)
    found += await audit(page, f"search {tag}")
    assert not found, found


async def send_ko(person: Person) -> None:
    box = person.page.get_by_label("메시지", exact=True)
    await box.fill("Hello 안녕하세요")
    await box.press("Enter")


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_a_message_waiting_to_be_sent_keeps_its_contrast(
    local_page: NewLocalPage, web_url: str, scheme: str
) -> None:
    """A message written while the connection is down (pending, "Waiting for the
    connection…") passes axe: its bubble is not faded below the contrast minimum."""
    page = await local_page("ko-KR", scheme)
    from tests.browser.people_ko import create_room_ko, register_ko

    ana = await register_ko(page, web_url, "대기")
    await create_room_ko(ana, "대기실")
    await expect(page.locator("#conn-state")).to_have_text("접속 중")
    await page.context.set_offline(True)
    await expect(page.locator("#conn-banner")).to_be_visible(timeout=5000)
    await send_ko(ana)
    await expect(message_in(page, "Hello 안녕하세요")).to_have_class(re.compile(r"\bpending\b"))
    found = await audit(page, f"room with a pending message ko-KR/{scheme}")
    await page.context.set_offline(False)
    assert not found, found


FOCUS_VISIBLE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
  return outline || (s.boxShadow && s.boxShadow !== "none");
}"""


async def tab_to(page: Page, test: str, limit: int = 60, back: bool = False) -> None:
    """Press Tab (or Shift+Tab) until the focused element passes `test` (a JS predicate of the
    element); every element on the way must show its focus (the page itself may hold it once)."""
    for _ in range(limit):
        await page.keyboard.press("Shift+Tab" if back else "Tab")
        assert await page.evaluate(FOCUS_VISIBLE) is not False, await page.evaluate(
            "() => document.activeElement.outerHTML.slice(0, 200)"
        )
        if await page.evaluate(f"() => {{ const el = document.activeElement; return {test}; }}"):
            return
    raise AssertionError(f"no focus reached {test}")


async def test_keyboard_only_flow_with_visible_focus(
    local_page: NewLocalPage, web_url: str
) -> None:
    """Sign in, open a room, send and react with the keyboard alone; focus is always visible."""
    ana = await register(await local_page("en-US"), web_url, "Ana")
    await create_room(ana, "Keys 키보드")
    await send(ana, "first")

    page = await local_page("en-US")
    await page.goto(web_url)
    await expect(page.locator("#auth-view")).to_be_visible()
    await tab_to(page, "el.matches('#login-form input[name=email]')")
    await page.keyboard.type(ana.email)
    await tab_to(page, "el.matches('#login-form input[name=password]')")
    await page.keyboard.type(ana.password)
    await page.keyboard.press("Enter")
    await expect(page.locator("#app-view")).to_be_visible()

    await tab_to(page, "el.closest('#room-list') !== null && el.textContent.includes('Keys')")
    await page.keyboard.press("Enter")
    await expect(page.locator("#chat-title")).to_have_text("Keys 키보드")

    await tab_to(page, "el.id === 'composer-input'")
    await page.keyboard.type("typed with keys 키")
    await page.keyboard.press("Enter")
    sent = message_in(page, "typed with keys 키")
    await expect(sent).to_have_count(1)

    await tab_to(
        page, "el.matches('li.msg') && el.textContent.includes('typed with keys')", back=True
    )
    await tab_to(page, "el.getAttribute('aria-label') === 'React to message'")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("menu", name="Pick a reaction")).to_be_visible()
    assert await page.evaluate(FOCUS_VISIBLE)
    await page.keyboard.press("Enter")
    await expect(sent.locator(".chip")).to_have_text("👍 1")
