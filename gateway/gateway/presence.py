"""Who is online, per user across every connection and gateway process, in Redis only.

Each connection holds a lease: ``{p}presence:user:{user_id}`` is a sorted set of connection
ids scored by lease expiry (ms), and ``{p}presence:leases`` indexes every lease for the
sweep. Each process renews its connections' leases every lease/3. A user is online while an
unexpired entry exists. The first connection publishes ``presence online`` to each of the
user's rooms; the last disconnect, or the sweep (any process) finding an expired lease of a
crashed gateway, publishes ``online: false``. So a user is shown offline at most one lease
(default 30 s, at most 60 s) plus one sweep interval after their gateway dies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import redis.asyncio as aioredis

from chatcore.events import Kind, room_event
from chatcore.logs import get_logger
from chatcore.redisconn import Names

log = get_logger(__name__)

# KEYS user set, leases; ARGV conn, now, expiry, member. Returns live entries before ours.
_CONNECT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[3] + 60000)
return before
"""

# KEYS user set, leases; ARGV conn, now, member. -1 if someone else already removed it.
_DROP = """
if redis.call('ZREM', KEYS[2], ARGV[3]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return -1
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
return redis.call('ZCARD', KEYS[1])
"""


class Presence:
    """Connection leases and presence events for one process."""

    def __init__(self, redis: aioredis.Redis, names: Names, lease: float) -> None:
        self.redis = redis
        self.names = names
        self.lease_ms = int(lease * 1000)
        self.leases_key = names.key("presence", "leases")
        self.local: dict[str, str] = {}  # conn id -> user id, this process's connections
        self._connect = redis.register_script(_CONNECT)
        self._drop = redis.register_script(_DROP)

    def _user_key(self, user_id: str) -> str:
        return self.names.key("presence", "user", user_id)

    def _rooms_key(self, user_id: str) -> str:
        return self.names.key("presence", "rooms", user_id)

    async def connected(self, user_id: str, conn_id: str, rooms: Iterable[str]) -> None:
        """Take a lease for a new connection; announce the user if they just came online."""
        rooms = list(rooms)
        self.local[conn_id] = user_id
        now = int(time.time() * 1000)
        rooms_key = self._rooms_key(user_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.delete(rooms_key)
            if rooms:
                pipe.sadd(rooms_key, *rooms)
            pipe.expire(rooms_key, 86400)
            await pipe.execute()
        before = await self._connect(
            keys=[self._user_key(user_id), self.leases_key],
            args=[conn_id, now, now + self.lease_ms, f"{user_id}|{conn_id}"],
        )
        if int(before) == 0:
            await self._announce(user_id, rooms, online=True)

    async def disconnected(self, user_id: str, conn_id: str) -> None:
        """Give the lease back; announce the user offline if it was their last connection."""
        self.local.pop(conn_id, None)
        await self._release(user_id, conn_id, int(time.time() * 1000))

    async def _release(self, user_id: str, conn_id: str, now: int) -> None:
        left = await self._drop(
            keys=[self._user_key(user_id), self.leases_key],
            args=[conn_id, now, f"{user_id}|{conn_id}"],
        )
        if int(left) == 0:
            rooms = await self.redis.smembers(self._rooms_key(user_id))
            await self._announce(user_id, [_text(r) for r in rooms], online=False)

    async def room_joined(self, user_id: str, room_id: str) -> None:
        await self.redis.sadd(self._rooms_key(user_id), room_id)

    async def _announce(self, user_id: str, rooms: list[str], *, online: bool) -> None:
        if not rooms:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for room_id in rooms:
                frame = {
                    "type": "presence",
                    "room_id": room_id,
                    "user_id": user_id,
                    "online": online,
                }
                pipe.publish(self.names.room_channel(room_id), room_event(Kind.PRESENCE, 0, frame))
            await pipe.execute()

    async def online(self, user_ids: list[str]) -> list[str]:
        """The users among ``user_ids`` holding an unexpired lease now."""
        if not user_ids:
            return []
        now = int(time.time() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.zcount(self._user_key(user_id), now + 1, "+inf")
            counts = await pipe.execute()
        return [u for u, n in zip(user_ids, counts, strict=True) if int(n) > 0]

    async def run(self) -> None:
        """Renew this process's leases every lease/3 and sweep the expired ones of others."""
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                await self._renew()
                await self._sweep()
            except Exception as exc:  # Redis down: the next round tries again.
                log.warning("presence_round_failed", error=type(exc).__name__)

    async def _renew(self) -> None:
        expiry = int(time.time() * 1000) + self.lease_ms
        async with self.redis.pipeline(transaction=False) as pipe:
            for conn_id, user_id in list(self.local.items()):
                pipe.zadd(self._user_key(user_id), {conn_id: expiry}, xx=True)
                pipe.zadd(self.leases_key, {f"{user_id}|{conn_id}": expiry}, xx=True)
            await pipe.execute()

    async def _sweep(self) -> None:
        now = int(time.time() * 1000)
        expired = await self.redis.zrangebyscore(self.leases_key, "-inf", now, start=0, num=100)
        for member in expired:
            user_id, _, conn_id = _text(member).partition("|")
            await self._release(user_id, conn_id, now)

    async def release_all(self) -> None:
        """On shutdown: every local connection is gone."""
        for conn_id, user_id in list(self.local.items()):
            await self.disconnected(user_id, conn_id)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
