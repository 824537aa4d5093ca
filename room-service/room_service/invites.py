"""room-service invite links: create (owners and admins) and revoke."""

from __future__ import annotations

import re
import secrets
import string
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import NotFound
from chatcore.web import authenticate, json_response, read_json
from room_service import community
from room_service.api import api
from room_service.community_models import Invite, NewInvite
from room_service.routes import room_change, room_id
from room_service.settings import RoomSettings

# 22 letters and digits (130 random bits): a code cannot be guessed, fits a URL, and is
# one word to a double click or a shell. No '-' or '_': a code that began with '-' read as
# an option to `chat join`.
CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 22
CODE_MAX = 64
CODE_CHARS = re.compile(r"[A-Za-z0-9_-]+")


def new_code() -> str:
    """A fresh invite code."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def invite_json(row: dict[str, Any], settings: RoomSettings) -> dict[str, Any]:
    """The invite with the web client's link that opens it."""
    base = settings.gateway_url.rstrip("/")
    return {
        "code": row["code"],
        "url": f"{base}/#/join/{row['code']}",
        "room_id": row["room_id"],
        "expires_at": row["expires_at"],
        "max_uses": row["max_uses"],
        "uses": row["uses"],
    }


@api.route(
    "POST",
    "/{room_id}/invites",
    summary="An invite link to the room (owners and admins), limited in uses and time if asked",
    body=NewInvite,
    responses={201: Invite},
    errors=(400, 403, 404, 409, 413),
)
async def create_invite(request: Request) -> Response:
    claims = await authenticate(request)
    target = room_id(request)
    body = await read_json(request, NewInvite)
    expires_at = None
    if body.expires_in is not None:
        expires_at = datetime.now(UTC) + timedelta(seconds=body.expires_in)
    code = new_code()
    async with room_change(request, target) as conn:
        row = await community.create_invite(
            conn, target, claims.user_id, code, expires_at, body.max_uses
        )
    return json_response(invite_json(row, request.app.state.settings), status=201)


@api.route(
    "DELETE",
    "/{room_id}/invites/{code}",
    summary="Revoke an invite (owners and admins): it stops working at once",
    responses={204: None},
    errors=(403, 404, 409),
)
async def revoke_invite(request: Request) -> Response:
    claims = await authenticate(request)
    target = room_id(request)
    code = str(request.path_params["code"])
    if len(code) > CODE_MAX or not CODE_CHARS.fullmatch(code):
        raise NotFound("No such invite.", code="invite_not_found")
    async with room_change(request, target) as conn:
        await community.revoke_invite(conn, target, claims.user_id, code)
    return Response(status_code=204)
