"""Token buckets: the Redis one shared by replicas, and the in-memory one per connection."""

import secrets

import pytest
import redis.asyncio as aioredis

from chatcore.errors import RateLimited
from chatcore.ratelimit import RedisRateLimiter, TokenBucket


async def test_redis_bucket_allows_burst_then_refuses(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    """A burst of N passes, the next is refused with a positive wait."""
    limiter = RedisRateLimiter(redis, redis_prefix, rate=1.0, burst=3)
    key = secrets.token_hex(4)
    for _ in range(3):
        await limiter.check(key)
    with pytest.raises(RateLimited) as refused:
        await limiter.check(key)
    assert refused.value.retry_after >= 1


async def test_redis_buckets_are_per_key(redis: aioredis.Redis, redis_prefix: str) -> None:
    """One key's exhaustion does not limit another key."""
    limiter = RedisRateLimiter(redis, redis_prefix, rate=1.0, burst=1)
    a, b = "a-" + secrets.token_hex(4), "b-" + secrets.token_hex(4)
    await limiter.check(a)
    with pytest.raises(RateLimited):
        await limiter.check(a)
    await limiter.check(b)
    assert await limiter.wait_time(b) > 0


def test_memory_bucket_refills_over_time() -> None:
    """An empty bucket refills at its rate, never past its burst."""
    bucket = TokenBucket(rate=10, burst=2)
    now = bucket.at
    assert bucket.take(now=now)
    assert bucket.take(now=now)
    assert not bucket.take(now=now)
    assert bucket.take(now=now + 0.1)
    assert not bucket.take(now=now + 0.1)
    bucket.take(now=now + 100)
    assert bucket.tokens <= 2
