"""``GET /rooms/admin/audit``: the moderation actions room-service recorded, newest first, for
site administrators."""

from __future__ import annotations

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from chatcore.cursors import ENTRY_CURSOR, entry_id
from chatcore.errors import Forbidden
from chatcore.web import authenticate, json_response, read_query
from room_service import store_community as sql
from room_service.api import api
from room_service.community_models import AuditPage
from room_service.models import Strict


class AuditQuery(Strict):
    limit: int = Field(default=50, ge=1, le=200)
    # The id of the last entry of the page before: what ``next_cursor`` hands out.
    cursor: str | None = Field(default=None, max_length=19, pattern=ENTRY_CURSOR.pattern)


@api.route(
    "GET",
    "/admin/audit",
    summary="The audit log of moderation actions, newest first (site administrators)",
    query=AuditQuery,
    responses={200: AuditPage},
    errors=(403,),
)
async def audit(request: Request) -> Response:
    claims = await authenticate(request)
    if not claims.is_admin:
        raise Forbidden("Only site administrators may read the audit log.", code="not_admin")
    query = read_query(request, AuditQuery)
    before = entry_id(query.cursor) if query.cursor else None
    rows = await sql.audit_page(request.app.state.pool, before, query.limit + 1)
    page = rows[: query.limit]
    next_cursor = str(page[-1]["id"]) if len(rows) > query.limit else None
    return json_response({"items": [dict(r) for r in page], "next_cursor": next_cursor})
