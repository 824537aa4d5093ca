"""The Django Channels peer's channel layer, on the real Redis: its client as redis-py 8 needs."""

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

PEERS = str(Path(__file__).resolve().parent.parent / "peers")
if PEERS not in sys.path:
    sys.path.insert(0, PEERS)

from channels_app import settings  # noqa: E402 (the peers folder is on the path first)
from channels_app.layers import WaitingPoolRedisChannelLayer  # noqa: E402


@pytest.fixture
async def layer(redis_url: str, redis_prefix: str) -> AsyncIterator[Any]:
    """The peer's layer as its settings configure it, on the test Redis, under this run's prefix."""
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    host = {**config["hosts"][0], "address": redis_url}
    layer = WaitingPoolRedisChannelLayer(hosts=[host], prefix=f"{redis_prefix}channels:")
    yield layer
    await layer.flush()


def test_settings_use_the_waiting_pool_layer() -> None:
    """The peer runs the subclass, not channels_redis' stock layer."""
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    assert backend == "channels_app.layers.WaitingPoolRedisChannelLayer"


async def test_connections_have_no_read_timeout(layer: Any) -> None:
    """The layer's receive blocks in BZPOPMIN for up to 5 s: a read timeout must not cut it."""
    connection = layer.create_pool(0).make_connection()
    assert connection.socket_timeout is None
    assert connection.socket_connect_timeout is None


async def test_more_commands_than_connections_wait_rather_than_fail(layer: Any) -> None:
    """Twice the pool's connections in group_add at once: all join, none raises
    "Too many connections", and the pool never holds more than its maximum."""
    members = 2 * settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["max_connections"]
    channels = [await layer.new_channel() for _ in range(members)]
    await asyncio.gather(*(layer.group_add("room", channel) for channel in channels))

    client = layer.connection(0)
    assert await client.zcard(layer._group_key("room")) == members
    pool = client.connection_pool
    held = len(pool._available_connections) + len(pool._in_use_connections)
    assert held <= pool.max_connections


async def test_group_send_reaches_a_member(layer: Any) -> None:
    """A message sent to a group comes out of its member's receive."""
    channel = await layer.new_channel()
    await layer.group_add("room", channel)
    await layer.group_send("room", {"type": "chat.msg", "body": "hi"})
    assert await layer.receive(channel) == {"type": "chat.msg", "body": "hi"}
