"""The recent frames of a room feed: a catch-up a little behind is served from memory, and
only when every frame it misses is there."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.client import Client
from gateway.feed import Feed
from gateway.recent import KEEP, Recent
from gateway.session import RoomState


class Pushed:
    """A client that records what is pushed to it."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def push(self, frame: bytes) -> None:
        self.frames.append(frame)


def item(pos: int) -> dict[str, Any]:
    return {"type": "message", "pos": pos, "message": {"seq": pos}}


def frame(pos: int) -> bytes:
    return orjson.dumps(item(pos))


def deliver(recent: Recent, feed: Feed[Client], pos: int) -> None:
    assert feed.advance(pos, pos)
    recent.delivered(feed, frame(pos))


def positions(client: Pushed) -> list[int]:
    return [orjson.loads(f)["pos"] for f in client.frames]


def test_a_client_behind_gets_the_frames_it_missed_and_the_feed_position() -> None:
    """Frames the feed delivered are served to a client a few positions behind."""
    recent, feed = Recent(), Feed[Client]("r")
    feed.start(10, 10)
    for pos in range(11, 15):
        deliver(recent, feed, pos)
    client, state = Pushed(), RoomState(pos=12, seq=12)
    assert recent.serve(client, feed, state)  # type: ignore[arg-type]
    assert positions(client) == [13, 14]
    assert (state.pos, state.seq) == (14, 14)


def test_a_client_further_behind_than_the_frames_kept_is_not_served() -> None:
    recent, feed = Recent(), Feed[Client]("r")
    feed.start(0)
    for pos in range(1, KEEP + 10):
        deliver(recent, feed, pos)
    client, state = Pushed(), RoomState(pos=5, seq=5)
    assert not recent.serve(client, feed, state)  # type: ignore[arg-type]
    assert client.frames == []
    assert state.pos == 5
    state.pos = 20
    assert recent.serve(client, feed, state)  # type: ignore[arg-type]
    assert positions(client) == list(range(21, KEEP + 10))


def test_a_history_read_up_to_the_feed_serves_the_next_client() -> None:
    """After a restart the feed starts at the room's position with nothing kept: the first
    client's history read is kept for the others at the same place."""
    recent, feed = Recent(), Feed[Client]("r")
    feed.start(8, 8)
    first = RoomState(pos=5, seq=5)
    assert not recent.serve(Pushed(), feed, first)  # type: ignore[arg-type]
    recent.read(feed, 5, [item(6), item(7), item(8)])
    client, state = Pushed(), RoomState(pos=5, seq=5)
    assert recent.serve(client, feed, state)  # type: ignore[arg-type]
    assert positions(client) == [6, 7, 8]
    deliver(recent, feed, 9)
    client, state = Pushed(), RoomState(pos=6, seq=6)
    assert recent.serve(client, feed, state)  # type: ignore[arg-type]
    assert positions(client) == [7, 8, 9]


def test_a_history_read_that_does_not_reach_the_kept_frames_is_not_kept() -> None:
    """Kept frames are contiguous up to the feed: a read with a hole before them is not."""
    recent, feed = Recent(), Feed[Client]("r")
    feed.start(8, 8)
    recent.read(feed, 2, [item(3), item(4)])
    assert not recent.serve(Pushed(), feed, RoomState(pos=3, seq=3))  # type: ignore[arg-type]
    recent.read(feed, 5, [item(6), item(8)])
    assert not recent.serve(Pushed(), feed, RoomState(pos=5, seq=5))  # type: ignore[arg-type]


def test_a_client_at_the_feed_or_with_an_unknown_position_is_left_to_the_caller() -> None:
    recent, feed = Recent(), Feed[Client]("r")
    feed.start(3, 3)
    deliver(recent, feed, 4)
    assert not recent.serve(Pushed(), feed, RoomState(pos=4, seq=4))  # type: ignore[arg-type]
    assert not recent.serve(Pushed(), feed, RoomState(pos=-1, seq=3))  # type: ignore[arg-type]
