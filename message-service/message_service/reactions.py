"""Reactions: one per user, emoji and message; at most 20 distinct emoji per message.

Each added or removed reaction is a change of the room (docs/protocol.md): it takes the
room's next position in the transaction that makes it, and its ``reaction`` frame is
published after the commit.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import Conflict, NotFound
from chatcore.tokens import AccessClaims
from chatcore.web import authenticate, json_response, path_uuid
from message_service import store, store_changes
from message_service.access import check_rate, require_writer
from message_service.api import api
from message_service.emoji import EMOJI_MAX_CHARS, is_emoji
from message_service.frames import reaction_frame
from message_service.models import Message
from message_service.publisher import Publisher, change_event
from message_service.routes import with_reactions

_EMOJI_PATH = {"emoji": {"type": "string", "minLength": 1, "maxLength": EMOJI_MAX_CHARS}}


def _no_message() -> NotFound:
    return NotFound("No such message.", code="message_not_found")


async def _target(request: Request) -> tuple[AccessClaims, Any, str]:
    """The caller, the message (of a room they are in) and the emoji of the path."""
    claims = await authenticate(request)
    message_id = path_uuid(request, "message_id")
    emoji = str(request.path_params.get("emoji", ""))
    if not is_emoji(emoji):
        # The path names no reaction: a 404, as for a message that does not exist.
        raise NotFound("emoji: must be exactly one emoji (URL-encoded).", code="emoji_not_found")
    row = await store.message_by_id(request.app.state.pool, message_id)
    if row is None:
        raise _no_message()
    await require_writer(request, row["room_id"], claims.user_id, missing=_no_message())
    # The same per-user budget as sends: a reaction is a write every member sees.
    limiter = request.app.state.send_limiter
    await check_rate(limiter, claims.user_id, "Too many messages; slow down.")
    return claims, row, emoji


async def _react(request: Request, *, added: bool) -> Any:
    claims, row, emoji = await _target(request)
    if added and row["deleted"]:
        raise Conflict("A deleted message cannot get reactions.", code="message_deleted")
    pool = request.app.state.pool
    try:
        changed = await store_changes.react(
            pool, row["room_id"], row["id"], emoji, claims.user_id, added=added
        )
    except store_changes.TooManyReactions:
        raise Conflict(
            f"A message carries at most {store_changes.REACTIONS_MAX} different emoji.",
            code="too_many_reactions",
        ) from None
    if changed is not None:
        pos, count = changed
        data = {"emoji": emoji, "user_id": claims.user_id, "added": added, "count": count}
        frame = reaction_frame(row["room_id"], row["id"], pos, data)
        publisher: Publisher = request.app.state.publisher
        publisher.publish([change_event(row["room_id"], row["seq"], frame)])
    return row


@api.route(
    "PUT",
    "/{message_id}/reactions/{emoji}",
    summary="React to a message with one emoji (idempotent: one per user, emoji and message)",
    responses={200: Message},
    errors=(404, 409, 422, 429),
    path_schemas=_EMOJI_PATH,
)
async def add_reaction(request: Request) -> Response:
    row = await _react(request, added=True)
    return json_response(await with_reactions(request.app.state.pool, row))


@api.route(
    "DELETE",
    "/{message_id}/reactions/{emoji}",
    summary="Take back one's reaction (204 whether or not there was one)",
    responses={204: None},
    errors=(404, 422, 429),
    path_schemas=_EMOJI_PATH,
)
async def remove_reaction(request: Request) -> Response:
    await _react(request, added=False)
    return Response(status_code=204)
