"""A connection's position rules, one at a time: catch-up pages, history_expired, resume
claims and rewinds, and the feed's answers to live frames, fills and attaching connections."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from gateway.feed import FILL, Admit, Broadcast, Feed, Read
from gateway.position import Change, Page, RoomState, catch_up, resumed_frame

ROOM = "r"


def change(pos: int, seq: int = 0) -> Change:
    return Change(pos, seq, f"c{pos}".encode())


@dataclass(eq=False)
class Member:
    state: RoomState
    open: bool = True

    def room(self, room_id: str) -> RoomState | None:
        return self.state if room_id == ROOM else None


def test_a_page_is_sent_up_to_its_first_hole() -> None:
    """The changes that follow the position with no hole are sent, nothing after a hole."""
    state = RoomState(pos=3, seq=2)
    plan = catch_up(state, ROOM, Page([change(4, 3), change(5), change(7, 4)], after_pos=3))
    assert [c.pos for c in plan.changes] == [4, 5]
    assert not plan.notices
    assert not plan.again
    assert (state.pos, state.seq) == (3, 2)  # moved only as each one goes out


def test_an_edit_sent_keeps_the_seq_of_the_last_message() -> None:
    """A change that creates no message moves the position, not the seq."""
    state = RoomState(pos=3, seq=2)
    state.sent(change(4, 3))
    state.sent(change(5))
    assert (state.pos, state.seq) == (5, 3)


def test_a_seq_only_resume_starts_after_the_change_that_created_it() -> None:
    """Position unknown (-1): the page's ``after_pos`` is where the message was created."""
    state = RoomState(pos=-1, seq=3)
    plan = catch_up(state, ROOM, Page([], after_pos=6))
    assert plan.again
    assert state.pos == 6
    plan = catch_up(state, ROOM, Page([change(7)], after_pos=6))
    assert [c.pos for c in plan.changes] == [7]


def test_a_position_older_than_the_history_kept_gets_history_expired() -> None:
    """``history_expired`` first, then the changes from the oldest kept."""
    state = RoomState(pos=2, seq=2)
    plan = catch_up(state, ROOM, Page([change(10, 8)], after_pos=9, expired=True, oldest_seq=8))
    assert [orjson.loads(n) for n in plan.notices] == [
        {"type": "history_expired", "room_id": ROOM, "oldest_seq": 8}
    ]
    assert (state.pos, state.seq) == (9, 7)
    assert [c.pos for c in plan.changes] == [10]


def test_expired_is_said_once() -> None:
    """A connection already at or past the oldest kept is not told again."""
    state = RoomState(pos=9, seq=7)
    plan = catch_up(state, ROOM, Page([change(10, 8)], after_pos=9, expired=True, oldest_seq=8))
    assert not plan.notices


def test_a_claim_up_to_what_is_known_needs_no_read() -> None:
    """A seq at or below the highest known here stands as claimed."""
    state = RoomState(pos=5, seq=5)
    claim = state.claim(4, None, feed_seq=6)
    assert not claim.needs_newest
    state.resume(claim)
    assert (state.pos, state.seq) == (4, 4)  # every change was a message: pos n is seq n


def test_a_claim_past_the_room_is_clamped_to_its_newest() -> None:
    """A seq beyond every known one is checked against the newest; unreadable: the known."""
    state = RoomState(pos=5, seq=5)
    claim = state.claim(50, 60, feed_seq=6)
    assert claim.needs_newest
    assert claim.clamped(8) == 8
    assert claim.clamped(None) == 6
    state.resume(claim, 8)
    assert (state.pos, state.seq) == (60, 8)


def test_a_seq_claim_with_edits_before_it_leaves_the_position_unknown() -> None:
    """With changes that created no message, message n is not at position n: -1."""
    state = RoomState(pos=7, seq=5)
    state.resume(state.claim(4, None, feed_seq=5))
    assert (state.pos, state.seq) == (-1, 4)


def test_a_later_resume_moves_rooms_forward_never_back_once_delivered() -> None:
    """Ahead: moves. Same or behind after a delivery: stays. Behind, nothing delivered since
    ``ready``: rewinds (the replay is still in order)."""
    assert RoomState(pos=5, rewind_from=-1).moves_on_resume((5, 5), 9, None)
    assert not RoomState(pos=5, rewind_from=-1).moves_on_resume((5, 5), 5, None)
    assert not RoomState(pos=5, rewind_from=-1).moves_on_resume((5, 5), 2, None)
    assert not RoomState(pos=6, rewind_from=5).moves_on_resume((6, 6), 2, None)
    untouched = RoomState(pos=5, rewind_from=5)
    assert untouched.moves_on_resume((5, 5), 2, None)
    assert untouched.rewind_from == -1  # once only
    assert not untouched.moves_on_resume((5, 5), 2, None)
    assert RoomState(pos=5, rewind_from=5).moves_on_resume((5, 5), 5, 3)  # by position


def test_restart_stops_stale_work_and_stands_where_the_room_was() -> None:
    state = RoomState(pos=3, seq=3, in_sync=True)
    state.restart((8, 6))
    assert (state.pos, state.seq, state.in_sync, state.generation) == (8, 6, False, 1)


def test_one_catch_up_per_generation() -> None:
    """A second attach while one runs does nothing; a restart allows a new one."""
    state = RoomState(pos=3)
    first = state.begin_attach()
    assert first == 0
    assert state.begin_attach() is None
    state.restart((3, 0))
    assert state.begin_attach() == 1
    state.end_attach(first)
    assert state.attaching == 1


def test_resumed_leaves_out_unknown_positions() -> None:
    frame = orjson.loads(resumed_frame("r1", {"a": (7, 5), "b": (-1, 2)}))
    assert frame["rooms"] == {"a": 5, "b": 2}
    assert frame["positions"] == {"a": 7}


def test_a_connection_at_the_feed_joins_it() -> None:
    feed: Feed[Member] = Feed(ROOM)
    feed.start(4, 3)
    member = Member(RoomState(pos=4, seq=3))
    assert feed.attach(member) == [Admit(member)]
    assert member.state.in_sync


def test_a_connection_ahead_waits_and_the_hole_is_filled() -> None:
    feed: Feed[Member] = Feed(ROOM)
    feed.start(4, 3)
    member = Member(RoomState(pos=6, seq=5))
    assert feed.attach(member) == [FILL]
    assert feed.receive(5, b"c5") == [Broadcast(b"c5", pos=5), FILL]
    assert feed.receive(6, b"c6", 5) == [Broadcast(b"c6", pos=6), Admit(member)]
    assert member.state.in_sync
    assert member.state.at(feed.pos, feed.seq) == (6, 5)


def test_a_connection_behind_reads_history() -> None:
    feed: Feed[Member] = Feed(ROOM)
    feed.start(4, 3)
    assert feed.attach(Member(RoomState(pos=2, seq=2))) == Read(2, 2)
    assert feed.attach(Member(RoomState(pos=-1, seq=2))) == Read(-1, 2)


def test_a_live_frame_twice_or_behind_is_dropped_and_a_hole_asks_for_a_fill() -> None:
    feed: Feed[Member] = Feed(ROOM)
    feed.start(4, 3)
    assert feed.receive(5, b"c5") == [Broadcast(b"c5", pos=5)]
    assert feed.receive(5, b"c5") == []
    assert feed.receive(3, b"c3") == []
    assert feed.receive(7, b"c7") == [FILL]
    assert feed.receive(7, b"c7") == []


def test_a_fill_closes_the_hole_and_delivers_what_was_held() -> None:
    feed: Feed[Member] = Feed(ROOM)
    feed.start(4, 3)
    feed.receive(7, b"c7", 5)
    outs, over = feed.filled(Page([change(5), change(6, 4), change(7, 5)], after_pos=4))
    assert outs == [Broadcast(b"c5", True, 5), Broadcast(b"c6", True, 6), Broadcast(b"c7", pos=7)]
    assert not over
    assert (feed.pos, feed.seq) == (7, 5)


def test_a_hole_that_expired_before_it_was_filled_is_skipped_after_history_expired() -> None:
    """A lost publish read only after retention removed it: the in-sync connection and the
    one waiting for a position inside the hole get ``history_expired`` (as a resume from
    there does), then the retained changes in order, once; one waiting past it gets no
    notice, and frames held inside the hole are dropped."""
    feed: Feed[Member] = Feed(ROOM)
    feed.start(4, 3)
    insync = Member(RoomState(pos=4, seq=3))
    feed.attach(insync)
    feed.members.add(insync)
    inside = Member(RoomState(pos=6, seq=5))
    at_oldest = Member(RoomState(pos=9, seq=7))
    assert feed.attach(inside) == [FILL]
    assert feed.attach(at_oldest) == [FILL]
    assert feed.receive(8, b"c8") == [FILL]  # held inside the hole
    assert feed.receive(11, b"c11", 9) == [FILL]  # held after the oldest kept
    notice = orjson.dumps({"type": "history_expired", "room_id": ROOM, "oldest_seq": 8})
    page = Page([change(10, 8)], after_pos=9, expired=True, oldest_seq=8)
    outs, over = feed.filled(page)
    assert outs == [
        Admit(inside),
        Broadcast(notice),
        Admit(at_oldest),
        Broadcast(b"c10", True, 10),
        Broadcast(b"c11", pos=11),
    ]
    assert not over
    assert (feed.pos, feed.seq) == (11, 9)
    assert not feed.pending
    assert not feed.waiting
    assert not feed.has_gap()
    # The same page again (a stale read) changes nothing: expired is said once.
    assert feed.filled(page) == ([], False)


def test_a_claim_the_room_never_reached_starts_where_it_stands() -> None:
    """Nothing new in history and nothing live ahead: waiting connections join now."""
    feed: Feed[Member] = Feed(ROOM)
    feed.start(4, 3)
    member = Member(RoomState(pos=9, seq=9))
    feed.attach(member)
    outs, over = feed.filled(Page([], after_pos=4))
    assert over
    assert outs == [Admit(member)]
    assert member.state.at(feed.pos, feed.seq) == (4, 3)


def test_a_failed_fill_read_keeps_waiting_connections_waiting() -> None:
    """message-service did not answer: that is not "nothing new", so the fill goes on and a
    connection waiting for its position ahead is not put in at the feed's (it would get what
    it has again); the next read that succeeds closes the hole and admits it there."""
    feed: Feed[Member] = Feed(ROOM)
    feed.start(4, 3)
    member = Member(RoomState(pos=6, seq=5))
    assert feed.attach(member) == [FILL]
    assert feed.filled(None) == ([], False)
    assert not member.state.in_sync
    assert feed.has_gap()
    outs, over = feed.filled(Page([change(5), change(6, 5)], after_pos=4))
    assert outs == [Broadcast(b"c5", True, 5), Broadcast(b"c6", True, 6), Admit(member)]
    assert not over
    assert member.state.at(feed.pos, feed.seq) == (6, 5)


def test_a_closed_connection_waiting_is_not_admitted_when_the_fill_ends() -> None:
    """As when the feed reaches a position: only an open connection joins."""
    feed: Feed[Member] = Feed(ROOM)
    feed.start(4, 3)
    closed = Member(RoomState(pos=9, seq=9))
    feed.attach(closed)
    closed.open = False
    outs, over = feed.filled(Page([], after_pos=4))
    assert over
    assert outs == []
    assert not closed.state.in_sync
    assert not feed.waiting


def test_the_silent_room_check_fills_only_a_feed_behind() -> None:
    feed: Feed[Member] = Feed(ROOM)
    feed.start(4, 3)
    assert feed.fill_to(4) == []
    assert feed.fill_to(6) == [FILL]


def test_leaving_the_feed_keeps_the_position_reached() -> None:
    feed: Feed[Member] = Feed(ROOM)
    feed.start(4, 3)
    member = Member(RoomState(pos=4, seq=3))
    feed.attach(member)
    feed.members.add(member)
    feed.receive(5, b"c5", 4)
    feed.leave(member)
    assert member not in feed.members
    assert (member.state.pos, member.state.seq, member.state.in_sync) == (5, 4, False)
