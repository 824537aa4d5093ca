"""The order of one room's change stream on one gateway process, with no I/O.

A :class:`Feed` knows ``pos``, the highest change position delivered in order to its in-sync
connections (every change has one: new messages, edits, deletes, reactions, thread
summaries; docs/protocol.md), and holds frames that arrived ahead of it. The delivery layer
asks it for the next frame to deliver and whether a hole needs filling from message-service.
It also follows ``seq``, the seq of the last new message delivered, which ``resumed``
reports.
"""

from __future__ import annotations

import time
from typing import Generic, TypeVar

C = TypeVar("C")

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
