"""Where a connection stands in each of its rooms, and every rule that moves it, with no I/O.

A connection's place in a room is a change position ``pos`` (every change has one: new
messages, edits, deletes, reactions, thread summaries) beside ``seq``, the seq of the last
new message delivered, which ``resumed`` reports (docs/protocol.md). The rules here decide,
from events handed in (a page of history read, a resume claimed, the room's feed reached a
position), what a connection is sent and where it then stands; the delivery and resume
layers (gateway.delivery, gateway.resume) only carry the answers out. The room-wide order
(live frames, holes, waiting connections) is :class:`gateway.feed.Feed`'s.

A connection catches a room up in steps: :meth:`Feed.attach` says whether it joins the
feed's in-sync set now (after a replay of the frames kept in memory it misses), waits in the
feed for a position ahead, or reads history first; :func:`catch_up` turns a page read into
the frames to send, in order; :meth:`RoomState.sent` records each one once it went out. A
resume claims positions: :meth:`RoomState.claim` decides whether the room's newest seq must
be read to clamp the claim, and :meth:`RoomState.resume` sets the position from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway import frames


@dataclass(frozen=True, slots=True)
class Change:
    """One change of a room's stream read from history: its position, the seq of the
    message it creates (0 for a change to a message) and its frame."""

    pos: int
    seq: int
    frame: bytes

    @classmethod
    def parse(cls, item: dict[str, Any]) -> Change:
        """A change frame of ``GET /messages/changes``; KeyError, TypeError or ValueError if
        it is malformed."""
        seq = int(item["message"]["seq"]) if item.get("type") == "message" else 0
        return cls(int(item["pos"]), seq, frames.change(item))


@dataclass(frozen=True, slots=True)
class Page:
    """A page of ``GET /messages/changes``: the changes after ``after_pos`` (the position it
    read after: the claimed one, or that of the message a seq-only resume named), and
    whether the claimed position was older than the retained history (then the page starts
    at the oldest change kept, and ``oldest_seq`` is the first message there)."""

    items: list[Change]
    after_pos: int
    expired: bool = False
    oldest_seq: int = 0

    @classmethod
    def parse(cls, answer: dict[str, Any]) -> Page:
        """KeyError, TypeError or ValueError if the answer is malformed."""
        expired = bool(answer.get("expired"))
        return cls(
            items=[Change.parse(item) for item in answer["items"]],
            after_pos=int(answer["after_pos"]),
            expired=expired,
            oldest_seq=int(answer["oldest_seq"]) if expired else 0,
        )


@dataclass(slots=True)
class RoomState:
    """Where one room stands on this connection."""

    # The last change position delivered to this connection (or to start after); -1 until
    # it is known (a resume that named a seq only): the first read from message-service
    # finds the position of that seq's message.
    pos: int
    role: str = "member"
    seq: int = 0  # the seq of the last new message delivered (or to start after)
    in_sync: bool = False  # in its feed's in-sync set: live frames go straight out
    generation: int = 0  # bumped when the room is removed or restarted; stale work stops
    attaching: int = -1  # the generation a catch-up runs for (-1: none), so only one runs
    # ``ready``'s last_pos while no resume has set the position (-1 after one, or for a room
    # joined later): a late ``resume`` may still rewind a room that has delivered nothing.
    rewind_from: int = -1

    # Live delivery.

    def at(self, feed_pos: int | None, feed_seq: int) -> tuple[int, int]:
        """The last change position and message seq delivered (in sync: the feed's)."""
        if self.in_sync and feed_pos is not None:
            return feed_pos, feed_seq
        return self.pos, self.seq

    def joined(self, feed_pos: int, feed_seq: int) -> None:
        """The connection joined its feed's in-sync set at the feed's position."""
        self.pos, self.seq = feed_pos, feed_seq
        self.in_sync = True

    def left(self, feed_pos: int | None, feed_seq: int) -> None:
        """The connection left its feed's in-sync set: it stands where the feed stood."""
        self.pos, self.seq = self.at(feed_pos, feed_seq)
        self.in_sync = False

    def removed(self) -> None:
        """The user left the room: work under way for it stops."""
        self.generation += 1
        self.in_sync = False

    # Catch-up.

    def begin_attach(self) -> int | None:
        """The generation a new catch-up runs for, or None if none is needed (in sync) or
        one runs already for this generation."""
        if self.in_sync or self.attaching == self.generation:
            return None
        self.attaching = self.generation
        return self.attaching

    def end_attach(self, generation: int) -> None:
        if self.attaching == generation:
            self.attaching = -1

    def sent(self, change: Change) -> None:
        """A catch-up frame went out: the connection stands at its position."""
        self.pos = change.pos
        self.seq = change.seq or self.seq

    # Resume.

    def claim(self, seq: int, pos: int | None, feed_seq: int) -> Claim:
        """A resume claims message ``seq`` (and change position ``pos``, if the client
        named it) in this room; ``feed_seq`` is the seq the room's live feed stands at."""
        self.rewind_from = -1
        top = max(self.seq, feed_seq)
        return Claim(seq, pos, top, self.pos, self.seq)

    def resume(self, claim: Claim, newest: int | None = None) -> None:
        """Start after the claim, its seq clamped to the room's newest (``newest``: the seq
        of the room's newest message, read when :attr:`Claim.needs_newest`; None if it could
        not be read)."""
        self.seq = claim.clamped(newest)
        pos = claim.pos
        if pos is None and claim.known_pos == claim.known_seq and 0 <= self.seq <= claim.known_seq:
            # Every change up to here created a message, so message n has position n: no
            # need to ask message-service where the seq is.
            pos = self.seq
        # Unknown (-1): the catch-up reads from the change that created message ``seq``.
        self.pos = pos if pos is not None else -1

    def moves_on_resume(self, at: tuple[int, int], seq: int, pos: int | None) -> bool:
        """Whether a resume on a live connection moves this room (``at``: where the room
        stands on it). Rooms skip forward; a room goes back only while it has delivered
        nothing since ``ready`` (then the replay is still in order)."""
        at_pos, at_seq = at
        untouched = at_pos >= 0 and self.rewind_from == at_pos
        self.rewind_from = -1
        same = pos == at_pos if pos is not None else seq == at_seq
        behind = pos < at_pos if pos is not None else seq < at_seq
        return not (same or (behind and not untouched))

    def restart(self, at: tuple[int, int]) -> None:
        """Start the room again from ``at`` (out of its feed): stale catch-ups stop."""
        self.generation += 1
        self.pos, self.seq = at
        self.in_sync = False


@dataclass(frozen=True, slots=True)
class Claim:
    """A resume's claim on one room, and what the room stood at when it was made."""

    seq: int
    pos: int | None
    top: int  # the highest seq known here (delivered or live): claims up to it stand
    known_pos: int
    known_seq: int

    @property
    def needs_newest(self) -> bool:
        """A claim past every seq known here is checked against the room's newest."""
        return self.seq > self.top

    def clamped(self, newest: int | None) -> int:
        """The claimed seq, no higher than the room's newest (or the highest known here)."""
        if self.seq <= self.top:
            return self.seq
        if newest is None:
            return self.top
        return min(self.seq, max(self.top, newest))


@dataclass(frozen=True, slots=True)
class CatchUp:
    """What a page of history means for one connection: frames to send first (a
    ``history_expired`` notice), then the changes, in order, each to be recorded with
    :meth:`RoomState.sent` once it went out; ``again`` says the next page is read at once
    (no back-off) even though nothing was sent."""

    notices: list[bytes] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    again: bool = False


def catch_up(state: RoomState, room_id: str, page: Page) -> CatchUp:
    """The frames a page of history gives the connection: the changes that follow its
    position with no hole, after a ``history_expired`` if its position is older than the
    room keeps (docs/protocol.md)."""
    notices: list[bytes] = []
    if page.expired and page.after_pos > state.pos:
        # Say where the room's history now begins, then deliver from there.
        notices.append(frames.history_expired(room_id, page.oldest_seq))
        state.pos, state.seq = page.after_pos, page.oldest_seq - 1
    if state.pos < 0:
        # A resume that named a seq: start after the change that created it.
        state.pos = page.after_pos
        if not page.items:
            return CatchUp(notices, [], again=True)
    changes: list[Change] = []
    at = state.pos
    for change in page.items:
        if change.pos != at + 1:
            break
        changes.append(change)
        at = change.pos
    return CatchUp(notices, changes)


def resumed_frame(ref: str | None, at: dict[str, tuple[int, int]]) -> bytes:
    """The ``resumed`` report: each room's seq, and its position where known (a room joined
    a moment ago may not know it yet: left out)."""
    rooms = {rid: seq for rid, (_, seq) in at.items()}
    positions = {rid: pos for rid, (pos, _) in at.items() if pos >= 0}
    return frames.build("resumed", ref, rooms=rooms, positions=positions)


class Member(Protocol):
    """A connection as a room feed sees it."""

    @property
    def open(self) -> bool: ...

    def room(self, room_id: str) -> RoomState | None:
        """The connection's state in the room, None if it is not in it."""
        ...
