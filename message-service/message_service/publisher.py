"""Room-channel publishing after commit: pipelined, in commit order, never blocking a send.

Committed messages, edits and deletes are queued here and written to Redis one round at a
time (a :class:`chatcore.drain.Drain`), one pipeline per round, so each batch costs one Redis
round trip and publishes keep the order they were committed in. Each payload is published
at most once: redis-py's retries are off, because retrying a pipeline whose reply was lost
could publish it twice. A payload Redis does not take (Redis down, or the queue full) is
dropped and counted; the message is committed, so the gateway finds the seq gap and fills it
from history (docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from typing import Any

from redis.exceptions import RedisError

from chatcore import tracing
from chatcore.drain import Drain
from chatcore.events import Kind, room_event
from chatcore.logs import get_logger
from chatcore.redisconn import Names, RedisClient, publish_command
from message_service import metrics

log = get_logger(__name__)

# Payloads per pipeline: large enough for any batch, small enough to keep one reply quick.
PIPELINE_MAX = 1000
# A connection idle this long may have died unnoticed (Redis restarted, a proxy dropped it):
# ping before publishing on it. A ping can be retried; a publish cannot (it might go twice).
IDLE_CHECK = 1.0
# After a failed round trip, wait this long before the next one, so a Redis outage is not a
# busy loop (whatever waits meanwhile goes out together, or overflows and is counted).
FAILURE_PAUSE = 0.2

# KEYS the channels, ARGV the payloads, in order. A script runs whole or not at all, and Redis
# answers NOSCRIPT before running anything, so redis-py's reload-and-retry cannot publish twice.
_PUBLISH_MANY_LUA = """
for i, channel in ipairs(KEYS) do
  redis.call('PUBLISH', channel, ARGV[i])
end
return #KEYS
"""


def message_event(
    kind: Kind,
    frame_type: str,
    message: dict[str, Any],
    pos: int,
    *,
    traceparent: bytes | None = None,
) -> tuple[Any, bytes]:
    """``(room_id, payload)`` of a message frame at change position ``pos`` for the room
    channel (docs/events.md), stamped with the time now (the gateways' delivery lag) and the
    trace to join (``traceparent``, else the current span's when tracing is on)."""
    frame = {"type": frame_type, "pos": pos, "message": message}
    if traceparent is None and tracing.ENABLED:
        traceparent = tracing.traceparent()
    at_us = time.time_ns() // 1000
    payload = room_event(kind, message["seq"], frame, pos, at_us=at_us, traceparent=traceparent)
    return message["room_id"], payload


def change_event(room_id: Any, seq: int, frame: dict[str, Any]) -> tuple[Any, bytes]:
    """``(room_id, payload)`` of another change frame (it carries its ``pos``)."""
    return room_id, room_event(Kind.CHANGE, seq, frame, int(frame["pos"]))


class Publisher:
    """Queues ``(channel, payload)`` pairs and publishes them in order from one task."""

    def __init__(self, redis: RedisClient, names: Names, *, max_pending: int) -> None:
        self.redis = redis
        # SPUBLISH on a cluster: the pipeline sends each payload to its channel's shard.
        self.command = publish_command(redis)
        self.names = names
        self.max_pending = max_pending
        self._drain: Drain[tuple[str, bytes]] = Drain(
            self._send_round, name="publisher", max_batch=PIPELINE_MAX
        )
        self._last_ok = 0.0
        self._publish_many = redis.register_script(_PUBLISH_MANY_LUA)

    async def stop(self, grace: float = 5.0) -> None:
        """Publish what is queued (for at most ``grace`` seconds), then stop."""
        left = await self._drain.stop(grace)
        if left:
            metrics.PUBLISH_FAILURES.inc(len(left))
            log.warning("publish_queue_dropped_at_stop", dropped=len(left))

    async def drained(self) -> None:
        """Return once nothing is queued or in flight."""
        await self._drain.drained()

    def publish(self, events: Iterable[tuple[uuid.UUID, bytes]]) -> None:
        """Queue room-channel payloads ``(room_id, payload)``; returns at once."""
        pending = self._drain.queue
        for room_id, payload in events:
            pending.append((self.names.room_channel(room_id), payload))
        overflow = len(pending) - self.max_pending
        if overflow > 0:
            for _ in range(overflow):
                pending.popleft()
            metrics.PUBLISH_FAILURES.inc(overflow)
            log.warning("publish_queue_full", dropped=overflow)
        self._drain.wake()

    async def _send_round(self, chunk: list[tuple[str, bytes]]) -> None:
        if not await self._send(chunk):
            # The next round waits: a Redis outage must not be a busy loop (whatever waits
            # meanwhile goes out together, or overflows and is counted).
            await asyncio.sleep(FAILURE_PAUSE)

    async def _send(self, chunk: list[tuple[str, bytes]]) -> bool:
        if tracing.ENABLED:
            traces = _traces(chunk)
            if traces:
                with tracing.current_span(
                    "publish",
                    parent=traces[0],
                    links=traces[1:],
                    kind="PRODUCER",
                    attributes={"chat.payloads": len(chunk)},
                ):
                    return await self._publish_chunk(chunk)
        return await self._publish_chunk(chunk)

    async def _publish_chunk(self, chunk: list[tuple[str, bytes]]) -> bool:
        try:
            await self._check_connection()
            if self.command == "PUBLISH":
                # One command for the chunk: a command each costs redis-py more than Redis.
                await self._publish_many(keys=[c for c, _ in chunk], args=[p for _, p in chunk])
            else:
                pipe = self.redis.pipeline(transaction=False)
                for channel, payload in chunk:
                    pipe.execute_command(self.command, channel, payload)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            metrics.PUBLISH_FAILURES.inc(len(chunk))
            log.warning(
                "publish_failed", payloads=len(chunk), error=type(exc).__name__, detail=str(exc)
            )
            return False
        except Exception:
            # Whatever it is, the task must outlive it: every later publish depends on it.
            metrics.PUBLISH_FAILURES.inc(len(chunk))
            log.exception("publish_failed", payloads=len(chunk))
            return False
        metrics.PUBLISHED.inc(len(chunk))
        self._last_ok = time.monotonic()
        return True

    async def _check_connection(self) -> None:
        """Ping first if the connection was idle or failing: a dead pooled connection fails
        the ping (and is dropped), and the second ping connects afresh.

        Not on a cluster: its PING goes to every node, so one shard down would stop the
        publishes of every room; there a dead connection costs the payloads of its one node,
        and the cluster client reconnects it for the next pipeline."""
        if self.command == "SPUBLISH" or time.monotonic() - self._last_ok < IDLE_CHECK:
            return
        try:
            await self.redis.ping()
        except (RedisError, OSError):
            await self.redis.ping()


# Links per publish span: a pipeline of a thousand payloads need not name every trace.
_LINKS_MAX = 32


def _traces(chunk: list[tuple[str, bytes]]) -> list[Any]:
    """The distinct trace contexts the chunk's payload headers name, in order."""
    found: dict[bytes, Any] = {}
    for _, payload in chunk:
        header = payload[: payload.find(b"\n")]
        at = header.find(b" tp=")
        if at < 0:
            continue
        value = header[at + 4 :].partition(b" ")[0]
        if value not in found:
            ctx = tracing.from_traceparent(value)
            if ctx is not None:
                found[value] = ctx
                if len(found) > _LINKS_MAX:
                    break
    return list(found.values())
