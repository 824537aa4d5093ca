"""Opaque cursors: parts joined and split in their syntax, anything else one 422."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from chatcore.cursors import (
    Cursor,
    entry_id,
    from_micros,
    from_text_part,
    micros,
    text_part,
)
from chatcore.errors import InvalidInput

PAGE = Cursor(r"^(0|-?[1-9][0-9]{0,15})_[0-9a-f]{32}$")


def test_parts_round_trip_through_their_syntax() -> None:
    """A time and an id encode to the syntax and decode back to the same values."""
    at = datetime(2026, 12, 5, 2, 40, 1, 123456, tzinfo=UTC)
    item = uuid.uuid4()
    cursor = PAGE.encode(micros(at), item.hex)
    assert cursor == f"1796438401123456_{item.hex}"
    when, hex_id = PAGE.decode(cursor)
    assert (from_micros(when), uuid.UUID(hex=hex_id)) == (at, item)


@pytest.mark.parametrize("cursor", ["", "1_", "01_" + "0" * 32, "1_" + "0" * 31, "x", "1_0_0"])
def test_anything_outside_the_syntax_is_a_422_on_cursor(cursor: str) -> None:
    """A string the syntax does not allow is refused with the cursor field named."""
    with pytest.raises(InvalidInput) as refused:
        PAGE.decode(cursor)
    assert refused.value.body()["error"]["field"] == "cursor"


def test_text_parts_keep_any_text_and_decode_any_part() -> None:
    """Text survives base64url; a part whose bytes are not UTF-8 still decodes to text."""
    for text in ("", "alice", "Zoë 🙂", "a.b_c-d"):
        assert from_text_part(text_part(text)) == text
    assert "\ufffd" in from_text_part("_w")


def test_separator_is_the_cursors_own() -> None:
    """A cursor may join its parts with another separator than the underscore."""
    named = Cursor(r"^[A-Za-z0-9_-]*\.[0-9a-f]{32}$", separator=".")
    item = uuid.uuid4()
    cursor = named.encode(text_part("a_b"), item.hex)
    assert named.decode(cursor) == [text_part("a_b"), item.hex]


def test_entry_ids_stay_inside_a_bigint() -> None:
    """An audit cursor is digits naming a bigint; anything else is a 422."""
    assert entry_id("42") == 42
    for bad in ("", "-1", "4x", "9" * 19, "9" * 20):
        with pytest.raises(InvalidInput):
            entry_id(bad)
