"""hypothesis strategies for gateway frames: mostly frames of the real types with fields right,
wrong, missing or extra, and the rest every other thing a socket can carry (any JSON, deep
nesting, lone surrogates, invalid UTF-8, binary, oversized frames)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

TYPES = ["auth", "send", "resume", "typing", "read", "who", "ping"]
# The fields each frame type reads (docs/protocol.md).
NEEDS = {
    "auth": ["token"],
    "send": ["room_id", "body", "client_msg_id"],
    "resume": ["rooms"],
    "typing": ["room_id"],
    "read": ["room_id", "seq"],
    "who": ["room_id"],
    "ping": [],
}
MAX_FRAME = 65536


@dataclass(frozen=True)
class Input:
    """One thing sent on the socket, and how the gateway may legitimately end the connection."""

    data: str | bytes
    text: bool = True  # a text frame (a binary one otherwise)
    allowed_close: int | None = None  # 1009 oversized, 1007 invalid UTF-8, 4001 a bad renewal

    def __repr__(self) -> str:
        shown = self.data[:300] if isinstance(self.data, str | bytes) else self.data
        return f"Input({shown!r}{'...' if len(self.data) > 300 else ''}, text={self.text})"


def inputs(room_id: str, foreign_room: str, token: str) -> st.SearchStrategy[Input]:
    """Every kind of input, the structured frames weighted most."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=40),
    )
    values = st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )
    surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
    texts = st.one_of(
        st.text(max_size=60),
        st.text(st.characters(), min_size=1, max_size=4100),
        st.lists(st.one_of(surrogates, st.characters()), min_size=1, max_size=20).map("".join),
        st.sampled_from(["", " ", "\u0000", "\n\t", "a" * 4000, "a" * 4001, "é" * 4001]),
    )
    room_ids = st.one_of(
        st.sampled_from(
            [
                room_id,
                foreign_room,
                str(uuid.UUID(int=0)),
                room_id.upper(),
                "{" + room_id + "}",
                "urn:uuid:" + room_id,
                room_id.replace("-", ""),
                "not-a-uuid",
                "",
            ]
        ),
        st.uuids().map(str),
        values,
    )
    seqs = st.one_of(
        st.integers(min_value=-5, max_value=50),
        st.integers(min_value=-(2**70), max_value=2**70),
        values,
    )
    good: dict[str, st.SearchStrategy[Any]] = {
        "room_id": st.sampled_from([room_id, room_id, foreign_room, str(uuid.UUID(int=1))]),
        "body": texts,
        "client_msg_id": st.text(min_size=1, max_size=64),
        "seq": st.integers(min_value=0, max_value=60),
        "rooms": st.dictionaries(
            st.sampled_from([room_id, foreign_room, str(uuid.UUID(int=2))]),
            st.integers(min_value=0, max_value=60),
            max_size=3,
        ),
        "token": st.sampled_from([token, token[:-2], token + "x", ""]),
        "ref": st.text(max_size=20),
    }
    good["resume"] = st.fixed_dictionaries({"rooms": good["rooms"]})
    junk: dict[str, st.SearchStrategy[Any]] = {
        "room_id": room_ids,
        "body": values,
        "client_msg_id": st.one_of(st.text(max_size=70), values),
        "seq": seqs,
        "rooms": st.one_of(st.dictionaries(room_ids.filter(_hashable), seqs, max_size=4), values),
        "token": st.one_of(st.text(max_size=50), values),
        "ref": st.one_of(st.text(min_size=199, max_size=210), values),
        "resume": st.one_of(
            st.fixed_dictionaries({"rooms": st.dictionaries(room_ids.filter(_hashable), seqs)}),
            values,
        ),
    }
    # Mostly right, sometimes wrong: a frame must get past the parser to reach the code
    # behind it (sends, reads, resumes), and a wrong field must still be tried in each place.
    fields = {name: st.one_of(good[name], good[name], good[name], junk[name]) for name in good}

    def typed(kind: str) -> st.SearchStrategy[dict[str, Any]]:
        required = {name: fields[name] for name in NEEDS[kind]}
        optional = {name: fields[name] for name in good if name not in NEEDS[kind]}
        return st.fixed_dictionaries(
            {"type": st.just(kind), **required},
            optional={**optional, "unknown": values, "TYPE": values},
        )

    frames = st.one_of(
        st.sampled_from(TYPES).flatmap(typed),
        st.sampled_from(TYPES).flatmap(typed),
        st.sampled_from(TYPES).flatmap(typed),
        st.fixed_dictionaries(
            {"type": st.one_of(st.text(max_size=12), values)},
            optional={**fields, "unknown": values},
        ),
    )
    structured = frames.map(lambda f: Input(_dumps(f), allowed_close=_close_for(f, token)))
    nested = st.integers(min_value=1, max_value=5000).flatmap(
        lambda n: st.sampled_from(
            [
                "[" * n + "]" * n,
                '{"a":' * n + "1" + "}" * n,
                '{"type":"ping","ref":' + "[" * n + "]" * n + "}",
                "[" * n,
            ]
        )
    )
    oversized = st.integers(min_value=MAX_FRAME + 1, max_value=MAX_FRAME + 5000).map(
        lambda n: Input('{"type":"ping","ref":"' + "x" * n + '"}', allowed_close=1009)
    )
    invalid_utf8 = st.binary(min_size=1, max_size=64).filter(_not_utf8)
    return st.one_of(
        structured,
        structured,
        structured,
        structured,
        values.map(lambda v: Input(_dumps(v))),
        st.text(max_size=200).map(Input),
        nested.map(Input),
        st.binary(max_size=300).map(lambda b: Input(b, text=False)),
        invalid_utf8.map(lambda b: Input(b, text=True, allowed_close=1007)),
        oversized,
    )


def _hashable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _dumps(value: Any) -> str:
    # The standard library writes NaN and Infinity (invalid JSON) and escapes lone surrogates:
    # both are inputs worth sending.
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _close_for(frame: dict[str, Any], token: str) -> int | None:
    """An ``auth`` frame on an open connection renews the token: any but the user's own token
    closes the connection with 4001 (docs/protocol.md)."""
    if frame.get("type") == "auth" and frame.get("token") != token:
        return 4001
    return None
