"""The order of one room's change stream on one gateway process, with no I/O.

A :class:`Feed` knows ``pos``, the highest change position delivered in order to its in-sync
connections (every change has one: new messages, edits, deletes, reactions, thread
summaries; docs/protocol.md), and holds frames that arrived ahead of it. It also follows
``seq``, the seq of the last new message delivered, which ``resumed`` reports.

Each event (a live frame, a page of history filling a hole, a connection attaching) returns
what the delivery layer must do, in order: :class:`Broadcast` a frame to the in-sync members,
:class:`Replay` to one connection the frames it misses that the process keeps in memory
(gateway.recent), :class:`Admit` a connection into them (its position already moved to the
feed's), or :data:`FILL` the hole from message-service. A hole whose changes expired
(retention) before they were read is skipped after a ``history_expired`` to those standing
before it. Connections reach a feed through their :class:`gateway.position.RoomState`, which
only this module and gateway.position change.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from gateway import frames
from gateway.position import Member, Page

C = TypeVar("C", bound=Member)


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Queue this frame for every in-sync member (``filled``: read from history)."""

    frame: bytes
    filled: bool = False
    pos: int = 0  # the change position the feed moved to with it (0: a notice)


@dataclass(frozen=True, slots=True)
class Admit(Generic[C]):
    """Put this connection in the in-sync set now (what is queued goes out first)."""

    member: C


@dataclass(frozen=True, slots=True)
class Replay(Generic[C]):
    """Queue these frames (kept in memory, gateway.recent) for this one connection: what it
    misses up to the feed's position, before it is admitted."""

    member: C
    frames: list[bytes]


@dataclass(frozen=True, slots=True)
class Fill:
    """Frames or connections wait ahead of the feed: fill the hole from history."""


@dataclass(frozen=True, slots=True)
class Read:
    """The connection is behind the feed: read the changes after ``pos`` (after message
    ``seq``'s position when ``pos`` is -1) and hand the page to
    :func:`gateway.position.catch_up`."""

    pos: int
    seq: int


FILL: Final = Fill()
FeedOut = Broadcast | Admit[C] | Replay[C] | Fill

# Frames held ahead of a hole, at most; beyond it they are read from history when the hole
# is filled (they are committed), so a long outage of message-service cannot grow memory.
MAX_PENDING = 5000


class Feed(Generic[C]):
    """Per-room ordering state: in-sync members, clients waiting for a position, held
    frames."""

    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        # None until the first connection tells where the room stands (its last_pos).
        self.pos: int | None = None
        self.seq = 0
        self.members: set[C] = set()
        # Clients whose position is ahead of the feed join when the feed reaches it.
        self.waiting: dict[int, set[C]] = {}
        # Frames ahead of ``pos``, by position, with the seq of the message they create (0:
        # a change to a message).
        self.pending: dict[int, tuple[int, bytes]] = {}
        self.highest = 0  # the highest position seen live: the room has at least that many
        self.subscribers = 0
        # Frames for every member, written together at the end of this loop iteration.
        self.outbox: list[bytes] = []
        self.filling = False
        self.last_event = time.monotonic()
        self.next_check = 0.0

    def start(self, pos: int, seq: int = 0) -> None:
        """Set the starting position (and the seq there) if it is not known yet."""
        if self.pos is None:
            self.pos, self.seq = pos, seq

    def accept(self, pos: int, frame: bytes, seq: int = 0) -> bool:
        """Take a live frame at ``pos`` (``seq``: of the message it creates, else 0); False
        if it is a duplicate (already delivered or held)."""
        self.last_event = time.monotonic()
        if self.pos is not None and pos <= self.pos:
            return False
        if pos in self.pending:
            return False
        self.highest = max(self.highest, pos)
        if len(self.pending) < MAX_PENDING or (self.pos is not None and pos == self.pos + 1):
            self.pending[pos] = (seq, frame)
        return True

    def next(self) -> tuple[int, bytes] | None:
        """The next frame in order (the feed moves to it), or None if it is not here."""
        if self.pos is None:
            return None
        held = self.pending.pop(self.pos + 1, None)
        if held is None:
            return None
        self.pos += 1
        if held[0]:
            self.seq = held[0]
        return self.pos, held[1]

    def advance(self, pos: int, seq: int = 0) -> bool:
        """Move to ``pos`` for a frame read from message-service; False unless it is the
        next one."""
        if self.pos is None or pos != self.pos + 1:
            return False
        self.pos = pos
        if seq:
            self.seq = seq
        self.pending.pop(pos, None)
        return True

    @property
    def target(self) -> int:
        """The position the feed must reach: the newest seen live, or a waiting client's."""
        return max(self.highest, max(self.waiting, default=0))

    def has_gap(self) -> bool:
        """True when frames or clients ahead of ``pos`` wait for a hole to be filled."""
        return self.pos is not None and self.target > self.pos

    def discard(self, client: C) -> None:
        """Forget a client (left the room, closed, or restarting its position)."""
        self.members.discard(client)
        for seq in [s for s, group in self.waiting.items() if client in group]:
            self.waiting[seq].discard(client)
            if not self.waiting[seq]:
                del self.waiting[seq]

    def take_waiting(self) -> set[C]:
        """The clients waiting for exactly the current position (they join the members)."""
        if self.pos is None:
            return set()
        return self.waiting.pop(self.pos, set())

    def idle(self) -> bool:
        return not self.members and not self.waiting

    # Events: each returns what to do, in order.

    def receive(self, pos: int, frame: bytes, seq: int = 0) -> list[FeedOut[C]]:
        """A live frame at ``pos`` (``seq``: of the message it creates, else 0)."""
        if not self.accept(pos, frame, seq):
            return []
        return self.drain()

    def begin(self, pos: int, seq: int) -> list[FeedOut[C]]:
        """The room's newest position and seq, read after subscribing: a new feed starts
        there and delivers what it held for after it."""
        if self.pos is not None:
            return []
        self.start(pos, seq)
        return self.drain()

    def drain(self) -> list[FeedOut[C]]:
        """Deliver what is held in order, then ask for a fill if a hole remains."""
        out: list[FeedOut[C]] = []
        while (item := self.next()) is not None:
            self._delivered(item[1], out)
        if self.has_gap():
            out.append(FILL)
        return out

    def _delivered(self, frame: bytes, out: list[FeedOut[C]], filled: bool = False) -> None:
        """The feed moved to a new position: send it, then let waiting connections join."""
        out.append(Broadcast(frame, filled, self.pos or 0))
        self._admit(self.take_waiting(), out)

    def _admit(self, members: set[C], out: list[FeedOut[C]]) -> None:
        """These connections join the in-sync set at the feed's position."""
        for member in members:
            state = member.room(self.room_id)
            if state is not None and member.open:
                state.joined(self.pos or 0, self.seq)
                out.append(Admit(member))

    def _expired(self, page: Page, out: list[FeedOut[C]]) -> None:
        """The hole's changes up to ``page.after_pos`` expired (retention) before they were
        read: everyone standing before it, in sync or waiting for a position inside it, gets
        ``history_expired`` (as a resume from there does, gateway.position.catch_up), and
        the feed goes on from the oldest change kept; frames held inside it are dropped."""
        behind: set[C] = set()
        for pos in [pos for pos in self.waiting if pos < page.after_pos]:
            behind |= self.waiting.pop(pos)
        self._admit(behind, out)
        out.append(Broadcast(frames.history_expired(self.room_id, page.oldest_seq)))
        self.pos, self.seq = page.after_pos, page.oldest_seq - 1
        for pos in [pos for pos in self.pending if pos <= page.after_pos]:
            del self.pending[pos]
        self._admit(self.take_waiting(), out)

    def filled(self, page: Page | None) -> tuple[list[FeedOut[C]], bool]:
        """A page of history read after the feed's position (None: the read failed): the
        frames that close the hole (after ``history_expired`` if the hole's start expired
        meanwhile), and whether the fill is over (it read nothing new and no live frame is
        ahead: waiting connections claimed a position the room has not reached, and start
        where it stands). A failed read says nothing of where the room stands: the fill goes
        on (retried with back-off) and waiting connections keep waiting for their position."""
        if page is None:
            return [], False
        out: list[FeedOut[C]] = []
        moved = False
        if page.expired and self.pos is not None and page.after_pos > self.pos:
            self._expired(page, out)
            moved = True
            while (item := self.next()) is not None:
                self._delivered(item[1], out)
        changes = page.items
        for change in changes:
            if self.advance(change.pos, change.seq):
                self._delivered(change.frame, out, filled=True)
                moved = True
                while (item := self.next()) is not None:
                    self._delivered(item[1], out)
        if moved or changes or self.highest > (self.pos or 0):
            return out, False
        for pos in list(self.waiting):
            self._admit(self.waiting.pop(pos), out)
        return out, True

    def fill_to(self, pos: int) -> list[FeedOut[C]]:
        """The room's newest position, read elsewhere: fill up to it if the feed is behind."""
        if self.pos is not None and pos > self.pos:
            self.waiting.setdefault(pos, set())
            return [FILL]
        return []

    def attach(self, member: C, kept: Sequence[tuple[int, bytes]] = ()) -> list[FeedOut[C]] | Read:
        """A connection out of sync asks to catch up: it joins now (at the feed's position),
        is replayed what it misses from the frames ``kept`` in memory (contiguous ``(pos,
        frame)`` pairs; used only if they end at the feed's position and reach back to the
        connection's) and joins, waits in the feed for its position ahead (and the hole is
        filled), or reads history first (:class:`Read`)."""
        state = member.room(self.room_id)
        if state is None:
            return []
        if (
            kept
            and self.pos is not None
            and kept[-1][0] == self.pos
            and 0 <= kept[0][0] - 1 <= state.pos < self.pos
        ):
            replay = [frame for pos, frame in kept if pos > state.pos]
            state.joined(self.pos, self.seq)
            return [Replay(member, replay), Admit(member), *self.drain()]
        if state.pos >= 0:
            self.start(state.pos, state.seq)
            if state.pos == self.pos:
                state.joined(self.pos, self.seq)
                return [Admit(member), *self.drain()]
            if state.pos > (self.pos or 0):
                self.waiting.setdefault(state.pos, set()).add(member)
                return [FILL]
        return Read(state.pos, state.seq)

    def leave(self, member: C) -> None:
        """The connection stops live delivery of the room (removed, closed, restarting):
        it stands where the feed stood."""
        self.discard(member)
        state = member.room(self.room_id)
        if state is not None:
            state.left(self.pos, self.seq)
