"""Attachment files in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2) through aiobotocore.

An object up to one part (8 MiB, S3's comfortable minimum) goes up with one PutObject; a
larger one as a multipart upload, one part in memory at a time, aborted if the stream fails
so no orphaned parts are billed. Reads stream the body, with a ``Range`` header for a byte
range.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from chatcore.logs import get_logger
from message_service.storage import CHUNK, Missing, StorageError

log = get_logger(__name__)

PART = 8 * 1024 * 1024
_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Storage:
    """The :class:`~message_service.storage.Storage` of one bucket; :meth:`open` first."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None,
        region: str,
        access_key: str | None,
        secret_key: str | None,
        prefix: str = "",
        path_style: bool = True,
        part_size: int = PART,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self._options: dict[str, Any] = {
            "endpoint_url": endpoint_url or None,
            "region_name": region,
            "aws_access_key_id": access_key or None,
            "aws_secret_access_key": secret_key or None,
            "config": AioConfig(
                s3={"addressing_style": "path" if path_style else "auto"},
                retries={"max_attempts": 3, "mode": "standard"},
                # No whole-body checksum pass of botocore's own: S3 checks each part's MD5/ETag.
                request_checksum_calculation="when_required",
                connect_timeout=5,
                read_timeout=30,
                max_pool_connections=50,
            ),
        }
        self._exit = contextlib.AsyncExitStack()
        self._client: Any = None

    async def open(self, *, create_bucket: bool = False) -> S3Storage:
        """Connect (and create the bucket when asked and it is missing)."""
        session = get_session()
        self._client = await self._exit.enter_async_context(
            session.create_client("s3", **self._options)
        )
        if create_bucket:
            try:
                await self._client.head_bucket(Bucket=self.bucket)
            except ClientError:
                await self._client.create_bucket(Bucket=self.bucket)
        return self

    async def close(self) -> None:
        await self._exit.aclose()

    async def put(self, key: str, chunks: AsyncIterator[bytes], content_type: str) -> int:
        name = self.prefix + key
        # Chunks are kept as they came and joined once per part: one copy of a part at a time.
        held: list[bytes] = []
        held_size = 0
        size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                held.append(chunk)
                held_size += len(chunk)
                size += len(chunk)
                if held_size >= self.part_size:
                    if upload_id is None:
                        started = await self._client.create_multipart_upload(
                            Bucket=self.bucket, Key=name, ContentType=content_type
                        )
                        upload_id = started["UploadId"]
                    part = b"".join(held)
                    held, held_size = [], 0
                    parts.append(await self._part(name, upload_id, len(parts) + 1, part))
                    del part
            rest = b"".join(held)
            held = []
            if upload_id is None:
                await self._client.put_object(
                    Bucket=self.bucket, Key=name, Body=rest, ContentType=content_type
                )
                return size
            if rest:
                parts.append(await self._part(name, upload_id, len(parts) + 1, rest))
            await self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=name,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            if upload_id is not None:
                with contextlib.suppress(ClientError, BotoCoreError, OSError):
                    await self._client.abort_multipart_upload(
                        Bucket=self.bucket, Key=name, UploadId=upload_id
                    )
            raise
        return size

    async def _part(self, name: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        answer = await self._client.upload_part(
            Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=data
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    async def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        options: dict[str, Any] = {"Bucket": self.bucket, "Key": self.prefix + key}
        if start or end is not None:
            options["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            answer = await self._client.get_object(**options)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise Missing(key) from None
            raise StorageError(str(exc)) from exc
        body = answer["Body"]
        try:
            while True:
                data = await body.read(CHUNK)
                if not data:
                    return
                yield data
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        try:
            await self._client.delete_object(Bucket=self.bucket, Key=self.prefix + key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in _MISSING:
                raise StorageError(str(exc)) from exc
