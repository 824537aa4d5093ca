"""A client made with ``packing_in_c(..., at_once=True)`` writes each command in its caller's
turn of the event loop, and a write that cannot finish fails as redis-py's does."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatcore.redisconn import _packing_in_c, packing_in_c


def _finishes_without_yielding(coro: object) -> bool:
    """True if the coroutine completes on its first step (never gives up its turn)."""
    try:
        coro.send(None)  # type: ignore[attr-defined]
    except StopIteration:
        return True
    coro.close()  # type: ignore[attr-defined]
    return False


async def test_a_command_is_written_in_the_callers_turn(redis_url: str) -> None:
    """redis-py's own connection (socket timeout 5 s) writes from a task of its own, a turn
    later; ours writes at once. Both commands arrive and are answered."""
    at_once = _packing_in_c(Connection, True)(**_kwargs(redis_url))
    plain = _packing_in_c(Connection)(**_kwargs(redis_url))
    for conn in (at_once, plain):
        await conn.connect()
    try:
        assert plain.socket_timeout  # the default that makes redis-py wait a turn
        assert not _finishes_without_yielding(plain.send_command("PING"))
        assert _finishes_without_yielding(at_once.send_command("PING"))
        assert await at_once.read_response() == b"PONG"
        await at_once.send_command("ECHO", "안녕")
        assert await at_once.read_response() == "안녕".encode()
    finally:
        for conn in (at_once, plain):
            await conn.disconnect()


async def test_the_client_answers_as_before(redis_url: str, redis_prefix: str) -> None:
    client = packing_in_c(aioredis.Redis.from_url(redis_url), at_once=True)
    try:
        key = f"{redis_prefix}at-once"
        assert await client.set(key, "값") is True
        assert await client.get(key) == "값".encode()
        pipe = client.pipeline(transaction=False)
        pipe.incr(key + ":n").incr(key + ":n")
        assert await pipe.execute() == [1, 2]
        await client.delete(key, key + ":n")
    finally:
        await client.aclose()


async def test_a_peer_that_never_reads_times_out_and_disconnects() -> None:
    """Commands pile up in the buffer of a peer that reads nothing: the write gives up after
    the socket timeout with redis-py's TimeoutError, and the connection is dropped."""

    async with _connected_to(lambda _writer: None, socket_timeout=0.3) as conn:  # never reads
        conn._writer.transport.get_extra_info("socket").setsockopt(  # type: ignore[union-attr]
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
        )
        with pytest.raises(RedisTimeoutError):
            await _write_until_it_fails(conn, b"x" * (1 << 20))
        assert not conn.is_connected


async def test_a_closed_peer_is_a_connection_error() -> None:
    """A peer gone mid-write: redis-py's ConnectionError (what its retries act on)."""

    async with _connected_to(lambda writer: writer.transport.abort(), socket_timeout=1) as conn:
        await asyncio.sleep(0.1)  # the reset has arrived
        with pytest.raises(RedisConnectionError):
            await _write_until_it_fails(conn, b"x" * 65536, pause=0.01)
        assert not conn.is_connected


@contextlib.asynccontextmanager
async def _connected_to(
    on_accept: Callable[[asyncio.StreamWriter], None], socket_timeout: float
) -> AsyncIterator[Connection]:
    """A writing-at-once connection to a local peer that reads nothing and speaks no Redis
    (none is asked: RESP2, no client info); ``on_accept`` is what the peer does first."""
    accepted: list[asyncio.StreamWriter] = []

    async def peer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        on_accept(writer)

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = _packing_in_c(Connection, True)(
        host="127.0.0.1",
        port=port,
        socket_timeout=socket_timeout,
        driver_info=None,
        protocol=2,
    )
    try:
        await conn.connect()
        yield conn
    finally:
        await conn.disconnect()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def _write_until_it_fails(conn: Connection, value: bytes, pause: float = 0.0) -> None:
    """SET commands, never reading an answer, until a write raises (at most 64 of them)."""
    for _ in range(64):
        await conn.send_command("SET", "k", value)
        if pause:
            await asyncio.sleep(pause)


def _kwargs(url: str) -> dict[str, object]:
    pool = aioredis.ConnectionPool.from_url(url)
    return dict(pool.connection_kwargs)
