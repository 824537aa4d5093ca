"""room-service member calls: list, add, remove or leave, change a role, and the membership
check message-service caches (docs/events.md)."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import Conflict, NotFound
from chatcore.web import authenticate, bearer_token, json_response, path_uuid, read_json, read_query
from room_service import changes, roles, store
from room_service.api import api
from room_service.models import AddMember, Member, MemberPage, Membership, PageQuery, RoleChange
from room_service.pages import decode_cursor, encode_cursor
from room_service.routes import outbox, room_change, room_id, users


def member_id(request: Request) -> uuid.UUID:
    """The ``{user_id}`` of the path; a non-UUID is no member of any room."""
    try:
        return path_uuid(request, "user_id")
    except NotFound:
        raise store.not_member() from None


@api.route(
    "GET",
    "/{room_id}/members",
    summary="The room's members in joining order (members only)",
    query=PageQuery,
    responses={200: MemberPage},
    errors=(404,),
)
async def list_members(request: Request) -> Response:
    claims = await authenticate(request)
    target = room_id(request)
    query = read_query(request, PageQuery)
    after = decode_cursor(query.cursor) if query.cursor else None
    rows = await store.members_of(
        request.app.state.pool, target, claims.user_id, after, query.limit + 1
    )
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        next_cursor = encode_cursor(page[-1]["joined_at"], page[-1]["user_id"])
    return json_response({"items": [dict(r) for r in page], "next_cursor": next_cursor})


@api.route(
    "POST",
    "/{room_id}/members",
    summary="Add a member to a group room (owners and admins)",
    body=AddMember,
    responses={201: Member},
    errors=(400, 403, 404, 409, 413, 503),
)
async def add_member(request: Request) -> Response:
    claims = await authenticate(request)
    target = room_id(request)
    body = await read_json(request, AddMember)
    pool = request.app.state.pool
    # Decide what the room alone can decide before asking auth-service about the user, so
    # a non-member or a plain member learns nothing about who exists.
    kind, role, present = await store.roles_in(pool, target, claims.user_id, body.user_id)
    roles.check_add(kind, role)
    if present is not None:
        raise Conflict("That user is already a member of the room.", code="already_member")
    await users(request).require(bearer_token(request), body.user_id)
    async with room_change(request, target) as conn:
        change = await changes.add_member(conn, target, claims.user_id, body.user_id)
        await outbox(request).record(conn, change.events)
    return json_response(change.row, status=201)


@api.route(
    "DELETE",
    "/{room_id}/members/{user_id}",
    summary="Remove a member (owners and admins, of members ranked below them) or leave",
    responses={204: None},
    errors=(403, 404, 409),
)
async def remove_member(request: Request) -> Response:
    claims = await authenticate(request)
    target = room_id(request)
    user = member_id(request)
    async with room_change(request, target) as conn:
        change = await changes.remove_member(conn, target, claims.user_id, user)
        await outbox(request).record(conn, change.events)
    return Response(status_code=204)


@api.route(
    "PATCH",
    "/{room_id}/members/{user_id}",
    summary="Change a role: owners change others', anyone lowers their own (not the last owner)",
    body=RoleChange,
    responses={200: Member},
    errors=(400, 403, 404, 409, 413),
)
async def change_role(request: Request) -> Response:
    claims = await authenticate(request)
    target = room_id(request)
    user = member_id(request)
    body = await read_json(request, RoleChange)
    async with room_change(request, target) as conn:
        change = await changes.set_role(conn, target, claims.user_id, user, body.role)
        await outbox(request).record(conn, change.events)
    return json_response(change.row)


@api.route(
    "GET",
    "/{room_id}/members/{user_id}",
    summary="One member's role and the room's version (members only; for caches)",
    responses={200: Membership},
    errors=(404,),
)
async def get_member(request: Request) -> Response:
    claims = await authenticate(request)
    target = room_id(request)
    user = member_id(request)
    return json_response(
        await store.membership(request.app.state.pool, target, claims.user_id, user)
    )
