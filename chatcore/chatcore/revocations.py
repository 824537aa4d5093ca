"""Access tokens revoked before they expire: a user's tokens issued up to a time are refused.

When an administrator deactivates an account, auth-service records "tokens of this user
issued at or before T are revoked" in the Redis hash ``{prefix}revoked`` (user id -> T, in
epoch seconds) and publishes ``<user id> <T>`` on ``{prefix}revocations``. Every process
that verifies tokens keeps the whole hash in memory (revocations are rare: a few entries),
loaded when its subscription is confirmed and updated by each publication, so the check on
each HTTP call and each websocket frame is one dict lookup; ``on_revoked`` lets the gateway
close the user's open connections at once.

While the subscription is down the copy may miss a new revocation; on each (re)subscription
the hash is read again. Token ``iat`` has a resolution of one second, so a token issued in
the same second as a revocation is refused too (a reactivated user logs in a second later).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from redis.exceptions import RedisError

from chatcore.errors import Unauthorized
from chatcore.logs import get_logger
from chatcore.pubsub import Subscriber
from chatcore.redisconn import Names, RedisClient, publish_command
from chatcore.settings import ServiceSettings
from chatcore.tokens import TokenVerifier

log = get_logger(__name__)


def revoked_key(names: Names) -> str:
    return names.key("revoked")


def revocations_channel(names: Names) -> str:
    return names.key("revocations")


async def revoke_user(redis: RedisClient, names: Names, user_id: uuid.UUID) -> int:
    """Revoke every access token of the user issued until now; the time recorded."""
    before = int(time.time())
    await redis.hset(revoked_key(names), str(user_id), str(before))
    await redis.execute_command(
        publish_command(redis), revocations_channel(names), f"{user_id} {before}"
    )
    return before


class Revocations:
    """This process's copy of the revocations, and the check against it."""

    def __init__(
        self,
        redis: RedisClient,
        redis_url: str,
        names: Names,
        *,
        cluster: bool = False,
        on_revoked: Callable[[uuid.UUID], None] | None = None,
    ) -> None:
        self.redis = redis
        self.names = names
        self.on_revoked = on_revoked or (lambda _user: None)
        # Keyed by the id's integer: hashing an int is a C call, a UUID's a Python one
        # (measured: 0.4 µs a check keyed by UUID).
        self._before: dict[int, int] = {}
        self._loading: set[asyncio.Task[None]] = set()
        self.subscriber = Subscriber(
            redis_url, cluster=cluster, on_message=self._on_message, on_ready=self._on_ready
        )

    def check(self, user_id: uuid.UUID, issued_at: int) -> None:
        """401 ``token_revoked`` if the user's tokens issued at ``issued_at`` are revoked."""
        before = self._before.get(user_id.int)
        if before is not None and issued_at <= before:
            raise Unauthorized("The token has been revoked.", code="token_revoked")

    def revoked(self, user_id: uuid.UUID, issued_at: int) -> bool:
        before = self._before.get(user_id.int)
        return before is not None and issued_at <= before

    async def start(self) -> None:
        await self.subscriber.start()
        try:
            await self.subscriber.subscribe(revocations_channel(self.names))
        except TimeoutError:
            log.warning("revocations_not_subscribed")
        await self.load()

    async def stop(self) -> None:
        await self.subscriber.stop()
        for task in list(self._loading):
            task.cancel()

    async def load(self) -> None:
        """Read the whole hash (after subscribing, so nothing falls in between)."""
        try:
            raw = await self.redis.hgetall(revoked_key(self.names))
        except (RedisError, OSError) as exc:
            log.warning("revocations_load_failed", error=type(exc).__name__)
            return
        for user, before in raw.items():
            self._apply(user, before)

    def _apply(self, user: bytes | str, before: bytes | str) -> uuid.UUID | None:
        try:
            user_id = uuid.UUID(user.decode() if isinstance(user, bytes) else user)
            at = int(before)
        except ValueError:
            log.warning("revocation_unreadable")
            return None
        self._before[user_id.int] = max(at, self._before.get(user_id.int, 0))
        return user_id

    def _on_message(self, _channel: bytes, data: bytes) -> None:
        user, _, before = data.partition(b" ")
        user_id = self._apply(user, before)
        if user_id is not None:
            self.on_revoked(user_id)

    def _on_ready(self, _channel: str, again: bool) -> None:
        if again:  # publications may have been missed while the connection was down
            task = asyncio.get_running_loop().create_task(self.load())
            self._loading.add(task)
            task.add_done_callback(self._loading.discard)


async def follow(
    verifier: TokenVerifier,
    redis: RedisClient,
    settings: ServiceSettings,
    on_revoked: Callable[[uuid.UUID], None] | None = None,
) -> Revocations:
    """Start following revocations and have ``verifier`` check them; stop it when done."""
    revocations = Revocations(
        redis,
        settings.redis_url,
        Names(settings.redis_prefix),
        cluster=settings.redis_cluster,
        on_revoked=on_revoked,
    )
    verifier.revocations = revocations
    await revocations.start()
    return revocations
