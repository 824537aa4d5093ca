"""The per-room ordering state: duplicates dropped, holes seen, waiters released in order."""

from __future__ import annotations

from gateway.feed import MAX_PENDING, Feed


def test_in_order_frames_are_delivered_and_duplicates_dropped() -> None:
    """The next seq is delivered; a seq already delivered is refused."""
    feed: Feed[str] = Feed("r")
    feed.start(3)
    assert feed.accept(4, b"m4")
    assert feed.next() == (4, b"m4")
    assert feed.next() is None
    assert not feed.accept(4, b"m4")
    assert not feed.accept(2, b"m2")


def test_frames_before_start_are_held() -> None:
    """Frames that arrive before the starting seq is known wait for it."""
    feed: Feed[str] = Feed("r")
    assert feed.accept(6, b"m6")
    assert feed.next() is None
    feed.start(5)
    assert feed.next() == (6, b"m6")


def test_a_hole_is_reported_until_filled() -> None:
    """A frame ahead of seq+1 is held and the hole is reported; history fills it."""
    feed: Feed[str] = Feed("r")
    feed.start(1)
    feed.accept(4, b"m4")
    assert feed.next() is None
    assert feed.has_gap()
    assert feed.target == 4
    assert feed.advance(2)
    assert feed.advance(3)
    assert not feed.advance(5)
    assert feed.next() == (4, b"m4")
    assert not feed.has_gap()


def test_waiting_clients_join_at_their_seq() -> None:
    """A client ahead of the feed waits for exactly its seq."""
    feed: Feed[str] = Feed("r")
    feed.start(1)
    feed.waiting.setdefault(3, set()).add("c")
    assert feed.has_gap()
    feed.advance(2)
    assert feed.take_waiting() == set()
    feed.advance(3)
    assert feed.take_waiting() == {"c"}


def test_discard_forgets_a_client_everywhere() -> None:
    """A client leaves the members and the waiting lists."""
    feed: Feed[str] = Feed("r")
    feed.members.add("a")
    feed.waiting[9] = {"a", "b"}
    feed.discard("a")
    assert feed.members == set()
    assert feed.waiting == {9: {"b"}}


def test_held_frames_are_bounded() -> None:
    """Past the cap, frames ahead of a hole are not kept, but the hole still covers them."""
    feed: Feed[str] = Feed("r")
    feed.start(0)
    for seq in range(2, MAX_PENDING + 10):
        feed.accept(seq, b"m")
    assert len(feed.pending) == MAX_PENDING
    assert feed.target == MAX_PENDING + 9
    assert feed.has_gap()


def test_the_feed_follows_the_seq_of_the_messages_it_delivers() -> None:
    """Positions order everything; the seq moves only with frames that create a message."""
    feed: Feed[str] = Feed("r")
    feed.start(5, 3)
    assert feed.accept(7, b"message 4", seq=4)
    assert feed.accept(6, b"reaction")
    assert feed.next() == (6, b"reaction")
    assert feed.seq == 3
    assert feed.next() == (7, b"message 4")
    assert feed.seq == 4
    assert feed.advance(8)
    assert feed.seq == 4
    assert feed.advance(9, 5)
    assert (feed.pos, feed.seq) == (9, 5)
