"""Attachment files in a directory of the local filesystem (``MESSAGES_ATTACHMENT_DIR``).

Each object is written to a temporary name beside its place and renamed when complete, so a
reader never sees half a file and a failed upload leaves nothing behind. File I/O runs in
threads: the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

from message_service.storage import CHUNK, Missing, StorageError

_KEY = re.compile(r"^[0-9a-f-]{36}/[0-9a-f-]{36}(\.thumb)?$")


class LocalStorage:
    """The :class:`~message_service.storage.Storage` of a directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        # Keys are made by this service; the check keeps any other string off the filesystem.
        if not _KEY.match(key):
            raise StorageError(f"not an attachment key: {key!r}")
        return self.root / key

    async def put(self, key: str, chunks: AsyncIterator[bytes], content_type: str) -> int:
        path = self._path(key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        size = 0
        f: IO[bytes] = await asyncio.to_thread(open, partial, "wb")
        try:
            async for chunk in chunks:
                await asyncio.to_thread(f.write, chunk)
                size += len(chunk)
            await asyncio.to_thread(f.close)
            await asyncio.to_thread(os.replace, partial, path)
        except BaseException:
            f.close()
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
        return size

    async def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            f: IO[bytes] = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            raise Missing(key) from None
        try:
            await asyncio.to_thread(f.seek, start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                data = await asyncio.to_thread(f.read, CHUNK if left is None else min(CHUNK, left))
                if not data:
                    return
                if left is not None:
                    left -= len(data)
                yield data
        finally:
            f.close()

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._path(key).unlink)

    async def close(self) -> None:
        return None
