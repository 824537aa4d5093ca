"""The asyncpg pool every service uses, created once per process by its lifespan."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import orjson

from chatcore.metrics import DB_POOL_ACQUIRE_SECONDS

# The poolers DB_POOLER may name. In transaction mode a pooler hands each transaction to any
# server connection, so a statement asyncpg prepared on one is unknown on the next.
POOLERS = ("", "pgbouncer")


class TimedPool(asyncpg.Pool):
    """asyncpg's pool, timing each wait for a connection (``chat_db_pool_acquire_seconds``).

    Every query through the pool and every ``pool.acquire()`` goes through ``_acquire``, so a
    pool too small for its load shows as waits here before it shows as slow requests.
    """

    async def _acquire(self, timeout: Any) -> Any:  # noqa: ASYNC109 - asyncpg's signature
        started = time.perf_counter()
        try:
            return await super()._acquire(timeout)  # type: ignore[misc]
        finally:
            DB_POOL_ACQUIRE_SECONDS.observe(time.perf_counter() - started)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            schema="pg_catalog",
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
        )


async def create_pool(
    dsn: str,
    *,
    application_name: str,
    min_size: int = 2,
    max_size: int = 10,
    pooler: str = "",
) -> asyncpg.Pool:
    """A pool with JSON codecs and prepared-statement caching (asyncpg's default). With
    ``pooler`` (PgBouncer in transaction mode), named prepared statements are off: asyncpg
    then sends each statement unnamed, in one round of parse, bind and execute."""
    if pooler not in POOLERS:
        raise ValueError(f"unknown pooler {pooler!r}: one of {', '.join(p for p in POOLERS if p)}")
    # asyncpg.create_pool's defaults, spelled out: it has no way to name the pool's class.
    pool = TimedPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        init=_init_connection,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        command_timeout=30,
        server_settings={"application_name": application_name},
        statement_cache_size=0 if pooler else 100,
        max_cached_statement_lifetime=0 if pooler else 300,
    )
    await pool
    return pool
