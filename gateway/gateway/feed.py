"""The order of one room's messages on one gateway process, with no I/O.

A :class:`Feed` knows ``seq``, the highest seq delivered in order to its in-sync
connections, and holds frames that arrived ahead of it. The delivery layer asks it for the
next frame to deliver and whether a hole needs filling from history.
"""

from __future__ import annotations

import time
from typing import Generic, TypeVar

C = TypeVar("C")

# Frames held ahead of a hole, at most; beyond it they are read from history when the hole
# is filled (they are committed), so a long outage of message-service cannot grow memory.
MAX_PENDING = 5000


class Feed(Generic[C]):
    """Per-room ordering state: in-sync members, clients waiting for a seq, held frames."""

    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        # None until the first connection tells where the room stands (its last_seq).
        self.seq: int | None = None
        self.members: set[C] = set()
        # Clients whose position is ahead of the feed join when the feed reaches it.
        self.waiting: dict[int, set[C]] = {}
        self.pending: dict[int, bytes] = {}
        self.highest = 0  # the highest seq seen live: the room has at least that many
        # Edits/deletes of a seq not yet delivered go out right after that seq.
        self.changes: dict[int, list[bytes]] = {}
        self.subscribers = 0
        # Frames for every member, written together at the end of this loop iteration.
        self.outbox: list[bytes] = []
        self.filling = False
        self.last_event = time.monotonic()
        self.next_check = 0.0

    def start(self, seq: int) -> None:
        """Set the starting position if it is not known yet."""
        if self.seq is None:
            self.seq = seq

    def accept(self, seq: int, frame: bytes) -> bool:
        """Take a live message frame; False if it is a duplicate (already delivered)."""
        self.last_event = time.monotonic()
        if self.seq is not None and seq <= self.seq:
            return False
        if seq in self.pending:
            return False
        self.highest = max(self.highest, seq)
        if len(self.pending) < MAX_PENDING or (self.seq is not None and seq == self.seq + 1):
            self.pending[seq] = frame
        return True

    def next(self) -> tuple[int, bytes] | None:
        """The next frame in order (the feed moves to it), or None if it is not here."""
        if self.seq is None:
            return None
        frame = self.pending.pop(self.seq + 1, None)
        if frame is None:
            return None
        self.seq += 1
        return self.seq, frame

    def advance(self, seq: int) -> bool:
        """Move to ``seq`` for a frame read from history; False unless it is the next one."""
        if self.seq is None or seq != self.seq + 1:
            return False
        self.seq = seq
        self.pending.pop(seq, None)
        return True

    @property
    def target(self) -> int:
        """The seq the feed must reach: the newest seen live, or a waiting client's."""
        return max(self.highest, max(self.waiting, default=0))

    def has_gap(self) -> bool:
        """True when frames or clients ahead of ``seq`` wait for a hole to be filled."""
        return self.seq is not None and self.target > self.seq

    def discard(self, client: C) -> None:
        """Forget a client (left the room, closed, or restarting its position)."""
        self.members.discard(client)
        for seq in [s for s, group in self.waiting.items() if client in group]:
            self.waiting[seq].discard(client)
            if not self.waiting[seq]:
                del self.waiting[seq]

    def take_waiting(self) -> set[C]:
        """The clients waiting for exactly the current seq (they join the members now)."""
        if self.seq is None:
            return set()
        return self.waiting.pop(self.seq, set())

    def take_changes(self) -> list[bytes]:
        """Edits held for the seq just delivered."""
        if self.seq is None:
            return []
        return self.changes.pop(self.seq, [])

    def idle(self) -> bool:
        return not self.members and not self.waiting
