"""Reads from a streaming replica (MESSAGES_READ_DATABASE_URL), with read-your-writes.

After a caller's write succeeds, the primary's WAL position at that moment (at or past the
write's commit) is kept in Redis for that user (:meth:`Reads.wrote`). A read by that user goes
to the replica once the replica has replayed past it: checked with
``pg_last_wal_replay_lsn()``, polled for at most MESSAGES_READ_WAIT seconds, after which the
read goes to the primary. Users with no recent write read from the replica at once. When the
replica cannot be reached, reads go to the primary, and the replica is tried again after
a pause. Without a replica, every read goes to the primary and nothing is kept.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import jwt
import redis.asyncio as aioredis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatcore.logs import get_logger
from message_service import metrics

log = get_logger(__name__)
T = TypeVar("T")

# How long a user's last write position is kept: longer than any lag a read would wait out.
LSN_TTL_SECONDS = 300
# After the replica failed, the primary serves every read for this long before a retry.
DOWN_PAUSE_SECONDS = 5.0
POLL_SECONDS = 0.01
# What "the replica cannot be reached" looks like to asyncpg.
UNREACHABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
)


class Reads:
    """Where a user's reads go: the replica when it has their writes, else the primary."""

    def __init__(
        self,
        primary: asyncpg.Pool,
        replica: asyncpg.Pool | None,
        redis: aioredis.Redis,
        key_prefix: str,
        *,
        max_wait: float,
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.redis = redis
        self.key_prefix = key_prefix
        self.max_wait = max_wait
        self._down_until = 0.0
        # The next WAL-position query, which callers may still join (see _position).
        self._next: asyncio.Future[str] | None = None
        self._reading: set[asyncio.Task[None]] = set()

    def _key(self, user: uuid.UUID) -> str:
        return f"{self.key_prefix}{user}"

    async def wrote(self, users: list[uuid.UUID]) -> None:
        """Remember the primary's WAL position for ``users``, whose writes just committed."""
        if self.replica is None or not users:
            return
        lsn = await self._position()
        async with self.redis.pipeline(transaction=False) as pipe:
            for user in dict.fromkeys(users):
                pipe.set(self._key(user), lsn, ex=LSN_TTL_SECONDS)
            await pipe.execute()

    async def _position(self) -> str:
        """The primary's WAL position, read by a query sent after this call began (so at or
        past the caller's commit). Concurrent callers share one query: each joins the next
        one not yet sent, so a burst of writes costs one round trip, not one each."""
        pending = self._next
        if pending is None:
            pending = self._next = asyncio.get_running_loop().create_future()
            # Kept referenced until done: the loop holds tasks only weakly.
            task = asyncio.create_task(self._read_position(pending))
            self._reading.add(task)
            task.add_done_callback(self._reading.discard)
        return await asyncio.shield(pending)

    async def _read_position(self, pending: asyncio.Future[str]) -> None:
        self._next = None  # callers from now on need a query sent after them
        try:
            pending.set_result(
                str(await self.primary.fetchval("SELECT pg_current_wal_lsn()::text"))
            )
        except Exception as exc:
            pending.set_exception(exc)

    async def run(self, user: uuid.UUID, read: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
        """``read`` on the replica if it holds ``user``'s writes (within the wait), else on
        the primary."""
        replica = self.replica
        if replica is None or time.monotonic() < self._down_until:
            return await read(self.primary)
        try:
            if await self._caught_up(replica, user):
                result = await read(replica)
                metrics.READS.labels("replica").inc()
                return result
        except UNREACHABLE as exc:
            self._down_until = time.monotonic() + DOWN_PAUSE_SECONDS
            log.warning("read_replica_unreachable", error=type(exc).__name__)
        metrics.READS.labels("primary").inc()
        return await read(self.primary)

    async def _caught_up(self, replica: asyncpg.Pool, user: uuid.UUID) -> bool:
        raw = await self.redis.get(self._key(user))
        if raw is None:
            return True
        wanted = raw.decode() if isinstance(raw, bytes) else str(raw)
        deadline = time.monotonic() + self.max_wait
        async with replica.acquire(timeout=2.0) as conn:
            while True:
                # NULL when the server is no replica (then it is the primary itself: caught up).
                done = await conn.fetchval(
                    "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, true)", wanted
                )
                if done:
                    return True
                if time.monotonic() >= deadline:
                    metrics.READ_WAIT_EXPIRED.inc()
                    return False
                await asyncio.sleep(POLL_SECONDS)


class WritesSeen:
    """ASGI middleware: after a successful write call of a user (POST, PUT, PATCH, DELETE
    answered 2xx), and before that answer leaves, :meth:`Reads.wrote` notes the user.

    The caller is the ``sub`` of the bearer token, which the call itself has verified (no
    2xx otherwise), so it is read here without checking the signature again."""

    WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in self.WRITES:
            await self.app(scope, receive, send)
            return
        reads: Reads | None = getattr(scope["app"].state, "reads", None)
        if reads is None or reads.replica is None:
            await self.app(scope, receive, send)
            return

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                user = _caller(scope)
                if user is not None:
                    await reads.wrote([user])
            await send(message)

        await self.app(scope, receive, noting)


def _caller(scope: Scope) -> uuid.UUID | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            try:
                claims = jwt.decode(value[7:].decode(), options={"verify_signature": False})
                return uuid.UUID(str(claims["sub"]))
            except (jwt.PyJWTError, KeyError, ValueError, UnicodeDecodeError):
                return None
    return None
