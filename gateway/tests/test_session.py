"""The sans-I/O session: client frames in, frames and actions out (no sockets)."""

from __future__ import annotations

import time

import orjson
import pytest

from chatcore.errors import Forbidden
from gateway import frames
from gateway.requests import _error_code
from gateway.session import (
    CLOSE_UNAUTHORIZED,
    Close,
    Execute,
    Phase,
    Reply,
    Session,
    Start,
    Verify,
)

ROOM = "11111111-1111-1111-1111-111111111111"
OTHER = "22222222-2222-2222-2222-222222222222"
USER = "33333333-3333-3333-3333-333333333333"


def _raw(template: str, room: str = ROOM) -> str:
    return template.replace("@", room)


def _frame(out: object) -> dict[str, object]:
    assert isinstance(out, Reply)
    value = orjson.loads(out.frame)
    assert isinstance(value, dict)
    return value


def _ready(session: Session, resume: dict[str, int] | None = None) -> list[object]:
    assert session.receive(b'{"type":"auth","token":"t"}'.decode()) == [Verify("t", None, None)]
    assert session.authenticated(USER, "t", 2e9) == []
    return list(session.ready({ROOM: (5, "member")}, "s1", resume))


def test_first_frame_auth_asks_for_verification() -> None:
    """An auth frame in the AUTH phase asks to verify its token, with its resume."""
    session = Session()
    outs = session.receive(_raw('{"type":"auth","token":"abc","resume":{"rooms":{"@":3}}}'))
    assert outs == [Verify("abc", {ROOM: 3}, None)]


def test_header_token_is_verified_at_open() -> None:
    """A token from the Authorization header is verified before any frame."""
    assert Session().open("tok") == [Verify("tok", None, None)]
    assert Session().open(None) == []


def test_non_auth_first_frame_closes_4001() -> None:
    """Any other valid frame before authentication closes with 4001 (never a ready)."""
    outs = Session().receive('{"type":"ping"}')
    assert outs == [Close(CLOSE_UNAUTHORIZED, "auth_required")]


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        b"\xff\xfe",
        "[1, 2]",
        '{"token": "t"}',
        '{"type": 7, "token": "t"}',
        '{"type": "nonsense"}',
        '{"type": "auth"}',
        '{"type": "auth", "token": 12}',
        '{"type": "auth", "token": null}',
        '{"type": "auth", "token": ["t"]}',
        '{"type": "send", "room_id": "x", "body": "hi", "client_msg_id": "c"}',
    ],
)
def test_bad_frame_before_auth_closes_4001(data: str | bytes) -> None:
    """Bad JSON, a missing or unknown type, or an auth without a string token before
    authentication close with 4001 auth_required, never an error frame."""
    session = Session()
    assert session.receive(data) == [Close(CLOSE_UNAUTHORIZED, "auth_required")]
    assert session.phase is Phase.CLOSED


def test_refused_token_closes_4001() -> None:
    """A refused token closes with 4001."""
    session = Session()
    session.receive('{"type":"auth","token":"x"}')
    assert session.auth_failed("invalid_token") == [Close(CLOSE_UNAUTHORIZED, "invalid_token")]
    assert session.phase is Phase.CLOSED


def test_ready_lists_rooms_and_holds_live_delivery() -> None:
    """ready carries user, rooms and session id; live delivery waits for the client."""
    session = Session()
    outs = _ready(session)
    ready = _frame(outs[0])
    assert ready == {
        "type": "ready",
        "user_id": USER,
        "rooms": [{"room_id": ROOM, "last_seq": 5, "last_pos": 5}],
        "session_id": "s1",
    }
    assert session.phase is Phase.HOLD
    assert session.grace_over() == [Start(None)]
    assert session.grace_over() == []


def test_resume_in_auth_starts_at_once() -> None:
    """A resume inside the auth frame starts delivery from it right after ready."""
    session = Session()
    outs = _ready(session, {ROOM: 2})
    assert outs[1] == Start({ROOM: 2}, None)
    assert session.phase is Phase.LIVE


def test_first_frame_resume_ends_the_hold() -> None:
    """A resume as the first frame after ready starts delivery from its positions."""
    session = Session()
    _ready(session)
    outs = session.receive(_raw('{"type":"resume","ref":"r","rooms":{"@":1}}'))
    assert outs == [Start({ROOM: 1}, "r")]


def test_other_first_frame_starts_then_executes() -> None:
    """Any other first frame starts live delivery from ready, then is handled."""
    session = Session()
    _ready(session)
    outs = session.receive('{"type":"ping","ref":"p"}')
    assert outs[0] == Start(None)
    assert _frame(outs[1]) == {"type": "pong", "ref": "p"}


def test_frames_for_foreign_rooms_get_not_a_member() -> None:
    """send/typing/read/who for a room the user is not in answer not_a_member."""
    session = Session()
    _ready(session)
    session.grace_over()
    for raw in (
        _raw('{"type":"send","room_id":"@","body":"hi","client_msg_id":"c","ref":"x"}', OTHER),
        _raw('{"type":"typing","room_id":"@","ref":"x"}', OTHER),
        _raw('{"type":"read","room_id":"@","seq":1,"ref":"x"}', OTHER),
        _raw('{"type":"who","room_id":"@","ref":"x"}', OTHER),
    ):
        [out] = session.receive(raw)
        assert _frame(out)["code"] == "not_a_member"
        assert _frame(out)["ref"] == "x"


def test_send_in_own_room_is_executed() -> None:
    """A valid send in a member room becomes an Execute action."""
    session = Session()
    _ready(session)
    session.grace_over()
    [out] = session.receive(
        _raw('{"type":"send","room_id":"@","body":"hi","client_msg_id":"c1","ref":"a"}')
    )
    assert out == Execute(frames.Send(ROOM, "hi", "c1", "a"))


def test_bad_frames_get_documented_codes() -> None:
    """Binary, bad JSON, non-objects, deep nesting, unknown types, wrong fields: error codes."""
    session = Session(burst=1000)
    _ready(session)
    session.grace_over()
    cases = {
        b"\x00\x01": "bad_frame",
        "{not json": "bad_frame",
        "[1, 2]": "bad_frame",
        "[" * 5000 + "]" * 5000: "bad_frame",
        '{"type": 7}': "bad_frame",
        '{"type":"dance"}': "unknown_type",
        _raw('{"type":"send","room_id":"@","body":5,"client_msg_id":"c"}'): "invalid_field",
        _raw('{"type":"send","room_id":"@","client_msg_id":"c"}'): "missing_field",
        '{"type":"send","room_id":"nope","body":"b","client_msg_id":"c"}': "invalid_field",
        _raw('{"type":"read","room_id":"@","seq":true}'): "invalid_field",
        _raw('{"type":"read","room_id":"@","seq":-1}'): "invalid_field",
        _raw('{"type":"send","room_id":"@","body":"BIG","client_msg_id":"c"}').replace(
            "BIG", "x" * 4001
        ): "too_large",
        _raw('{"type":"send","room_id":"@","body":"  ","client_msg_id":"c"}'): "invalid_input",
        '{"type":"resume","rooms":[1]}': "invalid_field",
        '{"type":"ping","ref":5}': "invalid_field",
    }
    for raw, code in cases.items():
        [out] = session.receive(raw)
        assert _frame(out)["type"] == "error"
        assert _frame(out)["code"] == code, raw
    assert session.phase is Phase.LIVE


def test_flood_is_rate_limited_and_not_executed() -> None:
    """Frames over the token bucket get rate_limited and are not executed."""
    session = Session(rate=1.0, burst=3)
    _ready(session)
    session.grace_over()
    now = time.monotonic()
    answers = [session.receive('{"type":"ping"}', now=now) for _ in range(5)]
    assert [_frame(a[0])["type"] for a in answers] == ["pong", "pong", "pong", "error", "error"]
    assert _frame(answers[-1][0])["code"] == "rate_limited"


def test_typing_is_throttled_per_room() -> None:
    """Typing is forwarded at most once per interval per room."""
    session = Session(typing_interval=2.0)
    _ready(session)
    session.grace_over()
    raw = _raw('{"type":"typing","room_id":"@"}')
    t0 = time.monotonic()
    assert len(session.receive(raw, now=t0)) == 1
    assert session.receive(raw, now=t0 + 1.0) == []
    assert len(session.receive(raw, now=t0 + 2.5)) == 1


def test_a_sent_message_ends_the_typing_throttle() -> None:
    """After its sender's message, the next typing frame of that room is forwarded at once."""
    session = Session(typing_interval=2.0)
    _ready(session)
    session.grace_over()
    typing = _raw('{"type":"typing","room_id":"@"}')
    send = _raw('{"type":"send","room_id":"@","body":"hi","client_msg_id":"c1"}')
    t0 = time.monotonic()
    assert len(session.receive(typing, now=t0)) == 1
    assert len(session.receive(send, now=t0 + 0.5)) == 1
    assert len(session.receive(typing, now=t0 + 0.6)) == 1


def test_replacement_token_must_be_same_user() -> None:
    """A later auth frame of another user closes 4001; the same user's replaces the token."""
    session = Session()
    _ready(session)
    session.grace_over()
    assert session.receive('{"type":"auth","token":"t2"}') == [Verify("t2", None, None)]
    assert session.authenticated(USER, "t2", 3e9) == []
    assert session.token == "t2"
    assert session.authenticated(OTHER, "t3", 3e9) == [
        Close(CLOSE_UNAUTHORIZED, "token_of_another_user")
    ]


def test_expired_token_closes_4001() -> None:
    """Once the token's exp passes without a replacement the session closes with 4001."""
    session = Session()
    session.receive('{"type":"auth","token":"t"}')
    session.authenticated(USER, "t", 1000.0)
    assert session.check_expiry(now=999.0) == []
    assert session.check_expiry(now=1000.0) == [Close(CLOSE_UNAUTHORIZED, "token_expired")]


def test_expiry_allows_the_leeway_http_allows() -> None:
    """With a leeway the connection stays open until exp + leeway, as HTTP accepts the token,
    then closes with the reason a refused expired token gets."""
    session = Session(leeway=30)
    session.receive('{"type":"auth","token":"t"}')
    session.authenticated(USER, "t", 1000.0)
    assert session.closes_at == 1030.0
    assert session.check_expiry(now=1029.9) == []
    closed = session.check_expiry(now=1030.0)
    assert closed == [Close(CLOSE_UNAUTHORIZED, "token_expired")]
    refused = Session()
    refused.receive('{"type":"auth","token":"t"}')
    assert refused.auth_failed("token_expired") == closed


def test_refused_token_reason_is_one_of_two() -> None:
    """A refused token closes with token_expired or invalid_token, nothing else."""
    for code, reason in (
        ("token_expired", "token_expired"),
        ("invalid_token", "invalid_token"),
        ("unauthorized", "invalid_token"),
    ):
        session = Session()
        session.receive('{"type":"auth","token":"t"}')
        assert session.auth_failed(code) == [Close(CLOSE_UNAUTHORIZED, reason)]


def test_split_resume_ignores_foreign_rooms() -> None:
    """Resume positions of rooms the user is not in are listed apart, not applied."""
    session = Session()
    _ready(session)
    assert session.split_resume({ROOM: 1, OTHER: 4}) == ({ROOM: 1}, [OTHER])


def test_removed_room_bumps_generation() -> None:
    """Removing a room forgets it and invalidates work in flight for it."""
    session = Session()
    _ready(session)
    state = session.rooms[ROOM]
    assert session.remove_room(ROOM) is state
    assert state.generation == 1
    assert ROOM not in session.rooms


def test_config_names_the_public_urls_when_set() -> None:
    """/config.json gives the browser the public service URLs, else the gateway's own."""
    from gateway.routes import Routes
    from gateway.settings import GatewaySettings

    async def ready() -> bool:
        return True

    own = GatewaySettings(auth_url="http://auth:8001", rooms_url="http://rooms:8002")
    public = GatewaySettings(
        auth_url="http://auth:8001",
        GATEWAY_PUBLIC_AUTH_URL="/",
        GATEWAY_PUBLIC_ROOMS_URL="https://rooms.example.com",
    )
    assert orjson.loads(Routes(own, ready).config)["auth_url"] == "http://auth:8001"
    config = orjson.loads(Routes(public, ready).config)
    assert config["auth_url"] == "/"
    assert config["rooms_url"] == "https://rooms.example.com"
    assert config["messages_url"] == public.messages_url


async def test_slots_hold_the_reader_until_one_is_free() -> None:
    """A connection with every request slot taken waits until one is released."""
    import asyncio

    from gateway.client import Slots

    slots = Slots(2)
    await slots.acquire()
    await slots.acquire()
    third = asyncio.ensure_future(slots.acquire())
    await asyncio.sleep(0.01)
    assert not third.done()
    slots.release()
    await asyncio.wait_for(third, 1)
    assert slots.free == 0


def test_muted_send_error_keeps_its_code() -> None:
    """message-service's 403 ``muted`` reaches the client as ``error`` code ``muted``, not
    as ``not_a_member`` like other 403s."""
    assert _error_code(Forbidden("x", code="muted"))[0] == "muted"
    assert _error_code(Forbidden("x"))[0] == "not_a_member"
