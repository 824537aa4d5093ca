"""The sans-I/O core of ``chat ui``: frames in, effects out, no sockets."""

from __future__ import annotations

from chat_cli.live import Added, Changed, Gap, Live, Removed

ME, OTHER, ROOM = "u-me", "u-other", "r-1"


def _message(seq: int, body: str = "hi", sender: str = OTHER, **extra: object) -> dict[str, object]:
    return {"room_id": ROOM, "seq": seq, "sender_id": sender, "body": body, **extra}


def _ready(live: Live, last_seq: int = 3) -> list[dict[str, object]]:
    return live.on_ready({"type": "ready", "rooms": [{"room_id": ROOM, "last_seq": last_seq}]})


def test_ready_answers_with_a_resume_from_each_position() -> None:
    """First ready resumes from the room's newest seq; a reconnect from what was received."""
    live = Live(ME)
    assert _ready(live) == [{"type": "resume", "rooms": {ROOM: 3}}]
    live.on_frame({"type": "message", "message": _message(4)}, now=0)
    assert _ready(live, last_seq=9) == [{"type": "resume", "rooms": {ROOM: 4}}]
    assert live.rooms[ROOM].unread == 9


def test_a_jump_is_held_and_filled_in_order_and_repeats_are_dropped() -> None:
    """seq 6 after 3 asks for 4..5 from history, then 4, 5, 6 are in place once each."""
    live = Live(ME)
    _ready(live)
    assert live.on_frame({"type": "message", "message": _message(6)}, now=0) == [Gap(ROOM, 3, 6)]
    assert live.rooms[ROOM].position == 3
    live.filled(ROOM, [_message(5), _message(4), _message(4)])
    assert sorted(live.rooms[ROOM].messages) == [4, 5, 6]
    assert live.rooms[ROOM].position == 6
    assert live.on_frame({"type": "message", "message": _message(5)}, now=0) == []


def test_edits_replace_in_place_and_unknown_seqs_are_ignored() -> None:
    """An edit of a loaded message replaces it; one of a message not loaded changes nothing."""
    live = Live(ME)
    _ready(live)
    live.on_frame({"type": "message", "message": _message(4)}, now=0)
    edited = _message(4, "fixed", edited_at="2026-12-04T00:00:00Z")
    assert live.on_frame({"type": "message_edited", "message": edited}, now=0) == [Changed(ROOM)]
    assert live.rooms[ROOM].messages[4]["body"] == "fixed"
    assert live.on_frame({"type": "message_deleted", "message": _message(1)}, now=0) == []


def test_read_markers_move_forward_and_my_own_messages_are_read() -> None:
    """mark_read moves to the newest received seq once; a message I sent counts as read."""
    live = Live(ME)
    _ready(live, last_seq=0)
    live.on_frame({"type": "message", "message": _message(1)}, now=0)
    assert live.rooms[ROOM].unread == 1
    assert live.mark_read(ROOM) == 1
    assert live.mark_read(ROOM) is None
    live.on_frame({"type": "message", "message": _message(2, sender=ME)}, now=0)
    assert live.rooms[ROOM].unread == 0


def test_rooms_come_and_go_and_typing_expires() -> None:
    """room_added then its first message; typing shows for a while; room_removed forgets."""
    live = Live(ME)
    _ready(live)
    added = {"type": "room_added", "room": {"id": "r-2", "kind": "group", "title": "New"}}
    assert live.on_frame(added, now=0) == [Added("r-2"), Changed("r-2")]
    first = {**_message(7), "room_id": "r-2"}
    assert live.on_frame({"type": "message", "message": first}, now=0) == [Changed("r-2")]
    live.on_frame({"type": "typing", "room_id": ROOM, "user_id": OTHER}, now=10)
    assert live.rooms[ROOM].typing_now(12) == [OTHER]
    assert live.rooms[ROOM].typing_now(16) == []
    gone = {"type": "room_removed", "room": {"id": "r-2"}}
    assert live.on_frame(gone, now=0) == [Removed("r-2")]
    assert "r-2" not in live.rooms


def test_history_expired_moves_the_position_so_no_gap_is_asked_for() -> None:
    """A resume from before the retained history: messages from oldest_seq are in order."""
    live = Live(ME)
    _ready(live, last_seq=2)
    live.on_frame({"type": "history_expired", "room_id": ROOM, "oldest_seq": 6}, now=0)
    assert live.on_frame({"type": "message", "message": _message(6)}, now=0) == [Changed(ROOM)]
    assert live.on_frame({"type": "message", "message": _message(7)}, now=0) == [Changed(ROOM)]
    assert sorted(live.rooms[ROOM].messages) == [6, 7]
