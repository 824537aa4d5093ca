"""room-service calls for joining rooms without being added: the directory of public rooms,
joining one, and joining by an invite code."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from chatcore.cursors import Cursor
from chatcore.web import authenticate, json_response, read_json, read_query
from room_service import community
from room_service import store_community as sql
from room_service.api import api
from room_service.community_models import (
    DIRECTORY_CURSOR,
    DirectoryQuery,
    JoinByCode,
    PublicRoomPage,
)
from room_service.models import Room
from room_service.routes import outbox, room_change, room_id


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its own % _ and \\ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_CURSOR = Cursor(DIRECTORY_CURSOR)


def encode_cursor(count: int, item_id: uuid.UUID) -> str:
    """The cursor after a room, in the syntax of ``DIRECTORY_CURSOR``."""
    return _CURSOR.encode(count, str(item_id))


def decode_cursor(cursor: str) -> tuple[int, uuid.UUID]:
    """The (member_count, id) a directory cursor holds; 422 ``cursor`` outside its syntax."""
    count, item_id = _CURSOR.decode(cursor)
    return int(count), uuid.UUID(item_id)


@api.route(
    "GET",
    "/public",
    summary="Public rooms whose title contains q (any part of a word), most members first",
    query=DirectoryQuery,
    responses={200: PublicRoomPage},
)
async def public_rooms(request: Request) -> Response:
    claims = await authenticate(request)
    query = read_query(request, DirectoryQuery)
    after = decode_cursor(query.cursor) if query.cursor else None
    text = (query.q or "").strip()
    rows = await sql.public_rooms(
        request.app.state.pool,
        claims.user_id,
        like_pattern(text) if text else None,
        after,
        query.limit + 1,
    )
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        next_cursor = encode_cursor(page[-1]["member_count"], page[-1]["id"])
    return json_response({"items": [dict(r) for r in page], "next_cursor": next_cursor})


@api.route(
    "POST",
    "/{room_id}/join",
    summary="Join a public room (a member gets the room as it is)",
    responses={200: Room},
    errors=(403, 404),
)
async def join_public(request: Request) -> Response:
    claims = await authenticate(request)
    target = room_id(request)
    async with room_change(request, target) as conn:
        change = await community.join_public(conn, target, claims.user_id)
        await outbox(request).record(conn, change.events)
    return json_response(change.row)


@api.route(
    "POST",
    "/join",
    summary="Join the room of an invite code, using it once (a member uses nothing)",
    body=JoinByCode,
    responses={200: Room},
    errors=(400, 403, 404, 410, 413),
)
async def join_by_code(request: Request) -> Response:
    claims = await authenticate(request)
    body = await read_json(request, JoinByCode)
    target = await sql.invite_room(request.app.state.pool, body.code)
    if target is None:
        raise community.invite_not_found()
    async with room_change(request, target) as conn:
        change = await community.join_by_invite(conn, target, body.code, claims.user_id)
        await outbox(request).record(conn, change.events)
    return json_response(change.row)
