"""Who is online, per user across every connection and gateway process, in Redis only.

Each connection holds a lease: ``{p}presence:{user_id}:leases`` (layout in
:mod:`chatcore.presence_keys`, which message-service reads too) is a sorted set of the
user's connection ids scored by lease expiry (ms), renewed by the connection's process every
lease/3. A user is online while an unexpired entry exists. The first connection publishes
``presence online`` to each of the user's (small enough) rooms and records them in
``{p}presence:{user_id}:rooms``; the last disconnect publishes ``online: false`` to those.

A crashed process renews nothing, so its leases must be found by someone else. Each process
keeps the list of its leases in ``{p}presence:process:{id}`` and a heartbeat in
``{p}presence:processes`` (process id scored by expiry, renewed with the leases). A sweep in
every process claims an expired process (one script on that one key re-arms its heartbeat,
so only one sweeper has it at a time, and a sweeper that dies mid-way leaves it to the next)
and releases its leases, announcing ``online: false`` for users left with none. So a user is
shown offline at most one lease (default 30 s, at most 60 s) plus one sweep interval after
their gateway dies.

Every script touches one key, or the two keys of one user, which share a slot by their
``{user_id}`` hash tag: on a Redis Cluster each goes to the one shard that owns it. A
connect or a disconnect is one round trip (two when the user comes online or goes offline,
to announce it). Releasing a lease twice (the disconnect and a sweep) announces once: only
the call that removed the entry counts.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from chatcore import presence_keys
from chatcore.events import Kind, room_event
from chatcore.logs import get_logger
from chatcore.redisconn import Names, RedisClient, publish_command
from gateway import presence_scripts as scripts

log = get_logger(__name__)

# How long a user's "last seen" time is kept after their last connection ended.
SEEN_TTL_S = 90 * 86400

# Leases of a dead process released per round trip, and processes claimed per sweep.
SWEEP_BATCH = 100


class Presence:
    """Connection leases and presence events for one process."""

    def __init__(self, redis: RedisClient, names: Names, lease: float) -> None:
        self.redis = redis
        self.names = names
        self.lease_ms = int(lease * 1000)
        self.process_id = uuid.uuid4().hex
        self.processes_key = names.key("presence", "processes")
        self.local: dict[str, str] = {}  # conn id -> user id, this process's connections
        self._drop = redis.register_script(scripts.DROP)
        self._claim = redis.register_script(scripts.CLAIM)

    def _leases_key(self, user_id: str) -> str:
        # The ``{user_id}`` hash tag puts a user's two keys in one slot, so one script can
        # use both on a Redis Cluster too.
        return presence_keys.leases_key(self.names, user_id)

    def _rooms_key(self, user_id: str) -> str:
        return presence_keys.rooms_key(self.names, user_id)

    def _joined_key(self, user_id: str) -> str:
        return self.names.key("presence", f"{{{user_id}}}", "joined")

    def _seen_key(self, room_id: str) -> str:
        """The room's members' last-seen times (user id -> ms), written as each goes offline."""
        return self._online_key(room_id) + ":seen"

    def _online_key(self, room_id: str) -> str:
        # The room's members with a live lease (kept as users come online and go offline,
        # not per renewal): `who` reads it instead of paging every member.
        return self.names.key("presence", "room", room_id, "online")

    def _user_keys(self, user_id: str) -> list[str]:
        return [self._leases_key(user_id), self._rooms_key(user_id), self._joined_key(user_id)]

    def _process_key(self, process_id: str) -> str:
        return self.names.key("presence", "process", process_id)

    async def lease(
        self,
        user_id: str,
        conn_id: str,
        rooms: list[str],
        cap: int = 0,
        joined: list[str] | None = None,
    ) -> int:
        """Take a lease for a new connection: the user's live leases before it, or -1 (no
        lease taken) if they hold ``cap`` already. ``rooms`` are announced in, ``joined`` are
        all the user's rooms (their online sets). The cap counts leases, which expire with a
        crashed process, so a dead gateway's connections stop counting after one lease.

        One round trip: the pipeline runs in order, so the connection is listed under this
        process before its lease exists, and a crash in between leaves nothing the sweep
        cannot find.
        """
        now = int(time.time() * 1000)
        expiry = now + self.lease_ms
        entry = f"{user_id}|{conn_id}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(self._process_key(self.process_id), entry)
            pipe.zadd(self.processes_key, {self.process_id: expiry})
            # EVAL, not a registered script: redis-py checks a pipeline's scripts with a
            # round trip of its own (SCRIPT EXISTS), and a cluster pipeline takes no EVALSHA.
            # Redis caches the script by its hash, so sending it costs only its bytes.
            pipe.execute_command(
                "EVAL",
                scripts.CONNECT,
                3,
                *self._user_keys(user_id),
                conn_id,
                now,
                expiry,
                cap,
                len(rooms),
                *rooms,
                *(rooms if joined is None else joined),
            )
            before = int((await pipe.execute())[-1])
        if before < 0:
            await self.redis.srem(self._process_key(self.process_id), entry)
            return before
        self.local[conn_id] = user_id
        return before

    async def disconnected(self, user_id: str, conn_id: str) -> None:
        """Give the lease back; announce the user offline if it was their last connection."""
        self.local.pop(conn_id, None)
        now = int(time.time() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.execute_command("EVAL", scripts.DROP, 3, *self._user_keys(user_id), conn_id, now)
            pipe.srem(self._process_key(self.process_id), f"{user_id}|{conn_id}")
            await self._went_offline(user_id, (await pipe.execute())[0])

    async def _release(self, user_id: str, conn_id: str, now: int) -> None:
        await self._went_offline(
            user_id, await self._drop(keys=self._user_keys(user_id), args=[conn_id, now])
        )

    async def _went_offline(self, user_id: str, dropped: list[list[bytes | str]] | None) -> None:
        """After a lease was dropped: its rooms (from scripts.DROP) if it was the user's last. The
        time is kept as the user's last seen, and in each room's last-seen hash."""
        if not dropped:
            return
        announced, joined = dropped
        now = int(time.time() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(presence_keys.seen_key(self.names, user_id), now, ex=SEEN_TTL_S)
            for room in joined:
                pipe.srem(self._online_key(_text(room)), user_id)
                pipe.hset(self._seen_key(_text(room)), user_id, now)
            await pipe.execute()
        if announced:
            await self.announce(user_id, [_text(r) for r in announced], online=False, seen=now)

    async def enter_rooms(self, user_id: str, joined: list[str]) -> None:
        """The user's first lease was taken: into the online set of each of their rooms."""
        if joined:
            async with self.redis.pipeline(transaction=False) as pipe:
                for room_id in joined:
                    pipe.sadd(self._online_key(room_id), user_id)
                await pipe.execute()

    async def room_joined(self, user_id: str, room_id: str, *, announce: bool = True) -> None:
        """A connected user joined a room: they count as online there now, and (in a room
        small enough to announce presence) its members are told, as they would have been
        had the user connected after joining."""
        async with self.redis.pipeline(transaction=False) as pipe:
            if announce:
                pipe.sadd(self._rooms_key(user_id), room_id)
            pipe.sadd(self._joined_key(user_id), room_id)
            pipe.sadd(self._online_key(room_id), user_id)
            await pipe.execute()
        if announce:
            await self.announce(user_id, [room_id], online=True)

    async def room_left(self, user_id: str, room_id: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.srem(self._rooms_key(user_id), room_id)
            pipe.srem(self._joined_key(user_id), room_id)
            pipe.srem(self._online_key(room_id), user_id)
            await pipe.execute()

    async def room_online(self, room_id: str) -> list[str]:
        """The room's members online now: its online set, each checked for a live lease.
        Costs O(online members), whatever the room's size."""
        candidates = [_text(u) for u in await self.redis.smembers(self._online_key(room_id))]
        return sorted(await self.online(candidates))

    async def publish_ephemeral(self, room_id: str, kind: Kind, frame: dict[str, object]) -> None:
        """Publish an ephemeral frame (typing, presence) on the room's channel."""
        await self.redis.execute_command(
            publish_command(self.redis),
            self.names.room_channel(room_id),
            room_event(kind, 0, frame),
        )

    async def announce(
        self, user_id: str, rooms: list[str], *, online: bool, seen: int | None = None
    ) -> None:
        """Publish the user's presence change to each of ``rooms`` (with ``last_seen`` when
        they went offline)."""
        if not rooms:
            return
        command = publish_command(self.redis)
        async with self.redis.pipeline(transaction=False) as pipe:
            for room_id in rooms:
                frame = {
                    "type": "presence",
                    "room_id": room_id,
                    "user_id": user_id,
                    "online": online,
                }
                if seen is not None:
                    frame["last_seen"] = _iso(seen)
                payload = room_event(Kind.PRESENCE, 0, frame)
                pipe.execute_command(command, self.names.room_channel(room_id), payload)
            await pipe.execute()

    async def online(self, user_ids: list[str]) -> list[str]:
        """The users among ``user_ids`` holding an unexpired lease now."""
        online = await presence_keys.online_users(self.redis, self.names, user_ids)
        return [u for u in user_ids if u in online]

    async def last_seen(self, user_ids: list[str]) -> dict[str, str]:
        """When each of ``user_ids`` was last connected, for those with a record."""
        if not user_ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.get(presence_keys.seen_key(self.names, user_id))
            values = await pipe.execute()
        return {u: _iso(int(_text(v))) for u, v in zip(user_ids, values, strict=True) if v}

    async def room_state(self, room_id: str) -> dict[str, Any]:
        """``presence_state``'s fields for a room: who is online (its online set, each checked
        for a live lease) and when each member who has gone offline was last seen. Redis
        only, O(online members + members ever seen offline), never a member list."""
        online = await self.room_online(room_id)
        here = set(online)
        raw = await self.redis.hgetall(self._seen_key(room_id))
        seen = {_text(u): _iso(int(_text(v))) for u, v in raw.items() if _text(u) not in here}
        return {"online": online, "last_seen": seen}

    async def rooms_state(self, room_ids: list[str]) -> dict[str, dict[str, Any]]:
        """:meth:`room_state` of each room, four at a time (a user in many small rooms costs
        Redis a few round trips at a time, not a burst)."""
        limit = asyncio.Semaphore(4)

        async def one(room_id: str) -> dict[str, Any]:
            async with limit:
                return await self.room_state(room_id)

        states = await asyncio.gather(*(one(r) for r in room_ids))
        return dict(zip(room_ids, states, strict=True))

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
            pipe.zadd(self.processes_key, {self.process_id: expiry})
            for conn_id, user_id in list(self.local.items()):
                pipe.zadd(self._leases_key(user_id), {conn_id: expiry}, xx=True)
            await pipe.execute()

    async def _sweep(self) -> None:
        now = int(time.time() * 1000)
        expired = await self.redis.zrangebyscore(
            self.processes_key, "-inf", now, start=0, num=SWEEP_BATCH
        )
        for member in expired:
            process_id = _text(member)
            # Ours for one lease: time enough to release it, and if we die meanwhile it
            # expires again for the next sweeper.
            claimed = await self._claim(
                keys=[self.processes_key], args=[process_id, now, now + self.lease_ms]
            )
            if int(claimed) == 1:
                await self._release_process(process_id, now)

    async def _release_process(self, process_id: str, now: int) -> None:
        """Release every lease a dead process left, then forget the process."""
        key = self._process_key(process_id)
        while leases := await self.redis.srandmember(key, SWEEP_BATCH):
            for lease in leases:
                user_id, _, conn_id = _text(lease).partition("|")
                await self._release(user_id, conn_id, now)
            await self.redis.srem(key, *leases)
        await self.redis.zrem(self.processes_key, process_id)

    async def release_all(self) -> None:
        """On shutdown: every local connection is gone, and so is this process."""
        for conn_id, user_id in list(self.local.items()):
            await self.disconnected(user_id, conn_id)
        await self.redis.zrem(self.processes_key, self.process_id)


def _iso(ms: int) -> str:
    """Milliseconds since the epoch as the API's UTC timestamp."""
    at = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
