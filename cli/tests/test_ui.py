"""``chat ui`` under Textual's pilot, against the real services and a gateway of its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from textual.widgets import Static

from chat_cli.client import Api
from chat_cli.endpoints import Endpoints
from chat_cli.session import SessionStore
from chat_cli.ui import ChatApp
from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.users import TestUser

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".artifacts" / "screenshots"


async def _until(check: Callable[[], bool], what: str, wait: float = 15.0) -> None:
    deadline = time.monotonic() + wait
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _log(app: ChatApp) -> list[str]:
    """The open room's messages as shown, in screen order."""
    return [str(w.content) for w in app.query(".message").results(Static)]


@pytest.fixture
async def api_for(
    tmp_path: Path,
    auth_service: ServiceProcess,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
) -> AsyncIterator[Callable[..., object]]:
    """``await api_for(user, gateway)``: an :class:`Api` logged in as ``user``."""
    async with httpx.AsyncClient(timeout=10) as http:

        async def make(user: TestUser, gateway: ServiceProcess) -> Api:
            endpoints = Endpoints(
                auth_url=auth_service.url,
                rooms_url=room_service.url,
                messages_url=message_service.url,
                ws_url=f"ws://127.0.0.1:{gateway.port}/ws",
            )
            api = Api(endpoints, SessionStore(tmp_path / str(user.id)), http)
            await api.login(user.email, user.password)
            return api

        yield make


async def test_ui_lives_through_a_gateway_restart(
    api_for: Callable[..., object],
    start_service: Callable[..., ServiceProcess],
    make_user: MakeUser,
    http: httpx.AsyncClient,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
) -> None:
    """Log in, open a room from the list, see history and a live message from someone else,
    send one from the composer, see an edit in place, and after the gateway restarts see
    what was sent meanwhile: every message once, in order."""
    gateway = start_service("gateway", migrate=False)
    me, other = await make_user(display_name="Me"), await make_user(display_name="민지")
    chat = Chat(http, room_service.url, message_service.url)
    room = await chat.room(other, me)
    await chat.send(other, room, "before you came")
    api = await api_for(me, gateway)  # type: ignore[operator]
    app = ChatApp(api)
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(lambda: bool(app.query(f"#room-{room}")), "the room in the list")
        await pilot.click(f"#room-{room}")
        await _until(lambda: app.current == room, "the room to open")
        await _until(lambda: any("before you came" in t for t in _log(app)), "history")

        live = await chat.send(other, room, "a live one")
        await _until(lambda: any("민지: a live one" in t for t in _log(app)), "a live message")

        await pilot.click("#composer")
        await pilot.press(*"hello from the terminal", "enter")
        await _until(lambda: any("Me: hello from the terminal" in t for t in _log(app)), "mine")

        edited = await http.patch(
            f"{message_service.url}/messages/{live['id']}",
            json={"body": "a live one, fixed"},
            headers=other.headers,
        )
        assert edited.status_code == 200, edited.text
        await _until(lambda: any("fixed  (edited)" in t for t in _log(app)), "the edit")
        assert len(_log(app)) == 3

        await asyncio.to_thread(gateway.stop)
        await _until(
            lambda: "Reconnecting" in str(app.query_one("#status", Static).content), "the drop"
        )
        for body in ("two", "three"):
            await chat.send(other, room, body)
        await asyncio.to_thread(gateway.start)
        await chat.send(other, room, "four")
        await _until(lambda: any("four" in t for t in _log(app)), "what came meanwhile", 30)
        shown = _log(app)
        assert [t.rsplit(": ", 1)[1] for t in shown] == [
            "before you came",
            "a live one, fixed  (edited)",
            "hello from the terminal",
            "two",
            "three",
            "four",
        ]
        assert [w.id for w in app.query(".message")] == ["m1", "m2", "m3", "m4", "m5", "m6"]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(filename="tui-room.svg", path=str(SCREENSHOTS))


async def test_ui_refuses_an_empty_or_too_long_message(
    api_for: Callable[..., object],
    gateway_service: ServiceProcess,
    make_user: MakeUser,
    http: httpx.AsyncClient,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
) -> None:
    """Blank or over 4,000 characters: a clear line, nothing sent, the text kept to fix."""
    me = await make_user()
    chat = Chat(http, room_service.url, message_service.url)
    room = await chat.room(me)
    app = ChatApp(await api_for(me, gateway_service))  # type: ignore[operator]
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(lambda: bool(app.query(f"#room-{room}")), "the room in the list")
        await app.open_room(room)
        await pilot.click("#composer")
        await pilot.press("space", "space", "enter")
        status = app.query_one("#status", Static)
        assert "empty" in str(status.content)
        composer = app.query_one("#composer")
        composer.value = "x" * 4001  # type: ignore[attr-defined]
        await pilot.press("enter")
        assert "4,001 characters" in str(status.content)
        assert composer.value == "x" * 4001  # type: ignore[attr-defined]
        page = await http.get(
            f"{message_service.url}/messages", params={"room_id": room}, headers=me.headers
        )
        assert page.json()["items"] == []
