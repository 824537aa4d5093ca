"""Serving attachment bytes: ``GET /messages/attachments/{id}/content`` and ``/thumbnail``.

A fetch is allowed with a signed URL (see :mod:`message_service.signing`) or with the
caller's bearer token when they are a member of the room; anything else gets the same 404 as
a missing file. Only the raster images this service re-encoded are shown inline; everything
else is a download, and every answer says ``nosniff`` and carries a sandboxing CSP, so a file
can never run as a page of ours. One byte range (``Range: bytes=a-b``) is honoured.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from chatcore.errors import ChatError, NotFound, Unauthorized
from chatcore.web import authenticate, path_uuid
from message_service import store_attachments
from message_service.access import require_member
from message_service.api import api
from message_service.attachments import no_attachment
from message_service.files import Files
from message_service.images import THUMBNAIL_TYPE
from message_service.signing import CONTENT, THUMBNAIL
from message_service.storage import Missing

INLINE = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
CSP = "default-src 'none'; sandbox"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(ChatError):
    status = 416
    default_code = "range_not_satisfiable"
    default_message = "The range is outside the file."

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__()

    def headers(self) -> dict[str, str]:
        return {"Content-Range": f"bytes */{self.size}"}


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive range one ``Range`` header asks for, or None for the whole file (no
    header, or several ranges, which a server may answer in full)."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - n), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start >= size or end < start:
        raise RangeNotSatisfiable(size)
    return start, end


async def _allowed(request: Request, files: Files, row: Any, variant: str) -> bool:
    exp = request.query_params.get("exp")
    sig = request.query_params.get("sig")
    if exp is not None or sig is not None:
        return files.signer.valid(row["id"], variant, exp or "", sig or "")
    try:
        claims = await authenticate(request)
    except Unauthorized:
        return False
    await require_member(request, row["room_id"], claims.user_id, missing=no_attachment())
    return True


async def _serve(request: Request, variant: str) -> Response:
    attachment_id: uuid.UUID = path_uuid(request, "attachment_id")
    files: Files = request.app.state.files
    row = await store_attachments.by_id(files.pool, attachment_id)
    if row is None or not await _allowed(request, files, row, variant):
        raise no_attachment()
    if variant == THUMBNAIL:
        if row["thumbnail_key"] is None:
            raise no_attachment()
        key, content_type, size = row["thumbnail_key"], THUMBNAIL_TYPE, None
    else:
        key, content_type, size = row["storage_key"], row["content_type"], row["size"]
    signed = "sig" in request.query_params
    headers = {
        # A signed URL names fixed bytes until it expires; a bearer fetch is checked each time.
        "Cache-Control": f"private, max-age={files.signer.ttl}" if signed else "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": CSP,
        "Content-Disposition": _disposition(row["filename"], content_type),
    }
    wanted = None
    if size is not None:
        headers["Accept-Ranges"] = "bytes"
        wanted = byte_range(request.headers.get("range"), size)
    start, end = wanted or (0, None)
    chunks = files.storage.get(key, start, end)
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b""
    except Missing:
        raise NotFound("No such attachment.", code="attachment_not_found") from None
    status = 200
    if wanted is not None and size is not None:
        status = 206
        headers["Content-Range"] = f"bytes {wanted[0]}-{wanted[1]}/{size}"
        headers["Content-Length"] = str(wanted[1] - wanted[0] + 1)
    elif size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(
        _then(first, chunks), status_code=status, media_type=content_type, headers=headers
    )


async def _then(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


def _disposition(filename: str, content_type: str) -> str:
    kind = "inline" if content_type in INLINE else "attachment"
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


@api.route(
    "GET",
    "/attachments/{attachment_id}/content",
    summary=(
        "An attachment's bytes: with the signed URL's exp and sig, or as a member with a "
        "bearer token; one byte range honoured (206)"
    ),
    responses={200: None, 206: None},
    errors=(404, 416),
    auth=False,
)
async def attachment_content(request: Request) -> Response:
    return await _serve(request, CONTENT)


@api.route(
    "GET",
    "/attachments/{attachment_id}/thumbnail",
    summary="An image attachment's thumbnail (WebP), fetched as its content is",
    responses={200: None},
    errors=(404,),
    auth=False,
)
async def attachment_thumbnail(request: Request) -> Response:
    return await _serve(request, THUMBNAIL)
