"""Subscribing a channel again right after unsubscribing it (issue 9: a reconnect storm, where
the last connection of a room leaves and the next one arrives at once)."""

import asyncio

import redis.asyncio as aioredis

from chatcore.pubsub import Subscriber


async def test_resubscribe_before_the_unsubscribe_went_out(
    redis_url: str, redis_prefix: str
) -> None:
    """A channel unsubscribed and at once subscribed again is confirmed at once (it never left
    Redis), and still receives what is published to it."""
    channel = f"{redis_prefix}resubscribe:now"
    got: list[bytes] = []
    subscriber = Subscriber(redis_url, on_message=lambda _channel, data: got.append(data))
    publisher = aioredis.Redis.from_url(redis_url)
    try:
        await subscriber.start()
        await subscriber.subscribe(channel)
        subscriber.unsubscribe(channel)
        async with asyncio.timeout(1):
            await subscriber.subscribe(channel)
        assert await publisher.publish(channel, b"still here") == 1
        async with asyncio.timeout(2):
            while not got:
                await asyncio.sleep(0.01)
        assert got == [b"still here"]
    finally:
        await subscriber.stop()
        await publisher.aclose()


async def test_resubscribe_after_the_unsubscribe_went_out(
    redis_url: str, redis_prefix: str
) -> None:
    """Once the UNSUBSCRIBE has gone out, subscribing again waits for Redis to confirm it."""
    channel = f"{redis_prefix}resubscribe:later"
    subscriber = Subscriber(redis_url, on_message=lambda _channel, _data: None)
    publisher = aioredis.Redis.from_url(redis_url)
    try:
        await subscriber.start()
        await subscriber.subscribe(channel)
        subscriber.unsubscribe(channel)
        async with asyncio.timeout(2):
            while await publisher.publish(channel, b"anyone?") != 0:
                await asyncio.sleep(0.01)
        async with asyncio.timeout(1):
            await subscriber.subscribe(channel)
        assert await publisher.publish(channel, b"back") == 1
    finally:
        await subscriber.stop()
        await publisher.aclose()
