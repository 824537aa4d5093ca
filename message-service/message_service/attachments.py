"""Uploading attachments: ``POST /messages/attachments?room_id=`` and reading one back.

The body streams straight to storage, counted as it goes (413 past
``MESSAGES_MAX_ATTACHMENT``, refused from ``Content-Length`` before a byte is read when it
says so); only its first 4 KB are held, to sniff the type. Images are the exception: they
are spooled to a temporary file, because the served copy is re-encoded (metadata stripped,
orientation applied) and a thumbnail made, in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import unicodedata
import uuid
from collections.abc import AsyncIterator
from typing import IO, Any
from urllib.parse import unquote

from pydantic import BaseModel, Field
from redis.exceptions import RedisError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from chatcore.errors import BadRequest, NotFound, RateLimited, TooLarge, UnsupportedMediaType
from chatcore.logs import get_logger
from chatcore.ratelimit import RedisRateLimiter
from chatcore.web import authenticate, json_response, path_uuid, read_query
from message_service import store_attachments
from message_service.access import require_member, require_writer
from message_service.api import api
from message_service.files import Files
from message_service.images import THUMBNAIL_TYPE
from message_service.models import Attachment
from message_service.sniff import HEAD, sniff
from message_service.storage import file_chunks

log = get_logger(__name__)

FILENAME_MAX = 255
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f/\\"]')


class UploadQuery(BaseModel):
    room_id: uuid.UUID
    filename: str | None = Field(default=None, max_length=1024)


def no_attachment() -> NotFound:
    """The one answer for a missing attachment and one the caller may not see."""
    return NotFound("No such attachment.", code="attachment_not_found")


def clean_filename(raw: str | None) -> str:
    """A name safe to show and to put in a header: NFC, no path, no control characters."""
    name = unicodedata.normalize("NFC", unquote(raw or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".")
    return name[:FILENAME_MAX] or "file"


class Body:
    """The request body as chunks, counted: :class:`TooLarge` once past ``limit``."""

    def __init__(self, request: Request, limit: int) -> None:
        self._stream = request.stream()
        self.limit = limit
        self.size = 0
        self._held: list[bytes] = []

    async def _next(self) -> bytes | None:
        try:
            chunk = await anext(self._stream)
        except StopAsyncIteration:
            return None
        except ClientDisconnect:
            raise BadRequest("The upload was cut off.", code="upload_incomplete") from None
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLarge(f"An attachment is at most {self.limit} bytes.", code="too_large")
        return chunk

    async def head(self) -> bytes:
        """The first :data:`HEAD` bytes (fewer if the body is shorter), kept for
        :meth:`chunks`."""
        held = 0
        while held < HEAD:
            chunk = await self._next()
            if chunk is None:
                break
            if chunk:
                self._held.append(chunk)
                held += len(chunk)
        return b"".join(self._held)[:HEAD]

    async def chunks(self) -> AsyncIterator[bytes]:
        """Every byte of the body, the head included."""
        held, self._held = self._held, []
        for piece in held:
            yield piece
        while (chunk := await self._next()) is not None:
            if chunk:
                yield chunk


def _declared_size(request: Request, limit: int) -> int:
    declared = request.headers.get("content-length")
    if declared is None:
        return 0
    if not declared.isdigit():
        raise BadRequest("Content-Length is not a number.")
    if int(declared) > limit:
        raise TooLarge(f"An attachment is at most {limit} bytes.", code="too_large")
    return int(declared)


@api.route(
    "POST",
    "/attachments",
    summary=(
        "Upload a file to a room (raw body; name in X-Filename, percent-encoded UTF-8, or "
        "?filename=); the type is sniffed from the bytes"
    ),
    query=UploadQuery,
    body_media=("application/octet-stream", "image/png", "image/jpeg", "application/pdf"),
    responses={201: Attachment},
    errors=(400, 404, 413, 415, 429, 503),
)
async def upload(request: Request) -> Response:
    claims = await authenticate(request)
    files: Files = request.app.state.files
    limit = files.settings.max_attachment
    declared = _declared_size(request, limit)
    query = read_query(request, UploadQuery)
    filename = clean_filename(request.headers.get("x-filename") or query.filename)
    await require_writer(request, query.room_id, claims.user_id)  # a muted member: 403 muted
    await _check_rate(request.app.state.upload_limiter, claims.user_id)
    await _check_quota(files, claims.user_id, declared)
    body = Body(request, limit)
    kind = sniff(await body.head())
    if not kind.allowed:
        raise UnsupportedMediaType(
            f"Files of type {kind.content_type} are not accepted.", code="type_not_allowed"
        )
    attachment_id = uuid.uuid4()
    key = f"{query.room_id}/{attachment_id}"
    row: dict[str, Any] = {
        "id": attachment_id,
        "room_id": query.room_id,
        "uploader_id": claims.user_id,
        "filename": filename,
        "storage_key": key,
        "thumbnail_key": None,
        "width": None,
        "height": None,
    }
    if kind.image:
        row.update(await _store_image(files, body, key))
    else:
        row["content_type"] = kind.content_type
        row["size"] = await files.storage.put(key, body.chunks(), kind.content_type)
    try:
        await _check_quota(files, claims.user_id, int(row["size"]))
        stored = await store_attachments.insert(files.pool, row)
    except BaseException:
        await files.remove_objects(row)
        raise
    return json_response(files.json(stored), status=201)


async def _store_image(files: Files, body: Body, key: str) -> dict[str, Any]:
    """Spool the image, make the served copy and the thumbnail, store both."""
    folder = await asyncio.to_thread(tempfile.mkdtemp, prefix="upload-")
    try:
        source = os.path.join(folder, "source")
        f: IO[bytes] = await asyncio.to_thread(open, source, "wb")
        try:
            async for chunk in body.chunks():
                await asyncio.to_thread(f.write, chunk)
        finally:
            await asyncio.to_thread(f.close)
        done = await files.images.process(
            source, os.path.join(folder, "served"), os.path.join(folder, "thumb")
        )
        thumbnail_key = f"{key}.thumb"
        size = await files.storage.put(key, file_chunks(done.served_path), done.content_type)
        try:
            await files.storage.put(thumbnail_key, file_chunks(done.thumbnail_path), THUMBNAIL_TYPE)
        except BaseException:
            await files.storage.delete(key)
            raise
        return {
            "content_type": done.content_type,
            "size": size,
            "width": done.width,
            "height": done.height,
            "thumbnail_key": thumbnail_key,
        }
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)


async def _check_rate(limiter: RedisRateLimiter, user_id: uuid.UUID) -> None:
    try:
        wait = await limiter.wait_time(str(user_id))
    except (RedisError, OSError) as exc:
        # As for sends: a Redis outage must not stop the service; the quota still holds.
        log.warning("upload_rate_unchecked", error=type(exc).__name__)
        return
    if wait > 0:
        raise RateLimited(wait, "Too many uploads; slow down.")


async def _check_quota(files: Files, user_id: uuid.UUID, adding: int) -> None:
    used = await store_attachments.stored_bytes(files.pool, user_id)
    quota = files.settings.attachment_quota
    if used + adding > quota:
        raise RateLimited(
            3600, f"Your attachments use {used} of {quota} bytes.", code="quota_exceeded"
        )


@api.route(
    "GET",
    "/attachments/{attachment_id}",
    summary="An attachment (members of its room only), with fresh signed URLs",
    responses={200: Attachment},
    errors=(404,),
)
async def get_attachment(request: Request) -> Response:
    claims = await authenticate(request)
    attachment_id = path_uuid(request, "attachment_id")
    files: Files = request.app.state.files
    row = await store_attachments.by_id(files.pool, attachment_id)
    if row is None:
        raise no_attachment()
    await require_member(request, row["room_id"], claims.user_id, missing=no_attachment())
    return json_response(files.json(row))
