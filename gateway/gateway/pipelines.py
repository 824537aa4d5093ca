"""Redis commands of many connections in one pipeline (batcher.py), for the gateway's Redis
users: presence (presence.py) and the rate limiters here.

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
import hashlib
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatcore.ratelimit import _BUCKETS_LUA, RedisRateLimiter
from chatcore.redisconn import RedisClient, publish_command
from gateway.batcher import Batcher

Command = tuple[Any, ...]

# The most one pipeline may take, replies included.
PIPELINE_TIMEOUT = 5.0

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
        if isinstance(self._client, aioredis.Redis) and self._client is not self.redis:
            # Its pool is its own (see _untimed), which redis-py leaves open unless told.
            await self._client.aclose(close_connection_pool=True)


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
