"""room-service bans and mutes (owners and admins, never against the owner)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from chatcore.web import authenticate, json_response, read_json, read_query
from room_service import community, roles, store
from room_service import store_community as sql
from room_service.api import api
from room_service.community_models import Ban, BanPage, Mute, NewBan, NewMute
from room_service.members import member_id
from room_service.models import PageQuery
from room_service.pages import decode_cursor, encode_cursor
from room_service.routes import outbox, room_change, room_id


@api.route(
    "POST",
    "/{room_id}/bans",
    summary="Ban a user (removed now if a member) until `until`, or until unbanned",
    body=NewBan,
    responses={201: Ban},
    errors=(400, 403, 404, 409, 413),
)
async def ban(request: Request) -> Response:
    claims = await authenticate(request)
    target = room_id(request)
    body = await read_json(request, NewBan)
    async with room_change(request, target) as conn:
        change = await community.ban(
            conn, target, claims.user_id, body.user_id, body.reason, body.until
        )
        await outbox(request).record(conn, change.events)
    return json_response(change.row, status=201)


@api.route(
    "GET",
    "/{room_id}/bans",
    summary="The room's bans in force (owners and admins)",
    query=PageQuery,
    responses={200: BanPage},
    errors=(403, 404, 409),
)
async def list_bans(request: Request) -> Response:
    claims = await authenticate(request)
    target = room_id(request)
    query = read_query(request, PageQuery)
    pool = request.app.state.pool
    kind, role, _ = await store.roles_in(pool, target, claims.user_id, claims.user_id)
    roles.check_moderator(kind, role)
    after = decode_cursor(query.cursor) if query.cursor else None
    rows = await sql.bans_of(pool, target, after, query.limit + 1)
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        next_cursor = encode_cursor(page[-1]["created_at"], page[-1]["user_id"])
    return json_response({"items": [dict(r) for r in page], "next_cursor": next_cursor})


@api.route(
    "DELETE",
    "/{room_id}/bans/{user_id}",
    summary="Lift a ban (owners and admins)",
    responses={204: None},
    errors=(403, 404, 409),
)
async def unban(request: Request) -> Response:
    claims = await authenticate(request)
    target = room_id(request)
    user = member_id(request)
    async with room_change(request, target) as conn:
        await community.unban(conn, target, claims.user_id, user)
    return Response(status_code=204)


@api.route(
    "POST",
    "/{room_id}/mutes",
    summary="Mute a member until `until`: no sends, edits, reactions or uploads",
    body=NewMute,
    responses={201: Mute},
    errors=(400, 403, 404, 409, 413),
)
async def mute(request: Request) -> Response:
    claims = await authenticate(request)
    target = room_id(request)
    body = await read_json(request, NewMute)
    async with room_change(request, target) as conn:
        change = await community.mute(conn, target, claims.user_id, body.user_id, body.until)
        await outbox(request).record(conn, change.events)
    return json_response(change.row, status=201)


@api.route(
    "DELETE",
    "/{room_id}/mutes/{user_id}",
    summary="Lift a mute (owners and admins)",
    responses={204: None},
    errors=(403, 404, 409),
)
async def unmute(request: Request) -> Response:
    claims = await authenticate(request)
    target = room_id(request)
    user = member_id(request)
    async with room_change(request, target) as conn:
        change = await community.unmute(conn, target, claims.user_id, user)
        await outbox(request).record(conn, change.events)
    return Response(status_code=204)
