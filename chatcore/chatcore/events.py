"""The payloads that cross Redis between services (docs/events.md).

Room-channel payloads are a one-line ASCII header and the frame bytes the client gets, so the
gateway routes and orders by the header and writes the frame without decoding it. The header
may end with ``key=value`` fields: ``t=`` the publisher's clock in microseconds when the
payload was made (the gateway's delivery lag) and ``tp=`` a W3C ``traceparent`` (the delivery
joins the sender's trace). Both are optional, so payloads without them parse as before.
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
    # Unix time in microseconds when the payload was made; 0 when the publisher did not say.
    at_us: int = 0
    # The W3C traceparent of the span that made it (ASCII bytes), when that span is traced.
    traceparent: bytes | None = None

    def encode(self) -> bytes:
        head = b"%s %d" % (self.kind.value.encode(), self.seq)
        if self.pos:
            head += b" %d" % self.pos
        if self.at_us:
            head += b" t=%d" % self.at_us
        if self.traceparent:
            head += b" tp=" + self.traceparent
        return head + b"\n" + self.frame


class BadPayload(ValueError):
    """A room-channel payload that is not ``<kind> <int>[ <int>]\\n<frame>``."""


_KINDS = {k.value.encode(): k for k in Kind}


def room_event(
    kind: Kind,
    seq: int,
    frame: dict[str, Any],
    pos: int = 0,
    *,
    at_us: int = 0,
    traceparent: bytes | None = None,
) -> bytes:
    """Encode a frame for the room channel."""
    return RoomEvent(kind, seq, jsonutil.dumps(frame), pos, at_us, traceparent).encode()


def _number(value: bytes) -> bool:
    return value.isdigit() and len(value) <= 19


# A traceparent is 55 ASCII characters (version-trace_id-span_id-flags); anything much longer
# is not one, and the header is read on every delivery.
_TRACEPARENT_MAX = 64


def parse_room_event(payload: bytes) -> RoomEvent:
    """Split a room-channel payload into its header and frame without decoding the frame."""
    header, newline, frame = payload.partition(b"\n")
    fields = header.split(b" ")
    kind = _KINDS.get(fields[0])
    if not newline or len(fields) < 2 or kind is None or not _number(fields[1]):
        raise BadPayload(payload[:40])
    if len(fields) == 2:
        return RoomEvent(kind, int(fields[1]), frame)
    pos = at_us = 0
    traceparent = None
    rest = fields[2:]
    if b"=" not in rest[0]:
        if not _number(rest[0]):
            raise BadPayload(payload[:40])
        pos = int(rest[0])
        rest = rest[1:]
    for field in rest:
        key, _, value = field.partition(b"=")
        if key == b"t" and _number(value):
            at_us = int(value)
        elif key == b"tp" and 0 < len(value) <= _TRACEPARENT_MAX:
            traceparent = value
        else:
            raise BadPayload(payload[:40])
    return RoomEvent(kind, int(fields[1]), frame, pos, at_us, traceparent)


class MembershipEventType(StrEnum):
    ROOM_CREATED = "room_created"
    MEMBER_ADDED = "member_added"
    MEMBER_REMOVED = "member_removed"
    ROLE_CHANGED = "role_changed"
    ROOM_UPDATED = "room_updated"
    # A member muted until a time, or unmuted (``muted_until`` null); no frame for clients.
    MEMBER_MUTED = "member_muted"
