"""Fixtures of the auth-service tests: instances configured for one concern each, served in
the test's own process (chat_testkit.inprocess) on this run's database and Redis.

Each instance gets its own Redis prefix, so its login buckets (keyed by client address, and
every test logs in from 127.0.0.1) never drain another's.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from chat_testkit.plugin import InProcess
from chat_testkit.processes import ServiceProcess


@pytest.fixture
def own_prefix(redis_prefix: str) -> str:
    """A Redis prefix of this test's own, under the run's (so its keys go at the end)."""
    return f"{redis_prefix}{secrets.token_hex(3)}:"


async def _serve(
    in_process: InProcess, own_prefix: str, env: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process("auth_service", {"REDIS_PREFIX": own_prefix, **env}) as http:
        yield http


@pytest.fixture
async def lenient_auth(
    in_process: InProcess, own_prefix: str, auth_service: ServiceProcess
) -> AsyncIterator[httpx.AsyncClient]:
    """An instance with generous login limits and a stronger argon2 time cost (3 passes)."""
    env = {
        "AUTH_ARGON2_TIME_COST": "3",
        "AUTH_LOGIN_ACCOUNT_BURST": "1000",
        "AUTH_LOGIN_IP_BURST": "1000",
    }
    async for http in _serve(in_process, own_prefix, env):
        yield http


@pytest.fixture
async def account_throttled_auth(
    in_process: InProcess, own_prefix: str, auth_service: ServiceProcess
) -> AsyncIterator[httpx.AsyncClient]:
    """An instance allowing 3 failed logins per account (refilling 1 a minute)."""
    env = {
        "AUTH_LOGIN_ACCOUNT_BURST": "3",
        "AUTH_LOGIN_ACCOUNT_PER_MINUTE": "1",
        "AUTH_LOGIN_IP_BURST": "1000",
    }
    async for http in _serve(in_process, own_prefix, env):
        yield http


@pytest.fixture
async def address_throttled_auth(
    in_process: InProcess, own_prefix: str, auth_service: ServiceProcess
) -> AsyncIterator[httpx.AsyncClient]:
    """An instance allowing 4 failed logins per client address (refilling 1 a minute)."""
    env = {
        "AUTH_LOGIN_IP_BURST": "4",
        "AUTH_LOGIN_IP_PER_MINUTE": "1",
        "AUTH_LOGIN_ACCOUNT_BURST": "1000",
    }
    async for http in _serve(in_process, own_prefix, env):
        yield http


@pytest.fixture
async def forwarded_auth(
    in_process: InProcess, own_prefix: str, auth_service: ServiceProcess
) -> AsyncIterator[httpx.AsyncClient]:
    """An instance behind a trusted proxy (AUTH_TRUSTED_PROXIES), 2 failures per address."""
    env = {
        "AUTH_TRUSTED_PROXIES": "127.0.0.1",
        "AUTH_LOGIN_IP_BURST": "2",
        "AUTH_LOGIN_IP_PER_MINUTE": "1",
        "AUTH_LOGIN_ACCOUNT_BURST": "1000",
    }
    async for http in _serve(in_process, own_prefix, env):
        yield http


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, only to look at what the service stored."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()
