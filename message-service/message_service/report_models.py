"""What message-service's reports and audit calls take and return."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictStr, field_validator

from chatcore import text
from message_service.models import PAGE_DEFAULT, PAGE_MAX, Strict

REASON_MAX = 1000


class NewReport(Strict):
    """``POST /messages/{id}/report``."""

    reason: StrictStr = Field(json_schema_extra=text.schema(text.VISIBLE_TEXT, REASON_MAX))

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return text.visible_text(value, max_length=REASON_MAX)


class Report(BaseModel):
    id: uuid.UUID
    message_id: uuid.UUID
    room_id: uuid.UUID
    sender_id: uuid.UUID
    reporter_id: uuid.UUID
    reason: str
    created_at: datetime
    resolution: Literal["delete", "ban", "dismiss"] | None
    resolved_by: uuid.UUID | None
    resolved_at: datetime | None


class ReportPage(BaseModel):
    items: list[Report]
    next_cursor: str | None


class ReportQuery(Strict):
    """Without ``room_id``: every room's open reports (site administrators only)."""

    room_id: uuid.UUID | None = None
    limit: int = Field(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX)
    cursor: str | None = Field(default=None, max_length=256)


class Resolution(Strict):
    """``POST /messages/reports/{id}/resolve``: delete the message, ban its sender from the
    room, or dismiss the report."""

    action: Literal["delete", "ban", "dismiss"]


class AuditQuery(Strict):
    limit: int = Field(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX)
    cursor: str | None = Field(default=None, max_length=32)


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor_id: uuid.UUID
    action: str
    room_id: uuid.UUID | None
    target_id: uuid.UUID | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None
