"""The one rule for user-visible text (titles, names, message bodies), as a regular expression
that the services check and their OpenAPI documents publish, so both say the same thing.

A text is refused if it holds a control character (C0, C1, DEL), a private-use
character of the Basic Multilingual Plane, or a bidirectional override or isolate (they let
text display as something it is not); it must hold at least one character that is neither
whitespace nor an invisible format character (the zero-width joiner and its kin stay allowed
anywhere else: emoji sequences need them). Characters unassigned in the server's Unicode
database are allowed: they are most often emoji newer than it. Lengths count characters as
sent; whitespace at either end is then trimmed and the text NFC-normalised.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# Written as JSON Schema (ECMA-262) and Python both read them: \\x and \\u escapes only.
REFUSED = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ue000-\uf8ff"
# The format characters (category Cf) of the Basic Multilingual Plane: invisible on their own.
INVISIBLE = (
    r"\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    r"\u2060-\u2064\u206a-\u206f\ufeff\ufff9-\ufffb"
)
# Whitespace at either end is trimmed, so any is allowed there (a newline included).
VISIBLE_TEXT = rf"^\s*[^{REFUSED}]*[^{REFUSED}\s{INVISIBLE}][^{REFUSED}]*\s*$"
ANY_TEXT = rf"^\s*[^{REFUSED}]*\s*$"

_VISIBLE = re.compile(VISIBLE_TEXT)
_ANY = re.compile(ANY_TEXT)


def visible_text(value: str, *, max_length: int) -> str:
    """``value`` (at most ``max_length`` characters as sent, visible text) NFC-normalised
    and trimmed; :class:`ValueError` saying what is wrong otherwise."""
    return _checked(value, max_length, _VISIBLE, "must hold visible text")


def any_text(value: str, *, max_length: int) -> str:
    """As :func:`visible_text`, but empty or blank text is allowed (it becomes "")."""
    return _checked(value, max_length, _ANY, "must not contain control characters")


def _checked(value: str, max_length: int, rule: re.Pattern[str], problem: str) -> str:
    # The length first: it also bounds the regular expression's work (quadratic at worst).
    if len(value) > max_length:
        raise ValueError(f"must be at most {max_length} characters")
    if not rule.fullmatch(value):
        if not _ANY.fullmatch(value):
            raise ValueError("must not contain control characters")
        raise ValueError(problem)
    return unicodedata.normalize("NFC", value).strip()


def schema(pattern: str, max_length: int, *, min_length: int = 1) -> dict[str, Any]:
    """The JSON Schema keywords of such a text, for ``Field(json_schema_extra=...)``."""
    return {"minLength": min_length, "maxLength": max_length, "pattern": pattern}
