"""The terminal client in Korean and English: language choice, plurals, dates, error codes,
and ``chat ui`` in Korean under Textual's pilot."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from textual.widgets import Input, Static

from chat_cli import i18n
from chat_cli.__main__ import build_parser
from chat_cli.client import Api, ApiError
from chat_cli.endpoints import Endpoints
from chat_cli.i18n import clock, day_label, error_text, from_environment, names, set_language, t
from chat_cli.session import SessionStore
from chat_cli.ui import ChatApp
from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".artifacts" / "screenshots"


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    """Each test may switch the language; the next one starts in English again."""
    yield
    set_language("en")


@pytest.fixture
def seoul() -> Iterator[None]:
    """The local time zone is Seoul for the test."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Seoul"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_catalogues_hold_the_same_keys() -> None:
    """en.json and ko.json of the terminal client name the same messages."""
    en = json.loads((i18n.LOCALES / "en.json").read_text(encoding="utf-8"))
    ko = json.loads((i18n.LOCALES / "ko.json").read_text(encoding="utf-8"))
    assert set(en) == set(ko)
    assert i18n.available() == ["en", "ko"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANG": "ko_KR.UTF-8"}, "ko"),
        ({"LANG": "ko_KR.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "ko_KR.UTF-8"}, "ko"),
        ({"LC_MESSAGES": "ko"}, "ko"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_language_follows_the_environment(env: dict[str, str], expected: str) -> None:
    """LC_ALL, then LC_MESSAGES, then LANG pick the language; unknown ones give English."""
    assert from_environment(env) == expected


def test_lang_flag_is_accepted_before_or_after_the_command() -> None:
    """``--lang ko`` is a flag of every command."""
    assert build_parser().parse_args(["--lang", "ko", "rooms"]).lang == "ko"
    assert build_parser().parse_args(["rooms", "--lang", "ko"]).lang == "ko"
    assert set_language("ko_KR") == "ko"
    assert set_language("xx") == "en"


def test_plurals_in_both_languages() -> None:
    """Counts use each language's plural rule and grouping, never concatenation."""
    assert t("ui.online", count=1) == "1 other online"
    assert t("ui.online", count=2) == "2 others online"
    assert t("ui.waiting", count=1) == "Reconnecting… 1 message waiting to be sent"
    assert t("ui.too_long", count=4001, max=4000) == (
        "The message has 4,001 characters; at most 4,000 fit."
    )
    assert t("ui.typing", count=2, names=names(["Ana", "Bo"])) == "Ana and Bo are typing…"
    set_language("ko")
    assert t("ui.online", count=1) == "다른 1명 접속 중"
    assert t("ui.online", count=2) == "다른 2명 접속 중"
    assert t("ui.waiting", count=3) == "다시 연결하는 중… 보낼 메시지 3개가 기다리고 있어요"
    assert (
        t("ui.too_long", count=4001, max=4000)
        == "메시지가 4,001자예요. 4,000자까지 보낼 수 있어요."
    )
    assert (
        t("ui.typing", count=2, names=names(["지안", "민지"]))
        == "지안 및 민지 님이 입력하고 있어요…"
    )


def test_dates_in_both_languages_in_the_local_time_zone(seoul: None) -> None:
    """Clock times and day names follow the language, in the local (Seoul) time zone."""
    today = date(2026, 12, 5)
    afternoon = "2026-12-05T06:05:00Z"  # 15:05 in Seoul
    assert clock(afternoon).replace("\u202f", " ") == "3:05 PM"
    assert day_label("2026-12-04T03:00:00Z", today) == "Yesterday"
    assert day_label("2026-12-05T01:00:00Z", today) == "Today"
    assert day_label("2026-12-01T03:00:00Z", today) == "Dec 1, 2026"
    set_language("ko")
    assert clock(afternoon) == "오후 3:05"
    assert clock("2026-12-05T00:41:00Z") == "오전 9:41"
    assert day_label("2026-12-04T03:00:00Z", today) == "어제"
    assert day_label("2026-12-05T01:00:00Z", today) == "오늘"
    assert day_label("2026-12-01T03:00:00Z", today) == "2026. 12. 1."


def test_service_errors_are_shown_by_code() -> None:
    """In Korean a service error shows the catalogue's sentence for its code (generic for an
    unknown code), never the service's English; in English the service's sentence stands."""
    assert str(ApiError(403, "muted", "You are muted here.")) == "You are muted here. (403 muted)"
    set_language("ko")
    assert str(ApiError(403, "muted", "You are muted here.")) == (
        "지금은 이 방에서 채팅할 수 없어요. (403 muted)"
    )
    assert error_text("no_such_code", "Raw English") == "문제가 생겼어요. 다시 시도해 주세요."


async def _until(check: Callable[[], bool], what: str, wait: float = 15.0) -> None:
    deadline = time.monotonic() + wait
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def korean_api(
    tmp_path: Path,
    auth_service: ServiceProcess,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
    gateway_service: ServiceProcess,
) -> AsyncIterator[Callable[..., object]]:
    """``await korean_api(user)``: an :class:`Api` logged in as ``user``."""
    async with httpx.AsyncClient(timeout=10) as http:

        async def make(user: object) -> Api:
            endpoints = Endpoints(
                auth_url=auth_service.url,
                rooms_url=room_service.url,
                messages_url=message_service.url,
                ws_url=f"ws://127.0.0.1:{gateway_service.port}/ws",
            )
            api = Api(endpoints, SessionStore(tmp_path / "session"), http)
            await api.login(user.email, user.password)  # type: ignore[attr-defined]
            return api

        yield make


def _screen_text(app: ChatApp) -> str:
    parts = [str(w.content) for w in app.query(Static).results(Static)]
    parts.append(app.query_one("#composer", Input).placeholder)
    return "\n".join(parts)


async def test_ui_in_korean_under_the_pilot(
    korean_api: Callable[..., object],
    make_user: MakeUser,
    http: httpx.AsyncClient,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
    seoul: None,
) -> None:
    """``chat ui --lang ko``: the title, composer, status lines and message times are Korean,
    and a Hangul message typed in the composer arrives whole."""
    set_language("ko")
    me, other = await make_user(display_name="지안"), await make_user(display_name="민지")
    chat = Chat(http, room_service.url, message_service.url)
    room = await chat.room(other, me)
    await chat.send(other, room, "안녕하세요, 반가워요")
    app = ChatApp(await korean_api(me))  # type: ignore[operator]
    async with app.run_test(size=(120, 40)) as pilot:
        title = app.query_one("#title", Static)
        await _until(lambda: bool(app.query(f"#room-{room}")), "the room in the list")
        assert "/help" in app.query_one("#composer", Input).placeholder
        assert "메시지를 입력하거나" in app.query_one("#composer", Input).placeholder
        await _until(lambda: "방을 고르세요" in str(title.content), "the Korean title")

        await pilot.click(f"#room-{room}")
        await _until(lambda: app.current == room, "the room to open")
        await _until(lambda: "접속 중" in str(title.content), "who is online, in Korean")
        await _until(lambda: "민지: 안녕하세요, 반가워요" in _screen_text(app), "history")
        shown = [str(w.content) for w in app.query(".message").results(Static)]
        assert shown[0].startswith(("오전 ", "오후 ")), shown

        await pilot.click("#composer")
        await pilot.press("space", "enter")
        status = app.query_one("#status", Static)
        assert str(status.content) == "보낼 내용이 없어요. 메시지가 비어 있어요."
        app.query_one("#composer", Input).value = "터미널에서 보내요"
        await pilot.press("enter")
        await _until(lambda: "지안: 터미널에서 보내요" in _screen_text(app), "mine, whole")
        page = await http.get(
            f"{message_service.url}/messages", params={"room_id": room}, headers=me.headers
        )
        assert "터미널에서 보내요" in [m["body"] for m in page.json()["items"]]

        app.query_one("#composer", Input).value = "/help"
        await pilot.press("enter")
        await _until(lambda: "공개 방에 참여하거나" in str(status.content), "Korean help")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(filename="tui-room-ko.svg", path=str(SCREENSHOTS))


def _chat(args: list[str], env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    full = {"PATH": os.environ.get("PATH", ""), "CHAT_CLI_CONFIG": str(home), **env}
    return subprocess.run(
        [sys.executable, "-m", "chat_cli", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_chat_follows_lang_and_the_flag_wins(tmp_path: Path) -> None:
    """``LANG=ko_KR.UTF-8 chat rooms`` answers in Korean; ``--lang en`` overrides LANG."""
    urls = {
        "CHAT_AUTH_URL": "http://127.0.0.1:9",
        "CHAT_ROOMS_URL": "http://127.0.0.1:9",
        "CHAT_MESSAGES_URL": "http://127.0.0.1:9",
        "CHAT_WS_URL": "ws://127.0.0.1:9/ws",
    }
    korean = _chat(["rooms"], {"LANG": "ko_KR.UTF-8", **urls}, tmp_path)
    assert korean.returncode == 2
    assert korean.stderr.strip() == "chat: 로그인하지 않았어요: 먼저 `chat login`을 실행하세요"
    english = _chat(["rooms", "--lang", "en"], {"LANG": "ko_KR.UTF-8", **urls}, tmp_path)
    assert english.returncode == 2
    assert english.stderr.strip() == "chat: not logged in: run `chat login` first"
    flag = _chat(["--lang", "ko", "send", "방"], {"LANG": "C.UTF-8", **urls}, tmp_path)
    assert flag.stderr.strip() == "chat: 보낼 내용이 없어요: 메시지가 비어 있어요"
