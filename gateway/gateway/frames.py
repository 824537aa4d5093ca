"""The websocket frames (docs/protocol.md): client frames parsed, server frames built.

Parsing never raises anything but :class:`FrameError`, which carries the ``error`` frame's
code; the connection stays open. Server frames are built once as UTF-8 JSON bytes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from chatcore import jsonutil

MAX_BODY = 4000
MAX_REF = 200
MAX_CLIENT_MSG_ID = 64  # message-service's limit
MAX_RESUME_ROOMS = 10000
MAX_ATTACHMENTS = 10  # message-service's limit
MAX_MENTIONS = 50  # message-service's limit


class FrameError(Exception):
    """A client frame that cannot be executed; answered with an ``error`` frame."""

    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


@dataclass(frozen=True, slots=True)
class Auth:
    token: str
    resume: dict[str, int] | None
    ref: str | None = None
    positions: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Send:
    room_id: str
    body: str
    client_msg_id: str
    ref: str | None = None
    attachment_ids: tuple[str, ...] = ()
    reply_to: str | None = None
    thread_root_id: str | None = None
    mentions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Resume:
    rooms: dict[str, int]
    ref: str | None = None
    # The change position the client holds per room (optional; docs/protocol.md).
    positions: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Typing:
    room_id: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Read:
    room_id: str
    seq: int
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Who:
    room_id: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    ref: str | None = None


ClientFrame = Auth | Send | Resume | Typing | Read | Who | Ping


def parse(data: str | bytes) -> ClientFrame:
    """The client frame in ``data``; :class:`FrameError` if it is not a valid one."""
    if isinstance(data, bytes):
        raise FrameError("bad_frame", "Frames must be JSON text, not binary.")
    try:
        # orjson refuses nesting deeper than 1024 levels, so deep input fails here cheaply.
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise FrameError("bad_frame", "The frame is not valid JSON.") from None
    if not isinstance(obj, dict):
        raise FrameError("bad_frame", "A frame must be a JSON object.")
    ref = obj.get("ref")
    if ref is not None and (not isinstance(ref, str) or len(ref) > MAX_REF):
        raise FrameError("invalid_field", f"ref: a string of at most {MAX_REF} characters.")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise FrameError("bad_frame", "A frame needs a string 'type'.", ref)
    parser = _PARSERS.get(kind)
    if parser is None:
        raise FrameError("unknown_type", "Unknown frame type.", ref)
    return parser(obj, ref)


def peek_ref(data: str | bytes) -> str | None:
    """The ``ref`` of a frame that is refused before it is parsed (None if it has none)."""
    if isinstance(data, bytes):
        return None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    ref = obj.get("ref") if isinstance(obj, dict) else None
    return ref if isinstance(ref, str) and len(ref) <= MAX_REF else None


def _field(obj: dict[str, Any], name: str, kind: type, ref: str | None) -> Any:
    value = obj.get(name)
    if value is None:
        raise FrameError("missing_field", f"{name}: required.", ref)
    # bool is an int subclass; a seq of `true` is a wrong type, not 1.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FrameError("invalid_field", f"{name}: must be a {kind.__name__}.", ref)
    return value


def _room_id(obj: dict[str, Any], ref: str | None, name: str = "room_id") -> str:
    return _uuid(_field(obj, name, str, ref), name, ref)


# A UUID as clients normally send it, already in the form it is passed on in.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid(value: str, name: str, ref: str | None) -> str:
    """``value`` as a canonical UUID (lowercase, hyphenated): any form ``uuid.UUID`` reads."""
    if _CANONICAL_UUID.fullmatch(value):  # a fifth of the cost of parsing and printing it
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise FrameError("invalid_field", f"{name}: must be a UUID.", ref) from None


def _seq(value: Any, name: str, ref: str | None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise FrameError("invalid_field", f"{name}: must be a non-negative integer.", ref)
    return value


def _rooms(value: Any, ref: str | None) -> dict[str, int]:
    if not isinstance(value, dict) or len(value) > MAX_RESUME_ROOMS:
        raise FrameError("invalid_field", "rooms: must be an object of room_id: seq.", ref)
    return {_uuid(k, "rooms", ref): _seq(v, "rooms", ref) for k, v in value.items()}


def _positions(obj: dict[str, Any], ref: str | None) -> dict[str, int] | None:
    value = obj.get("positions")
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_RESUME_ROOMS:
        raise FrameError("invalid_field", "positions: must be an object of room_id: pos.", ref)
    return {_uuid(k, "positions", ref): _seq(v, "positions", ref) for k, v in value.items()}


def _auth(obj: dict[str, Any], ref: str | None) -> Auth:
    token = _field(obj, "token", str, ref)
    resume = obj.get("resume")
    positions = None
    if resume is not None:
        if not isinstance(resume, dict):
            raise FrameError("invalid_field", "resume: must be an object.", ref)
        if "rooms" in resume:
            positions = _positions(resume, ref)
            inner = resume["rooms"]
        else:
            inner = resume
        resume = _rooms(inner, ref)
    return Auth(token, resume, ref, positions)


def _send(obj: dict[str, Any], ref: str | None) -> Send:
    room_id = _room_id(obj, ref)
    body = _field(obj, "body", str, ref)
    client_msg_id = _field(obj, "client_msg_id", str, ref)
    attachment_ids = _attachment_ids(obj.get("attachment_ids"), ref)
    if not body.strip() and not attachment_ids:
        raise FrameError("invalid_input", "body: must not be empty.", ref)
    if len(body) > MAX_BODY:
        raise FrameError("too_large", f"body: at most {MAX_BODY} characters.", ref)
    if not 0 < len(client_msg_id) <= MAX_CLIENT_MSG_ID:
        raise FrameError(
            "invalid_field", f"client_msg_id: 1 to {MAX_CLIENT_MSG_ID} characters.", ref
        )
    reply_to = _optional_uuid(obj, "reply_to", ref)
    thread_root_id = _optional_uuid(obj, "thread_root_id", ref)
    mentions = obj.get("mentions")
    if mentions is None:
        mentions = []
    if not isinstance(mentions, list) or len(mentions) > MAX_MENTIONS:
        raise FrameError(
            "invalid_field", f"mentions: a list of at most {MAX_MENTIONS} user ids.", ref
        )
    users = tuple(_uuid(m if isinstance(m, str) else "", "mentions", ref) for m in mentions)
    return Send(room_id, body, client_msg_id, ref, attachment_ids, reply_to, thread_root_id, users)


def _optional_uuid(obj: dict[str, Any], name: str, ref: str | None) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FrameError("invalid_field", f"{name}: must be a UUID.", ref)
    return _uuid(value, name, ref)


def _attachment_ids(value: Any, ref: str | None) -> tuple[str, ...]:
    """Uploaded files the message carries (POST /messages/attachments); at most 10."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
        raise FrameError(
            "invalid_field", f"attachment_ids: a list of at most {MAX_ATTACHMENTS} ids.", ref
        )
    if not all(isinstance(v, str) for v in value):
        raise FrameError("invalid_field", "attachment_ids: must be UUIDs.", ref)
    return tuple(_uuid(v, "attachment_ids", ref) for v in value)


def _resume(obj: dict[str, Any], ref: str | None) -> Resume:
    if "rooms" not in obj:
        raise FrameError("missing_field", "rooms: required.", ref)
    return Resume(_rooms(obj["rooms"], ref), ref, _positions(obj, ref))


def _read(obj: dict[str, Any], ref: str | None) -> Read:
    room_id = _room_id(obj, ref)
    if obj.get("seq") is None:
        raise FrameError("missing_field", "seq: required.", ref)
    return Read(room_id, _seq(obj["seq"], "seq", ref), ref)


_PARSERS: dict[str, Callable[[dict[str, Any], str | None], ClientFrame]] = {
    "auth": _auth,
    "send": _send,
    "resume": _resume,
    "typing": lambda obj, ref: Typing(_room_id(obj, ref), ref),
    "read": _read,
    "who": lambda obj, ref: Who(_room_id(obj, ref), ref),
    "ping": lambda obj, ref: Ping(ref),
}


def build(kind: str, ref: str | None = None, **fields: Any) -> bytes:
    """A server frame ``{"type": kind, ...fields}`` (with ``ref`` when the request had one)."""
    frame: dict[str, Any] = {"type": kind}
    if ref is not None:
        frame["ref"] = ref
    frame.update(fields)
    return jsonutil.dumps(frame)


def error(code: str, message: str, ref: str | None = None, **extra: Any) -> bytes:
    return build("error", ref, code=code, message=message, **extra)


def rate_limited(ref: str | None, retry_after: float, message: str) -> bytes:
    """The ``rate_limited`` error, with the seconds to wait before retrying (at least 1 ms)."""
    wait = max(0.001, round(retry_after + 0.0005, 3))
    return error("rate_limited", message, ref, retry_after=wait)


def message(item: dict[str, Any]) -> bytes:
    """The ``message`` frame of a message read from history (same shape as the live one)."""
    return build("message", message=item)


def change(item: dict[str, Any]) -> bytes:
    """A change frame read from ``GET /messages/changes`` (it is the frame published live,
    ``type`` and ``pos`` included)."""
    return jsonutil.dumps(item)


def history_expired(room_id: Any, oldest_seq: int) -> bytes:
    """A resume asked for messages older than the room keeps: its history now begins at
    ``oldest_seq``; the catch-up that follows starts there."""
    return jsonutil.dumps(
        {"type": "history_expired", "room_id": str(room_id), "oldest_seq": oldest_seq}
    )
