"""The asyncpg pool every service uses, created once per process by its lifespan."""

from __future__ import annotations

import time
from collections.abc import Mapping
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


class Connection(asyncpg.Connection):
    """asyncpg's connection, reset on its way back to the pool only if it may hold session
    state (:meth:`holds_session_state`).

    asyncpg's pool otherwise sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL;`` after every use of a connection: a round trip and four statements for one
    query. Measured here (a ``SELECT $1`` through a pool of one): 0.8-1.1 ms of client CPU and
    0.34-0.38 ms of Postgres CPU per query with it, 0.45-0.55 and 0.11-0.12 without. Our
    statements leave no session state (no ``SET``, ``LISTEN`` or cursor outside a
    transaction), but for a session advisory lock; an open transaction is still rolled back
    on release, as always."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._session_state = False

    def holds_session_state(self) -> None:
        """This connection may hold session state (a session advisory lock): asyncpg's full
        reset runs when it goes back to the pool, whatever happened meanwhile."""
        self._session_state = True

    def get_reset_query(self) -> str:
        if not self._session_state:
            return ""
        self._session_state = False
        return str(super().get_reset_query())


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
    settings: Mapping[str, str] | None = None,
) -> asyncpg.Pool:
    """A pool with JSON codecs and prepared-statement caching (asyncpg's default). With
    ``pooler`` (PgBouncer in transaction mode), named prepared statements are off: asyncpg
    then sends each statement unnamed, in one round of parse, bind and execute.

    ``settings``: more run-time parameters for the pool's sessions (not through a pooler,
    which keeps no session's parameters and refuses unknown ones at connect)."""
    if pooler not in POOLERS:
        raise ValueError(f"unknown pooler {pooler!r}: one of {', '.join(p for p in POOLERS if p)}")
    if pooler and settings:
        raise ValueError("session settings do not survive a pooler in transaction mode")
    # asyncpg.create_pool's defaults, spelled out: it has no way to name the pool's class.
    pool = TimedPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        init=_init_connection,
        loop=None,
        connection_class=Connection,
        record_class=asyncpg.Record,
        command_timeout=30,
        server_settings={**(settings or {}), "application_name": application_name},
        statement_cache_size=0 if pooler else 100,
        max_cached_statement_lifetime=0 if pooler else 300,
    )
    await pool
    return pool
