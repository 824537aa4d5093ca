"""Fixtures of the auth-service tests: extra instances configured for one concern each.

Each extra instance gets its own Redis prefix, so its login buckets (keyed by client address,
and every test logs in from 127.0.0.1) never drain the default instance's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from chatcore.testing.plugin import StartService
from chatcore.testing.processes import ServiceProcess
from chatcore.testing.servers import free_port


def extra_auth(start_service: StartService, env: dict[str, str]) -> ServiceProcess:
    """Another auth-service process on its own port, sharing the database."""
    # The port must also be in the environment: service_env pins AUTH_PORT to the default one.
    port = free_port()
    return start_service(
        "auth_service", port=port, env={**env, "AUTH_PORT": str(port)}, migrate=False
    )


def _instance(
    start_service: StartService, redis_prefix: str, name: str, env: dict[str, str]
) -> ServiceProcess:
    return extra_auth(start_service, {"REDIS_PREFIX": f"{redis_prefix}{name}:", **env})


StartAuth = Callable[[dict[str, str]], ServiceProcess]


@pytest.fixture(scope="session")
def start_auth(start_service: StartService) -> StartAuth:
    """``start_auth({env})``: another auth-service process, sharing the database."""
    return lambda env: extra_auth(start_service, env)


@pytest.fixture(scope="session")
def lenient_auth(
    start_service: StartService, redis_prefix: str, auth_service: ServiceProcess
) -> ServiceProcess:
    """An instance with generous login limits and a stronger argon2 time cost (3 passes)."""
    return _instance(
        start_service,
        redis_prefix,
        "lenient",
        {
            "AUTH_ARGON2_TIME_COST": "3",
            "AUTH_LOGIN_ACCOUNT_BURST": "1000",
            "AUTH_LOGIN_IP_BURST": "1000",
        },
    )


@pytest.fixture(scope="session")
def account_throttled_auth(
    start_service: StartService, redis_prefix: str, auth_service: ServiceProcess
) -> ServiceProcess:
    """An instance allowing 3 failed logins per account (refilling 1 a minute)."""
    return _instance(
        start_service,
        redis_prefix,
        "account",
        {
            "AUTH_LOGIN_ACCOUNT_BURST": "3",
            "AUTH_LOGIN_ACCOUNT_PER_MINUTE": "1",
            "AUTH_LOGIN_IP_BURST": "1000",
        },
    )


@pytest.fixture(scope="session")
def address_throttled_auth(
    start_service: StartService, redis_prefix: str, auth_service: ServiceProcess
) -> ServiceProcess:
    """An instance allowing 4 failed logins per client address (refilling 1 a minute)."""
    return _instance(
        start_service,
        redis_prefix,
        "address",
        {
            "AUTH_LOGIN_IP_BURST": "4",
            "AUTH_LOGIN_IP_PER_MINUTE": "1",
            "AUTH_LOGIN_ACCOUNT_BURST": "1000",
        },
    )


@pytest.fixture(scope="session")
def forwarded_auth(
    start_service: StartService, redis_prefix: str, auth_service: ServiceProcess
) -> ServiceProcess:
    """An instance behind a trusted proxy (AUTH_TRUSTED_PROXIES), 2 failures per address."""
    return _instance(
        start_service,
        redis_prefix,
        "forwarded",
        {
            "AUTH_TRUSTED_PROXIES": "127.0.0.1",
            "AUTH_LOGIN_IP_BURST": "2",
            "AUTH_LOGIN_IP_PER_MINUTE": "1",
            "AUTH_LOGIN_ACCOUNT_BURST": "1000",
        },
    )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, only to look at what the service stored."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()
