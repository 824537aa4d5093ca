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
    MESSAGE = "M"  # a new message; the numbers are its seq and its change position
    # Any other change in the room's change stream (edit, delete, reaction, thread summary);
    # the numbers are the seq of the message it is about and the change's position.
    CHANGE = "E"
    TYPING = "T"
    PRESENCE = "P"
    RECEIPT = "R"  # a read marker moved; the number is the seq read


@dataclass(frozen=True, slots=True)
class RoomEvent:
    kind: Kind
    seq: int
    frame: bytes
    # The change position (docs/events.md); 0 for payloads outside the change stream.
    pos: int = 0

    def encode(self) -> bytes:
        if self.pos:
            return b"%s %d %d\n%s" % (self.kind.value.encode(), self.seq, self.pos, self.frame)
        return b"%s %d\n%s" % (self.kind.value.encode(), self.seq, self.frame)


class BadPayload(ValueError):
    """A room-channel payload that is not ``<kind> <int>[ <int>]\\n<frame>``."""


_KINDS = {k.value.encode(): k for k in Kind}


def room_event(kind: Kind, seq: int, frame: dict[str, Any], pos: int = 0) -> bytes:
    """Encode a frame for the room channel."""
    return RoomEvent(kind, seq, jsonutil.dumps(frame), pos).encode()


def _number(value: bytes) -> bool:
    return value.isdigit() and len(value) <= 19


def parse_room_event(payload: bytes) -> RoomEvent:
    """Split a room-channel payload into its header and frame without decoding the frame."""
    header, newline, frame = payload.partition(b"\n")
    kind_byte, space, numbers = header.partition(b" ")
    kind = _KINDS.get(kind_byte)
    number, second, pos = numbers.partition(b" ")
    if not newline or not space or kind is None or not _number(number):
        raise BadPayload(payload[:40])
    if second and not _number(pos):
        raise BadPayload(payload[:40])
    return RoomEvent(kind, int(number), frame, int(pos) if pos else 0)


class MembershipEventType(StrEnum):
    ROOM_CREATED = "room_created"
    MEMBER_ADDED = "member_added"
    MEMBER_REMOVED = "member_removed"
    ROLE_CHANGED = "role_changed"
    ROOM_UPDATED = "room_updated"
    # A member muted until a time, or unmuted (``muted_until`` null); no frame for clients.
    MEMBER_MUTED = "member_muted"
