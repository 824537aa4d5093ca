"""The last changes of each followed room, kept in memory, so a connection a little behind
catches up without asking message-service.

After a gateway restart every connection of a room comes back at the same position, a few
changes behind the room: each used to read the same page of ``GET /messages/changes``, one
HTTP call per (connection, room), which cost more than the rest of its reconnect together. A
:class:`Recent` keeps, per room feed, the frames of its last ``KEEP`` positions (those it
delivered, and those a catch-up read from history up to the feed's position), so the next
connection at the same place gets them from memory. Only one catch-up per room reads at a
time: the others wait for it, and then usually find what they need here.

The frames kept are contiguous and end at the feed's position, so serving them and joining
the feed happen with no await in between: no live frame can come between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from gateway import frames, metrics
from gateway.client import Client
from gateway.feed import Feed
from gateway.session import RoomState

# Frames kept per room feed: a few seconds of a busy room.
KEEP = 64


class _Tail:
    """Frames at positions ``start + 1 .. start + len(frames)``: (pos, frame)."""

    __slots__ = ("frames", "lock", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.frames: deque[tuple[int, bytes]] = deque(maxlen=KEEP)
        self.lock = asyncio.Lock()

    @property
    def end(self) -> int:
        return self.frames[-1][0] if self.frames else self.start

    def append(self, pos: int, frame: bytes) -> None:
        if pos != self.end + 1:
            self.frames.clear()  # not contiguous: start again from here
            self.start = pos - 1
        if len(self.frames) == KEEP:
            self.start = self.frames[0][0]
        self.frames.append((pos, frame))


class Recent:
    """The recent frames of every feed of one process."""

    def __init__(self) -> None:
        self._tails: weakref.WeakKeyDictionary[Feed[Client], _Tail] = weakref.WeakKeyDictionary()

    def _tail(self, feed: Feed[Client]) -> _Tail | None:
        """The feed's tail, if it still ends where the feed is."""
        tail = self._tails.get(feed)
        if tail is None and feed.pos is not None:
            tail = self._tails[feed] = _Tail(feed.pos)
        if tail is not None and feed.pos is not None and tail.end != feed.pos:
            tail.frames.clear()
            tail.start = feed.pos
        return tail

    def delivered(self, feed: Feed[Client], frame: bytes) -> None:
        """The feed moved one position, to ``feed.pos``, with this frame."""
        pos = feed.pos
        if pos is None:
            return
        tail = self._tails.get(feed)
        if tail is None:
            self._tails[feed] = tail = _Tail(pos - 1)
        tail.append(pos, frame)

    def read(self, feed: Feed[Client], after: int, items: list[dict[str, Any]]) -> None:
        """A catch-up read these change items after position ``after``: keep those that join
        the tail (they end at or past where it starts, up to the feed's position)."""
        tail = self._tail(feed)
        if tail is None or after >= tail.start or not items:
            return
        older: list[tuple[int, bytes]] = []
        pos = after
        for item in items:
            p = int(item["pos"])
            if p != pos + 1 or p > tail.start:
                break
            older.append((p, frames.change(item)))
            pos = p
        if pos != tail.start or len(older) + len(tail.frames) > KEEP:
            return
        tail.frames.extendleft(reversed(older))
        tail.start = after

    def serve(self, client: Client, feed: Feed[Client], state: RoomState) -> bool:
        """Push the client the frames it misses from memory and put its position at the
        feed's; False (nothing done) if they are not all here."""
        tail = self._tail(feed)
        # A position of -1 (a resume that named only a seq) is read from history.
        if tail is None or feed.pos is None or not 0 <= tail.start <= state.pos < feed.pos:
            return False
        for pos, frame in tail.frames:
            if pos > state.pos:
                client.push(frame)
                metrics.CATCHUP.inc()
        state.pos = feed.pos
        state.seq = feed.seq
        return True

    @contextlib.asynccontextmanager
    async def reading(self, feed: Feed[Client]) -> AsyncIterator[None]:
        """One catch-up read of the room's history at a time: the next one may find here
        what the last one read."""
        tail = self._tail(feed)
        if tail is None:
            yield
            return
        async with tail.lock:
            yield
