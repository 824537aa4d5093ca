"""What counts as one emoji in a reaction: one emoji as a keyboard's picker inserts it.

Accepted: a pictographic character with an optional presentation selector and skin tone,
several of those joined by ZERO WIDTH JOINER (a family, a profession), a flag (two regional
indicators, or a black flag with tag characters), or a keycap (0-9, # or * with U+20E3).
Not a full Unicode emoji table: enough to refuse text, several emoji, and markup.
"""

from __future__ import annotations

import re

EMOJI_MAX_CHARS = 32

# Pictographic ranges (Unicode 15 emoji sit in these blocks) and the loose BMP symbols that
# have emoji presentations.
_PICTO = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9\u21aa\u231a\u231b\u2328\u23cf"
    "\u23e9-\u23f3\u23f8-\u23fa\u24c2\u25aa\u25ab\u25b6\u25c0\u25fb-\u25fe\u2600-\u27bf"
    "\u2934\u2935\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55\u3030\u303d\u3297\u3299"
    "\U0001f000-\U0001faff"
)
_ONE = f"[{_PICTO}]\ufe0f?[\U0001f3fb-\U0001f3ff]?"
_PATTERN = re.compile(
    rf"""(?:
        {_ONE}(?:\u200d{_ONE})*                      # one pictograph, or a ZWJ sequence
      | [\U0001f1e6-\U0001f1ff]{{2}}                  # a flag of two regional indicators
      | \U0001f3f4[\U000e0020-\U000e007e]+\U000e007f  # a tag flag (England, Scotland, ...)
      | [0-9#*]\ufe0f?\u20e3                          # a keycap
    )""",
    re.VERBOSE,
)


def is_emoji(text: str) -> bool:
    """True if ``text`` is exactly one emoji."""
    return 0 < len(text) <= EMOJI_MAX_CHARS and _PATTERN.fullmatch(text) is not None
