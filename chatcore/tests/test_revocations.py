"""Revocations followed from Redis: loaded at start, updated by announcements."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis.asyncio as aioredis

from chatcore.errors import Unauthorized
from chatcore.redisconn import Names
from chatcore.revocations import Revocations, revoke_user


async def test_revocations_are_loaded_at_start_and_followed_live(
    redis_url: str, redis_prefix: str
) -> None:
    """A revocation made before the process started is known at once; one made later is
    announced (on_revoked) and refused; tokens issued later pass."""
    names = Names(f"{redis_prefix}rev-{uuid.uuid4().hex[:6]}:")
    client = aioredis.Redis.from_url(redis_url)
    early, late, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await revoke_user(client, names, early)
    heard: list[uuid.UUID] = []
    revocations = Revocations(client, redis_url, names, on_revoked=heard.append)
    await revocations.start()
    try:
        now = int(time.time())
        with pytest.raises(Unauthorized) as refused:
            revocations.check(early, now - 60)
        assert refused.value.code == "token_revoked"
        revocations.check(late, now - 60)
        await revoke_user(client, names, late)
        for _ in range(100):
            if heard:
                break
            await asyncio.sleep(0.01)
        assert heard == [late]
        assert revocations.revoked(late, now)
        assert not revocations.revoked(late, now + 2)
        assert not revocations.revoked(other, now)
    finally:
        await revocations.stop()
        await client.aclose()
