"""`make check-services`: are Postgres and Redis reachable? If not, one line saying what to do.

Reads DATABASE_URL and REDIS_URL exactly as the services do (chatcore's settings, same
defaults). Postgres is asked on its ``postgres`` database, since the chat database may not
exist yet: `make migrate` creates it. Exit status 0 when both answer, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import urlsplit

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatcore.settings import ServiceSettings

TIMEOUT = 3.0


def where(url: str, default_port: int) -> str:
    """host:port of a URL, never its credentials."""
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or default_port}"


async def postgres_problem(url: str) -> str | None:
    """None when Postgres accepts a connection, else what is wrong, in a few words."""
    admin = urlsplit(url)._replace(path="/postgres").geturl()
    try:
        conn = await asyncpg.connect(admin, timeout=TIMEOUT)
    except (OSError, TimeoutError):
        return "unreachable"
    except asyncpg.PostgresError as exc:
        return f"refused the connection ({type(exc).__name__})"
    await conn.close()
    return None


async def redis_problem(url: str) -> str | None:
    """None when Redis answers PING, else what is wrong, in a few words."""
    client = aioredis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        await client.ping()
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        if isinstance(exc, AuthenticationError):
            return "refused the connection (AuthenticationError)"
        return "unreachable"
    except ResponseError as exc:
        return f"refused the connection ({type(exc).__name__})"
    finally:
        await client.aclose()
    return None


def advice(problems: dict[str, tuple[str, str]]) -> str:
    """The one line for ``{server: (where, problem)}``."""
    named = " and ".join(f"{name} at {loc} ({env})" for name, (loc, env) in problems.items())
    return (
        f"make run: cannot reach {named}: start "
        f"{'them' if len(problems) > 1 else 'it'} (or point the variable at a running one), "
        "or run the whole system in containers with `docker compose up`."
    )


async def check(settings: ServiceSettings) -> str | None:
    """The line to print, or None when both servers answer."""
    pg, rd = await asyncio.gather(
        postgres_problem(settings.database_url), redis_problem(settings.redis_url)
    )
    unreachable: dict[str, tuple[str, str]] = {}
    refused = []
    for name, env, url, port, problem in (
        ("Postgres", "DATABASE_URL", settings.database_url, 5432, pg),
        ("Redis", "REDIS_URL", settings.redis_url, 6379, rd),
    ):
        if problem == "unreachable":
            unreachable[name] = (where(url, port), env)
        elif problem:
            refused.append(f"{name} at {where(url, port)} {problem}: check {env}")
    if unreachable:
        return advice(unreachable) + (f" Also: {'; '.join(refused)}." if refused else "")
    if refused:
        return f"make run: {'; '.join(refused)}."
    return None


def main() -> int:
    line = asyncio.run(check(ServiceSettings.from_env()))
    if line is None:
        return 0
    print(line, file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
