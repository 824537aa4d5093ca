"""`make run` as a newcomer uses it: a scripted chat session over real HTTP and websockets,
`make seed` twice, then Ctrl-C (SIGINT to the whole process group) leaving no process behind.

`make run` gets this test run's Postgres server (a database name that does not exist yet, so
it must create it), its own Redis prefix, free ports and a key file path with no key yet.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from chat_testkit.servers import free_port
from chat_testkit.users import TestUser, register_user

ROOT = Path(__file__).resolve().parents[1]
NAMES = {"auth": "AUTH", "rooms": "ROOMS", "messages": "MESSAGES", "gateway": "GATEWAY"}


@dataclass
class Run:
    """A `make run` in its own process group, and where its services listen."""

    process: subprocess.Popen[bytes]
    env: dict[str, str]
    ports: dict[str, int]
    log: Path

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


# The ports the README promises when nothing is set.
DEFAULT_PORTS = {"gateway": 8000, "auth": 8001, "rooms": 8002, "messages": 8003}
# The services' Postgres roles `make run` creates: unique per run, since roles are
# cluster-wide, and dropped afterwards.
ROLE_SETTINGS = ("AUTH_DB_ROLE", "ROOMS_DB_ROLE", "MESSAGES_DB_ROLE")


def _run_env(
    database_url: str, redis_url: str, prefix: str, key: Path, *, defaults: bool = False
) -> dict[str, Any]:
    """``make run``'s environment: free ports set for every service, or with ``defaults`` no
    port or URL variable at all, only the PORT a parent honcho (or a platform) would set."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MAKE", "MFLAGS"))
        and not (defaults and (k.endswith(("_PORT", "_URL", "ORIGINS")) or k == "PORT"))
    }
    env |= {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
        "AUTH_SIGNING_KEY_FILE": str(key),
        "GATEWAY_SECRET_FILE": str(key.parent / "gateway-secret"),
        "VAPID_KEY_FILE": str(key.parent / "vapid-key.pem"),
        "LOG_LEVEL": "WARNING",
    }
    tag = secrets.token_hex(4)
    for setting in ROLE_SETTINGS:
        env[setting] = f"run_{setting.split('_')[0].lower()}_{tag}"
    if defaults:
        return {"env": env | {"PORT": "5000"}, "ports": dict(DEFAULT_PORTS)}
    ports = {name: free_port() for name in NAMES}
    env["CORS_ORIGINS"] = f"http://localhost:{ports['gateway']}"
    for name, upper in NAMES.items():
        env[f"{upper}_PORT"] = str(ports[name])
        env[f"{upper}_URL"] = f"http://127.0.0.1:{ports[name]}"
    return {"env": env, "ports": ports}


def _descendants(root: int) -> set[int]:
    """Every live process below ``root`` (by parent pid), found through /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper is not running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def fresh_database_url(database_url: str) -> Iterator[str]:
    """A database name on this run's server that does not exist yet; dropped afterwards."""
    name = f"chat_run_{secrets.token_hex(4)}"
    parts = urlsplit(database_url)
    yield urlunsplit(parts._replace(path=f"/{name}"))

    async def drop() -> None:
        conn = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def _start(setup: dict[str, Any], log: Path) -> Run:
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=setup["env"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Run(process, setup["env"], setup["ports"], log)


def _kill(run: Run) -> None:
    """Stop `make run` by force, then drop the Postgres roles it made."""
    if run.process.poll() is None:
        for pid in _descendants(run.process.pid):
            os.kill(pid, signal.SIGKILL)
        os.killpg(run.process.pid, signal.SIGKILL)
        run.process.wait(10)
    asyncio.run(_drop_roles(run.env["DATABASE_URL"], [run.env[s] for s in ROLE_SETTINGS]))


async def _drop_roles(database_url: str, roles: list[str]) -> None:
    """Drop the run's roles (their grants live in the run's database: revoked there first)."""
    try:
        conn = await asyncpg.connect(database_url)
    except (OSError, asyncpg.InvalidCatalogNameError):
        return
    try:
        for role in roles:
            if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                await conn.execute(f'DROP OWNED BY "{role}"')
                await conn.execute(f'DROP ROLE "{role}"')
    finally:
        await conn.close()


@pytest.fixture
def make_run_on_defaults(
    fresh_database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> Iterator[Run]:
    """`make run` with no port variable but honcho's PORT, ready; stopped by force after."""
    busy = [port for port in DEFAULT_PORTS.values() if _listening(port)]
    if busy:
        pytest.fail(f"ports {busy} are taken: this test needs 8000-8003 free")
    key = tmp_path / "keys" / "signing-key.pem"
    setup = _run_env(fresh_database_url, redis_url, f"{redis_prefix}run:", key, defaults=True)
    run = _start(setup, tmp_path / "make-run.log")
    try:
        _wait_ready(run)
        yield run
    finally:
        _kill(run)


@pytest.fixture
def make_run(
    fresh_database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> Iterator[Run]:
    """`make run`, ready; afterwards (if the test did not stop it) stopped by force."""
    key = tmp_path / "keys" / "signing-key.pem"
    setup = _run_env(fresh_database_url, redis_url, f"{redis_prefix}run:", key)
    run = _start(setup, tmp_path / "make-run.log")
    try:
        _wait_ready(run)
        yield run
    finally:
        _kill(run)


def _wait_ready(run: Run, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    pending = set(NAMES)
    while pending and time.monotonic() < deadline:
        if run.process.poll() is not None:
            pytest.fail(f"make run exited ({run.process.returncode}):\n{run.output()[-4000:]}")
        for name in list(pending):
            try:
                if httpx.get(f"{run.url(name)}/readyz", timeout=1.0).status_code == 200:
                    pending.discard(name)
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    if pending:
        pytest.fail(f"not ready: {sorted(pending)}\n{run.output()[-4000:]}")


class Socket:
    """A gateway websocket; frames read but not yet asked for wait in ``pending``."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pending: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def until(self, kind: str, timeout: float = 10.0, **match: str) -> dict[str, Any]:
        """The first frame of type ``kind`` whose object has the ``match`` fields, whether
        it already arrived (an ack and a message may come in either order) or not."""

        def wanted(frame: dict[str, Any]) -> bool:
            body = frame.get("message") or {}
            return frame["type"] == kind and all(body.get(k) == v for k, v in match.items())

        for seen in self.pending:
            if wanted(seen):
                self.pending.remove(seen)
                return seen
        async with asyncio.timeout(timeout):
            while True:
                frame: dict[str, Any] = orjson.loads(await self.ws.recv())
                if wanted(frame):
                    return frame
                self.pending.append(frame)


async def _open(run: Run, user: TestUser) -> Socket:
    ws = await connect(
        f"ws://127.0.0.1:{run.ports['gateway']}/ws",
        additional_headers=user.headers,
        compression=None,
    )
    socket_ = Socket(ws)
    ready = await socket_.until("ready")
    assert ready["user_id"] == str(user.id)
    return socket_


async def _chat_session(run: Run, http: httpx.AsyncClient) -> None:
    """Two users, a room, messages both ways over the gateway, then the history."""
    alice = await register_user(http, run.url("auth"), display_name="Alice")
    bob = await register_user(http, run.url("auth"), display_name="Bob")
    created = await http.post(
        f"{run.url('rooms')}/rooms",
        json={"title": "make run", "member_ids": [str(bob.id)]},
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    room_id = created.json()["id"]
    alice_ws, bob_ws = await _open(run, alice), await _open(run, bob)
    try:
        for sender, receiver, text in (
            (alice_ws, bob_ws, "hello from make run"),
            (bob_ws, alice_ws, "hello back"),
        ):
            ref = secrets.token_hex(4)
            await sender.send(
                {"type": "send", "ref": ref, "room_id": room_id, "body": text, "client_msg_id": ref}
            )
            ack = await sender.until("ack")
            assert ack["ref"] == ref
            assert ack["message"]["body"] == text
            # Every connection of every member gets it, the sender's included.
            for ws in (receiver, sender):
                delivered = await ws.until("message", id=ack["message"]["id"])
                assert delivered["message"]["seq"] == ack["message"]["seq"]
    finally:
        await alice_ws.ws.close()
        await bob_ws.ws.close()
    history = await http.get(
        f"{run.url('messages')}/messages", params={"room_id": room_id}, headers=bob.headers
    )
    assert history.status_code == 200, history.text
    items = history.json()["items"]
    assert [(m["seq"], m["body"]) for m in items] == [(2, "hello back"), (1, "hello from make run")]


def _seed(run: Run) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "seed"],
        cwd=ROOT,
        env=run.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _seeded_state(run: Run, http: httpx.AsyncClient) -> dict[str, int]:
    """Alice's rooms by title, each with its number of messages."""
    login = await http.post(
        f"{run.url('auth')}/auth/login",
        json={"email": "alice@example.com", "password": "chat-demo-password"},
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    rooms = await http.get(f"{run.url('rooms')}/rooms", headers=headers)
    counts: dict[str, int] = {}
    for room in rooms.json()["items"]:
        page = await http.get(
            f"{run.url('messages')}/messages", params={"room_id": room["id"]}, headers=headers
        )
        counts[room["title"] or room["kind"]] = counts.get(room["title"] or room["kind"], 0) + len(
            page.json()["items"]
        )
    return counts


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_make_run_chat_session_then_ctrl_c_leaves_nothing(
    make_run: Run, http: httpx.AsyncClient
) -> None:
    """make run serves a whole chat session, seeds idempotently, and Ctrl-C stops it all."""
    run = make_run
    assert Path(run.env["AUTH_SIGNING_KEY_FILE"]).exists(), "make run created no signing key"
    await _chat_session(run, http)

    first, second = _seed(run), _seed(run)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "alice@example.com" in first.stdout
    assert "password" in first.stdout
    assert await _seeded_state(run, http) == {"General": 3, "Weekend plans": 3, "direct": 2}

    deadline = time.monotonic() + 15
    while "Chat is running" not in run.output() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    output = run.output()
    assert f"http://localhost:{run.ports['gateway']}/" in output
    assert f"http://localhost:{run.ports['auth']}/auth/openapi.json" in output

    processes = _descendants(run.process.pid)
    assert len(processes) >= 5  # honcho and the four services, at least
    os.killpg(run.process.pid, signal.SIGINT)
    run.process.wait(30)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in processes) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    left = [p for p in processes if _alive(p)]
    assert left == [], f"still running after Ctrl-C: {left}\n{run.output()[-3000:]}"
    assert not any(_listening(port) for port in run.ports.values())


def test_make_run_says_in_one_line_what_to_do_without_postgres(tmp_path: Path) -> None:
    """With Postgres and Redis unreachable make run starts nothing and prints one line."""
    closed = [free_port(), free_port()]
    setup = _run_env(
        f"postgresql://postgres@127.0.0.1:{closed[0]}/chat",
        f"redis://127.0.0.1:{closed[1]}/0",
        "unused:",
        tmp_path / "key.pem",
    )
    result = subprocess.run(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=setup["env"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(ours) == 1, result.stderr
    assert f"Postgres at 127.0.0.1:{closed[0]}" in ours[0]
    assert f"Redis at 127.0.0.1:{closed[1]}" in ours[0]
    assert "docker compose up" in ours[0]
    assert not (tmp_path / "key.pem").exists()
    assert "honcho" not in result.stdout


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_make_run_on_defaults_serves_the_readme_ports_under_a_parent_port(
    make_run_on_defaults: Run, http: httpx.AsyncClient
) -> None:
    """With no port variable and PORT=5000 set, make run serves 8000-8003 and the gateway
    verifies tokens with auth-service's keys (ready on a websocket)."""
    run = make_run_on_defaults
    for name, port in DEFAULT_PORTS.items():
        answer = await http.get(f"http://127.0.0.1:{port}/healthz")
        assert answer.status_code == 200, name
    assert not any(_listening(port) for port in (5000, 5100, 5200, 5300))
    user = await register_user(http, run.url("auth"), display_name="기본 포트")
    socket_ = await _open(run, user)
    await socket_.ws.close()


def test_make_run_names_a_taken_port_in_one_line(
    fresh_database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """With room-service's port taken, make run starts nothing and says which port in one
    line."""
    key = tmp_path / "key.pem"
    setup = _run_env(fresh_database_url, redis_url, f"{redis_prefix}taken:", key)
    port = setup["ports"]["rooms"]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = subprocess.run(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=setup["env"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(ours) == 1, result.stderr
    assert f"port {port} (room-service, ROOMS_PORT)" in ours[0]
    assert "already in use" in ours[0]
    for name in ("auth", "messages", "gateway"):
        assert str(setup["ports"][name]) not in ours[0]
    assert not key.exists()
    assert "honcho" not in result.stdout
