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


async def test_subscribes_of_one_moment_go_out_as_one_command(
    redis_url: str, redis_prefix: str
) -> None:
    """A thousand channels wanted at once (a reconnect storm's new rooms) go out in a couple
    of SUBSCRIBE commands, not one each, and are all confirmed and live; dropped at once, they
    leave in a couple of UNSUBSCRIBE commands."""
    channels = [f"{redis_prefix}many:{n}" for n in range(1000)]
    subscriber = Subscriber(redis_url, on_message=lambda _channel, _data: None)
    publisher = aioredis.Redis.from_url(redis_url)
    commands: list[str] = []

    async def watch(ready: asyncio.Event) -> None:
        async with publisher.monitor() as monitor:
            ready.set()
            async for entry in monitor.listen():
                command = str(entry["command"])
                if f"{redis_prefix}many:" in command:
                    commands.append(command.split(" ", 1)[0].upper())

    try:
        await subscriber.start()
        await subscriber.subscribe(f"{redis_prefix}many:first")  # the connection is up
        ready = asyncio.Event()
        watcher = asyncio.ensure_future(watch(ready))
        await ready.wait()
        async with asyncio.timeout(5):
            await asyncio.gather(*(subscriber.subscribe(c) for c in channels))
        counter = aioredis.Redis.from_url(redis_url)
        try:
            assert await counter.publish(channels[-1], b"live") == 1
            for channel in channels:
                subscriber.unsubscribe(channel)
            async with asyncio.timeout(5):
                while await counter.publish(channels[0], b"gone?") != 0:
                    await asyncio.sleep(0.01)
        finally:
            await counter.aclose()
        await asyncio.sleep(0.1)
        watcher.cancel()
        subscribes = commands.count("SUBSCRIBE")
        unsubscribes = commands.count("UNSUBSCRIBE")
        assert 1 <= subscribes <= 3, commands[:5]
        assert 1 <= unsubscribes <= 3, commands[:5]
    finally:
        await subscriber.stop()
        await publisher.aclose()
