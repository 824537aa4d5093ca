"""What a member asks of the gateway once live: send, read, typing, who, and a later
``resume``, each carried out with the member's own token.

Sends are batched with those of other connections (gateway.sends) and answered with ``ack``
or ``error``; other requests first take their cost from the user's rate bucket across
every gateway process (``GATEWAY_USER_RATE``), then run as a task of the connection.
"""

from __future__ import annotations

import time
from typing import Any

from redis.exceptions import RedisError

from chatcore import tracing
from chatcore.errors import ChatError, Forbidden, NotFound, Unavailable
from chatcore.events import Kind
from chatcore.logs import get_logger
from chatcore.ratelimit import RedisRateLimiter
from gateway import frames, metrics
from gateway.client import Client
from gateway.delivery import Delivery
from gateway.frames import ClientFrame, Read, Resume, Send, Typing, Who
from gateway.presence import Presence
from gateway.resume import Resumes
from gateway.sends import Sends
from gateway.upstream import Upstream

log = get_logger(__name__)

# A resume costs one token of the user's bucket per this many rooms it lists (at most the
# burst): its history reads are what it costs upstream.
RESUME_ROOMS_PER_TOKEN = 10


class Requests:
    """Carries out the requests of live connections."""

    def __init__(
        self,
        upstream: Upstream,
        presence: Presence,
        resumes: Resumes,
        *,
        user_limits: RedisRateLimiter | None = None,
        delivery: Delivery | None = None,
    ) -> None:
        self.upstream = upstream
        # The room feeds: an ack goes out with the sender's copy of its message.
        self.delivery = delivery
        self.presence = presence
        self.resumes = resumes
        self.sends = Sends(upstream)
        self.user_limits = user_limits

    async def execute(self, client: Client, frame: ClientFrame) -> None:
        """Start one request once the connection has a free in-flight slot (its reader
        waits for one); the slot is released when it is answered."""
        # A send's frame-in to ack time includes waiting for an in-flight slot.
        started = time.perf_counter()
        await client.inflight.acquire()
        if isinstance(frame, Send):
            self._send(client, frame, started)
        else:
            client.spawn(self._execute(client, frame))

    def _send(self, client: Client, frame: Send, started: float) -> None:
        """Forward a send (batched with others); ``ack`` after commit, or ``error``."""
        # The frame's span starts the message's trace; it ends with the ack or the error.
        span = (
            tracing.start_span(
                "frame send", kind="SERVER", attributes={"chat.room_id": frame.room_id}
            )
            if tracing.ENABLED
            else None
        )

        def done(message: Any, error: ChatError | None) -> None:
            client.inflight.release()
            metrics.SEND_ACK_SECONDS.observe(time.perf_counter() - started)
            if span is not None:
                span.set_attribute("chat.outcome", "ack" if error is None else error.code)
                span.end()
            if error is None:
                ack = frames.build("ack", frame.ref, message=message)
                seq = message.get("seq") if isinstance(message, dict) else None
                if (
                    self.delivery is not None
                    and isinstance(seq, int)
                    and frame.room_id in client.session.rooms
                ):
                    delivered = self.delivery.position(client, frame.room_id)[1]
                    client.ack(frame.room_id, seq, ack, delivered)
                else:
                    client.push(ack)
            else:
                client.push(_error_frame(error, frame.ref))

        extra: dict[str, Any] = {}
        if frame.attachment_ids:
            extra["attachment_ids"] = list(frame.attachment_ids)
        if frame.reply_to:
            extra["reply_to"] = frame.reply_to
        if frame.thread_root_id:
            extra["thread_root_id"] = frame.thread_root_id
        if frame.mentions:
            extra["mentions"] = list(frame.mentions)
        self.sends.submit(
            client.token,
            frame.room_id,
            frame.body,
            frame.client_msg_id,
            done,
            extra,
            lane=client.id,
            trace=None if span is None else tracing.context_of(span),
        )

    async def _execute(self, client: Client, frame: ClientFrame) -> None:
        try:
            wait = await self._charge(client, frame)
            if wait > 0:
                client.push(frames.rate_limited(frame.ref, wait, "Too many requests; slow down."))
                return
            if tracing.ENABLED:
                # Log lines and upstream calls of the frame carry its trace.
                name = "frame " + type(frame).__name__.lower()
                with tracing.current_span(name, kind="SERVER"):
                    await self._do(client, frame)
            else:
                await self._do(client, frame)
        except ChatError as exc:
            client.push(_error_frame(exc, frame.ref))
        finally:
            client.inflight.release()

    async def _charge(self, client: Client, frame: ClientFrame) -> float:
        """Take the request's cost from its user's bucket: 0, or the seconds to wait. With
        Redis unreachable the request goes on (the per-connection limit still holds)."""
        if self.user_limits is None or client.session.user_id is None:
            return 0.0
        cost = 1
        if isinstance(frame, Resume):
            cost = min(self.user_limits.burst, 1 + len(frame.rooms) // RESUME_ROOMS_PER_TOKEN)
        try:
            return await self.user_limits.wait_time(client.session.user_id, cost)
        except RedisError as exc:
            log.warning("user_rate_unchecked", error=type(exc).__name__)
            return 0.0

    async def _do(self, client: Client, frame: ClientFrame) -> None:
        token = client.token
        if isinstance(frame, Read):
            await self.upstream.read(token, frame.room_id, frame.seq)
        elif isinstance(frame, Typing):
            payload: dict[str, Any] = {
                "type": "typing",
                "room_id": frame.room_id,
                "user_id": client.session.user_id,
            }
            await self.presence.publish_ephemeral(frame.room_id, Kind.TYPING, payload)
        elif isinstance(frame, Who):
            # The session checked membership; the room's online set answers without paging
            # its members (a room of 10,000 costs what a room of 10 does).
            fields = await self.presence.room_state(frame.room_id)
            client.push(frames.build("presence_state", frame.ref, room_id=frame.room_id, **fields))
        elif isinstance(frame, Resume):
            await self.resumes.later(client, frame)


def _error_frame(exc: ChatError, ref: str | None) -> bytes:
    """The ``error`` frame answering a request that failed upstream (``retry_after`` on
    ``rate_limited``, as on a refused frame)."""
    code, message = _error_code(exc)
    if code == "rate_limited":
        return frames.rate_limited(ref, float(getattr(exc, "retry_after", 1)), message)
    return frames.error(code, message, ref)


# What was wrong with a send's attachment_ids, passed through as message-service says it.
ATTACHMENT_CODES = frozenset(
    {"attachment_not_found", "attachment_wrong_room", "attachment_in_use", "duplicate_attachment"}
)


def _error_code(exc: ChatError) -> tuple[str, str]:
    """The ``error`` frame's code for an upstream error (docs/protocol.md)."""
    if exc.code == "muted":
        return "muted", "You are muted in this room for now."
    if exc.code in ATTACHMENT_CODES:
        return exc.code, exc.message
    if isinstance(exc, NotFound | Forbidden):
        return "not_a_member", "Not a member of that room."
    if isinstance(exc, Unavailable):
        return "unavailable", "A service is unavailable; try again."
    known = {"too_large", "invalid_input", "rate_limited", "unauthorized"}
    if exc.code in known:
        return exc.code, exc.message
    return {413: "too_large", 422: "invalid_input", 429: "rate_limited", 401: "unauthorized"}.get(
        exc.status, "unavailable"
    ), exc.message
