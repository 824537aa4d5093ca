"""The recent frames of a room feed: a catch-up a little behind is replayed from memory, and
only when every frame it misses is there (the feed decides, gateway.feed.Feed.attach)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.feed import FILL, Admit, Broadcast, Feed, Read, Replay
from gateway.position import Change, Page, RoomState
from gateway.recent import KEEP, Recent

ROOM = "r"


@dataclass(eq=False)
class Member:
    state: RoomState
    open: bool = True

    def room(self, room_id: str) -> RoomState | None:
        return self.state if room_id == ROOM else None


def frame(pos: int) -> bytes:
    return f"c{pos}".encode()


def change(pos: int) -> Change:
    return Change(pos, pos, frame(pos))


def deliver(recent: Recent, feed: Feed[Member], pos: int) -> None:
    """A live frame at ``pos``, carried out as gateway.delivery does (kept as it goes out)."""
    for out in feed.receive(pos, frame(pos), pos):
        if isinstance(out, Broadcast) and out.pos:
            recent.delivered(feed, out.pos, out.frame)


def replayed(recent: Recent, feed: Feed[Member], pos: int) -> tuple[Member, list[bytes] | None]:
    """A connection at ``pos`` attaches: the frames replayed to it (None: it reads history)."""
    member = Member(RoomState(pos=pos, seq=max(pos, 0)))
    step = feed.attach(member, recent.kept(feed))
    if isinstance(step, Read):
        return member, None
    assert isinstance(step[0], Replay)
    assert step[0].member is member
    assert isinstance(step[1], Admit)
    assert step[1].member is member
    return member, step[0].frames


def test_a_connection_behind_is_replayed_what_it_missed_and_joins_at_the_feed() -> None:
    recent, feed = Recent(), Feed[Member](ROOM)
    feed.start(10, 10)
    for pos in range(11, 15):
        deliver(recent, feed, pos)
    member, frames = replayed(recent, feed, 12)
    assert frames == [frame(13), frame(14)]
    assert (member.state.pos, member.state.seq, member.state.in_sync) == (14, 14, True)


def test_a_connection_further_behind_than_the_frames_kept_reads_history() -> None:
    recent, feed = Recent(), Feed[Member](ROOM)
    feed.start(0)
    for pos in range(1, KEEP + 10):
        deliver(recent, feed, pos)
    member, frames = replayed(recent, feed, 5)
    assert frames is None
    assert (member.state.pos, member.state.in_sync) == (5, False)
    _, frames = replayed(recent, feed, 20)
    assert frames == [frame(p) for p in range(21, KEEP + 10)]


def test_a_history_read_up_to_the_feed_serves_the_next_connection() -> None:
    """After a restart the feed starts at the room's position with nothing kept: the first
    connection's history read is kept for the others at the same place."""
    recent, feed = Recent(), Feed[Member](ROOM)
    feed.start(8, 8)
    assert replayed(recent, feed, 5)[1] is None
    recent.read(feed, Page([change(6), change(7), change(8)], after_pos=5))
    assert replayed(recent, feed, 5)[1] == [frame(6), frame(7), frame(8)]
    deliver(recent, feed, 9)
    assert replayed(recent, feed, 6)[1] == [frame(7), frame(8), frame(9)]


def test_a_history_read_that_does_not_reach_the_kept_frames_is_not_kept() -> None:
    """Kept frames are contiguous up to the feed: a read with a hole before them is not, nor
    one whose start expired."""
    recent, feed = Recent(), Feed[Member](ROOM)
    feed.start(8, 8)
    recent.read(feed, Page([change(3), change(4)], after_pos=2))
    assert replayed(recent, feed, 3)[1] is None
    recent.read(feed, Page([change(6), change(8)], after_pos=5))
    assert replayed(recent, feed, 5)[1] is None
    recent.read(feed, Page([change(6), change(7), change(8)], 5, expired=True, oldest_seq=6))
    assert replayed(recent, feed, 5)[1] is None


def test_frames_kept_before_a_skip_are_not_replayed() -> None:
    """The feed moved without a kept frame (a hole that expired): what was kept no longer
    ends at the feed and is dropped."""
    recent, feed = Recent(), Feed[Member](ROOM)
    feed.start(3, 3)
    deliver(recent, feed, 4)
    feed.pos = 7  # as Feed._expired moves it
    assert recent.kept(feed) == []
    assert replayed(recent, feed, 3)[1] is None


def test_a_connection_at_the_feed_ahead_of_it_or_without_a_position_is_not_replayed() -> None:
    recent, feed = Recent(), Feed[Member](ROOM)
    feed.start(3, 3)
    deliver(recent, feed, 4)
    at = Member(RoomState(pos=4, seq=4))
    assert feed.attach(at, recent.kept(feed)) == [Admit(at)]
    ahead = Member(RoomState(pos=6, seq=6))
    assert feed.attach(ahead, recent.kept(feed)) == [FILL]
    assert replayed(recent, feed, -1)[1] is None
