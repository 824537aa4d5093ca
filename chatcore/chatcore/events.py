"""The payloads that cross Redis between services (docs/events.md).

Room-channel payloads are a one-line ASCII header and the frame bytes the client gets, so the
gateway routes and orders by the header and writes the frame without decoding it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chatcore import jsonutil


class Kind(StrEnum):
    MESSAGE = "M"  # a new message; the number is its seq
    CHANGE = "E"  # an edit or delete of the message with that seq
    TYPING = "T"
    PRESENCE = "P"


@dataclass(frozen=True, slots=True)
class RoomEvent:
    kind: Kind
    seq: int
    frame: bytes

    def encode(self) -> bytes:
        return b"%s %d\n%s" % (self.kind.value.encode(), self.seq, self.frame)


class BadPayload(ValueError):
    """A room-channel payload that is not ``<kind> <int>\\n<frame>``."""


_KINDS = {k.value.encode(): k for k in Kind}


def room_event(kind: Kind, seq: int, frame: dict[str, Any]) -> bytes:
    """Encode a frame for the room channel."""
    return RoomEvent(kind, seq, jsonutil.dumps(frame)).encode()


def parse_room_event(payload: bytes) -> RoomEvent:
    """Split a room-channel payload into its header and frame without decoding the frame."""
    header, newline, frame = payload.partition(b"\n")
    kind_byte, space, number = header.partition(b" ")
    kind = _KINDS.get(kind_byte)
    if not newline or not space or kind is None or not number.isdigit() or len(number) > 19:
        raise BadPayload(payload[:40])
    return RoomEvent(kind, int(number), frame)


class MembershipEventType(StrEnum):
    ROOM_CREATED = "room_created"
    MEMBER_ADDED = "member_added"
    MEMBER_REMOVED = "member_removed"
    ROLE_CHANGED = "role_changed"
    ROOM_UPDATED = "room_updated"
    # A member muted until a time, or unmuted (``muted_until`` null); no frame for clients.
    MEMBER_MUTED = "member_muted"
