"""The terminal client's languages: message catalogues (chat_cli/locales/<code>.json), plurals
and dates with Babel, in the local time zone.

The language is ``--lang``, else the first of ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that
names a language there is a catalogue for, else English. Adding a language is adding one file.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time
from babel.lists import format_list
from babel.numbers import format_decimal

LOCALES = Path(__file__).parent / "locales"
FALLBACK = "en"

_current = FALLBACK


def available() -> list[str]:
    """The language codes there is a catalogue for."""
    return sorted(p.stem for p in LOCALES.glob("*.json"))


@cache
def _catalogue(code: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((LOCALES / f"{code}.json").read_text(encoding="utf-8"))
    return loaded


def _code_of(value: str) -> str | None:
    """``ko_KR.UTF-8`` → ``ko`` if there is a Korean catalogue; None for C/POSIX or unknown."""
    base = value.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return base if base in available() else None


def from_environment(env: Mapping[str, str]) -> str:
    """The language the environment asks for (POSIX order: LC_ALL, LC_MESSAGES, LANG)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            # The first variable set decides, as for every POSIX program.
            return _code_of(value) or FALLBACK
    return FALLBACK


def set_language(code: str | None) -> str:
    """Use a language from now on (an unknown one falls back to English); returns it."""
    global _current
    _current = (_code_of(code) if code else None) or FALLBACK
    return _current


def language() -> str:
    return _current


def from_arguments(argv: Sequence[str], env: Mapping[str, str]) -> str:
    """The language of a command line, known before it is parsed (its help is in it):
    ``--lang CODE`` or ``--lang=CODE`` anywhere, else the environment's."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return _code_of(argv[i + 1]) or FALLBACK
        if arg.startswith("--lang="):
            return _code_of(arg.split("=", 1)[1]) or FALLBACK
    return from_environment(env)


# argparse's own words ("usage: ", "options", its errors), by their English text.
ARGPARSE_WORDS = {
    "usage: ": "argparse.usage",
    "positional arguments": "argparse.positional",
    "options": "argparse.options",
    "show this help message and exit": "argparse.help",
    "%(prog)s: error: %(message)s\n": "argparse.error",
    "the following arguments are required: %s": "argparse.required",
    "invalid choice: %(value)r (choose from %(choices)s)": "argparse.invalid_choice",
    "invalid %(type)s value: %(value)r": "argparse.invalid_value",
    "unrecognized arguments: %s": "argparse.unrecognized",
    "expected one argument": "argparse.expected_one",
    "expected at least one argument": "argparse.expected_some",
    "argument %(argument_name)s: %(message)s": "argparse.argument",
    "ambiguous option: %(option)s could match %(matches)s": "argparse.ambiguous",
}


@contextmanager
def argparse_words() -> Iterator[None]:
    """While parsing, argparse says its own words (headings, errors) in the language.

    argparse looks its words up through gettext at the moment it prints them; the catalogue
    answers instead, keeping argparse's %-placeholders. Anything not listed stays English.
    """

    def translated(text: str) -> str:
        key = ARGPARSE_WORDS.get(text)
        value = _catalogue(_current).get(key) if key else None
        return value if isinstance(value, str) else text

    saved = argparse._  # type: ignore[attr-defined]
    argparse._ = translated  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._ = saved  # type: ignore[attr-defined]


def t(key: str, **values: Any) -> str:
    """The text for `key` with {name} placeholders filled; a dict of plural forms is chosen by
    the language's plural rule for ``count``. Missing in the language: English, then the key."""
    value = _catalogue(_current).get(key)
    if value is None:
        value = _catalogue(FALLBACK).get(key, key)
    if isinstance(value, dict):
        form = Locale.parse(_current).plural_form(values.get("count", 0))
        value = value.get(form) or value.get("other") or key
    shown = {
        k: format_decimal(v, locale=_current)
        if isinstance(v, int) and not isinstance(v, bool)
        else v
        for k, v in values.items()
    }
    return str(value).format(**shown)


def error_text(code: str, server_message: str) -> str:
    """A service error in words: the catalogue's sentence for its code. In English the
    service's own sentence stands; other languages never show it (English catalogue instead)."""
    key = f"error.{code}"
    if _current == FALLBACK:
        return server_message
    if key in _catalogue(_current) or key in _catalogue(FALLBACK):
        return t(key)
    return t("error.unknown")


def names(items: list[str]) -> str:
    """A list in words: ``A, B and C``, ``A, B 및 C``."""
    return format_list(items, locale=_current) if items else ""


def _local(when: datetime | str) -> datetime:
    if isinstance(when, str):
        when = datetime.fromisoformat(when.replace("Z", "+00:00"))
    return when.astimezone()


def clock(when: datetime | str) -> str:
    """A local clock time: ``3:05 PM``, ``오후 3:05``."""
    # The short pattern with the day period spelled out: Korean's abbreviated one is "PM".
    pattern = Locale.parse(_current).time_formats["short"].pattern
    if "a" in pattern and "aaaa" not in pattern:
        pattern = pattern.replace("a", "aaaa")
    try:
        return format_time(_local(when), pattern, locale=_current)
    except (ValueError, TypeError):
        return str(when)


def day_label(when: datetime | str, today: date | None = None) -> str:
    """``Today``/``오늘``, ``Yesterday``/``어제`` or a local date (``2026. 12. 3.``)."""
    day = _local(when).date()
    today = today or datetime.now().astimezone().date()
    if day == today:
        return t("time.today")
    if day == today - timedelta(days=1):
        return t("time.yesterday")
    return format_date(day, format="medium", locale=_current)


def stamp(when: datetime | str, today: date | None = None) -> str:
    """The clock time today, else the day and the time: what a message line starts with."""
    try:
        day = _local(when).date()
    except (ValueError, TypeError, AttributeError):
        return str(when)
    today = today or datetime.now().astimezone().date()
    if day == today:
        return clock(when)
    return f"{day_label(when, today)} {clock(when)}"
