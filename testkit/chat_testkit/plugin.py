"""pytest fixtures on the real thing: Postgres, Redis and the services as real processes.

Loaded for every test by ``-p chat_testkit.plugin`` in the root pytest configuration.
Servers are found as :mod:`chat_testkit.servers` says; each run gets a fresh database
(dropped afterwards) and its own Redis prefix (its keys deleted afterwards). Service fixtures
are session-scoped: a process starts the first time a test asks for it and serves the rest.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chat_testkit.inprocess import listen_in_process, serve_in_process
from chat_testkit.processes import ServiceProcess, elsewhere_safe
from chat_testkit.servers import (
    NoServer,
    free_port,
    fresh_database,
    postgres_server,
    redis_server,
)
from chat_testkit.sockets import OpenSocket, Socket
from chat_testkit.users import TestUser, register_user
from chatcore.internal_secret import HEADER

SERVICES = {
    "auth": "auth_service",
    "rooms": "room_service",
    "messages": "message_service",
    "gateway": "gateway",
}
# The setting each service reads its port from.
PORT_SETTING = {
    "auth_service": "AUTH_PORT",
    "room_service": "ROOMS_PORT",
    "message_service": "MESSAGES_PORT",
    "gateway": "GATEWAY_PORT",
}


@pytest.fixture(scope="session")
def _stack() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


@pytest.fixture(scope="session")
def database_url(_stack: ExitStack) -> Iterator[str]:
    """A fresh database for this run, dropped at its end."""
    try:
        admin = _stack.enter_context(postgres_server(_stack))
    except NoServer as exc:
        pytest.fail(str(exc), pytrace=False)
    with fresh_database(admin) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(_stack: ExitStack) -> str:
    try:
        return _stack.enter_context(redis_server(_stack))
    except NoServer as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def redis_prefix(redis_url: str) -> Iterator[str]:
    """This run's Redis prefix; its keys are deleted at the end of the run."""
    prefix = f"test-{secrets.token_hex(4)}:"
    yield prefix

    async def clean() -> None:
        client = aioredis.Redis.from_url(redis_url)
        try:
            async for key in client.scan_iter(match=f"{prefix}*", count=1000):
                await client.delete(key)
        finally:
            await client.aclose()

    asyncio.run(clean())


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def signing_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh Ed25519 private key (PEM) for the auth-service of this run."""
    path = tmp_path_factory.mktemp("keys") / "signing-key.pem"
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture(scope="session")
def vapid_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh P-256 private key (PEM): message-service's VAPID key for this run."""
    path = tmp_path_factory.mktemp("vapid") / "vapid-key.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture(scope="session")
def gateway_secret() -> str:
    """The secret this run's gateway proves itself with to message-service."""
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="session")
def gateway_headers(gateway_secret: str) -> dict[str, str]:
    """Headers that make a test's call look like the gateway's (``POST /messages/batch``)."""
    return {HEADER: gateway_secret}


@pytest.fixture(scope="session")
def ports() -> dict[str, int]:
    return {name: free_port() for name in SERVICES}


@pytest.fixture(scope="session")
def service_env(
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    signing_key_file: Path,
    vapid_key_file: Path,
    ports: dict[str, int],
    tmp_path_factory: pytest.TempPathFactory,
    gateway_secret: str,
) -> dict[str, str]:
    """The environment every service process of this run starts with."""
    return {
        # Uploaded files go to this run's own directory, never into the work tree.
        "MESSAGES_ATTACHMENT_DIR": str(tmp_path_factory.mktemp("attachments")),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": redis_prefix,
        "LOG_LEVEL": "INFO",
        # A run keeps dozens of service processes alive at once, each with its own pool, on
        # a Postgres that allows 100 connections: at the default of 10 a full run reached 96.
        "DB_POOL_MAX": "6",
        "AUTH_URL": f"http://127.0.0.1:{ports['auth']}",
        "ROOMS_URL": f"http://127.0.0.1:{ports['rooms']}",
        "MESSAGES_URL": f"http://127.0.0.1:{ports['messages']}",
        "GATEWAY_URL": f"http://127.0.0.1:{ports['gateway']}",
        "AUTH_PORT": str(ports["auth"]),
        "ROOMS_PORT": str(ports["rooms"]),
        "MESSAGES_PORT": str(ports["messages"]),
        "GATEWAY_PORT": str(ports["gateway"]),
        "AUTH_SIGNING_KEY_FILE": str(signing_key_file),
        "MESSAGES_VAPID_PRIVATE_KEY_FILE": str(vapid_key_file),
        # Tests run webhook and push receivers on loopback.
        "MESSAGES_WEBHOOK_ALLOW_PRIVATE": "true",
        "MESSAGES_GATEWAY_SECRET": gateway_secret,
        "GATEWAY_INTERNAL_SECRET": gateway_secret,
        # `make test` exports the files `make run` uses; this run's secret is the one above.
        "MESSAGES_GATEWAY_SECRET_FILE": "",
        "GATEWAY_INTERNAL_SECRET_FILE": "",
        # Every test registers its users from 127.0.0.1; the registration throttle has tests
        # of its own (auth-service/tests/test_registration.py), as has the hashing line.
        "AUTH_REGISTER_IP_BURST": "1000000",
        "AUTH_HASH_QUEUE": "100000",
        "AUTH_HASH_MAX_WAIT": "600",
        # Thousands of users are registered and logged in per run: they hash at the cheapest
        # argon2id setting (at the production one, two hashes of 50 ms of CPU each per user).
        # The tests of the hashing itself start their instances with production_hashing().
        "AUTH_ARGON2_MEMORY_KIB": "64",
        "AUTH_ARGON2_TIME_COST": "1",
        # The web client is served by this run's gateway and calls the services cross-origin.
        "CORS_ORIGINS": f"http://127.0.0.1:{ports['gateway']},http://localhost:{ports['gateway']}",
    }


StartService = Callable[..., ServiceProcess]


def production_hashing() -> dict[str, str]:
    """The environment of an auth-service that hashes passwords at auth-service's default
    argon2id parameters (for tests of the hashing's cost: timing, queues, floods)."""
    from auth_service.settings import AuthSettings

    fields = AuthSettings.model_fields
    return {
        "AUTH_ARGON2_MEMORY_KIB": str(fields["argon2_memory_kib"].default),
        "AUTH_ARGON2_TIME_COST": str(fields["argon2_time_cost"].default),
    }


class Starter:
    """``start("room_service", port=..., env={...})`` starts ``python -m <module> serve``
    (after its migrations; ``migrate=False`` skips them): an extra replica or a differently
    configured instance. Every one lives until the session ends."""

    def __init__(self, service_env: dict[str, str], logs: Path) -> None:
        self.service_env = service_env
        self.logs = logs
        self.started: list[ServiceProcess] = []

    def __call__(
        self,
        module: str,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        migrate: bool = True,
    ) -> ServiceProcess:
        port = port or free_port()
        # The port goes in the environment too: service_env pins each to the default one.
        own_port = {PORT_SETTING[module]: str(port)} if module in PORT_SETTING else {}
        process = ServiceProcess(
            module=module,
            port=port,
            env={**self.service_env, **own_port, **elsewhere_safe(self.service_env, env or {})},
            log_path=self.logs / f"{module}-{port}.log",
        )
        if migrate:
            process.migrate()
        self.started.append(process)
        return process.start()

    def running(self, module: str) -> list[ServiceProcess]:
        """The instances of ``module`` running now. They share the run's database, so the
        background work (outbox relays, notification workers, sweeps) goes to whichever
        instance takes it first: a figure of that work is the sum over these."""
        return [
            p
            for p in self.started
            if p.module == module and p.process is not None and p.process.poll() is None
        ]


@pytest.fixture(scope="session")
def start_service(
    service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Starter]:
    """A :class:`Starter` of service processes; every one is stopped at session end."""
    starter = Starter(service_env, tmp_path_factory.mktemp("service-logs"))
    yield starter
    for process in reversed(starter.started):
        process.stop()


InProcess = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Listening = Callable[..., AbstractAsyncContextManager[str]]


@pytest.fixture(scope="session")
def listening(service_env: dict[str, str]) -> Listening:
    """``async with listening("message_service", {env}) as url``: the service's application
    with this run's settings and ``env`` on top, served by uvicorn in this process on a free
    port (no migrations: its schema must be there, from its process fixture)."""

    def open_(module: str, env: dict[str, str] | None = None) -> AbstractAsyncContextManager[str]:
        port = free_port()
        own_port = {PORT_SETTING[module]: str(port)}
        return listen_in_process(module, {**service_env, **own_port, **(env or {})}, port)

    return open_


# Where in-process requests come from: the address every test's process requests come from.
LOOPBACK = ("127.0.0.1", 40000)


@pytest.fixture(scope="session")
def in_process(service_env: dict[str, str]) -> InProcess:
    """``async with in_process("auth_service", {env}) as http``: the service's application
    with this run's settings and ``env`` on top, served in this process (no port, no
    migrations: its schema must be there, from its process fixture)."""

    def open_(
        module: str, env: dict[str, str] | None = None, *, client: tuple[str, int] = LOOPBACK
    ) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return serve_in_process(module, {**service_env, **(env or {})}, client=client)

    return open_


@pytest.fixture(scope="session")
def auth_service(start_service: StartService, ports: dict[str, int]) -> ServiceProcess:
    return start_service("auth_service", port=ports["auth"])


@pytest.fixture(scope="session")
def room_service(
    start_service: StartService, ports: dict[str, int], auth_service: ServiceProcess
) -> ServiceProcess:
    return start_service("room_service", port=ports["rooms"])


@pytest.fixture(scope="session")
def message_service(
    start_service: StartService, ports: dict[str, int], room_service: ServiceProcess
) -> ServiceProcess:
    return start_service("message_service", port=ports["messages"])


@pytest.fixture(scope="session")
def gateway_service(
    start_service: StartService, ports: dict[str, int], message_service: ServiceProcess
) -> ServiceProcess:
    return start_service("gateway", port=ports["gateway"])


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


MakeUser = Callable[..., Awaitable[TestUser]]


@pytest.fixture
def make_user(http: httpx.AsyncClient, auth_service: ServiceProcess) -> MakeUser:
    """``await make_user(display_name=...)``: a fresh registered and logged-in user."""

    async def make(**kwargs: str) -> TestUser:
        return await register_user(http, auth_service.url, **kwargs)

    return make


@pytest.fixture
async def open_socket() -> AsyncIterator[OpenSocket]:
    """``await open_socket(gateway_url, token, ...)``: a :class:`Socket` (arguments as
    ``Socket.open``), closed after the test."""
    opened: list[Socket] = []

    async def open_(*args: Any, **kwargs: Any) -> Socket:
        socket = await Socket.open(*args, **kwargs)
        opened.append(socket)
        return socket

    yield open_
    for socket in opened:
        await socket.close()


# The fast tier (`make unit`): tests that need no Postgres, Redis or process of their own.
# A test belongs to it when none of the fixtures it uses, directly or through others, reaches
# a server, and it lives in a package's own tests (the top-level tests/ are cross-service).
SERVER_FIXTURES = frozenset(
    {"database_url", "redis_url", "start_service", "open_socket", "http"}
    | {"auth_service", "room_service", "message_service", "gateway_service"}
)
CROSS_SERVICE = "tests"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--unit",
        action="store_true",
        default=False,
        help="run only the fast tier: tests that need no Postgres, Redis or process",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--unit"):
        return
    root = config.rootpath
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        top = item.path.relative_to(root).parts[0] if item.path.is_relative_to(root) else ""
        uses = set(getattr(item, "fixturenames", ()))
        (drop if top == CROSS_SERVICE or uses & SERVER_FIXTURES else keep).append(item)
    config.hook.pytest_deselected(items=drop)
    items[:] = keep
