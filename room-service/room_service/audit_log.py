"""``GET /rooms/admin/audit``: the moderation actions room-service recorded, newest first, for
site administrators."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from chatcore.cursors import entry_id
from chatcore.errors import Forbidden
from chatcore.web import authenticate, json_response, read_query
from room_service import store_community as sql
from room_service.api import api
from room_service.community_models import AuditPage
from room_service.models import PageQuery


@api.route(
    "GET",
    "/admin/audit",
    summary="The audit log of moderation actions, newest first (site administrators)",
    query=PageQuery,
    responses={200: AuditPage},
    errors=(403,),
)
async def audit(request: Request) -> Response:
    claims = await authenticate(request)
    if not claims.is_admin:
        raise Forbidden("Only site administrators may read the audit log.", code="not_admin")
    query = read_query(request, PageQuery)
    before = entry_id(query.cursor) if query.cursor else None
    rows = await sql.audit_page(request.app.state.pool, before, query.limit + 1)
    page = rows[: query.limit]
    next_cursor = str(page[-1]["id"]) if len(rows) > query.limit else None
    return json_response({"items": [dict(r) for r in page], "next_cursor": next_cursor})
