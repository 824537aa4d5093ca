"""Fixtures of the message-service tests: clients for rooms and messages, a room-channel feed,
extra instances configured for one concern each, and a direct database connection."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from chat_testkit.plugin import Listening, StartService
from chat_testkit.processes import ServiceProcess
from chat_testkit.proxy import TcpProxy
from chat_testkit.servers import free_port, fresh_database
from chat_testkit.users import TestUser, register_user
from chatcore.events import RoomEvent, parse_room_event


class Chat:
    """room-service and message-service calls, made as one test user or another."""

    def __init__(self, http: httpx.AsyncClient, rooms_url: str, messages_url: str) -> None:
        self.http = http
        self.rooms_url = rooms_url
        self.url = messages_url

    async def room(self, owner: TestUser, *members: TestUser) -> str:
        """A new group room of ``owner`` with ``members``; its id."""
        r = await self.http.post(
            f"{self.rooms_url}/rooms",
            json={"title": "Room", "member_ids": [str(m.id) for m in members]},
            headers=owner.headers,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def add(self, actor: TestUser, room_id: str, user: TestUser) -> None:
        r = await self.http.post(
            f"{self.rooms_url}/rooms/{room_id}/members",
            json={"user_id": str(user.id)},
            headers=actor.headers,
        )
        assert r.status_code == 201, r.text

    async def remove(self, actor: TestUser, room_id: str, user: TestUser) -> None:
        r = await self.http.delete(
            f"{self.rooms_url}/rooms/{room_id}/members/{user.id}", headers=actor.headers
        )
        assert r.status_code == 204, r.text

    async def set_role(self, actor: TestUser, room_id: str, user: TestUser, role: str) -> None:
        r = await self.http.patch(
            f"{self.rooms_url}/rooms/{room_id}/members/{user.id}",
            json={"role": role},
            headers=actor.headers,
        )
        assert r.status_code == 200, r.text

    async def post(
        self,
        user: TestUser | None,
        room_id: str,
        body: str = "hello",
        client_msg_id: str | None = None,
        *,
        url: str | None = None,
    ) -> httpx.Response:
        """``POST /messages`` as ``user``; the answer, whatever it is."""
        return await self.http.post(
            f"{url or self.url}/messages",
            json={
                "room_id": room_id,
                "body": body,
                "client_msg_id": client_msg_id or uuid.uuid4().hex,
            },
            headers=user.headers if user else {},
        )

    async def send(self, user: TestUser, room_id: str, body: str = "hello") -> dict[str, Any]:
        """A message sent as ``user``; fails the test unless it is a 201."""
        r = await self.post(user, room_id, body)
        assert r.status_code == 201, r.text
        message: dict[str, Any] = r.json()
        return message

    async def call(
        self, method: str, path: str, user: TestUser | None, url: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = user.headers if user is not None else {}
        return await self.http.request(
            method, f"{url or self.url}{path}", headers=headers, **kwargs
        )

    async def history(
        self, user: TestUser, room_id: str, url: str | None = None, **params: Any
    ) -> httpx.Response:
        """``GET /messages?room_id=...`` with ``params``."""
        return await self.call(
            "GET", "/messages", user, url=url, params={"room_id": room_id, **params}
        )

    async def metric(self, name: str, url: str | None = None) -> float:
        """One sample (``name`` with its labels) of the service's /metrics; 0 if absent."""
        text = (await self.http.get(f"{url or self.url}/metrics")).text
        match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0


@pytest.fixture
def chat(
    http: httpx.AsyncClient, room_service: ServiceProcess, message_service: ServiceProcess
) -> Chat:
    return Chat(http, room_service.url, message_service.url)


class RoomFeed:
    """The payloads published on some room channels since the fixture subscribed."""

    def __init__(self, pubsub: aioredis.client.PubSub) -> None:
        self.pubsub = pubsub
        self.events: list[RoomEvent] = []

    async def collect(self, count: int, timeout: float = 10.0, settle: float = 0.3) -> None:
        """Read until ``count`` payloads arrived (or ``timeout``), then ``settle`` more
        seconds, so a payload published twice would be seen too."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.events) < count and loop.time() < deadline:
            await self._read(deadline - loop.time())
        quiet_until = loop.time() + settle
        while loop.time() < quiet_until:
            await self._read(quiet_until - loop.time())

    async def _read(self, timeout: float) -> None:
        message = await self.pubsub.get_message(
            ignore_subscribe_messages=True, timeout=max(0.01, timeout)
        )
        if message is not None and message["type"] == "message":
            self.events.append(parse_room_event(message["data"]))


OpenFeed = Callable[..., Any]


@pytest.fixture
async def room_feed(redis_url: str, redis_prefix: str) -> AsyncIterator[OpenFeed]:
    """``await room_feed(room_id, ...)``: a :class:`RoomFeed` subscribed (confirmed) to them."""
    client = aioredis.Redis.from_url(redis_url)
    opened: list[aioredis.client.PubSub] = []

    async def open_(*room_ids: str) -> RoomFeed:
        pubsub = client.pubsub()
        opened.append(pubsub)
        await pubsub.subscribe(*[f"{redis_prefix}room:{r}" for r in room_ids])
        confirmed = 0
        while confirmed < len(room_ids):
            message = await pubsub.get_message(timeout=5.0)
            assert message is not None, "no subscribe confirmation"
            confirmed += message["type"] == "subscribe"
        return RoomFeed(pubsub)

    yield open_
    for pubsub in opened:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
    await client.aclose()


@pytest.fixture(scope="session")
async def crowd(http: httpx.AsyncClient, auth_service: ServiceProcess) -> Sequence[TestUser]:
    """50 registered users, made once for the run (8 at a time: registration is throttled
    to a few password hashes at once, and a loaded machine must not time the fixture out)."""
    slots = asyncio.Semaphore(8)

    async def one() -> TestUser:
        async with slots:
            return await register_user(http, auth_service.url)

    return await asyncio.gather(*(one() for _ in range(50)))


def extra_messages(start_service: StartService, env: dict[str, str]) -> ServiceProcess:
    """Another message-service process on its own port, sharing the database and Redis."""
    port = free_port()
    return start_service(
        "message_service", port=port, env={**env, "MESSAGES_PORT": str(port)}, migrate=False
    )


@pytest.fixture(scope="session")
def second_replica(start_service: StartService, message_service: ServiceProcess) -> ServiceProcess:
    """A second replica of message-service, as a deployment with two would have."""
    return extra_messages(start_service, {})


@pytest.fixture(scope="session")
async def strict_limits(
    listening: Listening, message_service: ServiceProcess, redis_prefix: str
) -> AsyncIterator[str]:
    """The URL of an instance (in this process) allowing each user bursts of 3 sends,
    refilled at 1 per second."""
    env = {
        "REDIS_PREFIX": f"{redis_prefix}strict:",
        "MESSAGES_SEND_BURST": "3",
        "MESSAGES_SEND_RATE": "1",
    }
    async with listening("message_service", env) as url:
        yield url


@pytest.fixture
def redis_cut_off(
    start_service: StartService, redis_url: str
) -> Iterator[tuple[ServiceProcess, TcpProxy]]:
    """An instance that reaches Redis only through a :class:`TcpProxy` the test can cut."""
    parts = urlsplit(redis_url)
    proxy = TcpProxy(parts.port or 6379, parts.hostname or "127.0.0.1")
    proxied = urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.port}"))
    process = extra_messages(start_service, {"REDIS_URL": proxied})
    yield process, proxy
    process.stop()
    proxy.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, only to look at what the service stored."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


Eventually = Callable[..., Any]


@pytest.fixture
def eventually() -> Eventually:
    """``await eventually(check, within=s)``: call the async ``check`` until it returns true;
    the seconds it took (the test fails past ``within``)."""

    async def wait(check: Callable[[], Any], *, within: float, every: float = 0.02) -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            with contextlib.suppress(AssertionError):
                if await check():
                    return loop.time() - started
            if loop.time() - started > within:
                raise AssertionError(f"not true within {within}s")
            await asyncio.sleep(every)

    return wait


# --- notifications -------------------------------------------------------------------------

# Retries within a test's patience: the n-th after about 0.05 * 2^(n-1) seconds.
NOTIFY_ENV = {
    "MESSAGES_NOTIFY_RETRY_BASE": "0.05",
    "MESSAGES_NOTIFY_RETRY_MAX": "1",
    "MESSAGES_NOTIFY_POLL": "0.1",
    "MESSAGES_NOTIFY_TIMEOUT": "1",
}
NewDatabase = Callable[[], str]


@pytest.fixture(scope="session")
def new_database(database_url: str) -> Iterator[NewDatabase]:
    """``new_database()``: the URL of another fresh database of this run's server, for
    message-service instances whose notification worker must be the only one on it."""
    admin = urlunsplit(urlsplit(database_url)._replace(path="/postgres"))
    with contextlib.ExitStack() as stack:
        yield lambda: stack.enter_context(fresh_database(admin))


StartNotifying = Callable[..., ServiceProcess]


@pytest.fixture
def own_database(new_database: NewDatabase) -> str:
    """A fresh database for this test's own message-service instances."""
    return new_database()


@pytest.fixture(scope="session")
def start_notifying(start_service: StartService, room_service: ServiceProcess) -> StartNotifying:
    """``start_notifying(database, env=None)``: a message-service instance on its own
    ``database`` (migrated), retrying fast."""

    def start(database: str, env: dict[str, str] | None = None) -> ServiceProcess:
        port = free_port()
        # Its database is its own, its Redis prefix is shared: no notices of its positions.
        own = {
            "DATABASE_URL": database,
            "MESSAGES_PORT": str(port),
            "MESSAGES_MEMBERSHIP_NOTICES": "false",
        }
        return start_service("message_service", port=port, env={**NOTIFY_ENV, **own, **(env or {})})

    return start


@pytest.fixture(scope="session")
def notifier(start_notifying: StartNotifying, new_database: NewDatabase) -> ServiceProcess:
    """A message-service whose worker alone delivers its notifications (its own database)."""
    return start_notifying(new_database())


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 API server (moto's standalone server) on a free port; its URL."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)
    log.close()


BACKENDS = ("local", "s3")
URL_KEY = "test-attachment-url-key"


def backend_env(backend: str, directory: str, moto_url: str, bucket: str) -> dict[str, str]:
    """The environment of a message-service storing attachments in ``backend``."""
    if backend == "local":
        return {"MESSAGES_ATTACHMENT_STORAGE": "local", "MESSAGES_ATTACHMENT_DIR": directory}
    return {
        "MESSAGES_ATTACHMENT_STORAGE": "s3",
        "MESSAGES_S3_ENDPOINT_URL": moto_url,
        "MESSAGES_S3_BUCKET": bucket,
        "MESSAGES_S3_ACCESS_KEY_ID": "test",
        "MESSAGES_S3_SECRET_ACCESS_KEY": "test",
        "MESSAGES_S3_CREATE_BUCKET": "true",
    }


@pytest.fixture(scope="session")
def backend_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {b: str(tmp_path_factory.mktemp(f"files-{b}")) for b in BACKENDS}


@pytest.fixture(scope="session", params=BACKENDS)
def files_backend(request: pytest.FixtureRequest) -> str:
    """Each attachment test runs once per storage backend."""
    backend: str = request.param
    return backend


@pytest.fixture(scope="session")
def files_services(
    start_service: StartService,
    message_service: ServiceProcess,
    moto_s3: str,
    backend_dirs: dict[str, str],
) -> dict[str, ServiceProcess]:
    """One message-service per storage backend (default size limit, a high upload rate)."""
    services = {}
    for backend in BACKENDS:
        services[backend] = extra_messages(
            start_service,
            {
                **backend_env(backend, backend_dirs[backend], moto_s3, f"files-{uuid.uuid4().hex}"),
                "MESSAGES_ATTACHMENT_URL_KEY": URL_KEY,
                "MESSAGES_UPLOAD_BURST": "500",
                "MESSAGES_UPLOAD_RATE": "100",
            },
        )
    return services


@pytest.fixture(scope="session")
def files_service(files_services: dict[str, ServiceProcess], files_backend: str) -> ServiceProcess:
    """The message-service of the backend this test runs with."""
    return files_services[files_backend]


@pytest.fixture(scope="session")
def tight_files(
    start_service: StartService,
    message_service: ServiceProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> ServiceProcess:
    """A message-service with limits a test reaches quickly: 1 MiB per file, a 3 MiB quota,
    bursts of 5 uploads refilled at one a minute."""
    return extra_messages(
        start_service,
        {
            "MESSAGES_ATTACHMENT_DIR": str(tmp_path_factory.mktemp("files-tight")),
            "MESSAGES_MAX_ATTACHMENT": str(1024 * 1024),
            "MESSAGES_ATTACHMENT_QUOTA": str(3 * 1024 * 1024),
            "MESSAGES_UPLOAD_BURST": "5",
            "MESSAGES_UPLOAD_RATE": "0.0167",
        },
    )
