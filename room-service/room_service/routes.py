"""room-service room calls: create, direct rooms, the caller's rooms, read and rename."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from chatcore import jsonutil
from chatcore.errors import ChatError, Conflict, Forbidden, NotFound, Unavailable
from chatcore.tokens import TokenVerifier
from chatcore.web import authenticate, bearer_token, json_response, path_uuid, read_json, read_query
from room_service import changes, store, store_community
from room_service.api import api
from room_service.events import Publisher
from room_service.models import (
    JOINED_BATCH_MAX,
    CreateRoom,
    DirectRequest,
    JoinedBatch,
    JoinedBatchAnswers,
    JoinedRooms,
    PageQuery,
    Rename,
    Room,
    RoomPage,
)
from room_service.outbox import Outbox
from room_service.pages import decode_cursor, encode_cursor
from room_service.throttle import check_create_rate
from room_service.users import UserDirectory

if TYPE_CHECKING:
    from room_service.store import Conn


def room_id(request: Request) -> uuid.UUID:
    """The ``{room_id}`` of the path; a non-UUID gets the same 404 as any unknown room."""
    try:
        return path_uuid(request, "room_id")
    except NotFound:
        raise store.room_not_found() from None


@asynccontextmanager
async def room_change(request: Request, room: uuid.UUID) -> AsyncIterator[Conn]:
    """The room's turn for one change and its events: first among this process's requests
    (waiting without holding a connection), then across replicas (store.room_turn)."""
    async with (
        publisher(request).ordered(room),
        store.room_turn(request.app.state.pool, room, request.app.state.lock_pool) as conn,
    ):
        # One transaction around the change and its outbox rows: the events exist if and
        # only if the change committed. They are published after the commit.
        async with conn.transaction():
            yield conn
        await outbox(request).flush(conn, room)


def publisher(request: Request) -> Publisher:
    found: Publisher = request.app.state.publisher
    return found


def outbox(request: Request) -> Outbox:
    found: Outbox = request.app.state.outbox
    return found


def users(request: Request) -> UserDirectory:
    found: UserDirectory = request.app.state.users
    return found


@api.route(
    "POST",
    "",
    summary="Create a group room; the caller is its owner, member_ids (at most 500) members",
    body=CreateRoom,
    responses={201: Room},
    errors=(400, 404, 413, 429, 503),
)
async def create_room(request: Request) -> Response:
    claims = await authenticate(request)
    await check_create_rate(request, claims.user_id)
    body = await read_json(request, CreateRoom)
    member_ids = [m for m in dict.fromkeys(body.member_ids or []) if m != claims.user_id]
    unknown = await users(request).first_unknown(bearer_token(request), member_ids)
    if unknown is not None:
        # 404 as for POST /rooms/{id}/members: the ids are well formed, the users missing.
        index = (body.member_ids or []).index(unknown)
        raise NotFound(f"member_ids.{index}: no such user.", code="user_not_found")
    new_id = uuid.uuid4()
    async with room_change(request, new_id) as conn:
        change = await changes.create_room(
            conn, new_id, claims.user_id, body.title, member_ids, body.visibility
        )
        await outbox(request).record(conn, change.events)
    return json_response(change.row, status=201)


@api.route(
    "POST",
    "/direct",
    summary="The one direct room of the caller and a user: 201 new, 200 existing",
    body=DirectRequest,
    responses={200: Room, 201: Room},
    errors=(400, 403, 404, 409, 413, 503),
)
async def open_direct(request: Request) -> Response:
    claims = await authenticate(request)
    body = await read_json(request, DirectRequest)
    if body.user_id == claims.user_id:
        # 409, not 422: the request is well formed (the document cannot know who calls); it
        # conflicts with the rule that a direct room joins two users.
        raise Conflict("A direct room needs another user.", code="direct_with_self")
    pool = request.app.state.pool
    if await store_community.blocked_by(pool, body.user_id, claims.user_id):
        raise Forbidden("That person does not accept direct messages from you.", code="blocked")
    found = await store.direct_between(pool, claims.user_id, body.user_id)
    if found is None:
        await users(request).require(bearer_token(request), body.user_id)
        new_id = uuid.uuid4()
        async with room_change(request, new_id) as conn:
            created = await changes.create_direct(conn, new_id, claims.user_id, body.user_id)
            if created is not None:
                await outbox(request).record(conn, created.events)
                return json_response(created.row, status=201)
        # Another request created it meanwhile (rooms are never deleted, so it is there).
        found = await store.direct_between(pool, claims.user_id, body.user_id)
        if found is None:
            raise Unavailable("The direct room is being created; try again.")
    if found["present"] == 2:
        return json_response(store.room_json(found, "member"))
    # One of the two had left: if it was the caller, they come back (in turn with the room's
    # other changes); if it was the other person, they stay out until they open it again.
    async with room_change(request, found["id"]) as conn:
        change = await changes.reopen_direct(conn, found["id"], claims.user_id)
        await outbox(request).record(conn, change.events)
    return json_response(change.row)


@api.route(
    "GET",
    "",
    summary="The caller's rooms, most recently joined first",
    query=PageQuery,
    responses={200: RoomPage},
)
async def list_rooms(request: Request) -> Response:
    claims = await authenticate(request)
    query = read_query(request, PageQuery)
    before = decode_cursor(query.cursor) if query.cursor else None
    rows = await store.rooms_of(request.app.state.pool, claims.user_id, before, query.limit + 1)
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        next_cursor = encode_cursor(page[-1]["joined_at"], page[-1]["id"])
    items = [{k: v for k, v in row.items() if k != "joined_at"} for row in page]
    return json_response({"items": items, "next_cursor": next_cursor})


@api.route(
    "GET",
    "/joined",
    summary="Every room of the caller with its role and membership version (unpaginated)",
    responses={200: JoinedRooms},
)
async def joined(request: Request) -> Response:
    claims = await authenticate(request)
    items = await store.joined_json(request.app.state.pool, claims.user_id)
    return Response(b'{"items":' + items.encode() + b"}", media_type="application/json")


@api.route(
    "POST",
    "/joined/batch",
    summary=(
        "GET /rooms/joined for many callers at once, each by its own access token (a gateway's "
        f"connects of one moment); at most {JOINED_BATCH_MAX}, each answered on its own"
    ),
    body=JoinedBatch,
    responses={200: JoinedBatchAnswers},
    errors=(400, 413),
    auth=False,
)
async def joined_batch(request: Request) -> Response:
    body = await read_json(request, JoinedBatch, max_bytes=JOINED_BATCH_MAX * 9 * 1024)
    verifier: TokenVerifier = request.app.state.verifier
    users: list[uuid.UUID] = []
    answers: list[bytes | None] = []
    for token in body.tokens:
        # Each token counts for itself alone: a bad one is its own 401, never the call's.
        try:
            users.append((await verifier.verify(token)).user_id)
            answers.append(None)
        except ChatError as exc:
            answers.append(jsonutil.dumps({"status": exc.status, **exc.body()}))
    rooms = iter(await store.joined_json_many(request.app.state.pool, users) if users else [])
    parts = [
        a if a is not None else b'{"status":200,"items":' + next(rooms).encode() + b"}"
        for a in answers
    ]
    return Response(b'{"items":[' + b",".join(parts) + b"]}", media_type="application/json")


@api.route(
    "GET", "/{room_id}", summary="A room (members only)", responses={200: Room}, errors=(404,)
)
async def get_room(request: Request) -> Response:
    claims = await authenticate(request)
    return json_response(
        await store.room_for(request.app.state.pool, room_id(request), claims.user_id)
    )


@api.route(
    "PATCH",
    "/{room_id}",
    summary="Rename a group room or change its visibility (owners and admins)",
    body=Rename,
    responses={200: Room},
    errors=(400, 403, 404, 409, 413),
)
async def rename_room(request: Request) -> Response:
    claims = await authenticate(request)
    target = room_id(request)
    body = await read_json(request, Rename)
    async with room_change(request, target) as conn:
        change = await changes.rename(conn, target, claims.user_id, body.title, body.visibility)
        await outbox(request).record(conn, change.events)
    return json_response(change.row)
