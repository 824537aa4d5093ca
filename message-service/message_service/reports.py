"""message-service reports: a member reports a message; the room's owners and admins (and
site administrators) list the open reports and resolve them: delete the message, ban its
sender (room-service, with the moderator's own token), or dismiss."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from chatcore.cursors import entry_id, from_micros, micros, not_ours
from chatcore.errors import Conflict, Forbidden, NotFound
from chatcore.httpclient import ServiceClient
from chatcore.tokens import AccessClaims
from chatcore.web import authenticate, bearer_token, json_response, path_uuid, read_json, read_query
from message_service import store
from message_service import store_reports as sql
from message_service.access import MODERATORS, member_role, require_member
from message_service.api import api
from message_service.report_models import (
    AuditPage,
    AuditQuery,
    NewReport,
    Report,
    ReportPage,
    ReportQuery,
    Resolution,
)
from message_service.routes import tombstone


def _no_message() -> NotFound:
    return NotFound("No such message.", code="message_not_found")


def _no_report() -> NotFound:
    return NotFound("No such report.", code="report_not_found")


def encode_cursor(at: datetime, item_id: uuid.UUID) -> str:
    raw = orjson.dumps([micros(at), str(item_id)])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, item_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if type(at) is not int or not 0 <= at < 2**62 or not isinstance(item_id, str):
            raise ValueError(cursor)
        return from_micros(at), uuid.UUID(item_id)
    except (binascii.Error, ValueError, TypeError, OverflowError, orjson.JSONDecodeError):
        raise not_ours() from None


async def require_moderator(request: Request, claims: AccessClaims, room_id: uuid.UUID) -> None:
    """Owners and admins of the room, and site administrators; a plain member gets 403, a
    non-member 404 (the room's existence is not revealed)."""
    if claims.is_admin:
        return
    role = await member_role(request, room_id, claims.user_id)
    if role is None:
        raise NotFound("No such room.", code="room_not_found")
    if role not in MODERATORS:
        raise Forbidden("Only the room's owners and admins see its reports.")


@api.route(
    "POST",
    "/{message_id}/report",
    summary="Report a message to the room's moderators (members of its room)",
    body=NewReport,
    responses={201: Report, 200: Report},
    errors=(400, 404, 413),
)
async def report_message(request: Request) -> Response:
    claims = await authenticate(request)
    message_id = path_uuid(request, "message_id")
    body = await read_json(request, NewReport)
    pool = request.app.state.pool
    row = await store.message_by_id(pool, message_id)
    if row is None:
        raise _no_message()
    await require_member(request, row["room_id"], claims.user_id, missing=_no_message())
    report, created = await sql.add_report(pool, row, claims.user_id, body.reason)
    return json_response(dict(report), status=201 if created else 200)


@api.route(
    "GET",
    "/reports",
    summary="Open reports, oldest first: of a room (its owners and admins), or of every room "
    "(site administrators)",
    query=ReportQuery,
    responses={200: ReportPage},
    errors=(403, 404),
)
async def list_reports(request: Request) -> Response:
    claims = await authenticate(request)
    query = read_query(request, ReportQuery)
    if query.room_id is None:
        if not claims.is_admin:
            raise Forbidden("Name a room_id: only site administrators see every room's reports.")
    else:
        await require_moderator(request, claims, query.room_id)
    after = decode_cursor(query.cursor) if query.cursor else None
    rows = await sql.open_reports(request.app.state.pool, query.room_id, after, query.limit + 1)
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        next_cursor = encode_cursor(page[-1]["created_at"], page[-1]["id"])
    return json_response({"items": [dict(r) for r in page], "next_cursor": next_cursor})


@api.route(
    "POST",
    "/reports/{report_id}/resolve",
    summary="Resolve a report: delete the message, ban its sender from the room, or dismiss",
    body=Resolution,
    responses={200: Report},
    errors=(400, 403, 404, 409, 413, 503),
)
async def resolve_report(request: Request) -> Response:
    claims = await authenticate(request)
    report_id = path_uuid(request, "report_id")
    body = await read_json(request, Resolution)
    pool = request.app.state.pool
    report = await sql.report_by_id(pool, report_id)
    if report is None:
        raise _no_report()
    try:
        await require_moderator(request, claims, report["room_id"])
    except NotFound:
        raise _no_report() from None
    if report["resolution"] is not None:
        raise Conflict("The report is resolved already.", code="report_resolved")
    detail: dict[str, Any] = {"message_id": str(report["message_id"])}
    if body.action == "delete":
        await delete_as_moderator(request, claims, report["message_id"])
    elif body.action == "ban":
        rooms: ServiceClient = request.app.state.rooms
        await rooms.request(
            "POST",
            f"/rooms/{report['room_id']}/bans",
            token=bearer_token(request),
            json={"user_id": str(report["sender_id"]), "reason": report["reason"][:500]},
        )
    resolved = await sql.resolve(pool, report_id, claims.user_id, body.action, detail)
    if resolved is None:
        raise Conflict("The report is resolved already.", code="report_resolved")
    return json_response(dict(resolved))


async def delete_as_moderator(
    request: Request, claims: AccessClaims, message_id: uuid.UUID
) -> None:
    """Tombstone the message, publish the deletion and record it in the audit log."""
    row = await store.message_by_id(request.app.state.pool, message_id)
    if row is not None:
        await tombstone(request, row, claims.user_id)


@api.route(
    "GET",
    "/admin/audit",
    summary="The audit log of moderation in message-service, newest first (site administrators)",
    query=AuditQuery,
    responses={200: AuditPage},
    errors=(403,),
)
async def audit(request: Request) -> Response:
    claims = await authenticate(request)
    if not claims.is_admin:
        raise Forbidden("Only site administrators may read the audit log.", code="not_admin")
    query = read_query(request, AuditQuery)
    before = None if query.cursor is None else entry_id(query.cursor)
    rows = await sql.audit_page(request.app.state.pool, before, query.limit + 1)
    page = rows[: query.limit]
    next_cursor = str(page[-1]["id"]) if len(rows) > query.limit else None
    return json_response({"items": [dict(r) for r in page], "next_cursor": next_cursor})
