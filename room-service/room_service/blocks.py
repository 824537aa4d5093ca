"""room-service blocks between people.

A blocked user cannot open a direct chat with the blocker or add them to a room (403
``blocked``): room-service decides both, from ``rooms.blocks``. auth-service hides the
blocker from the blocked user's directory results; so it never reads this schema, each block
is also kept in Redis as the set ``{prefix}blockers:{blocked}`` (who blocked that user),
which auth-service reads. Postgres stays the record: the Redis set only hides names.
"""

from __future__ import annotations

import uuid

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import Conflict, NotFound
from chatcore.logs import get_logger
from chatcore.redisconn import Names
from chatcore.web import authenticate, bearer_token, json_response, read_query
from room_service import store_community as sql
from room_service.api import api
from room_service.community_models import BlockedPage
from room_service.members import member_id
from room_service.models import PageQuery
from room_service.pages import decode_cursor, encode_cursor
from room_service.routes import users

log = get_logger(__name__)


def blockers_key(prefix: str, blocked: uuid.UUID) -> str:
    return Names(prefix).key("blockers", str(blocked))


async def _mirror(request: Request, blocker: uuid.UUID, blocked: uuid.UUID, on: bool) -> None:
    """Keep the Redis copy auth-service reads; a failure is logged (the block stands)."""
    key = blockers_key(request.app.state.settings.redis_prefix, blocked)
    try:
        if on:
            await request.app.state.redis.sadd(key, str(blocker))
        else:
            await request.app.state.redis.srem(key, str(blocker))
    except (RedisError, OSError) as exc:
        log.warning("block_mirror_failed", error=type(exc).__name__)


@api.route(
    "PUT",
    "/blocks/{user_id}",
    summary="Block a person: they cannot open a direct chat with you or add you to a room",
    responses={204: None},
    errors=(404, 409, 422),
)
async def block(request: Request) -> Response:
    claims = await authenticate(request)
    user = member_id(request)
    if user == claims.user_id:
        raise Conflict("You cannot block yourself.", code="block_self")
    await users(request).require(bearer_token(request), user)
    await sql.block(request.app.state.pool, claims.user_id, user)
    await _mirror(request, claims.user_id, user, True)
    return Response(status_code=204)


@api.route(
    "DELETE",
    "/blocks/{user_id}",
    summary="Unblock a person",
    responses={204: None},
    errors=(404,),
)
async def unblock(request: Request) -> Response:
    claims = await authenticate(request)
    user = member_id(request)
    removed = await sql.unblock(request.app.state.pool, claims.user_id, user)
    await _mirror(request, claims.user_id, user, False)
    if not removed:
        raise NotFound("You have not blocked that person.", code="block_not_found")
    return Response(status_code=204)


@api.route(
    "GET",
    "/blocks",
    summary="The people the caller blocked, oldest block first",
    query=PageQuery,
    responses={200: BlockedPage},
)
async def list_blocks(request: Request) -> Response:
    claims = await authenticate(request)
    query = read_query(request, PageQuery)
    after = decode_cursor(query.cursor) if query.cursor else None
    rows = await sql.blocks_of(request.app.state.pool, claims.user_id, after, query.limit + 1)
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        next_cursor = encode_cursor(page[-1]["created_at"], page[-1]["user_id"])
    return json_response({"items": [dict(r) for r in page], "next_cursor": next_cursor})
