"""The web client in Korean and English: catalogues, the language switch, plurals, dates in the
viewer's time zone, collation, translated server errors, and Hangul typed through an IME.

Screenshots of the Korean screens land in .artifacts/screenshots/*-ko.png.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import NewLocalPage
from tests.browser.people_ko import create_room_ko, register_ko, send_ko
from tests.browser.ui import message_in, open_members, register

STATIC = Path(__file__).resolve().parents[2] / "gateway" / "gateway" / "static"
DOCS = Path(__file__).resolve().parents[2] / "docs"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# A 422 names the invalid field (its code is invalid_input) unless it is one of the codes.
FIELDS_422 = {"action", "code", "cursor", "emoji", "endpoint", "expires_in", "level", "limit"}
FIELDS_422 |= {"max_uses", "member_ids", "password", "q", "reason", "reply_to", "role", "title"}
FIELDS_422 |= {"thread_root_id", "until", "url", "user_id", "visibility"}


async def i18n_eval(page: Page, body: str) -> Any:
    """Run `body` (an async function body with `m` the i18n module) in the page."""
    return await page.evaluate(f"async () => {{ const m = await import('./i18n.js'); {body} }}")


def documented_error_codes() -> set[str]:
    """Every error code the docs list: `4xx code` / `5xx code` in docs/api/*.md and the
    websocket error table of docs/protocol.md."""
    codes: set[str] = set()
    for page in [DOCS / "api.md", *sorted((DOCS / "api").glob("*.md"))]:
        for status, code in re.findall(r"\b([45]\d\d) `([a-z][a-z_]+)`", page.read_text()):
            if status != "422" or code not in FIELDS_422:
                codes.add(code)
    protocol = (DOCS / "protocol.md").read_text()
    table = protocol.split("## Errors", 1)[1].split("\n## ", 1)[0]
    for line in table.splitlines():
        if line.startswith("| `"):
            codes |= set(re.findall(r"`([a-z][a-z_]+)`", line.split("|")[1]))
    return codes


def test_catalogues_have_the_same_keys_and_every_documented_error() -> None:
    """en.json and ko.json hold the same keys, in Korean, and a sentence for each error code."""
    en = json.loads((STATIC / "locales" / "en.json").read_text())
    ko = json.loads((STATIC / "locales" / "ko.json").read_text())
    assert set(en) == set(ko)
    codes = documented_error_codes()
    assert len(codes) > 20
    missing = sorted(code for code in codes if f"error.{code}" not in en)
    assert not missing, missing
    # Words outside the placeholders must be Korean; formats ("{name}: {text}") and key caps
    # ("Shift + Enter", as Korean keyboards label them) have none to translate.
    untranslated = [
        k
        for k, v in ko.items()
        if isinstance(v, str)
        and k != "_language"
        and not k.startswith("keys.key.")
        and not HANGUL.search(v)
        and not re.fullmatch(r"[{}\w\s.]+", v)
        and re.search(r"[A-Za-z]", re.sub(r"\{\w+\}", "", v))
    ]
    assert not untranslated, untranslated


async def test_gateway_lists_the_languages(web_url: str) -> None:
    """/locales/index.json names one language per catalogue file, with its own name."""
    async with httpx.AsyncClient() as http:
        answer = await http.get(web_url + "locales/index.json")
    assert answer.status_code == 200
    assert answer.json() == {
        "languages": [{"code": "en", "name": "English"}, {"code": "ko", "name": "한국어"}]
    }


async def test_korean_browser_gets_korean_and_a_full_flow(
    local_page: NewLocalPage, web_url: str, screenshots: Path
) -> None:
    """A ko-KR browser shows Korean from sign-in to a room with a Hangul title, and the screens
    are saved as screenshots."""
    page = await local_page("ko-KR")
    await page.goto(web_url)
    await expect(page.locator("html")).to_have_attribute("lang", "ko")
    await expect(page.locator("#auth-title")).to_have_text("Chat에 오신 걸 환영해요")
    await page.screenshot(path=screenshots / "sign-in-ko.png")

    ana = await register_ko(page, web_url, "지안")
    await expect(page.get_by_role("button", name="방 둘러보기")).to_be_visible()
    await expect(page.get_by_role("button", name="알림")).to_be_visible()
    await create_room_ko(ana, "주말 계획 모임")
    await send_ko(ana, "안녕하세요, 모두 반가워요!")
    mine = message_in(page, "안녕하세요, 모두 반가워요!")
    await expect(mine).to_have_count(1)
    await expect(mine).not_to_have_class(re.compile(r"\bpending\b"))
    # Times are Korean clock times in Seoul ("오후 3:05" / "오전 9:41").
    assert re.search(r"(오전|오후) \d{1,2}:\d{2}", await page.locator("#message-list").inner_text())
    await page.screenshot(path=screenshots / "room-ko.png")

    await mine.hover()
    await mine.get_by_role("button", name="메시지에 반응 남기기").click()
    await page.get_by_role("menuitem", name="👍(으)로 반응하기").click()
    await expect(mine.locator(".chip")).to_have_attribute("aria-label", "👍 1개, 나 포함")

    await open_members(ana)
    await expect(page.get_by_role("button", name="초대 링크")).to_be_visible()
    await page.screenshot(path=screenshots / "members-ko.png")

    await page.get_by_role("button", name="방 둘러보기").click()
    dialog = page.locator("#directory-dialog")
    await expect(dialog.get_by_role("heading")).to_have_text("공개 방")
    await dialog.get_by_role("button", name="닫기").click()

    await page.locator("#profile-button").click()
    profile = page.locator("#profile-dialog")
    await expect(profile.get_by_role("heading")).to_have_text("내 프로필")
    await expect(profile.get_by_label("언어")).to_have_value("ko")
    await expect(profile.locator("#profile-email")).to_have_text(f"{ana.email}(으)로 로그인했어요")
    await page.screenshot(path=screenshots / "profile-ko.png")
    await profile.get_by_role("button", name="닫기").click()

    await page.get_by_role("button", name="알림").click()
    await expect(page.locator("#notify-dialog")).to_contain_text("이 기기에서 알림 받기")
    await page.screenshot(path=screenshots / "settings-ko.png")


async def test_language_switch_is_remembered(local_page: NewLocalPage, web_url: str) -> None:
    """Choosing 한국어 in the profile switches an English browser to Korean, across reloads."""
    page = await local_page("en-US")
    ana = await register(page, web_url, "Ana")
    await page.locator("#profile-button").click()
    await expect(page.locator("#profile-dialog").get_by_label("Language")).to_have_value("en")
    async with page.expect_navigation():
        await page.locator("#language-select").select_option("ko")
    await expect(page.locator("html")).to_have_attribute("lang", "ko")
    await expect(page.locator("#me-name")).to_have_text(ana.name)
    await expect(page.get_by_role("button", name="방 둘러보기")).to_be_visible()
    await page.reload()
    await expect(page.get_by_role("button", name="새 방")).to_be_visible()
    assert await page.evaluate("localStorage.getItem('chat.lang')") == "ko"


async def test_plurals_dates_and_sorting_in_both_languages(
    local_page: NewLocalPage, web_url: str
) -> None:
    """Plural forms, clock times, "yesterday", lists and collation follow each language."""
    expected = {
        "en-US": {
            "one": "1 reply",
            "two": "2 replies",
            "members": "1 member",
            "many": "1,234 members",
            "time": "3:05 PM",
            "yesterday": "Yesterday",
            "today": "Today",
            "ago": "5 minutes ago",
            "list": "A, B, and C",
            "sorted": ["Alice", "bob", "dan", "Émile", "가방", "나무", "하늘"],
        },
        "ko-KR": {
            "one": "답글 1개",
            "two": "답글 2개",
            "members": "멤버 1명",
            "many": "멤버 1,234명",
            "time": "오후 3:05",
            "yesterday": "어제",
            "today": "오늘",
            "ago": "5분 전",
            "list": "A, B 및 C",
            "sorted": ["가방", "나무", "하늘", "Alice", "bob", "dan", "Émile"],
        },
    }
    for locale, want in expected.items():
        page = await local_page(locale, tz="Asia/Seoul")
        await page.goto(web_url)
        got = await i18n_eval(
            page,
            """
            const now = new Date("2026-12-05T06:30:00Z");
            return {
              one: m.t("convo.replies", {count: 1}),
              two: m.t("convo.replies", {count: 2}),
              members: m.t("directory.members", {count: 1}),
              many: m.t("directory.members", {count: 1234}),
              time: m.clockTime("2026-12-05T06:05:00Z"),
              yesterday: m.dayLabel("2026-12-04T03:00:00Z", now),
              today: m.dayLabel("2026-12-05T01:00:00Z", now),
              ago: m.relativeTime("2026-12-05T06:25:00Z", now),
              list: m.listOf(["A", "B", "C"]),
              sorted: m.sortByText(["하늘", "bob", "Émile", "가방", "Alice", "dan", "나무"],
                                   (x) => x),
            };
            """,
        )
        got["time"] = got["time"].replace("\u202f", " ")
        assert got == want, locale


async def test_server_errors_are_shown_by_code_in_korean(
    local_page: NewLocalPage, web_url: str
) -> None:
    """A wrong password shows the Korean sentence for `invalid_credentials`; an unknown code
    falls back to a generic sentence, never the server's English."""
    page = await local_page("ko-KR")
    await page.goto(web_url)
    form = page.locator("#login-form")
    await form.get_by_label("이메일").fill("nobody-here@example.test")
    await form.get_by_label("비밀번호").fill("not-the-password")
    await form.get_by_role("button", name="로그인").click()
    await expect(form.get_by_role("alert")).to_have_text("이메일이나 비밀번호가 맞지 않아요.")
    texts = await i18n_eval(
        page,
        """return [m.errorText({code: "no_such_code", message: "Raw English"}),
                   m.errorText({code: "muted", message: "Raw English"})];""",
    )
    assert texts == ["문제가 생겼어요. 다시 시도해 주세요.", "지금은 이 방에서 채팅할 수 없어요."]


async def test_hangul_through_an_ime_is_sent_whole(local_page: NewLocalPage, web_url: str) -> None:
    """Enter while an IME composes a syllable (isComposing, or keyCode 229) sends nothing; after
    compositionend, Enter sends the whole Hangul text once."""
    page = await local_page("ko-KR")
    ana = await register_ko(page, web_url, "민서")
    await create_room_ko(ana, "입력기 시험")
    box = page.get_by_label("메시지", exact=True)
    await box.focus()
    await page.evaluate(
        """() => {
          const box = document.querySelector("#composer-input");
          const key = (init) => box.dispatchEvent(new KeyboardEvent("keydown",
            {key: "Enter", code: "Enter", bubbles: true, cancelable: true, ...init}));
          box.dispatchEvent(new CompositionEvent("compositionstart", {data: "", bubbles: true}));
          const steps = [["ㅇ", "ㅇ"], ["안", "안"], ["안녕", "녕"], ["안녕하", "하"],
                         ["안녕하세", "세"], ["안녕하세ㅇ", "ㅇ"], ["안녕하세요", "요"]];
          for (const [text, part] of steps) {
            box.value = text;
            box.dispatchEvent(new CompositionEvent("compositionupdate", {data: part}));
            box.dispatchEvent(new InputEvent("input",
              {data: part, inputType: "insertCompositionText", isComposing: true}));
            key({isComposing: true, keyCode: 229});
            key({isComposing: false, keyCode: 229});
          }
          box.dispatchEvent(new CompositionEvent("compositionend", {data: "요", bubbles: true}));
        }"""
    )
    await expect(box).to_have_value("안녕하세요")
    await expect(page.locator("#message-list li.msg")).to_have_count(0)
    await box.press("Enter")
    await expect(message_in(page, "안녕하세요")).to_have_count(1)
    await expect(box).to_have_value("")
    texts = await page.locator("#message-list li.msg .body").all_inner_texts()
    assert texts == ["안녕하세요"]
