"""The whole flow in Korean, read back as text: signing in, the room list, a room, a reaction,
a thread, the members and search show Korean and no English word; the plurals and counts the
room list, header, typing line and search announce follow each language.

Screenshots land in .artifacts/screenshots/*-ko.png.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from tests.browser.conftest import NewLocalPage
from tests.browser.people_ko import create_room_ko, register_ko, send_ko
from tests.browser.ui import Person, message_in, open_members

# Words the English screens show; none may be left on the Korean ones.
ENGLISH = [
    "Sign in", "Create account", "Email", "Password", "New room", "Find people", "Search",
    "Browse rooms", "Members", "Send", "Message", "Online", "Offline", "Connecting",
    "member", "Today", "Yesterday", "You", "React", "Reply", "Thread", "Edit", "Delete",
    "Close", "Leave room", "Add people", "typing", "Loading", "beginning", "Searching",
    "found", "Write a message", "Sign out", "Your profile", "Notifications",
]  # fmt: skip
# Latin words a Korean screen may show: the brand, the language switch's "English", file
# types and key caps.
LATIN_ALLOWED = {"Chat", "English", "PNG", "JPEG", "WebP", "MB", "KB"}
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
EMAIL = re.compile(r"\S+@\S+")

# Every piece of text on the page people can perceive: visible text nodes, and the
# accessible names, tooltips and placeholders of every element (hidden dialogs included).
PAGE_TEXT = """() => {
  const texts = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const owner = node.parentElement;
    if (!owner || owner.closest("script, style") || !node.textContent.trim()) continue;
    if (owner.checkVisibility && !owner.checkVisibility()) continue;
    texts.push(node.textContent);
  }
  for (const el of document.querySelectorAll("[aria-label], [title], [placeholder], [alt]")) {
    for (const name of ["aria-label", "title", "placeholder", "alt"]) {
      if (el.hasAttribute(name)) texts.push(el.getAttribute(name));
    }
  }
  return texts;
}"""


async def english_left(page: Page, own: list[str]) -> list[str]:
    """The English words on the page, once the people's own text (`own`) is taken out."""
    found = []
    for text in await page.evaluate(PAGE_TEXT):
        for mine in sorted(own, key=len, reverse=True):
            text = text.replace(mine, " ")
        text = EMAIL.sub(" ", text)
        words = set(LATIN_WORD.findall(text)) - LATIN_ALLOWED
        found += [f"{word!r} in {text.strip()[:80]!r}" for word in sorted(words)]
        found += [f"{word!r} in {text.strip()[:80]!r}" for word in ENGLISH if word in text]
    return found


async def check_korean(page: Page, screen: str, own: list[str], korean: list[str]) -> None:
    """The screen shows each of `korean` and no English word."""
    for word in korean:
        await expect(page.locator("body")).to_contain_text(word)
    left = await english_left(page, own)
    assert not left, f"{screen}: {left}"


async def sign_in_ko(page: Page, url: str, person: Person) -> None:
    await page.goto(url)
    form = page.locator("#login-form")
    await form.get_by_label("이메일").fill(person.email)
    await form.get_by_label("비밀번호").fill(person.password)
    await form.get_by_role("button", name="로그인").click()
    await expect(page.locator("#app-view")).to_be_visible()


async def test_korean_flow_leaves_no_english_word(
    local_page: NewLocalPage, web_url: str, screenshots: Path
) -> None:
    """Sign in, open a room, send, react and open a thread in Korean: each screen shows its
    Korean words and not one English word (people's own names and text aside)."""
    setup = await local_page("ko-KR")
    ana = await register_ko(setup, web_url, "하늘")
    await create_room_ko(ana, "점심 모임")
    await send_ko(ana, "오늘 점심 어디서 먹을까요")
    await setup.context.close()

    page = await local_page("ko-KR")
    await page.goto(web_url)
    await expect(page.locator("#auth-view")).to_be_visible()
    own = [ana.name, ana.email, "점심 모임", "오늘 점심 어디서 먹을까요", "김치찌개 좋아요"]
    await check_korean(page, "sign-in", own, ["로그인", "계정 만들기", "이메일", "비밀번호"])
    ana = Person(page, ana.name, ana.email, ana.password)
    await sign_in_ko(page, web_url, ana)

    await expect(page.locator("#room-list")).to_contain_text("점심 모임")
    await expect(page.locator("#conn-state")).to_have_text("접속 중")
    await check_korean(page, "room list", own, ["새 방", "사람 찾기", "검색", "방 둘러보기"])
    await page.screenshot(path=screenshots / "room-list-ko.png")

    await page.locator("#room-list").get_by_role("button", name="점심 모임").click()
    await expect(page.locator("#chat-title")).to_have_text("점심 모임")
    await expect(page.locator("#chat-sub")).to_have_text(re.compile(r"^멤버 1명"))
    await send_ko(ana, "김치찌개 좋아요")
    mine = message_in(page, "김치찌개 좋아요")
    await expect(mine).to_have_count(1)
    await expect(mine).not_to_have_class(re.compile(r"\bpending\b"))
    await mine.hover()
    await mine.get_by_role("button", name="메시지에 반응 남기기").click()
    await page.get_by_role("menuitem", name="👍(으)로 반응하기").click()
    await expect(mine.locator(".chip")).to_have_attribute("aria-label", "👍 1개, 나 포함")
    await check_korean(page, "room", own, ["오늘", "나", "보내기", "멤버"])
    await page.screenshot(path=screenshots / "room-reacted-ko.png")

    await mine.hover()
    await mine.get_by_role("button", name="스레드 열기").click()
    thread = page.locator("#thread-panel")
    await expect(thread).to_be_visible()
    await thread.get_by_role("textbox", name="스레드에 답글 쓰기").fill("저도요")
    await thread.get_by_role("textbox", name="스레드에 답글 쓰기").press("Enter")
    await expect(thread).to_contain_text("저도요")
    await expect(mine).to_contain_text("답글 1개")
    await check_korean(page, "thread", [*own, "저도요"], ["스레드", "답글 1개"])
    await page.screenshot(path=screenshots / "thread-ko.png")
    await thread.get_by_role("button", name="스레드 닫기").click()

    await open_members(ana)
    await expect(page.locator("#member-list")).to_contain_text(f"{ana.name} (나)")
    await check_korean(page, "members", [*own, "저도요"], ["멤버", "접속 중", "방장", "방 나가기"])
    await page.locator("#members-close").click()

    await page.get_by_role("button", name="검색", exact=True).click()
    await page.locator("#search-input").fill("김치찌개")
    await expect(page.locator("#search-results .search-hit")).to_have_count(1)
    await expect(page.locator("#search-state")).to_have_text("메시지 1개를 찾았어요.")
    await check_korean(page, "search", [*own, "저도요"], ["메시지 검색", "점심 모임"])
    await page.screenshot(path=screenshots / "search-ko.png")


async def i18n_eval(page: Page, body: str) -> Any:
    return await page.evaluate(f"async () => {{ const m = await import('./i18n.js'); {body} }}")


async def test_counts_of_the_converted_screens_in_both_languages(
    local_page: NewLocalPage, web_url: str
) -> None:
    """Unread counts, the header's members and online, typing, files, search results and a
    rate limit's seconds use each language's plural rules, never concatenation; a failed
    fetch, a bare status and a refused field are worded by the catalogue, never the raw text."""
    expected = {
        "en-US": [
            "Lunch, 1 unread",
            "Lunch, 3 unread, mentions you",
            "1 member",
            "3 members · 2 online",
            "Ana is typing…",
            "Ana and Bo are typing…",
            "3 people are typing…",
            "1 file",
            "2 files",
            "1 message found.",
            "You're going a little fast. Try again in 1 second.",
            "You're going a little fast. Try again in 5 seconds.",
            "Last seen just now",
            "Can't reach the server. Check your connection.",
            "The service is unavailable right now. Try again soon.",
            "Give the room a name (up to 200 characters).",
        ],
        "ko-KR": [
            "Lunch, 읽지 않은 메시지 1개",
            "Lunch, 읽지 않은 메시지 3개, 나를 언급함",
            "멤버 1명",
            "멤버 3명 · 2명 접속 중",
            "Ana 님이 입력하고 있어요…",
            "Ana 님과 Bo 님이 입력하고 있어요…",
            "3명이 입력하고 있어요…",
            "파일 1개",
            "파일 2개",
            "메시지 1개를 찾았어요.",
            "너무 빨라요. 1초 뒤에 다시 시도해 주세요.",
            "너무 빨라요. 5초 뒤에 다시 시도해 주세요.",
            "마지막 접속: 방금 전",
            "서버에 연결할 수 없어요. 인터넷 연결을 확인해 주세요.",
            "지금은 서비스를 쓸 수 없어요. 조금 뒤에 다시 시도해 주세요.",
            "방 이름을 정해 주세요(200자까지).",
        ],
    }
    for locale, want in expected.items():
        page = await local_page(locale)
        await page.goto(web_url)
        got = await i18n_eval(
            page,
            """
            const members = m.t("rooms.members", {count: 3});
            return [
              m.t("rooms.label_unread", {title: "Lunch", count: 1}),
              m.t("rooms.label_unread_mentions", {title: "Lunch", count: 3}),
              m.t("rooms.members", {count: 1}),
              m.t("app.members_online", {members, count: 2}),
              m.t("composer.typing_one", {name: "Ana"}),
              m.t("composer.typing_two", {first: "Ana", second: "Bo"}),
              m.t("composer.typing_count", {count: 3}),
              m.t("chat.files", {count: 1}),
              m.t("chat.files", {count: 2}),
              m.t("search.found", {count: 1}),
              m.errorText({status: 429, code: "rate_limited", retryAfter: 1}),
              m.errorText({status: 429, code: "rate_limited", retryAfter: 5}),
              m.t("members.last_seen", {when: m.t("members.just_now")}),
              m.errorText(new TypeError("Failed to fetch")),
              m.errorText({status: 503, code: "http_503", message: "Service Unavailable"}),
              m.errorText({status: 422, code: "invalid_input", field: "body.title"}),
            ];
            """,
        )
        assert got == want, locale
