"""Opaque cursors: the (joined_at, id) sort key of the last item a page gave out."""

from __future__ import annotations

import uuid
from datetime import datetime

from chatcore.cursors import Cursor, from_micros, micros

# The cursor's whole syntax, published in the OpenAPI document: microseconds since the epoch
# (at most 16 digits: years 1653 to 2286) and the item's id, so every cursor the document
# allows names a position this service can page from.
CURSOR_PATTERN = r"^(0|-?[1-9][0-9]{0,15})_[0-9a-f]{32}$"
_CURSOR = Cursor(CURSOR_PATTERN)


def encode_cursor(at: datetime, item_id: uuid.UUID) -> str:
    return _CURSOR.encode(micros(at), item_id.hex)


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The sort key a cursor holds; 422 ``cursor`` for anything not in its syntax."""
    at, item_id = _CURSOR.decode(cursor)
    return from_micros(at), uuid.UUID(hex=item_id)
