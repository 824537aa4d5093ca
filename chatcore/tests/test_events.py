"""Room-channel payloads: header parsing without touching the frame, and bad payloads."""

import pytest

from chatcore.events import BadPayload, Kind, parse_room_event, room_event


def test_round_trip_keeps_frame_bytes() -> None:
    """A message payload parses back to its kind, seq and the exact frame bytes."""
    payload = room_event(Kind.MESSAGE, 17, {"type": "message", "message": {"seq": 17}})
    event = parse_room_event(payload)
    assert (event.kind, event.seq) == (Kind.MESSAGE, 17)
    assert event.frame == b'{"type":"message","message":{"seq":17}}'
    assert event.encode() == payload


@pytest.mark.parametrize(
    "payload",
    [b"", b"M 1", b"X 1\n{}", b"M x\n{}", b"M\n{}", b"M -1\n{}", b"M 99999999999999999999\n{}"],
)
def test_bad_payloads_are_refused(payload: bytes) -> None:
    """Anything not `<kind> <int>\\n<frame>` raises BadPayload, never another error."""
    with pytest.raises(BadPayload):
        parse_room_event(payload)


def test_change_stream_payloads_carry_their_position() -> None:
    """A payload with a position has two numbers in its header; one without has one."""
    payload = room_event(Kind.CHANGE, 4, {"type": "reaction", "pos": 9}, 9)
    assert payload.startswith(b"E 4 9\n")
    event = parse_room_event(payload)
    assert (event.kind, event.seq, event.pos) == (Kind.CHANGE, 4, 9)
    assert parse_room_event(b"R 3\n{}").pos == 0
    for bad in (b"E 4 x\n{}", b"E 4 \n{}", b"E 4 9 1\n{}", b"E 4 -1\n{}"):
        with pytest.raises(BadPayload):
            parse_room_event(bad)
