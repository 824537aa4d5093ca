"""Where attachment files live: one small interface, two backends chosen in one place.

    put(key, chunks, content_type) -> size   stream in; a large object goes up in parts
    get(key, start, end)           -> chunks  stream out, optionally one byte range
    delete(key)                               gone (deleting a missing key is no error)

Keys are ``<room_id>/<attachment_id>`` (and ``.thumb`` for a thumbnail): the backend never
sees a name a client chose. :mod:`message_service.storage_local` keeps files under a
directory, :mod:`message_service.storage_s3` in any S3-compatible bucket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

# Read and write in pieces this size: large enough for few system calls, small enough that a
# 25 MiB upload never sits in memory.
CHUNK = 256 * 1024


class StorageError(Exception):
    """The store refused or failed an operation (a missing object is :class:`Missing`)."""


class Missing(StorageError):
    """No object under that key."""


class Storage(Protocol):
    async def put(self, key: str, chunks: AsyncIterator[bytes], content_type: str) -> int:
        """Store everything ``chunks`` yields under ``key``; its size. If ``chunks`` raises,
        nothing is left behind and the exception propagates."""
        ...

    def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``start..end`` (inclusive; ``None``: to the end) of the object.
        Raises :class:`Missing` on the first iteration when there is no such object."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; a key already gone is fine."""
        ...

    async def close(self) -> None: ...


async def file_chunks(path: str, chunk: int = CHUNK) -> AsyncIterator[bytes]:
    """A local file's bytes, read in a thread a chunk at a time."""
    with open(path, "rb") as f:  # noqa: ASYNC230 - each read below runs in a thread
        while True:
            data = await asyncio.to_thread(f.read, chunk)
            if not data:
                return
            yield data
