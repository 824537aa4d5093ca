"""auth-service site administration: deactivating and reactivating accounts, and the audit
log. Administrators are made on the command line (``python -m auth_service make-admin``); their
access tokens carry ``roles: ["admin"]``.

Deactivation ends every session of the user within a second: the refresh-token families are
revoked (Postgres), and every access token issued until now is revoked in Redis
(chatcore.revocations), which every service and the gateway follow; the gateway also closes
the user's open connections with 4003. Login is refused until reactivation.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from auth_service import store, store_admin
from auth_service.api import api
from chatcore.cursors import entry_id
from chatcore.errors import Conflict, Forbidden, NotFound, Unavailable
from chatcore.logs import get_logger
from chatcore.redisconn import Names
from chatcore.revocations import revoke_user
from chatcore.tokens import AccessClaims
from chatcore.web import authenticate, json_response, path_uuid, read_query

log = get_logger(__name__)


class Account(BaseModel):
    """A user as administrators see them."""

    id: uuid.UUID
    email: str
    display_name: str
    avatar_url: str | None
    status_text: str
    created_at: datetime
    is_admin: bool
    deactivated_at: datetime | None


class AuditQuery(BaseModel):
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=32)


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor_id: uuid.UUID | None
    action: str
    target_id: uuid.UUID | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None


def account_json(row: Any) -> dict[str, Any]:
    return {
        **store.user_json(row, with_email=True),
        "is_admin": row["is_admin"],
        "deactivated_at": row["deactivated_at"],
    }


async def require_admin(request: Request) -> AccessClaims:
    claims = await authenticate(request)
    if not claims.is_admin:
        raise Forbidden("Only site administrators may do that.", code="not_admin")
    return claims


async def blockers_of(request: Request, user_id: uuid.UUID) -> list[uuid.UUID]:
    """Who blocked ``user_id`` (room-service keeps the set in Redis for us): hidden from
    their directory. Without Redis nobody is hidden; the blocks themselves still hold."""
    key = Names(request.app.state.settings.redis_prefix).key("blockers", str(user_id))
    try:
        members = await request.app.state.redis.smembers(key)
    except (RedisError, OSError) as exc:
        log.warning("blockers_unread", error=type(exc).__name__)
        return []
    found = []
    for raw in members:
        try:
            found.append(uuid.UUID(raw.decode() if isinstance(raw, bytes) else raw))
        except ValueError:
            continue
    return found


@api.route(
    "GET",
    "/admin/users/{user_id}",
    summary="An account as administrators see it (site administrators)",
    responses={200: Account},
    errors=(403, 404),
)
async def get_account(request: Request) -> Response:
    await require_admin(request)
    row = await store_admin.account(request.app.state.pool, path_uuid(request, "user_id"))
    if row is None:
        raise NotFound("No such user.")
    return json_response(account_json(row))


@api.route(
    "POST",
    "/admin/users/{user_id}/deactivate",
    summary="Deactivate an account: its sessions end everywhere within a second, login refused",
    responses={200: Account},
    errors=(403, 404, 409, 503),
)
async def deactivate(request: Request) -> Response:
    claims = await require_admin(request)
    user_id = path_uuid(request, "user_id")
    if user_id == claims.user_id:
        raise Conflict("You cannot deactivate your own account.", code="cannot_deactivate_self")
    row = await store_admin.set_active(request.app.state.pool, claims.user_id, user_id, False)
    if row is None:
        raise NotFound("No such user.")
    try:
        await revoke_user(
            request.app.state.redis, Names(request.app.state.settings.redis_prefix), user_id
        )
    except (RedisError, OSError) as exc:
        # The account is deactivated and its refresh tokens are dead; calling again (it is
        # idempotent) revokes the access tokens once Redis answers.
        log.warning("revocation_failed", error=type(exc).__name__)
        raise Unavailable(
            "The account is deactivated but its sessions could not be ended yet; try again."
        ) from None
    return json_response(account_json(row))


@api.route(
    "POST",
    "/admin/users/{user_id}/reactivate",
    summary="Reactivate an account: its user may log in again",
    responses={200: Account},
    errors=(403, 404),
)
async def reactivate(request: Request) -> Response:
    claims = await require_admin(request)
    user_id = path_uuid(request, "user_id")
    row = await store_admin.set_active(request.app.state.pool, claims.user_id, user_id, True)
    if row is None:
        raise NotFound("No such user.")
    return json_response(account_json(row))


@api.route(
    "GET",
    "/admin/audit",
    summary="The audit log of account moderation, newest first (site administrators)",
    query=AuditQuery,
    responses={200: AuditPage},
    errors=(403,),
)
async def audit(request: Request) -> Response:
    await require_admin(request)
    query = read_query(request, AuditQuery)
    before = None if query.cursor is None else entry_id(query.cursor)
    rows = await store_admin.audit_page(request.app.state.pool, before, query.limit + 1)
    page = rows[: query.limit]
    next_cursor = str(page[-1]["id"]) if len(rows) > query.limit else None
    return json_response({"items": [dict(r) for r in page], "next_cursor": next_cursor})
