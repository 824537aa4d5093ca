"""The thin I/O loop around :class:`Session`: one handler per websocket connection.

It reads client frames, asks the session what to do, and does it: verifies tokens, reads
the user's rooms (room-service) and positions (message-service) at connect, starts live
delivery (gateway.delivery), and executes requests with the user's own token.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from typing import Any

from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from chatcore import tracing
from chatcore.errors import ChatError, Forbidden, NotFound, Unauthorized, Unavailable
from chatcore.events import Kind
from chatcore.logs import get_logger
from chatcore.ratelimit import RedisRateLimiter
from chatcore.redisconn import Names
from chatcore.revocations import Revocations
from chatcore.tokens import TokenVerifier
from gateway import frames, metrics
from gateway.client import ABORT_AFTER, Client
from gateway.connect import Connector, ConnectReads
from gateway.delivery import Delivery
from gateway.frames import ClientFrame, Read, Resume, Send, Typing, Who
from gateway.presence import Presence
from gateway.presence_state import send_initial
from gateway.resume import Resumes
from gateway.sends import Sends
from gateway.session import (
    CLOSE_POLICY,
    CLOSE_REVOKED,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHORIZED,
    REASON_AUTH_TIMEOUT,
    Close,
    Execute,
    Out,
    Phase,
    Reply,
    Session,
    Start,
    Verify,
)
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream

log = get_logger(__name__)

# A resume costs one token of the user's bucket per this many rooms it lists (at most the
# burst): its history reads are what it costs upstream.
RESUME_ROOMS_PER_TOKEN = 10

# A resume-grace timer that fires this late (seconds) means the loop was busy: wait on.
GRACE_LAG = 0.05


class Connections:
    """The connections of this process, by user and by room, and what each one does."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        verifier: TokenVerifier,
        upstream: Upstream,
        delivery: Delivery,
        presence: Presence,
        names: Names,
        user_limits: RedisRateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.verifier = verifier
        self.upstream = upstream
        self.delivery = delivery
        self.presence = presence
        self.names = names
        self.user_limits = user_limits
        self.resumes = Resumes(delivery, upstream)
        self.sends = Sends(upstream)
        self.users: dict[str, set[Client]] = {}
        self.by_room: dict[str, set[Client]] = {}
        # The membership version (docs/events.md) last seen of each room in by_room: an
        # event that skips one means an event was lost, and the room's members are re-read.
        self.versions: dict[str, int] = {}
        # Set by the process when it follows revocations (chatcore.revocations).
        self.revocations: Revocations | None = None
        reads = ConnectReads(upstream, settings.internal_secret, settings.internal_secret_file)
        self.connector = Connector(self, reads)

    def revoke(self, user_id: uuid.UUID) -> None:
        """End every open connection of a user whose sessions were revoked (4003)."""
        for client in list(self.users.get(str(user_id), ())):
            client.session.closed()
            client.close(CLOSE_REVOKED, "session revoked")

    def _revoked(self, client: Client) -> bool:
        """Whether the connection's token was revoked: one dict lookup per frame."""
        revocations = self.revocations
        user = client.user_uuid
        return (
            revocations is not None
            and user is not None
            and revocations.revoked(user, client.issued_at)
        )

    async def handle(self, ws: ServerConnection) -> None:
        """Serve one connection from the handshake to its close."""
        session = Session(
            rate=self.settings.rate,
            burst=self.settings.burst,
            typing_interval=self.settings.typing_interval,
            flood_close=self.settings.flood_close,
            leeway=self.settings.jwt_leeway,
        )
        client = Client(
            ws,
            session,
            self.settings.max_inflight,
            limit=self.settings.send_buffer_limit,
            on_full=self.delivery.kick,
        )
        metrics.CONNECTIONS.inc()
        self._size_buffers(ws)
        try:
            if await self._authenticate(client):
                async for data in ws:
                    metrics.FRAMES_IN.inc()
                    if self._revoked(client):
                        session.closed()
                        client.close(CLOSE_REVOKED, "session revoked")
                        break
                    await self.run(client, session.receive(data))
                    if session.phase is Phase.CLOSED:
                        break  # nothing more is read: a closed client's frames are moot
        except ConnectionClosed:
            pass
        finally:
            metrics.CONNECTIONS.dec()
            await self._forget(client)

    def _size_buffers(self, ws: ServerConnection) -> None:
        """Fixed kernel buffers (settings): what a client that floods or stops reading can
        hold in the kernel, and take of the loop per read, is bounded."""
        sock = ws.transport.get_extra_info("socket") if ws.transport is not None else None
        if sock is None:
            return
        sizes = {
            socket.SO_SNDBUF: self.settings.socket_send_buffer,
            socket.SO_RCVBUF: self.settings.socket_receive_buffer,
        }
        for option, size in sizes.items():
            if size:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, option, size)

    async def _authenticate(self, client: Client) -> bool:
        """Verify the header token or the first frame's; False if the connection closed."""
        header = client.ws.request.headers.get("Authorization") if client.ws.request else None
        token = None
        if header and header[:7].lower() == "bearer ":
            token = header[7:].strip()
        await self.run(client, client.session.open(token))
        deadline = time.monotonic() + self.settings.auth_timeout
        while client.session.phase is Phase.AUTH:
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    data = await client.ws.recv()
            except TimeoutError:
                client.flush()
                await client.ws.close(CLOSE_UNAUTHORIZED, REASON_AUTH_TIMEOUT)
                return False
            metrics.FRAMES_IN.inc()
            await self.run(client, client.session.receive(data))
        return client.session.phase is not Phase.CLOSED

    async def run(self, client: Client, outs: list[Out]) -> None:
        """Carry out what the session asked for, in order."""
        for out in outs:
            if isinstance(out, Reply):
                client.push(out.frame)
                metrics.FRAMES_OUT.inc()
            elif isinstance(out, Close):
                client.session.closed()
                if out.code == CLOSE_POLICY:
                    # A flooding client is not waited on: it may never read the close.
                    metrics.FLOODS.inc()
                    client.close(out.code, out.reason, abort_after=ABORT_AFTER)
                    return
                client.flush()
                await client.ws.close(out.code, out.reason)
                return
            elif isinstance(out, Verify):
                await self._verify(client, out)
            elif isinstance(out, Start):
                client.spawn(self._go_live(client, out))
            elif isinstance(out, Execute):
                # A send's frame-in to ack time includes waiting for an in-flight slot.
                started = time.perf_counter()
                await client.inflight.acquire()
                if isinstance(out.frame, Send):
                    self._send(client, out.frame, started)
                else:
                    client.spawn(self._execute(client, out.frame))

    async def _verify(self, client: Client, out: Verify) -> None:
        session = client.session
        first = session.user_id is None
        try:
            claims = await self.verifier.verify(out.token)
        except Unauthorized as exc:
            await self.run(client, session.auth_failed(exc.code))
            return
        except Unavailable:
            session.closed()
            client.flush()
            await client.ws.close(CLOSE_TRY_AGAIN, "token keys unavailable")
            return
        await self.run(
            client, session.authenticated(str(claims.user_id), out.token, claims.expires_at)
        )
        if session.phase is Phase.CLOSED:
            return
        client.user_uuid, client.issued_at = claims.user_id, claims.issued_at
        client.watch_expiry(session.closes_at, self._expired)
        if first:
            await self._connect(client, out.resume, out.ref, out.positions)

    async def _go_live(self, client: Client, start: Start) -> None:
        """Catch every room up (from the resume positions, if any), then send the presence
        of the small rooms (presence_state.py)."""
        await self.resumes.start(client, start.resume, start.ref, start.positions)
        await send_initial(client, client.presence_rooms, self.presence)

    def _expired(self, client: Client) -> None:
        outs = client.session.check_expiry()
        if outs:
            client.spawn(self.run(client, outs))
        elif client.session.phase is not Phase.CLOSED:
            # The loop's clock and the wall clock drift apart: a timer may fire a hair early.
            client.watch_expiry(client.session.closes_at, self._expired)

    async def _connect(
        self,
        client: Client,
        resume: dict[str, int] | None,
        ref: str | None,
        positions: dict[str, int] | None = None,
    ) -> None:
        """Read the user's rooms and where each stands, subscribe them, answer ``ready``
        (gateway.connect: batched across connects)."""
        await self.connector.connect(client, resume, ref, positions)

    def _grace_over(self, client: Client, due: float, left: float) -> None:
        """End the resume hold, unless the loop ran late: a frame the client sent in time may
        be waiting behind the lag, so the hold goes on while the loop catches up (at most one
        more grace in all)."""
        loop = asyncio.get_running_loop()
        lag = loop.time() - due
        if lag > GRACE_LAG and left > 0 and client.session.phase is Phase.HOLD:
            wait = min(lag, left)
            loop.call_later(wait, self._grace_over, client, loop.time() + wait, left - wait)
            return
        outs = client.session.grace_over()
        if outs:
            client.spawn(self.run(client, outs))

    def hold_room(self, client: Client, room_id: str) -> None:
        client.subscribed.add(room_id)
        self.by_room.setdefault(room_id, set()).add(client)

    def drop_room(self, client: Client, room_id: str) -> None:
        if room_id in client.subscribed:
            client.subscribed.discard(room_id)
            self.delivery.unsubscribe(client, room_id)
        group = self.by_room.get(room_id)
        if group is not None:
            group.discard(client)
            if not group:
                del self.by_room[room_id]
                self.versions.pop(room_id, None)

    def announces_presence(self, room: dict[str, Any]) -> bool:
        """Whether presence changes are published to the room (small enough: settings)."""
        count = room.get("member_count")
        return not isinstance(count, int) or count <= self.settings.presence_room_max

    def note_version(self, room_id: str, version: object) -> None:
        """Remember a room's membership version read from room-service (never lower it)."""
        if isinstance(version, int) and not isinstance(version, bool):
            self.versions[room_id] = max(version, self.versions.get(room_id, 0))

    async def _forget(self, client: Client) -> None:
        client.session.closed()
        client.stop_watching()
        for task in list(client.tasks):
            task.cancel()
        for room_id in list(client.subscribed):
            self.drop_room(client, room_id)
        user_id = client.session.user_id
        if user_id is not None and client in self.users.get(user_id, set()):
            self.users[user_id].discard(client)
            if not self.users[user_id]:
                del self.users[user_id]
            if client.id in self.presence.local:
                try:
                    await self.presence.disconnected(user_id, client.id)
                except Exception as exc:  # Redis down: the lease expires by itself.
                    log.warning("presence_release_failed", error=type(exc).__name__)

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
                client.push(frames.build("ack", frame.ref, message=message))
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
            await self.presence.publish(frame.room_id, Kind.TYPING, payload)
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
