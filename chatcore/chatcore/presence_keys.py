"""Where presence lives in Redis, shared by the gateway (which writes it) and message-service
(which asks who is online before notifying).

``{p}presence:{user_id}:leases`` is a sorted set of the user's connection ids scored by lease
expiry (ms since the epoch); a user is online while an unexpired entry exists.
``{p}presence:{user_id}:rooms`` holds the rooms the gateway announces them in. The
``{user_id}`` hash tag keeps a user's two keys in one Redis Cluster slot.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from chatcore.redisconn import Names, RedisClient


def leases_key(names: Names, user_id: str | uuid.UUID) -> str:
    """The sorted set of the user's connection leases."""
    return names.key("presence", f"{{{user_id}}}", "leases")


def rooms_key(names: Names, user_id: str | uuid.UUID) -> str:
    """The rooms the user's going offline is announced in."""
    return names.key("presence", f"{{{user_id}}}", "rooms")


def seen_key(names: Names, user_id: str | uuid.UUID) -> str:
    """When the user's last connection ended (ms since the epoch, as text)."""
    return names.key("presence", f"{{{user_id}}}", "seen")


async def online_users(
    redis: RedisClient, names: Names, user_ids: Sequence[str | uuid.UUID]
) -> set[str]:
    """The users among ``user_ids`` (as strings) holding an unexpired lease now; one round
    trip however many."""
    if not user_ids:
        return set()
    now = int(time.time() * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        for user_id in user_ids:
            pipe.zcount(leases_key(names, user_id), now + 1, "+inf")
        counts = await pipe.execute()
    return {str(u) for u, n in zip(user_ids, counts, strict=True) if int(n) > 0}
