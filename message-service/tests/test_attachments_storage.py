"""The storage interface, the same tests for the local directory and for S3 (moto's server)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from message_service.storage import Missing, Storage
from message_service.storage_local import LocalStorage
from message_service.storage_s3 import PART, S3Storage


@pytest.fixture
async def storage(
    files_backend: str, moto_s3: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Storage]:
    if files_backend == "local":
        yield LocalStorage(tmp_path_factory.mktemp("storage"))
        return
    s3 = S3Storage(
        f"storage-{uuid.uuid4().hex}",
        endpoint_url=moto_s3,
        region="us-east-1",
        access_key="test",
        secret_key="test",
    )
    await s3.open(create_bucket=True)
    yield s3
    await s3.close()


def key() -> str:
    return f"{uuid.uuid4()}/{uuid.uuid4()}"


async def pieces(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read(storage: Storage, name: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in storage.get(name, start, end)])


async def test_put_then_get_returns_the_bytes(storage: Storage) -> None:
    """What is put under a key comes back whole, and put returns its size."""
    data = os.urandom(300_000)
    name = key()
    assert await storage.put(name, pieces(data), "application/octet-stream") == len(data)
    assert await read(storage, name) == data


async def test_get_a_byte_range(storage: Storage) -> None:
    """A range read returns exactly bytes start..end (inclusive), or start..the end."""
    data = os.urandom(50_000)
    name = key()
    await storage.put(name, pieces(data), "application/octet-stream")
    assert await read(storage, name, 10, 19) == data[10:20]
    assert await read(storage, name, 49_990) == data[49_990:]
    assert await read(storage, name, 0, 0) == data[:1]


async def test_empty_object(storage: Storage) -> None:
    """An empty stream stores an empty object."""
    name = key()
    assert await storage.put(name, pieces(b""), "text/plain") == 0
    assert await read(storage, name) == b""


async def test_delete_removes_and_is_idempotent(storage: Storage) -> None:
    """After delete a get raises Missing; deleting again (or a key never stored) is fine."""
    name = key()
    await storage.put(name, pieces(b"x" * 10), "text/plain")
    await storage.delete(name)
    with pytest.raises(Missing):
        await read(storage, name)
    await storage.delete(name)
    await storage.delete(key())


async def test_missing_key_raises_missing(storage: Storage) -> None:
    """Reading a key never stored raises Missing, not a backend error."""
    with pytest.raises(Missing):
        await read(storage, key())


async def test_multipart_upload_over_8_mib(storage: Storage) -> None:
    """A 20 MiB object (three parts on S3) arrives intact, ranges across a part boundary too."""
    data = os.urandom(20 * 1024 * 1024 + 123)
    name = key()
    assert await storage.put(name, pieces(data, 1024 * 1024), "application/zip") == len(data)
    assert await read(storage, name) == data
    assert await read(storage, name, PART - 5, PART + 5) == data[PART - 5 : PART + 6]


async def test_failed_stream_leaves_nothing(storage: Storage) -> None:
    """A stream that fails midway (after more than a part) stores nothing under the key."""

    async def broken() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"\0" * (1024 * 1024)
        raise RuntimeError("client went away")

    name = key()
    with pytest.raises(RuntimeError):
        await storage.put(name, broken(), "application/octet-stream")
    with pytest.raises(Missing):
        await read(storage, name)
