"""The pub/sub reader: every reply of a read handled in order, a dropped connection reported
and subscribed again, and a connection gone silent found by the watchdog."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis

from chatcore import pubsub_link
from chatcore.pubsub import Subscriber


class FreezingRelay:
    """A TCP relay to Redis that can stop passing bytes either way without closing anything:
    a connection whose peer vanished (a dead host, a dropped route)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.frozen = False
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    if not self.frozen:
                        dst.write(data)
            dst.close()

        for task in (pipe(reader, up_writer), pipe(up_reader, writer)):
            t = asyncio.ensure_future(task)
            self.tasks.add(t)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


async def _until(check: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_a_burst_arrives_whole_and_in_order(redis_url: str, redis_prefix: str) -> None:
    """Thousands of payloads published at once (many replies per read) all arrive, in order."""
    channel = f"{redis_prefix}reader:burst"
    got: list[bytes] = []
    subscriber = Subscriber(redis_url, on_message=lambda _c, data: got.append(data))
    publisher = aioredis.Redis.from_url(redis_url)
    try:
        await subscriber.subscribe(channel)
        async with publisher.pipeline(transaction=False) as pipe:
            for n in range(5000):
                pipe.publish(channel, str(n).encode() * (1 + n % 50))
            await pipe.execute()
        await _until(lambda: len(got) == 5000)
        assert got == [str(n).encode() * (1 + n % 50) for n in range(5000)]
    finally:
        await subscriber.stop()
        await publisher.aclose()


async def test_a_killed_connection_is_reported_and_subscribed_again(
    redis_url: str, redis_prefix: str
) -> None:
    channel = f"{redis_prefix}reader:killed"
    lost: list[set[str]] = []
    ready: list[tuple[str, bool]] = []
    got: list[bytes] = []
    subscriber = Subscriber(
        redis_url,
        client_name=f"{redis_prefix.strip(':')}-killed",
        on_message=lambda _c, data: got.append(data),
        on_lost=lost.append,
        on_ready=lambda c, again: ready.append((c, again)),
    )
    admin = aioredis.Redis.from_url(redis_url)
    try:
        await subscriber.subscribe(channel)
        assert ready == [(channel, False)]
        await _kill(admin, f"{redis_prefix.strip(':')}-killed")
        await _until(lambda: ready[-1] == (channel, True))
        assert lost == [{channel}]
        assert await admin.publish(channel, b"after") == 1
        await _until(lambda: got == [b"after"])
    finally:
        await subscriber.stop()
        await admin.aclose()


async def _kill(admin: aioredis.Redis, name: str) -> None:
    for client in await admin.client_list():
        if client.get("name") == name:
            await admin.client_kill_filter(_id=client["id"])


async def test_a_silent_connection_is_found_and_replaced(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection that stops carrying bytes, without closing, is pinged, then dropped when
    the ping is not answered either: its channels are reported lost and subscribed again."""
    monkeypatch.setattr(pubsub_link, "HEALTH_INTERVAL", 0.2)
    target = urlsplit(redis_url)
    relay = FreezingRelay(target.hostname or "127.0.0.1", target.port or 6379)
    port = await relay.start()
    channel = f"{redis_prefix}reader:silent"
    lost: list[set[str]] = []
    ready: list[tuple[str, bool]] = []
    subscriber = Subscriber(
        _via(redis_url, port),
        on_message=lambda _c, _d: None,
        on_lost=lost.append,
        on_ready=lambda c, again: ready.append((c, again)),
    )
    try:
        await subscriber.subscribe(channel)
        # Quiet but alive: the pings are answered, nothing is dropped.
        await asyncio.sleep(1.0)
        assert lost == []
        relay.frozen = True
        await _until(lambda: lost == [{channel}])
        relay.frozen = False
        await _until(lambda: ready[-1] == (channel, True))
    finally:
        await subscriber.stop()
        await relay.stop()
