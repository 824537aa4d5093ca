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


def test_header_fields_carry_time_and_traceparent_without_touching_the_frame() -> None:
    """`t=` and `tp=` fields parse out of the header and the frame bytes stay as sent."""
    tp = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    frame = {"type": "message", "pos": 9, "message": {"seq": 4, "body": "안녕 hi"}}
    payload = room_event(Kind.MESSAGE, 4, frame, 9, at_us=1733358000123456, traceparent=tp)
    assert payload.startswith(b"M 4 9 t=1733358000123456 tp=" + tp + b"\n")
    event = parse_room_event(payload)
    assert (event.seq, event.pos, event.at_us, event.traceparent) == (4, 9, 1733358000123456, tp)
    assert event.frame == payload.partition(b"\n")[2]
    assert event.encode() == payload
    # Without a position (typing, receipts), and with only one of the fields.
    assert parse_room_event(b"T 0 t=5\n{}").at_us == 5
    assert parse_room_event(b"R 3 tp=" + tp + b"\n{}").traceparent == tp
    assert parse_room_event(b"M 1 2\n{}").at_us == 0


@pytest.mark.parametrize(
    "payload",
    [
        b"M 1 2 x=1\n{}",
        b"M 1 2 t=x\n{}",
        b"M 1 2 t=\n{}",
        b"M 1 2 tp=\n{}",
        b"M 1 t=1 3\n{}",
        b"M 1 2 tp=" + b"0" * 65 + b"\n{}",
        b"M 1 2 t=-1\n{}",
    ],
)
def test_bad_header_fields_are_refused(payload: bytes) -> None:
    """An unknown field, a bad time or an oversized traceparent raises BadPayload."""
    with pytest.raises(BadPayload):
        parse_room_event(payload)
