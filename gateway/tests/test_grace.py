"""The resume hold's timer: a grace that fires late (a busy loop) waits for the loop first."""

from __future__ import annotations

from gateway.session import Phase, Rearm, Session, Start

ROOM = "11111111-1111-1111-1111-111111111111"


def held() -> Session:
    """A session in the resume hold, ``ready`` sent."""
    session = Session()
    session.receive('{"type":"auth","token":"t"}')
    session.authenticated("u", "t", 2e9)
    session.ready({ROOM: (5, "member")}, "s1")
    assert session.phase is Phase.HOLD
    return session


def test_a_grace_timer_on_time_starts_live_delivery() -> None:
    """A timer that fires on time (within the lag allowed) ends the hold."""
    session = held()
    assert session.grace_over(0.01, 0.5) == [Start(None)]
    assert session.phase is Phase.LIVE


def test_a_late_grace_timer_lets_the_waiting_resume_win() -> None:
    """Fired 300 ms late: the hold goes on that long, and the client's resume, queued behind
    the lag, still comes first; the re-armed timer then does nothing."""
    session = held()
    assert session.grace_over(0.3, 0.5) == [Rearm(0.3, 0.5 - 0.3)]
    assert session.phase is Phase.HOLD
    outs = session.receive(f'{{"type":"resume","rooms":{{"{ROOM}":2}}}}')
    assert outs == [Start({ROOM: 2}, None)]
    assert session.grace_over(0.0, 0.2) == []


def test_a_grace_extension_is_no_longer_than_what_is_left() -> None:
    """A timer later than the extension left waits only what is left."""
    session = held()
    assert session.grace_over(0.9, 0.5) == [Rearm(0.5, 0.0)]
    assert session.grace_over(0.4, 0.0) == [Start(None)]


def test_the_hold_ends_when_its_extension_is_spent() -> None:
    """However late, a timer with no extension left ends the hold."""
    session = held()
    assert session.grace_over(0.3, 0.0) == [Start(None)]


def test_a_grace_timer_after_the_hold_does_nothing() -> None:
    """A frame ended the hold first: the timer has nothing to start."""
    session = held()
    session.receive('{"type":"ping"}')
    assert session.phase is Phase.LIVE
    assert session.grace_over(0.0, 0.5) == []
