"""A connected client as the I/O layers see it: its socket and its :class:`Session`."""

from __future__ import annotations

import asyncio
import struct
import time
import uuid
from collections.abc import Awaitable, Callable

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from chatcore.logs import get_logger
from gateway.position import RoomState
from gateway.session import Session
from gateway.tasks import background

log = get_logger(__name__)


class Slots:
    """Requests of one connection in flight, at most ``size``: its reader waits for a free
    slot before reading on. (asyncio.Semaphore does the same for many waiters, at a cost per
    acquire that showed in the profile; a connection has one reader.)"""

    __slots__ = ("_waiter", "free")

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiter: asyncio.Future[None] | None = None

    async def acquire(self) -> None:
        while self.free <= 0:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        self.free -= 1

    def release(self) -> None:
        self.free += 1
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


# A peer closed on for not reading (4008) or for flooding (1008) is not expected to answer
# the close frame: its TCP connection is dropped this long after, freeing its buffers.
ABORT_AFTER = 0.25
# Seconds an ``ack`` may wait for the connection's own copy of its message (:meth:`Client.ack`).
ACK_WAIT = 0.05


class Client:
    """One open websocket connection."""

    def __init__(
        self,
        ws: ServerConnection,
        session: Session,
        max_inflight: int = 32,
        *,
        limit: int = 0,
        on_full: Callable[[Client], None] | None = None,
    ) -> None:
        self.ws = ws
        self.session = session
        self.id = uuid.uuid4().hex
        # Of the token the connection authenticated with last: checked against revocations
        # on every frame (chatcore.revocations).
        self.user_uuid: uuid.UUID | None = None
        self.issued_at = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.inflight = Slots(max_inflight)
        # Rooms this client holds a channel subscription for.
        self.subscribed: set[str] = set()
        # Rooms small enough for presence frames, as of connect (presence_state.py).
        self.presence_rooms: list[str] = []
        # Membership work that arrived before `ready`; run right after it (None once ready).
        self.queued: list[Callable[[Client], Awaitable[None]]] | None = []
        # Removals of the user that arrived before `ready` (room id -> membership version, None
        # if the event carried none): the rooms read at connect may predate them.
        self.removed_early: dict[str, int | None] = {}
        self._expiry: asyncio.TimerHandle | None = None
        self.membership_lock = asyncio.Lock()
        # Frames pushed this loop iteration, written together at its end (:class:`Outboxes`).
        self.outbox: list[bytes] = []
        # Bytes the write buffer may hold (0: no limit); past it every frame, answers
        # included, is held back and ``on_full`` is called once (the client stopped reading).
        self.limit = limit
        self.on_full = on_full
        self.full = False
        self.kicked = False
        # Acks waiting to go out with the copy of their message: (room id, seq, frame).
        self.parked: list[tuple[str, int, bytes]] | None = None

    @property
    def open(self) -> bool:
        return self.ws.protocol.state is State.OPEN

    def room(self, room_id: str) -> RoomState | None:
        """The connection's state in a room (None: not in it)."""
        return self.session.rooms.get(room_id)

    @property
    def token(self) -> str:
        return self.session.token or ""

    def buffered(self) -> int:
        """Bytes written but not yet taken by the kernel."""
        transport = self.ws.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def write(self, wire: bytes) -> bool:
        """Write frames already in wire form (:func:`wire_frames`), after anything pushed
        before, in one write with it; False if the connection is not open."""
        if self.outbox:
            frames, self.outbox = self.outbox, []
            wire = wire_frames(frames) + wire
        return self._write(wire)

    def ack(self, room_id: str, seq: int, frame: bytes, delivered: int) -> None:
        """Send the ``ack`` of a message whose copy the connection gets from the room's feed,
        which has written it up to seq ``delivered``. Its copy usually comes a moment after
        the ack (the publish crosses Redis, the answer does not): the ack waits for it, at
        most ACK_WAIT, so the two go out in one write (measured in the direct-rooms benchmark:
        writes per ack fell from 1.6 to 1.1, and the messages acked per second rose 9%). The
        ack still comes first, as it did in two writes: a client that reads its ack, then
        its own copy, sees no change. Acks of one room keep their order."""
        parked = self.parked
        if delivered >= seq and (parked is None or all(p[0] != room_id for p in parked)):
            self.push(frame)
            return
        if parked is None:
            parked = self.parked = []
            asyncio.get_running_loop().call_later(ACK_WAIT, self._unpark, parked)
        parked.append((room_id, seq, frame))

    def write_room(self, wire: bytes, room_id: str, seq: int) -> bool:
        """:meth:`write` a room's frames up to ``seq``, after the acks that waited for them."""
        parked = self.parked
        if parked:
            released = [p[2] for p in parked if p[0] == room_id and p[1] <= seq]
            if released:
                wire = wire_frames(released) + wire
                parked[:] = [p for p in parked if p[0] != room_id or p[1] > seq]
                if not parked:
                    self.parked = None
        return self.write(wire)

    def _unpark(self, parked: list[tuple[str, int, bytes]]) -> None:
        """ACK_WAIT is over for ``parked``: what is still in it goes out now."""
        if self.parked is parked:
            self.parked = None
            for _, _, frame in parked:
                self.push(frame)

    def push(self, frame: bytes) -> None:
        """Send a frame to this client alone, without waiting; frames pushed in one loop
        iteration go out together in one write, in the order of the calls."""
        if not self.outbox:
            _outboxes.add(self)
        self.outbox.append(frame)

    def flush(self) -> None:
        """Write what was pushed and not yet written (before anything written otherwise)."""
        if self.outbox:
            frames, self.outbox = self.outbox, []
            self._write(wire_frames(frames))

    def _write(self, wire: bytes) -> bool:
        # Raw bytes only while open: after a close frame, data frames would break the protocol.
        transport = self.ws.transport
        if self.ws.protocol.state is not State.OPEN or transport is None or self.full:
            return False
        if self.limit and transport.get_write_buffer_size() > self.limit:
            self.full = True
            if self.on_full is not None:
                # Not now: the caller may be walking a set this client is about to leave.
                asyncio.get_running_loop().call_soon(self.on_full, self)
            return False
        transport.write(wire)
        return True

    def spawn(self, coro: object) -> None:
        """Run work for this client; it is cancelled when the connection ends."""
        task: asyncio.Task[None] = background(coro)  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        # A peer that went away mid-write is normal; anything else is a bug worth a trace.
        if error is not None and not isinstance(error, ConnectionClosed):
            log.error("client_task_failed", error=repr(error), exc_info=error)

    def close(self, code: int, reason: str, *, abort_after: float | None = None) -> None:
        """Start the closing handshake without waiting for it (pushed frames go first);
        with ``abort_after``, drop the TCP connection if it is not closed by then."""
        if self.ws.protocol.state is State.OPEN:
            self.flush()
            background(self.ws.close(code, reason))
            if abort_after is not None and self.ws.transport is not None:
                # What it sent meanwhile is not read on: parsing a flood costs the loop
                # (measured: 270 k queued pings took a second of it from everyone else).
                self.ws.transport.pause_reading()
                asyncio.get_running_loop().call_later(abort_after, self._abort)

    def _abort(self) -> None:
        transport = self.ws.transport
        if self.ws.protocol.state is not State.CLOSED and transport is not None:
            transport.abort()

    def watch_expiry(self, expires_at: float, callback: Callable[[Client], None]) -> None:
        """Call ``callback`` when the current token expires (a new token moves the timer)."""
        self.stop_watching()
        delay = max(0.0, expires_at - time.time())
        self._expiry = asyncio.get_running_loop().call_later(delay, callback, self)

    def stop_watching(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None


class Outboxes:
    """The clients with pushed frames waiting, written at the end of the loop iteration: a
    client that gets an ``ack`` and a message at once costs one write, not two."""

    def __init__(self) -> None:
        self._clients: list[Client] = []

    def add(self, client: Client) -> None:
        if not self._clients:
            asyncio.get_running_loop().call_soon(self._flush)
        self._clients.append(client)

    def _flush(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            client.flush()


_outboxes = Outboxes()


_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")
_FIN_TEXT = 0x81  # FIN set, opcode 1 (text)


def wire_frames(frames: list[bytes]) -> bytes:
    """JSON frames as the bytes of unmasked, uncompressed websocket text frames, ready to be
    written as they are to every server connection (no extension is negotiated). The header
    is built here (RFC 6455 5.2): websockets' ``Frame.serialize`` checks and builds a frame
    object each time, five times the cost, on the path of every delivery."""
    out: list[bytes] = []
    for frame in frames:
        n = len(frame)
        if n < 126:
            out.append(_SHORT.pack(_FIN_TEXT, n))
        elif n < 65536:
            out.append(_MEDIUM.pack(_FIN_TEXT, 126, n))
        else:
            out.append(_LONG.pack(_FIN_TEXT, 127, n))
        out.append(frame)
    return b"".join(out)
