"""Opaque cursors: the (joined_at, id) sort key of the last item a page gave out."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime, timedelta

import orjson

from chatcore.errors import InvalidInput

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
# Postgres keeps microseconds; these bounds keep a forged cursor inside what datetime holds.
_MIN_MICROS = (datetime(1, 1, 2, tzinfo=UTC) - _EPOCH) // _MICRO
_MAX_MICROS = (datetime(9999, 12, 30, tzinfo=UTC) - _EPOCH) // _MICRO


def encode_cursor(at: datetime, item_id: uuid.UUID) -> str:
    raw = orjson.dumps([(at - _EPOCH) // _MICRO, str(item_id)])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The sort key a cursor holds; 422 ``cursor`` for anything this service did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        micros, item_id = orjson.loads(raw)
        if type(micros) is not int or not isinstance(item_id, str):
            raise ValueError(cursor)
        if not _MIN_MICROS <= micros <= _MAX_MICROS:
            raise ValueError(cursor)
        return _EPOCH + micros * _MICRO, uuid.UUID(item_id)
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidInput("cursor", "cursor: not a cursor this service gave out.") from None
