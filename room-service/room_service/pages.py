"""Opaque cursors: the (joined_at, id) sort key of the last item a page gave out."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from chatcore.errors import InvalidInput

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


# The cursor's whole syntax, published in the OpenAPI document: microseconds since the epoch
# (at most 16 digits: years 1653 to 2286) and the item's id, so every cursor the document
# allows names a position this service can page from.
CURSOR_PATTERN = r"^(0|-?[1-9][0-9]{0,15})_[0-9a-f]{32}$"
_CURSOR = re.compile(CURSOR_PATTERN)


def encode_cursor(at: datetime, item_id: uuid.UUID) -> str:
    return f"{(at - _EPOCH) // _MICRO}_{item_id.hex}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The sort key a cursor holds; 422 ``cursor`` for anything not in its syntax."""
    if not _CURSOR.fullmatch(cursor):
        raise InvalidInput("cursor", "cursor: not a cursor this service gave out.")
    micros, item_id = cursor.split("_")
    return _EPOCH + int(micros) * _MICRO, uuid.UUID(hex=item_id)
