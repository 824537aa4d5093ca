"""Finding the Postgres and Redis a test run uses, and giving the run its own share of each.

Order: ``TEST_DATABASE_URL`` / ``TEST_REDIS_URL`` when set, else the local servers on
127.0.0.1, else testcontainers where a Docker engine answers, else a clear failure. A test
that must restart or reconfigure Redis starts a private ``redis-server`` instead
(:func:`spawn_redis`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


class NoServer(Exception):
    """Neither the environment, the local machine nor Docker offers the server."""


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1.0
        ):
            return True
    except OSError:
        return False


def _docker_available() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
        return True
    except Exception:
        return False


@contextmanager
def postgres_server(stack: ExitStack) -> Iterator[str]:
    """The admin URL of a Postgres server for this run."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    if _reachable(LOCAL_POSTGRES, 5432):
        yield LOCAL_POSTGRES
        return
    if _docker_available():
        from testcontainers.postgres import PostgresContainer

        container = stack.enter_context(PostgresContainer("postgres:16-alpine", driver=None))
        yield container.get_connection_url()
        return
    raise NoServer(
        "No Postgres for the tests: set TEST_DATABASE_URL, start Postgres on 127.0.0.1:5432, "
        "or run a Docker engine for testcontainers."
    )


@contextmanager
def redis_server(stack: ExitStack) -> Iterator[str]:
    """The URL of a Redis server for this run."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    if _reachable(LOCAL_REDIS, 6379):
        yield LOCAL_REDIS
        return
    if _docker_available():
        from testcontainers.redis import RedisContainer

        container = stack.enter_context(RedisContainer("redis:7-alpine"))
        host = container.get_container_host_ip()
        yield f"redis://{host}:{container.get_exposed_port(6379)}/0"
        return
    raise NoServer(
        "No Redis for the tests: set TEST_REDIS_URL, start Redis on 127.0.0.1:6379, "
        "or run a Docker engine for testcontainers."
    )


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server, dropped (with its connections) afterwards."""
    name = f"chat_test_{secrets.token_hex(6)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn_redis(
    port: int, workdir: Path, *options: str, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """A ``redis-server`` on 127.0.0.1:``port`` that keeps nothing on disk, with ``options``
    added; its files go in ``workdir``, its output to ``log`` (else nowhere). It may not
    listen yet: see :func:`wait_port`."""
    out = log.open("ab") if log is not None else None
    try:
        return subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
                *options,
            ],
            stdout=subprocess.DEVNULL if out is None else out,
            stderr=subprocess.STDOUT,
        )
    finally:
        if out is not None:
            out.close()


def wait_port(port: int, timeout: float) -> bool:
    """True once something listens on 127.0.0.1:``port``; False if nothing does in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False
