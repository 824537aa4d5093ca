"""Frames written as raw bytes (gateway.client.wire_frames) are the websocket frames the
library would write, and a client's parser reads them back."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from gateway.client import wire_frames


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_each_length_form_matches_the_library(size: int) -> None:
    """The 7-bit, 16-bit and 64-bit length forms (RFC 6455 5.2), at their edges."""
    body = b"x" * size
    assert wire_frames([body]) == Frame(Opcode.TEXT, body).serialize(mask=False, extensions=[])


def test_frames_written_together_read_back_in_order() -> None:
    bodies = [b'{"type":"ack"}', "안녕".encode() * 100, b"y" * 70_000]
    reader = StreamReader()
    reader.feed_data(wire_frames(bodies))
    reader.feed_eof()
    got = []
    for _ in bodies:
        parser = Frame.parse(reader.read_exact, mask=False, max_size=None, extensions=[])
        try:
            while True:
                next(parser)
        except StopIteration as done:
            frame = done.value
        assert frame.opcode is Opcode.TEXT
        assert frame.fin
        got.append(frame.data)
    assert got == bodies
