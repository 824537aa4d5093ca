"""The asyncpg pool every service uses, created once per process by its lifespan."""

from __future__ import annotations

import asyncpg
import orjson

# The poolers DB_POOLER may name. In transaction mode a pooler hands each transaction to any
# server connection, so a statement asyncpg prepared on one is unknown on the next.
POOLERS = ("", "pgbouncer")


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
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        command_timeout=30,
        server_settings={"application_name": application_name},
        statement_cache_size=0 if pooler else 100,
        max_cached_statement_lifetime=0 if pooler else 300,
    )
    if pool is None:  # only with the pool's lazy mode, which we do not use
        raise RuntimeError("asyncpg returned no pool")
    return pool
