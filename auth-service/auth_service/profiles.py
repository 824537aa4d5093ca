"""auth-service profile calls: the caller's profile, avatars, public profiles, the directory."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from auth_service import store
from auth_service.admin import blockers_of
from auth_service.api import api
from auth_service.models import (
    CURSOR_PATTERN,
    DirectoryQuery,
    ProfileUpdate,
    PublicUser,
    User,
    UserPage,
    email_key,
)
from auth_service.profile_events import announce
from auth_service.settings import AuthSettings
from chatcore.cursors import Cursor, from_text_part, text_part
from chatcore.errors import NotFound, UnsupportedMediaType
from chatcore.web import authenticate, json_response, path_uuid, read_body, read_json, read_query

_CURSOR = Cursor(CURSOR_PATTERN, separator=".")


def _is_png(data: bytes) -> bool:
    return data.startswith(b"\x89PNG\r\n\x1a\n")


def _is_jpeg(data: bytes) -> bool:
    return data.startswith(b"\xff\xd8\xff")


def _is_webp(data: bytes) -> bool:
    return len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP"


# Each accepted image type, and the check that the bytes really start like one.
AVATAR_TYPES: dict[str, Callable[[bytes], bool]] = {
    "image/png": _is_png,
    "image/jpeg": _is_jpeg,
    "image/webp": _is_webp,
}


def _own_profile(row: asyncpg.Record | None) -> Response:
    if row is None:
        raise NotFound("The account no longer exists.")
    return json_response(store.user_json(row, with_email=True))


async def _announce(request: Request, row: asyncpg.Record | None) -> None:
    if row is not None:
        await announce(request, store.user_json(row, with_email=False))


@api.route("GET", "/me", summary="The caller's profile", responses={200: User}, errors=(404,))
async def me(request: Request) -> Response:
    claims = await authenticate(request)
    return _own_profile(await store.user_by_id(request.app.state.pool, claims.user_id))


@api.route(
    "PATCH",
    "/me",
    summary="Change the caller's display name and/or status text",
    body=ProfileUpdate,
    responses={200: User},
    errors=(400, 404, 413),
)
async def update_me(request: Request) -> Response:
    claims = await authenticate(request)
    body = await read_json(request, ProfileUpdate)
    row = await store.update_profile(
        request.app.state.pool,
        claims.user_id,
        display_name=body.display_name,
        status_text=body.status_text,
    )
    await _announce(request, row)
    return _own_profile(row)


@api.route(
    "PUT",
    "/me/avatar",
    summary="Set the caller's avatar (PNG, JPEG or WebP, at most 1 MiB)",
    body_media=tuple(AVATAR_TYPES),
    responses={200: User},
    errors=(400, 404, 413, 415),
)
async def put_avatar(request: Request) -> Response:
    claims = await authenticate(request)
    settings: AuthSettings = request.app.state.settings
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    looks_right = AVATAR_TYPES.get(content_type)
    if looks_right is None:
        raise UnsupportedMediaType("An avatar must be image/png, image/jpeg or image/webp.")
    data = await read_body(request, settings.avatar_max_bytes)
    if not looks_right(data):
        raise UnsupportedMediaType(f"The body is not a {content_type} image.")
    row = await store.set_avatar(
        request.app.state.pool,
        claims.user_id,
        content_type=content_type,
        data=data,
        etag=hashlib.sha256(data).hexdigest()[:32],
    )
    await _announce(request, row)
    return _own_profile(row)


@api.route(
    "GET",
    "/users/{user_id}/avatar",
    summary="A user's avatar image (public, so an <img> can load it)",
    responses={200: None, 304: None},
    errors=(404,),
    auth=False,
)
async def get_avatar(request: Request) -> Response:
    user_id = path_uuid(request, "user_id")
    row = await store.avatar(request.app.state.pool, user_id)
    if row is None:
        raise NotFound("That user has no avatar.")
    etag = f'"{row["etag"]}"'
    # avatar_url carries ?v=<etag>, so that exact URL never changes content: cache it for
    # good. Any other URL form must be revalidated.
    versioned = request.query_params.get("v") == row["etag"]
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=31536000, immutable" if versioned else "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
    }
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(row["data"], media_type=row["content_type"], headers=headers)


@api.route(
    "GET",
    "/users/{user_id}",
    summary="A user's public profile (no email)",
    responses={200: PublicUser},
    errors=(404,),
)
async def get_user(request: Request) -> Response:
    await authenticate(request)
    row = await store.user_by_id(request.app.state.pool, path_uuid(request, "user_id"))
    if row is None:
        raise NotFound("No such user.")
    return json_response(store.user_json(row, with_email=False))


@api.route(
    "GET",
    "/users",
    summary=(
        "The user directory: any part of a display name, or an email from its whole name"
        " before the @ on, to start a chat (queries under 2 characters find nobody)"
    ),
    query=DirectoryQuery,
    responses={200: UserPage},
)
async def directory(request: Request) -> Response:
    claims = await authenticate(request)
    query = read_query(request, DirectoryQuery)
    after = decode_cursor(query.cursor) if query.cursor else None
    q = query.q.strip()
    if len(q) < MIN_QUERY:
        # Too short to narrow the directory: listing (nearly) everyone is what a scraper wants.
        return json_response({"items": [], "next_cursor": None})
    rows = await store.search_users(
        request.app.state.pool,
        name_pattern=like_substring(q),
        email_key=email_key(q),
        after=after,
        limit=query.limit + 1,
        hidden=await blockers_of(request, claims.user_id),
        # A prefix of an email finds its owner once it holds the whole name before the "@",
        # so nobody can spell addresses out a letter at a time; the email itself stays hidden.
        email_prefix=like_prefix(email_key(q)) if "@" in q else None,
    )
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        last = page[-1]
        next_cursor = encode_cursor(last["sort_name"], last["id"])
    # An email is shown to its owner, and to whoever already typed it exactly.
    items = [
        store.user_json(r, with_email=r["email_matched"] or r["id"] == claims.user_id) for r in page
    ]
    return json_response({"items": items, "next_cursor": next_cursor})


# The shortest query that searches; shorter ones find nobody.
MIN_QUERY = 2


def like_prefix(text: str) -> str:
    """A LIKE pattern (escape character ``\\``) matching strings that start with ``text``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def like_substring(text: str) -> str:
    """A LIKE pattern (escape character ``\\``) matching strings that contain ``text``."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%" + escaped + "%"


def encode_cursor(sort_name: str, user_id: uuid.UUID) -> str:
    """The opaque cursor after a row: its sort key (models.CURSOR_PATTERN)."""
    return _CURSOR.encode(text_part(sort_name), user_id.hex)


def decode_cursor(cursor: str) -> tuple[str, uuid.UUID]:
    """The sort key a cursor holds; 422 for anything not in its syntax. Any cursor in it is a
    position in the directory's order (bytes that are not UTF-8 become U+FFFD, NUL is
    dropped), so it pages from there."""
    name, user_id = _CURSOR.decode(cursor)
    return from_text_part(name).replace("\x00", ""), uuid.UUID(hex=user_id)
