"""The last changes of each followed room, kept in memory, so a connection a little behind
catches up without asking message-service.

After a gateway restart every connection of a room comes back at the same position, a few
changes behind the room: each used to read the same page of ``GET /messages/changes``, one
HTTP call per (connection, room), which cost more than the rest of its reconnect together. A
:class:`Recent` keeps, per room feed, the frames of its last ``KEEP`` positions (those it
delivered, and those a catch-up read from history up to the feed's position), so the next
connection at the same place gets them from memory. Only one catch-up per room reads at a
time: the others wait for it, and then usually find what they need here.

The frames kept are contiguous and end at the feed's position; the feed decides whether they
reach back to a connection's position (:meth:`gateway.feed.Feed.attach`), and the frames
replayed and the join are carried out with no await in between: no live frame can come
between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from gateway.feed import Feed
from gateway.position import Page

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
    """The recent frames of every feed of one process. Whether a connection is served from
    them is the feed's decision (:meth:`gateway.feed.Feed.attach`, given :meth:`kept`)."""

    def __init__(self) -> None:
        self._tails: weakref.WeakKeyDictionary[Feed[Any], _Tail] = weakref.WeakKeyDictionary()

    def _tail(self, feed: Feed[Any]) -> _Tail | None:
        """The feed's tail, if it still ends where the feed is."""
        tail = self._tails.get(feed)
        if tail is None and feed.pos is not None:
            tail = self._tails[feed] = _Tail(feed.pos)
        if tail is not None and feed.pos is not None and tail.end != feed.pos:
            tail.frames.clear()
            tail.start = feed.pos
        return tail

    def delivered(self, feed: Feed[Any], pos: int, frame: bytes) -> None:
        """The feed moved one position, to ``pos``, with this frame."""
        tail = self._tails.get(feed)
        if tail is None:
            self._tails[feed] = tail = _Tail(pos - 1)
        tail.append(pos, frame)

    def read(self, feed: Feed[Any], page: Page) -> None:
        """A catch-up read this page of history: keep the changes that join the tail (they
        end at or past where it starts, up to the feed's position)."""
        tail = self._tail(feed)
        if tail is None or page.expired or page.after_pos >= tail.start or not page.items:
            return
        older: list[tuple[int, bytes]] = []
        pos = page.after_pos
        for change in page.items:
            if change.pos != pos + 1 or change.pos > tail.start:
                break
            older.append((change.pos, change.frame))
            pos = change.pos
        if pos != tail.start or len(older) + len(tail.frames) > KEEP:
            return
        tail.frames.extendleft(reversed(older))
        tail.start = page.after_pos

    def kept(self, feed: Feed[Any]) -> list[tuple[int, bytes]]:
        """The frames kept for the feed, ``(pos, frame)`` in order, ending at its position
        (empty if none)."""
        tail = self._tail(feed)
        if tail is None or feed.pos is None:
            return []
        return list(tail.frames)

    @contextlib.asynccontextmanager
    async def reading(self, feed: Feed[Any]) -> AsyncIterator[None]:
        """One catch-up read of the room's history at a time: the next one may find here
        what the last one read."""
        tail = self._tail(feed)
        if tail is None:
            yield
            return
        async with tail.lock:
            yield
