"""Frames over the rate: answered with their ``ref`` and a ``retry_after``, and a client that
keeps flooding is closed with 1008 instead of being answered without end (no sockets)."""

from __future__ import annotations

import time

import orjson

from gateway.session import CLOSE_POLICY, Close, Phase, Reply, Session, Verify

USER = "33333333-3333-3333-3333-333333333333"
ROOM = "11111111-1111-1111-1111-111111111111"


def _live(session: Session) -> None:
    assert session.receive('{"type":"auth","token":"t"}') == [Verify("t", None, None)]
    session.authenticated(USER, "t", 2e9)
    session.ready({ROOM: (0, "member")}, "s1")
    session.grace_over()


def test_rate_limited_carries_ref_and_retry_after() -> None:
    """A refused frame's error names its ref and the seconds until a frame is allowed."""
    session = Session(rate=4.0, burst=2)
    _live(session)
    now = time.monotonic()
    session.receive('{"type":"ping","ref":"a"}', now=now)
    session.receive('{"type":"ping","ref":"b"}', now=now)
    [refused] = session.receive('{"type":"ping","ref":"c"}', now=now)
    assert isinstance(refused, Reply)
    frame = orjson.loads(refused.frame)
    assert frame["code"] == "rate_limited"
    assert frame["ref"] == "c"
    assert 0.2 <= frame["retry_after"] <= 0.3  # one token at 4/s
    # A frame that is not even JSON is refused without a ref, still with retry_after.
    [bad] = session.receive("not json", now=now)
    assert isinstance(bad, Reply)
    assert "ref" not in orjson.loads(bad.frame)
    assert orjson.loads(bad.frame)["retry_after"] > 0
    # After the wait it names, the frame goes through.
    [pong] = session.receive('{"type":"ping","ref":"d"}', now=now + frame["retry_after"])
    assert isinstance(pong, Reply)
    assert orjson.loads(pong.frame)["type"] == "pong"


def test_sustained_flood_closes_1008() -> None:
    """Past ``flood_close`` refused frames in a row the session closes with 1008 and
    answers nothing more."""
    session = Session(rate=1.0, burst=5, flood_close=50)
    _live(session)
    now = time.monotonic()
    while session.bucket.take(1.0, now):
        pass
    outs = [session.receive('{"type":"ping"}', now=now) for _ in range(50)]
    assert all(orjson.loads(o[0].frame)["code"] == "rate_limited" for o in outs)  # type: ignore[union-attr]
    [close] = session.receive('{"type":"ping"}', now=now)
    assert close == Close(CLOSE_POLICY, "flooding")
    assert session.phase is Phase.CLOSED
    assert session.receive('{"type":"ping"}', now=now) == []


def test_an_accepted_frame_resets_the_flood_count() -> None:
    """A client that is fast but lets the bucket refill now and then is never closed."""
    session = Session(rate=10.0, burst=1, flood_close=3)
    _live(session)
    now = time.monotonic()
    for _ in range(20):
        for _ in range(3):
            session.receive('{"type":"ping"}', now=now)
        now += 0.1
    assert session.phase is Phase.LIVE
