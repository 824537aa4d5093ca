"""The asyncpg pool every service uses, created once per process by its lifespan."""

from __future__ import annotations

import asyncpg
import orjson


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            schema="pg_catalog",
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
        )


async def create_pool(
    dsn: str, *, application_name: str, min_size: int = 2, max_size: int = 10
) -> asyncpg.Pool:
    """A pool with JSON codecs and prepared-statement caching (asyncpg's default)."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        command_timeout=30,
        server_settings={"application_name": application_name},
    )
    if pool is None:  # only with the pool's lazy mode, which we do not use
        raise RuntimeError("asyncpg returned no pool")
    return pool
