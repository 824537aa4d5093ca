"""What message-service's reports and audit calls take and return."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictStr, field_validator

from message_service.models import PAGE_DEFAULT, PAGE_MAX, Strict

REASON_MAX = 1000


class NewReport(Strict):
    """``POST /messages/{id}/report``."""

    reason: StrictStr = Field(max_length=4 * REASON_MAX)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        value = value.strip()
        if not 1 <= len(value) <= REASON_MAX:
            raise ValueError(f"must be 1 to {REASON_MAX} characters")
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


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
