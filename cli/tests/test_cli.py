"""The terminal client against the real running system, as a user runs it: subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from chat_cli.search import shown
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.users import TestUser

LINE_WAIT = 5.0


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose session file lives in this test's own directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    return {**env, "CHAT_CLI_CONFIG": str(tmp_path / "chat-cli")}


async def chat(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run ``python -m chat_cli ARGS``; returns the exit status, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chat_cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, out.decode(), err.decode()


async def logged_in(env: dict[str, str], gateway: ServiceProcess, user: TestUser) -> None:
    status, out, err = await chat(
        env, "--gateway", gateway.url, "login", "--email", user.email, "--password", user.password
    )
    assert status == 0, err
    assert user.display_name in out


async def new_room(http: httpx.AsyncClient, rooms: ServiceProcess, user: TestUser) -> str:
    created = await http.post(f"{rooms.url}/rooms", headers=user.headers, json={"title": "cli"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


class Tailing:
    """A running ``chat tail`` whose output lines are read with a timeout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self, wait: float = LINE_WAIT) -> str:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), wait)
        assert raw, "tail ended"
        return raw.decode().rstrip("\n")

    async def status(self, text: str, wait: float = 20.0) -> None:
        """Wait for a status line on stderr that contains `text`."""
        assert self.process.stderr is not None
        while True:
            raw = await asyncio.wait_for(self.process.stderr.readline(), wait)
            assert raw, "tail ended"
            if text in raw.decode():
                return

    async def nothing_more(self, wait: float = 1.0) -> None:
        assert self.process.stdout is not None
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(self.process.stdout.readline(), wait)


@pytest.fixture
async def tail(cli_env: dict[str, str]) -> AsyncIterator[Callable[..., object]]:
    """``await tail(*args)``: start ``chat tail``; it is stopped when the test ends."""
    started: list[asyncio.subprocess.Process] = []

    async def start(*args: str) -> Tailing:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "chat_cli",
            *args,
            env=cli_env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        started.append(process)
        return Tailing(process)

    yield start
    for process in started:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def test_login_keeps_a_private_session_file(
    cli_env: dict[str, str], gateway_service: ServiceProcess, make_user: MakeUser
) -> None:
    """login stores the tokens in session.json with mode 0600; rooms then works with it."""
    user = await make_user()
    await logged_in(cli_env, gateway_service, user)
    path = Path(cli_env["CHAT_CLI_CONFIG"]) / "session.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert saved["refresh_token"]
    assert saved["user"]["id"] == str(user.id)
    status, out, err = await chat(cli_env, "rooms", "--json")
    assert status == 0, err
    assert out == ""


async def test_register_logs_in(cli_env: dict[str, str], gateway_service: ServiceProcess) -> None:
    """register creates the account and leaves a session behind."""
    email = f"cli-{uuid.uuid4().hex[:8]}@example.test"
    status, out, err = await chat(
        cli_env,
        "--gateway",
        gateway_service.url,
        "register",
        "--email",
        email,
        "--display-name",
        "Cli Person",
        "--password",
        "long-enough-pw",
    )
    assert status == 0, err
    assert "Cli Person" in out
    status, _, err = await chat(cli_env, "rooms")
    assert status == 0, err


async def test_send_reaches_a_running_tail(
    cli_env: dict[str, str],
    gateway_service: ServiceProcess,
    room_service: ServiceProcess,
    make_user: MakeUser,
    http: httpx.AsyncClient,
    tail: Callable[..., object],
) -> None:
    """A message sent with `chat send` is printed by `chat tail` on the same room, once."""
    user = await make_user(display_name="Tail Tester")
    await logged_in(cli_env, gateway_service, user)
    room = await new_room(http, room_service, user)
    watcher = await tail("tail", room)  # type: ignore[operator]
    await watcher.status("# connected")
    status, out, err = await chat(cli_env, "send", room, "hello", "from", "the", "terminal")
    assert status == 0, err
    assert out.startswith("sent #1")
    line = await watcher.line()
    assert line.endswith("#1  Tail Tester: hello from the terminal")
    await watcher.nothing_more()

    status, out, _ = await chat(cli_env, "rooms")
    assert room in out
    status, out, _ = await chat(cli_env, "history", room, "--json")
    assert [json.loads(x)["body"] for x in out.splitlines()] == ["hello from the terminal"]


async def test_tail_since_prints_what_came_before(
    cli_env: dict[str, str],
    gateway_service: ServiceProcess,
    room_service: ServiceProcess,
    make_user: MakeUser,
    http: httpx.AsyncClient,
    tail: Callable[..., object],
) -> None:
    """tail --since SEQ prints the messages after SEQ first, in order, then live ones."""
    user = await make_user()
    await logged_in(cli_env, gateway_service, user)
    room = await new_room(http, room_service, user)
    for n in range(1, 4):
        assert (await chat(cli_env, "send", room, f"early {n}"))[0] == 0
    watcher = await tail("tail", room, "--since", "1", "--json")  # type: ignore[operator]
    got = [json.loads(await watcher.line())["message"] for _ in range(2)]
    assert [(m["seq"], m["body"]) for m in got] == [(2, "early 2"), (3, "early 3")]
    assert (await chat(cli_env, "send", room, "late"))[0] == 0
    assert json.loads(await watcher.line())["message"]["seq"] == 4


async def test_tail_resumes_after_the_gateway_restarts(
    cli_env: dict[str, str],
    gateway_service: ServiceProcess,
    room_service: ServiceProcess,
    make_user: MakeUser,
    http: httpx.AsyncClient,
    tail: Callable[..., object],
    start_service: Callable[..., ServiceProcess],
) -> None:
    """Messages sent while tail's gateway is down are printed after it returns, once each."""
    spare = start_service("gateway", migrate=False)
    user = await make_user()
    await logged_in(cli_env, gateway_service, user)
    room = await new_room(http, room_service, user)
    watcher = await tail(  # type: ignore[operator]
        "tail", room, "--ws-url", f"ws://127.0.0.1:{spare.port}/ws"
    )
    await watcher.status("# connected")
    assert (await chat(cli_env, "send", room, "one"))[0] == 0
    assert (await watcher.line()).endswith(": one")

    await asyncio.to_thread(spare.stop)
    await watcher.status("# disconnected")
    for body in ("two", "three"):
        assert (await chat(cli_env, "send", room, body))[0] == 0
    await asyncio.to_thread(spare.start)
    await watcher.status("# connected")
    assert (await chat(cli_env, "send", room, "four"))[0] == 0
    lines = [await watcher.line(10.0) for _ in range(3)]
    assert [line.rsplit(": ", 1)[1] for line in lines] == ["two", "three", "four"]
    assert ["#2" in lines[0], "#3" in lines[1], "#4" in lines[2]] == [True, True, True]
    await watcher.nothing_more()


async def test_bad_input_gets_a_clear_error(
    cli_env: dict[str, str], gateway_service: ServiceProcess, make_user: MakeUser
) -> None:
    """An unknown room, an empty message and a wrong password each get a one-line error."""
    user = await make_user()
    await logged_in(cli_env, gateway_service, user)
    status, _, err = await chat(cli_env, "send", str(uuid.uuid4()), "hello")
    assert status == 1
    assert err.startswith("chat: ")
    assert "(404 " in err
    status, _, err = await chat(cli_env, "send", str(uuid.uuid4()), "   ")
    assert status == 2
    assert "empty" in err
    status, _, err = await chat(
        cli_env, "login", "--email", user.email, "--password", "wrong-password"
    )
    assert status == 1
    assert "invalid_credentials" in err


async def test_join_by_name_code_or_link_and_list_public_rooms(
    cli_env: dict[str, str],
    gateway_service: ServiceProcess,
    room_service: ServiceProcess,
    http: httpx.AsyncClient,
    make_user: MakeUser,
) -> None:
    """``chat rooms --public`` lists public rooms; ``chat join`` takes a public room's name,
    an invite link or a bare code."""
    owner, user = await make_user(), await make_user()
    title = f"독서 모임 {owner.id.hex[:6]}"
    r = await http.post(
        f"{room_service.url}/rooms",
        headers=owner.headers,
        json={"title": title, "visibility": "public"},
    )
    public_id = r.json()["id"]
    private_id = await new_room(http, room_service, owner)
    link = await http.post(
        f"{room_service.url}/rooms/{private_id}/invites", headers=owner.headers, json={}
    )
    second = await new_room(http, room_service, owner)
    code = await http.post(
        f"{room_service.url}/rooms/{second}/invites", headers=owner.headers, json={}
    )
    await logged_in(cli_env, gateway_service, user)

    status, out, err = await chat(cli_env, "rooms", "--public", "--query", title[:2])
    assert status == 0, err
    assert public_id in out
    status, out, err = await chat(cli_env, "join", title)
    assert status == 0, err
    assert f"joined {title}" in out
    status, out, err = await chat(cli_env, "join", link.json()["url"])
    assert status == 0, err
    assert private_id in out
    status, out, err = await chat(cli_env, "--json", "join", code.json()["code"])
    assert status == 0, err
    assert second in out
    status, _, err = await chat(cli_env, "join", "no such room anywhere at all")
    assert status == 1
    assert "no public room" in err


async def test_reply_thread_and_reactions_in_tail(
    cli_env: dict[str, str],
    gateway_service: ServiceProcess,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
    make_user: MakeUser,
    http: httpx.AsyncClient,
    tail: Callable[..., object],
) -> None:
    """`chat send --reply-to` and `--thread` send replies; `tail` prints them, the thread's
    new summary and a reaction, each once."""
    user = await make_user(display_name="보라")
    await logged_in(cli_env, gateway_service, user)
    room = await new_room(http, room_service, user)
    watcher = await tail("tail", room)  # type: ignore[operator]
    await watcher.status("# connected")
    status, out, err = await chat(cli_env, "send", room, "root", "--json")
    assert status == 0, err
    root = json.loads(out)
    assert (await watcher.line()).endswith("#1  보라: root")
    status, out, err = await chat(cli_env, "send", room, "quoted", "--reply-to", root["id"])
    assert status == 0, err
    assert f"reply to {root['id'][:8]}" in await watcher.line()
    status, out, err = await chat(cli_env, "send", room, "in thread", "--thread", root["id"])
    assert status == 0, err
    assert f"in thread {root['id'][:8]}" in await watcher.line()
    assert await watcher.line() == f"thread {root['id'][:8]}: 1 replies, last #3"
    r = await http.put(
        f"{message_service.url}/messages/{root['id']}/reactions/%F0%9F%91%8D",
        headers=user.headers,
    )
    assert r.status_code == 200
    assert await watcher.line() == f"react 👍 +1 (1) on {root['id'][:8]}  보라"
    await watcher.nothing_more()
    status, _, err = await chat(cli_env, "send", room, "x", "--reply-to", "nope")
    assert status == 2


def test_highlight_shown_on_a_terminal() -> None:
    """Marks become reverse video on a terminal and vanish elsewhere; entities are decoded
    and an escape character in a message never reaches the terminal."""
    highlight = "&lt;b&gt; <mark>회의</mark>는 \x1b[2J &amp;"
    assert shown(highlight, marks=True) == "<b> \x1b[7m회의\x1b[27m는 ?[2J &"
    assert shown(highlight, marks=False) == "<b> 회의는 ?[2J &"


async def test_search_prints_hits(
    cli_env: dict[str, str],
    gateway_service: ServiceProcess,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
    make_user: MakeUser,
    http: httpx.AsyncClient,
) -> None:
    """`chat search` prints each hit with its room and sender, `--room` narrows, `--json`
    gives the service's hits; nothing found is said on stderr; an empty query is a usage
    error."""
    user = await make_user(display_name="Searcher")
    await logged_in(cli_env, gateway_service, user)
    first = await new_room(http, room_service, user)
    second = await new_room(http, room_service, user)
    for room, body in ((first, "회의는 내일 오후 3시입니다"), (second, "회의록 <공유>")):
        sent = await http.post(
            f"{message_service.url}/messages",
            headers=user.headers,
            json={"room_id": room, "body": body, "client_msg_id": body},
        )
        assert sent.status_code == 201, sent.text
    status, out, err = await chat(cli_env, "search", "회의")
    assert status == 0, err
    lines = sorted(out.splitlines())
    assert len(lines) == 2
    assert lines[0].startswith("cli  ")
    assert lines[0].endswith("#1  Searcher: 회의는 내일 오후 3시입니다")
    assert lines[1].endswith("#1  Searcher: 회의록 <공유>")
    status, out, err = await chat(cli_env, "search", "회의", "--room", second, "--json")
    assert status == 0, err
    hits = [json.loads(line) for line in out.splitlines()]
    assert [h["highlight"] for h in hits] == ["<mark>회의</mark>록 &lt;공유&gt;"]
    status, out, err = await chat(cli_env, "search", "nothing-like-this")
    assert (status, out) == (0, "")
    assert "no messages match" in err
    status, _, err = await chat(cli_env, "search", "  ")
    assert status == 2
    assert "nothing to search" in err
