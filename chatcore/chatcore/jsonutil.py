"""JSON encoding in one place: orjson, UTC datetimes as RFC 3339, UUIDs as strings."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def dumps(value: Any) -> bytes:
    """Encode ``value`` (dicts, lists, datetimes, UUIDs, pydantic-dumped data) to JSON bytes."""
    return orjson.dumps(value, option=_OPTIONS, default=_default)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def _default(value: Any) -> Any:
    # asyncpg returns its own UUID subclass, which orjson does not take as a UUID.
    if isinstance(value, uuid.UUID):
        return str(value)
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
