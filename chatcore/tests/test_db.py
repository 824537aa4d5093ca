"""The services' pool (chatcore.db): what a connection carries back into the pool."""

from __future__ import annotations

from typing import cast

import asyncpg

from chatcore.db import Connection, create_pool

LOCK = 4242


async def test_a_session_lock_is_released_with_the_connection(database_url: str) -> None:
    """A connection that said it may hold session state goes back to the pool without it:
    a session advisory lock it left taken is free for anyone else."""
    pool = await create_pool(database_url, application_name="test", min_size=1, max_size=1)
    other = await asyncpg.connect(database_url)
    try:
        async with pool.acquire() as conn:
            cast(Connection, conn).holds_session_state()
            await conn.execute("SELECT pg_advisory_lock($1)", LOCK)
            assert not await other.fetchval("SELECT pg_try_advisory_lock($1)", LOCK)
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", LOCK)
    finally:
        await other.close()
        await pool.close()


async def test_a_plain_use_costs_no_reset(database_url: str) -> None:
    """A connection back from a plain use is not reset (no round trip for it): a setting it
    made is still there for the next user."""
    pool = await create_pool(database_url, application_name="test", min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET application_name = 'changed'")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW application_name") == "changed"
            cast(Connection, conn).holds_session_state()
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW application_name") == "test"
    finally:
        await pool.close()
