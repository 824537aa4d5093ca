"""Opaque page cursors: where the next page starts, as a short string a client hands back.

Each kind of page declares its cursor once as a :class:`Cursor`: a syntax (a regular
expression, published in the OpenAPI document as the query parameter's ``pattern``, so every
string the document allows names a position the service can page from) whose parts are
joined by a separator. What the parts are (a time, an id, a count, a seq) is the call site's
business; the codec joins, checks and splits them, and answers anything outside the syntax
with the one 422 every service gives for it.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

from chatcore.errors import InvalidInput

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def not_ours() -> InvalidInput:
    """The answer to a cursor this service did not give out."""
    return InvalidInput("cursor", "cursor: not a cursor this service gave out.")


class Cursor:
    """One kind of cursor: parts joined by ``separator``, in the syntax of ``pattern``."""

    __slots__ = ("_syntax", "pattern", "separator")

    def __init__(self, pattern: str, *, separator: str = "_") -> None:
        self.pattern = pattern
        self.separator = separator
        self._syntax = re.compile(pattern)

    def encode(self, *parts: str | int) -> str:
        """The cursor of these parts (each already in its part's syntax)."""
        return self.separator.join(str(part) for part in parts)

    def decode(self, cursor: str) -> list[str]:
        """The parts a cursor holds; 422 ``cursor`` for anything not in the syntax."""
        if not self._syntax.fullmatch(cursor):
            raise not_ours()
        return cursor.split(self.separator)


def micros(at: datetime) -> int:
    """A time as a cursor part: whole microseconds since the epoch."""
    return (at - EPOCH) // _MICRO


def from_micros(value: str | int) -> datetime:
    """The time a :func:`micros` part names."""
    return EPOCH + int(value) * _MICRO


def text_part(text: str) -> str:
    """Any text as a cursor part: its UTF-8, base64url without padding."""
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def from_text_part(part: str) -> str:
    """The text a :func:`text_part` names; bytes that are not UTF-8 become U+FFFD, so any
    part in the syntax decodes to some text."""
    raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    return raw.decode("utf-8", "replace")


# An audit log's cursor: the id of the last entry given (the log's ids are its order).
ENTRY_CURSOR = Cursor(r"^[0-9]{1,19}$")


def entry_id(cursor: str) -> int:
    """The entry id an :data:`ENTRY_CURSOR` holds; 422 ``cursor`` for anything else,
    including an id past Postgres' bigint."""
    (entry,) = ENTRY_CURSOR.decode(cursor)
    if int(entry) >= 2**63:
        raise not_ours()
    return int(entry)
