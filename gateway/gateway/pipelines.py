"""Redis commands of many connections in one pipeline (batcher.py), and the gateway's Redis
users that go through it: presence and the rate limiters.

A connect asked Redis a dozen small things one round trip at a time (its lease, the online
sets of its rooms, the presence of each room, its rate limits), each round trip a checkout of
redis-py's blocking pool. In a reconnect storm thousands of connects queued on that pool: its
condition lock hands over one waiter at a time, so the queue itself cost CPU, and commands
that waited more than five seconds failed ("No connection available"), at shutdown too
(thousands of presence releases at once). Here the commands of the connects of one moment
share a pipeline: a few round trips and pool checkouts for hundreds of connects, and the
same read of the same key (a room's online set) made once per pipeline.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatcore import presence_keys
from chatcore.events import Kind, room_event
from chatcore.logs import get_logger
from chatcore.ratelimit import _BUCKETS_LUA, RedisRateLimiter
from chatcore.redisconn import Names, RedisClient, publish_command
from gateway import presence_scripts as scripts
from gateway.batcher import Batcher
from gateway.presence import SEEN_TTL_S, Presence, _text
from gateway.presence import _iso as _iso_of

log = get_logger(__name__)

Command = tuple[Any, ...]

# A user seen holding a live lease counts as online this long without asking again, and
# the record of it is pruned past this many users.
SEEN_LIVE_S = 2.0
LIVE_MAX = 100_000

# The most one pipeline may take, replies included.
PIPELINE_TIMEOUT = 5.0

# Leases given back per round trip on shutdown.
RELEASE_CHUNK = 500

# Reads whose answer one pipeline may share between its callers.
SHARED_READS = frozenset({"SMEMBERS", "HGETALL"})


class Pipelines:
    """Runs lists of Redis commands, those of concurrent callers in one pipeline."""

    def __init__(self, redis: RedisClient, *, max_jobs: int = 200, concurrency: int = 4) -> None:
        self.redis = redis
        self.publish = publish_command(redis)
        self._client = _untimed(redis, concurrency)
        # Scripts Redis has cached (source -> SHA1): sent by hash (EVALSHA) once one EVAL of
        # them went through; a cluster pipeline takes only EVAL.
        self._cached: dict[str, str] | None = None if self._client is redis else {}
        self._batcher: Batcher[list[Command], list[Any]] = Batcher(
            self._execute, max_size=max_jobs, concurrency=concurrency
        )

    async def run(self, commands: list[Command]) -> list[Any]:
        """The answers of ``commands``, in order; the first error among them is raised."""
        if not commands:
            return []
        answers = await self._batcher.get(commands)
        if self._cached and any(_noscript(a) for a in answers):
            # Redis lost its script cache (a restart, SCRIPT FLUSH): the job's scripts did not
            # run, so it is sent again, its scripts whole. (Every job with a script is safe
            # to repeat: its other commands are idempotent writes.)
            self._cached.clear()
            answers = await self._batcher.get(commands)
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
        return answers

    async def _execute(self, jobs: list[list[Command]]) -> list[list[Any]]:
        slots: dict[Command, int] = {}
        where: list[list[int]] = []
        sent = 0
        try:
            async with (
                asyncio.timeout(PIPELINE_TIMEOUT),
                self._client.pipeline(transaction=False) as pipe,
            ):
                for job in jobs:
                    places = []
                    for command in job:
                        if command[0] == "EVAL" and self._cached is not None:
                            command = self._by_hash(command)
                        shared = command[0] in SHARED_READS
                        if shared and command in slots:
                            places.append(slots[command])
                            continue
                        pipe.execute_command(*command)
                        if shared:
                            slots[command] = sent
                        places.append(sent)
                        sent += 1
                    where.append(places)
                answers = await pipe.execute(raise_on_error=False)
        except TimeoutError as exc:
            # A Redis error, as a reply that timed out under redis-py's own timeout is.
            raise RedisTimeoutError(f"no answer within {PIPELINE_TIMEOUT} s") from exc
        return [[answers[i] for i in places] for places in where]

    def _by_hash(self, command: Command) -> Command:
        """``EVALSHA`` for a script Redis has, else the ``EVAL`` (which caches it there)."""
        if self._cached is None:
            return command
        source = command[1]
        sha = self._cached.get(source)
        if sha is None:
            self._cached[source] = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324
            return command
        return ("EVALSHA", sha, *command[2:])

    async def aclose(self) -> None:
        await self._batcher.aclose()
        if self._client is not self.redis:
            await self._client.aclose()


@functools.lru_cache(maxsize=65536)
def _iso(ms: int) -> str:
    """A last-seen time as the API writes it: a room's members went offline at few distinct
    moments, and each connection's presence_state repeats them."""
    return _iso_of(ms)


def _noscript(answer: object) -> bool:
    return isinstance(answer, NoScriptError)


def _untimed(redis: RedisClient, size: int) -> RedisClient:
    """A client like ``redis`` on connections of its own, with no timeout per reply.

    redis-py arms an asyncio timeout for every reply it reads (socket_timeout), which was a
    tenth of the gateway's CPU at connect: a pipeline of a few hundred commands is given one
    timeout for all of them instead (a connection cancelled mid-reply is dropped, never
    reused). Each pipeline takes one connection; at most ``size`` run at once."""
    if not isinstance(redis, aioredis.Redis):
        return redis  # a cluster client pipelines per node with its own connections
    pool = redis.connection_pool
    kwargs = {**pool.connection_kwargs, "socket_timeout": None}
    return aioredis.Redis(
        connection_pool=aioredis.ConnectionPool(
            connection_class=pool.connection_class, max_connections=size * 2, **kwargs
        )
    )


class BatchedPresence(Presence):
    """:class:`Presence` whose per-connection round trips share pipelines."""

    def __init__(self, redis: RedisClient, names: Names, lease: float) -> None:
        super().__init__(redis, names, lease)
        self.pipelines = Pipelines(redis)
        # When each user was last seen holding a live lease (monotonic seconds), and how
        # many leases each user holds here (those are live: this process renews them).
        self._live: dict[str, float] = {}
        self._here: dict[str, int] = {}
        # Set on shutdown: leases are then given back all together by release_all.
        self.stopping = False

    async def lease(
        self,
        user_id: str,
        conn_id: str,
        rooms: list[str],
        cap: int = 0,
        joined: list[str] | None = None,
    ) -> int:
        now = int(time.time() * 1000)
        expiry = now + self.lease_ms
        entry = f"{user_id}|{conn_id}"
        # In order, as in Presence.lease: listed under this process before the lease exists.
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
        if self.stopping:
            return  # released with all the others by release_all
        if self.local.pop(conn_id, None) is not None:
            left = self._here.pop(user_id, 1) - 1
            if left > 0:
                self._here[user_id] = left
        now = int(time.time() * 1000)
        answers = await self.pipelines.run(
            [
                ("EVAL", scripts.DROP, 3, *self._user_keys(user_id), conn_id, now),
                ("SREM", self._process_key(self.process_id), f"{user_id}|{conn_id}"),
            ]
        )
        await self._went_offline(user_id, answers[0])

    async def _went_offline(self, user_id: str, dropped: list[list[bytes | str]] | None) -> None:
        if not dropped:
            return
        now = int(time.time() * 1000)
        await self.pipelines.run(self._offline(user_id, dropped, now))

    def _offline(self, user_id: str, dropped: list[list[bytes | str]], now: int) -> list[Command]:
        """The writes of a user's last lease given back (from scripts.DROP: the rooms to announce
        it in, and all of theirs): last seen, out of each room's online set, the news."""
        announced, joined = dropped
        seen = presence_keys.seen_key(self.names, user_id)
        commands: list[Command] = [("SET", seen, now, "EX", SEEN_TTL_S)]
        for room in joined:
            commands.append(("SREM", self._online_key(_text(room)), user_id))
            commands.append(("HSET", self._seen_key(_text(room)), user_id, now))
        rooms = [_text(r) for r in announced]
        return commands + self._announcements(user_id, rooms, online=False, seen=now)

    async def enter_rooms(self, user_id: str, joined: list[str]) -> None:
        await self.pipelines.run([("SADD", self._online_key(r), user_id) for r in joined])

    async def announce(
        self, user_id: str, rooms: list[str], *, online: bool, seen: int | None = None
    ) -> None:
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
        members, raw = await self.pipelines.run(
            [("SMEMBERS", self._online_key(room_id)), ("HGETALL", self._seen_key(room_id))]
        )
        online = sorted(await self.online([_text(u) for u in members]))
        here = set(online)
        seen = {_text(u): _iso(int(_text(v))) for u, v in raw.items() if _text(u) not in here}
        return {"online": online, "last_seen": seen}

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
            here = sorted(u for u in members[room_id] if u in online)
            raw = answers[2 * i + 1]
            seen = {_text(u): _iso(int(_text(v))) for u, v in raw.items() if _text(u) not in here}
            states[room_id] = {"online": here, "last_seen": seen}
        return states

    async def release_all(self) -> None:
        """On shutdown (after ``stopping`` was set and the connections closed): every lease
        of this process given back, ``RELEASE_CHUNK`` per round trip, and the users left with
        none announced offline."""
        local = list(self.local.items())
        failed = False
        for start in range(0, len(local), RELEASE_CHUNK):
            chunk = local[start : start + RELEASE_CHUNK]
            now = int(time.time() * 1000)
            drops: list[Command] = [
                ("EVAL", scripts.DROP, 3, *self._user_keys(user_id), conn_id, now)
                for conn_id, user_id in chunk
            ]
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
            await self.redis.zrem(self.processes_key, self.process_id)
        # Else the process stays listed: its heartbeat expires and another process's sweep
        # releases what is left.


class BatchedRateLimiter(RedisRateLimiter):
    """:class:`RedisRateLimiter` whose takes share pipelines with the rest of the gateway."""

    def __init__(self, pipelines: Pipelines, prefix: str, *, rate: float, burst: int) -> None:
        super().__init__(pipelines.redis, prefix, rate=rate, burst=burst)
        self.pipelines = pipelines

    async def wait_times(self, takes: list[tuple[str, int]]) -> list[float]:
        """As :meth:`RedisRateLimiter.wait_times`, the script call in a shared pipeline (on a
        cluster, where one call's keys must share a slot, as the parent does)."""
        if not takes:
            return []
        if self._cluster and len(takes) > 1:
            return await super().wait_times(takes)
        command = (
            "EVAL",
            _BUCKETS_LUA,
            len(takes),
            *(self.prefix + key for key, _ in takes),
            self.rate,
            self.burst,
            *(cost for _, cost in takes),
        )
        (waits,) = await self.pipelines.run([command])
        return [float(w) for w in waits]
