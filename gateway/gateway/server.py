"""The thin I/O loop around :class:`Session`: one handler per websocket connection.

It reads client frames, asks the session what to do, and does it: verifies tokens, loads
the user's rooms and positions at connect (gateway.connect), starts live delivery
(gateway.resume, gateway.delivery), and hands requests to gateway.requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid

from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from chatcore.errors import ChatError, Unauthorized, Unavailable
from chatcore.logs import get_logger
from chatcore.revocations import Revocations
from chatcore.tokens import TokenVerifier
from gateway import metrics
from gateway.client import ABORT_AFTER, Client
from gateway.connect import (
    BUSY_AFTER,
    CONNECTS_AT_ONCE,
    NEWEST_FIRST_AFTER,
    ConnectReads,
    TooManyConnections,
    gone,
    load_rooms,
)
from gateway.delivery import Delivery
from gateway.presence import Presence
from gateway.presence_state import send_initial
from gateway.registry import Registry
from gateway.requests import Requests
from gateway.session import (
    CLOSE_POLICY,
    CLOSE_REVOKED,
    CLOSE_TOO_MANY,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHORIZED,
    REASON_AUTH_TIMEOUT,
    Close,
    Execute,
    Out,
    Phase,
    Rearm,
    Reply,
    Session,
    Start,
    Verify,
)
from gateway.settings import GatewaySettings
from gateway.tasks import background
from gateway.turns import Turns
from gateway.upstream import Upstream
from gateway.user_rooms import UserRooms

log = get_logger(__name__)


class Connections:
    """Serves each websocket connection of this process: its loop and its session's asks."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        verifier: TokenVerifier,
        upstream: Upstream,
        delivery: Delivery,
        presence: Presence,
        registry: Registry,
        requests: Requests,
        user_rooms: UserRooms,
    ) -> None:
        self.settings = settings
        self.verifier = verifier
        self.upstream = upstream
        self.delivery = delivery
        self.presence = presence
        self.registry = registry
        self.requests = requests
        # Set by the process when it follows revocations (chatcore.revocations).
        self.revocations: Revocations | None = None
        # The connects' reads of room-service and message-service, batched (gateway.connect).
        self.reads = ConnectReads(
            upstream, settings.internal_secret, settings.internal_secret_file, user_rooms
        )
        # Connects go through their reads CONNECTS_AT_ONCE at a time: in the order they came,
        # newest first once the queue has backed up (gateway.turns).
        self._turns = Turns(CONNECTS_AT_ONCE, newest_first_after=NEWEST_FIRST_AFTER)

    def busy(self) -> bool:
        """Connects have backed up: new connections are refused until they move again."""
        return self._turns.oldest_wait() > BUSY_AFTER

    def revoke(self, user_id: uuid.UUID) -> None:
        """End every open connection of a user whose sessions were revoked (4003)."""
        for client in list(self.registry.of_user(str(user_id))):
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
            elif isinstance(out, Rearm):
                self._arm_grace(client, out.wait, out.left)
            elif isinstance(out, Execute):
                await self.requests.execute(client, out.frame)

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
        await self.requests.resumes.start(client, start.resume, start.ref, start.positions)
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
        """Load the user's rooms (gateway.connect: reads batched across connects, which go
        ``CONNECTS_AT_ONCE`` at a time), answer ``ready``, then hold for the resume grace (or
        start at once with the ``auth`` frame's resume)."""
        session = client.session
        user_id = session.user_id or ""
        # Registered first, so a membership change from now on is seen (queued until ready).
        self.registry.add(client, user_id)
        try:
            async with self._turns:
                if gone(client):
                    return  # it left while waiting its turn: nothing is done for it
                loaded = await load_rooms(
                    client,
                    reads=self.reads,
                    presence=self.presence,
                    registry=self.registry,
                    delivery=self.delivery,
                    presence_room_max=self.settings.presence_room_max,
                    max_connections=self.settings.max_connections_per_user,
                )
        except TooManyConnections:
            metrics.REFUSED.inc()
            session.closed()
            client.flush()
            await client.ws.close(CLOSE_TOO_MANY, "too many connections")
            return
        except (ChatError, RedisError, TimeoutError, KeyError, TypeError, ValueError) as exc:
            log.warning("connect_failed", error=type(exc).__name__)
            session.closed()
            code = CLOSE_UNAUTHORIZED if isinstance(exc, Unauthorized) else CLOSE_TRY_AGAIN
            client.flush()
            await client.ws.close(code, "cannot load rooms; retry")
            return
        if loaded is None:
            return  # the client left while its rooms were read
        ready = session.ready(
            loaded.rooms, client.id, resume, ref, last_pos=loaded.last_pos, positions=positions
        )
        await self.run(client, ready)
        if loaded.first:
            # Not the client's task: the announcement stands even if it leaves at once (its
            # going offline is announced after, from the room set the lease wrote).
            background(self.presence.announce(user_id, loaded.announced, online=True))
        queued, client.queued = client.queued, None
        client.removed_early.clear()
        for event in queued or []:
            client.spawn(event(client))
        if resume is None and session.phase is Phase.HOLD:
            grace = self.settings.resume_grace_ms / 1000
            self._arm_grace(client, grace, grace)

    def _grace_over(self, client: Client, due: float, left: float) -> None:
        """The resume-grace timer fired (``due``: when it should have, by the loop's clock)."""
        loop = asyncio.get_running_loop()
        outs = client.session.grace_over(loop.time() - due, left)
        for out in outs:
            if isinstance(out, Rearm):
                self._arm_grace(client, out.wait, out.left)
        if outs and not isinstance(outs[0], Rearm):
            client.spawn(self.run(client, outs))

    def _arm_grace(self, client: Client, wait: float, left: float) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(wait, self._grace_over, client, loop.time() + wait, left)

    async def _forget(self, client: Client) -> None:
        client.session.closed()
        client.stop_watching()
        for task in list(client.tasks):
            task.cancel()
        user_id = client.session.user_id
        registered = self.registry.forget(client)
        if registered and user_id is not None and client.id in self.presence.local:
            try:
                await self.presence.disconnected(user_id, client.id)
            except Exception as exc:  # Redis down: the lease expires by itself.
                log.warning("presence_release_failed", error=type(exc).__name__)
