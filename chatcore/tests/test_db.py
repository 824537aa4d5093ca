"""The services' pool (chatcore.db): what a connection carries back into the pool."""

from __future__ import annotations

from typing import cast

import asyncpg
import pytest

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


async def test_session_settings_apply_to_every_connection(database_url: str) -> None:
    """``settings`` are run-time parameters of each of the pool's sessions; the default pool
    leaves them at the server's value."""
    mode = "SELECT current_setting('plan_cache_mode')"
    generic = await create_pool(
        database_url,
        application_name="test-generic",
        min_size=2,
        max_size=2,
        settings={"plan_cache_mode": "force_generic_plan"},
    )
    plain = await create_pool(database_url, application_name="test", min_size=1, max_size=1)
    try:
        async with generic.acquire() as a, generic.acquire() as b:
            assert await a.fetchval(mode) == await b.fetchval(mode) == "force_generic_plan"
            assert await a.fetchval("SELECT current_setting('application_name')") == (
                "test-generic"
            )
        assert await plain.fetchval(mode) == "auto"
    finally:
        await generic.close()
        await plain.close()


async def test_session_settings_through_a_pooler_are_refused(database_url: str) -> None:
    """A pooler in transaction mode keeps no session's settings: asking for them is an error
    before any connection is made."""
    with pytest.raises(ValueError, match="pooler"):
        await create_pool(
            database_url,
            application_name="test",
            pooler="pgbouncer",
            settings={"plan_cache_mode": "force_generic_plan"},
        )
