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
``{user_id}`` hash tag: on a Redis Cluster each goes to the one shard that owns it. Every
round trip but the renewal goes through the gateway's shared pipelines
(:mod:`gateway.pipelines`), so the connects of one moment cost Redis a few round trips between
them. A connect or a disconnect is one job there (two when the user comes online or goes
offline, to announce it). Releasing a lease twice (the disconnect and a sweep) announces
once: only the call that removed the entry counts.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError

from chatcore import presence_keys
from chatcore.events import Kind, room_event
from chatcore.logs import get_logger
from chatcore.redisconn import Names
from gateway import presence_scripts as scripts
from gateway.pipelines import Command, Pipelines

log = get_logger(__name__)

# How long a user's "last seen" time is kept after their last connection ended.
SEEN_TTL_S = 90 * 86400

# Leases of a dead process released per round trip, and processes claimed per sweep.
SWEEP_BATCH = 100

# Leases given back per round trip on shutdown.
RELEASE_CHUNK = 500

# A user seen holding a live lease counts as online this long without asking again, and
# the record of it is pruned past this many users.
SEEN_LIVE_S = 2.0
LIVE_MAX = 100_000


class Presence:
    """Connection leases and presence events for one process."""

    def __init__(self, pipelines: Pipelines, names: Names, lease: float) -> None:
        self.pipelines = pipelines
        self.redis = pipelines.redis
        self.names = names
        self.lease_ms = int(lease * 1000)
        self.process_id = uuid.uuid4().hex
        self.processes_key = names.key("presence", "processes")
        self.local: dict[str, str] = {}  # conn id -> user id, this process's connections
        # When each user was last seen holding a live lease (monotonic seconds), and how
        # many leases each user holds here (those are live: this process renews them).
        self._live: dict[str, float] = {}
        self._here: dict[str, int] = {}
        # Set on shutdown: leases are then given back all together by release_all.
        self.stopping = False

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

    def _drop(self, user_id: str, conn_id: str, now: int) -> Command:
        """The script giving one lease back (its answer: see scripts.DROP)."""
        return ("EVAL", scripts.DROP, 3, *self._user_keys(user_id), conn_id, now)

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
        answers = await self.pipelines.run(
            [
                ("SADD", self._process_key(self.process_id), entry),
                ("ZADD", self.processes_key, expiry, self.process_id),
                (
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
                ),
            ]
        )
        before = int(answers[-1])
        if before < 0:
            await self.pipelines.run([("SREM", self._process_key(self.process_id), entry)])
            return before
        self.local[conn_id] = user_id
        self._here[user_id] = self._here.get(user_id, 0) + 1
        return before

    async def disconnected(self, user_id: str, conn_id: str) -> None:
        """Give the lease back; announce the user offline if it was their last connection.
        Once ``stopping`` is set, nothing: release_all gives every lease back together."""
        if self.stopping:
            return
        if self.local.pop(conn_id, None) is not None:
            left = self._here.pop(user_id, 1) - 1
            if left > 0:
                self._here[user_id] = left
        now = int(time.time() * 1000)
        answers = await self.pipelines.run(
            [
                self._drop(user_id, conn_id, now),
                ("SREM", self._process_key(self.process_id), f"{user_id}|{conn_id}"),
            ]
        )
        await self._went_offline(user_id, answers[0])

    async def _went_offline(self, user_id: str, dropped: list[list[bytes | str]] | None) -> None:
        """After a lease was dropped: the user's going offline, if it was their last."""
        if not dropped:
            return
        now = int(time.time() * 1000)
        await self.pipelines.run(self._offline(user_id, dropped, now))

    def _offline(self, user_id: str, dropped: list[list[bytes | str]], now: int) -> list[Command]:
        """The writes of a user's last lease given back (from scripts.DROP: the rooms to announce
        it in, and all of theirs): last seen, out of each room's online set, the news. The time
        is kept as the user's last seen, and in each room's last-seen hash."""
        announced, joined = dropped
        seen = presence_keys.seen_key(self.names, user_id)
        commands: list[Command] = [("SET", seen, now, "EX", SEEN_TTL_S)]
        for room in joined:
            commands.append(("SREM", self._online_key(_text(room)), user_id))
            commands.append(("HSET", self._seen_key(_text(room)), user_id, now))
        rooms = [_text(r) for r in announced]
        return commands + self._announcements(user_id, rooms, online=False, seen=now)

    async def enter_rooms(self, user_id: str, joined: list[str]) -> None:
        """The user's first lease was taken: into the online set of each of their rooms."""
        await self.pipelines.run([("SADD", self._online_key(r), user_id) for r in joined])

    async def room_joined(self, user_id: str, room_id: str, *, announce: bool = True) -> None:
        """A connected user joined a room: they count as online there now, and (in a room
        small enough to announce presence) its members are told, as they would have been
        had the user connected after joining."""
        commands: list[Command] = [("SADD", self._rooms_key(user_id), room_id)] if announce else []
        commands += [
            ("SADD", self._joined_key(user_id), room_id),
            ("SADD", self._online_key(room_id), user_id),
        ]
        await self.pipelines.run(commands)
        if announce:
            await self.announce(user_id, [room_id], online=True)

    async def room_left(self, user_id: str, room_id: str) -> None:
        await self.pipelines.run(
            [
                ("SREM", self._rooms_key(user_id), room_id),
                ("SREM", self._joined_key(user_id), room_id),
                ("SREM", self._online_key(room_id), user_id),
            ]
        )

    async def publish_ephemeral(self, room_id: str, kind: Kind, frame: dict[str, object]) -> None:
        """Publish an ephemeral frame (typing, presence) on the room's channel."""
        payload = room_event(kind, 0, frame)
        await self.pipelines.run(
            [(self.pipelines.publish, self.names.room_channel(room_id), payload)]
        )

    async def announce(
        self, user_id: str, rooms: list[str], *, online: bool, seen: int | None = None
    ) -> None:
        """Publish the user's presence change to each of ``rooms`` (with ``last_seen`` when
        they went offline)."""
        await self.pipelines.run(self._announcements(user_id, rooms, online=online, seen=seen))

    def _announcements(
        self, user_id: str, rooms: list[str], *, online: bool, seen: int | None = None
    ) -> list[Command]:
        commands: list[Command] = []
        for room_id in rooms:
            frame: dict[str, object] = {
                "type": "presence",
                "room_id": room_id,
                "user_id": user_id,
                "online": online,
            }
            if seen is not None:
                frame["last_seen"] = _iso(seen)
            payload = room_event(Kind.PRESENCE, 0, frame)
            commands.append((self.pipelines.publish, self.names.room_channel(room_id), payload))
        return commands

    async def online(self, user_ids: list[str]) -> list[str]:
        """The users among ``user_ids`` holding a live lease: those with a connection here
        are; one seen with a live lease less than ``SEEN_LIVE_S`` ago still counts (a room's
        online set is read anew each time; this check only weeds out the leases of a crashed
        gateway, which its sweep releases seconds later anyway); the others are asked."""
        now = time.monotonic()
        here = self._here
        known = {
            u for u in user_ids if u in here or now - self._live.get(u, -SEEN_LIVE_S) < SEEN_LIVE_S
        }
        ask = [u for u in dict.fromkeys(user_ids) if u not in known]
        if ask:
            at = int(time.time() * 1000)
            counts = await self.pipelines.run(
                [("ZCOUNT", self._leases_key(u), at + 1, "+inf") for u in ask]
            )
            if len(self._live) > LIVE_MAX:
                self._live = {u: t for u, t in self._live.items() if now - t < SEEN_LIVE_S}
            for user_id, count in zip(ask, counts, strict=True):
                if int(count) > 0:
                    known.add(user_id)
                    self._live[user_id] = now
        return [u for u in user_ids if u in known]

    async def room_state(self, room_id: str) -> dict[str, Any]:
        """``presence_state``'s fields for a room: who is online (its online set, each checked
        for a live lease) and when each member who has gone offline was last seen. Redis
        only, O(online members + members ever seen offline), never a member list."""
        return (await self.rooms_state([room_id]))[room_id]

    async def rooms_state(self, room_ids: list[str]) -> dict[str, dict[str, Any]]:
        """:meth:`room_state` of each room, in two round trips for all of them."""
        commands: list[Command] = []
        for room_id in room_ids:
            commands += [
                ("SMEMBERS", self._online_key(room_id)),
                ("HGETALL", self._seen_key(room_id)),
            ]
        answers = await self.pipelines.run(commands)
        members = {r: [_text(u) for u in answers[2 * i]] for i, r in enumerate(room_ids)}
        online = set(await self.online(list({u for m in members.values() for u in m})))
        states: dict[str, dict[str, Any]] = {}
        for i, room_id in enumerate(room_ids):
            here = {u for u in members[room_id] if u in online}
            raw = answers[2 * i + 1]
            seen = {_text(u): _iso(int(_text(v))) for u, v in raw.items() if _text(u) not in here}
            states[room_id] = {"online": sorted(here), "last_seen": seen}
        return states

    async def run(self) -> None:
        """Renew this process's leases every lease/3 and sweep the expired ones of others,
        until the process is ``stopping`` (its leases go back all together) or cancelled."""
        while not self.stopping:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                await self._renew()
                await self._sweep()
            except Exception as exc:  # Redis down: the next round tries again.
                log.warning("presence_round_failed", error=type(exc).__name__)
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # Cancelled mid-pipeline, redis-py can swallow the cancellation and return
                # (reproduced in gateway/tests/test_presence.py): this loop then went on, and
                # a gateway's shutdown waited for it until its 15 s limit, one reconnect
                # storm in three.
                raise asyncio.CancelledError

    async def _renew(self) -> None:
        # A pipeline of its own, not a shared one: it holds a command per connection of this
        # process, which no connect should wait behind, and the shared pipelines' timeout
        # must not cut the heartbeat that keeps every lease here from being swept.
        expiry = int(time.time() * 1000) + self.lease_ms
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self.processes_key, {self.process_id: expiry})
            for conn_id, user_id in list(self.local.items()):
                pipe.zadd(self._leases_key(user_id), {conn_id: expiry}, xx=True)
            await pipe.execute()

    async def _sweep(self) -> None:
        now = int(time.time() * 1000)
        (expired,) = await self.pipelines.run(
            [("ZRANGEBYSCORE", self.processes_key, "-inf", now, "LIMIT", 0, SWEEP_BATCH)]
        )
        for member in expired:
            process_id = _text(member)
            # Ours for one lease: time enough to release it, and if we die meanwhile it
            # expires again for the next sweeper.
            until = now + self.lease_ms
            (claimed,) = await self.pipelines.run(
                [("EVAL", scripts.CLAIM, 1, self.processes_key, process_id, now, until)]
            )
            if int(claimed) == 1:
                await self._release_process(process_id, now)

    async def _release_process(self, process_id: str, now: int) -> None:
        """Release every lease a dead process left, then forget the process."""
        key = self._process_key(process_id)
        while leases := (await self.pipelines.run([("SRANDMEMBER", key, SWEEP_BATCH)]))[0]:
            for lease in leases:
                user_id, _, conn_id = _text(lease).partition("|")
                (dropped,) = await self.pipelines.run([self._drop(user_id, conn_id, now)])
                await self._went_offline(user_id, dropped)
            await self.pipelines.run([("SREM", key, *leases)])
        await self.pipelines.run([("ZREM", self.processes_key, process_id)])

    async def release_all(self) -> None:
        """On shutdown (after ``stopping`` was set and the connections closed): every lease
        of this process given back, ``RELEASE_CHUNK`` per round trip, and the users left with
        none announced offline."""
        local = list(self.local.items())
        failed = False
        for start in range(0, len(local), RELEASE_CHUNK):
            chunk = local[start : start + RELEASE_CHUNK]
            now = int(time.time() * 1000)
            drops = [self._drop(user_id, conn_id, now) for conn_id, user_id in chunk]
            entries = [f"{user_id}|{conn_id}" for conn_id, user_id in chunk]
            try:
                dropped = await self.pipelines.run(
                    [*drops, ("SREM", self._process_key(self.process_id), *entries)]
                )
                offline: list[Command] = []
                for (_, user_id), last in zip(chunk, dropped, strict=False):
                    if last:
                        offline += self._offline(user_id, last, now)
                await self.pipelines.run(offline)
            except (RedisError, OSError) as exc:
                log.warning("presence_release_failed", leases=len(chunk), error=type(exc).__name__)
                failed = True
                continue
            for conn_id, _ in chunk:
                self.local.pop(conn_id, None)
        self._here.clear()
        if not failed:
            await self.pipelines.run([("ZREM", self.processes_key, self.process_id)])
        # Else the process stays listed: its heartbeat expires and another process's sweep
        # releases what is left.


@functools.lru_cache(maxsize=65536)
def _iso(ms: int) -> str:
    """Milliseconds since the epoch as the API's UTC timestamp: a room's members went offline
    at few distinct moments, and each connection's presence_state repeats them."""
    at = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
