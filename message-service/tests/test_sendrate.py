"""The batched send limit gives its Redis connection back whatever goes wrong in a round trip
(issue 9: the fault suite found a pipeline that kept its connection after a Redis cut, seen
as "Unclosed Pipeline client"; with the pool drained every send waited 5 s)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.exceptions import RedisError

from chat_testkit.servers import free_port, spawn_redis, wait_port
from chatcore.redisconn import create_redis
from message_service.sendrate import SendRateLimiter


@pytest.fixture
def scriptless_redis(tmp_path: Path) -> Iterator[str]:
    """A private Redis that refuses SCRIPT commands, as one still LOADING after a restart or
    a managed Redis that forbids them would: loading the limiter's script fails there."""
    port = free_port()
    process = spawn_redis(port, tmp_path, "--rename-command", "SCRIPT", "")
    try:
        assert wait_port(port, 10), "the private redis-server did not start"
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


async def test_failed_round_trip_returns_its_connection(scriptless_redis: str) -> None:
    """With a pool of one connection, every check fails at once with Redis' error: the first
    failure must not keep the only connection, or the next check would wait for it."""
    client = create_redis(scriptless_redis, max_connections=1)
    limiter = SendRateLimiter(client, "test:send:", rate=10, burst=10)
    try:
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(RedisError):
                async with asyncio.timeout(4):
                    await limiter.wait_time("someone")
            assert time.monotonic() - started < 2
    finally:
        await client.aclose()
        # A pool handed to the client is not closed with it.
        await client.connection_pool.disconnect()
