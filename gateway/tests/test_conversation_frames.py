"""Conversation fields of client frames and resume positions, with no socket."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway import frames
from gateway.frames import FrameError, Resume, Send
from gateway.session import Session, Start, Verify

ROOM = "11111111-1111-1111-1111-111111111111"
MSG = "22222222-2222-2222-2222-222222222222"
USER = "33333333-3333-3333-3333-333333333333"


def _text(**frame: Any) -> str:
    return orjson.dumps(frame).decode()


def _send(**extra: Any) -> str:
    return _text(type="send", ref="r", room_id=ROOM, body="hi", client_msg_id="c", **extra)


def test_send_takes_reply_thread_and_mentions() -> None:
    """reply_to, thread_root_id and mentions are parsed as UUIDs; absent ones stay empty."""
    frame = frames.parse(_send(reply_to=MSG, thread_root_id=MSG, mentions=[USER]))
    assert frame == Send(ROOM, "hi", "c", "r", reply_to=MSG, thread_root_id=MSG, mentions=(USER,))
    assert frames.parse(_send()) == Send(ROOM, "hi", "c", "r")


@pytest.mark.parametrize(
    "extra",
    [
        {"reply_to": "nope"},
        {"reply_to": 5},
        {"thread_root_id": []},
        {"mentions": USER},
        {"mentions": [1]},
        {"mentions": [USER] * 51},
    ],
)
def test_bad_conversation_fields_are_invalid_field(extra: dict[str, Any]) -> None:
    """A reference that is not a UUID, or mentions that are not a short list of them, get
    invalid_field with the request's ref."""
    with pytest.raises(FrameError) as caught:
        frames.parse(_send(**extra))
    assert (caught.value.code, caught.value.ref) == ("invalid_field", "r")


def test_resume_and_auth_carry_positions() -> None:
    """resume's optional positions reach Start; auth's resume may carry them too; ready
    sets each room's position from last_pos."""
    resume = _text(type="resume", rooms={ROOM: 4}, positions={ROOM: 9})
    assert frames.parse(resume) == Resume({ROOM: 4}, None, {ROOM: 9})
    auth = _text(type="auth", token="t", resume={"rooms": {ROOM: 4}, "positions": {ROOM: 9}})
    assert Session().receive(auth) == [Verify("t", {ROOM: 4}, None, {ROOM: 9})]

    session = Session()
    session.receive(_text(type="auth", token="t"))
    session.authenticated(USER, "t", 1e12)
    session.ready({ROOM: (4, "member")}, "s", last_pos={ROOM: 9})
    assert (session.rooms[ROOM].pos, session.rooms[ROOM].seq) == (9, 4)
    assert session.receive(resume) == [Start({ROOM: 4}, None, {ROOM: 9})]
    with pytest.raises(FrameError):
        frames.parse(_text(type="resume", rooms={}, positions={ROOM: -1}))
