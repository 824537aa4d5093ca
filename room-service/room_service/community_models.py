"""What room-service's community calls take and return: the directory, invites, bans,
mutes, blocks and the audit log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from chatcore.errors import Conflict
from room_service.models import Id, Kind, RoleName, Strict, Visibility

REASON_MAX = 500
# The longest a ban or mute may be set ahead, and an invite may live (seconds): ten years.
LONGEST = 10 * 365 * 86400


def no_nul(value: str | None) -> str | None:
    """Postgres text cannot hold NUL: refused as input, not left to fail in the database."""
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def zoned(value: datetime | None) -> datetime | None:
    """A time with its zone (None stays None); whether it lies ahead is :func:`ahead`'s."""
    if value is not None and value.tzinfo is None:
        raise ValueError("must carry a time zone (RFC 3339)")
    return value


def ahead(value: datetime | None) -> datetime | None:
    """``until`` if it lies ahead, within ten years: 409 ``until_not_ahead`` otherwise (a
    time can be well formed and still passed by the time it arrives)."""
    if value is None:
        return None
    now = datetime.now(UTC)
    if value <= now or (value - now).total_seconds() > LONGEST:
        raise Conflict("until: must be a time ahead, within ten years.", code="until_not_ahead")
    return value


# The directory cursor's whole syntax: the member count and id of the last room given.
DIRECTORY_CURSOR = (
    r"^(0|[1-9][0-9]{0,8})_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


class DirectoryQuery(Strict):
    q: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=50, pattern=DIRECTORY_CURSOR)

    @field_validator("q")
    @classmethod
    def _q(cls, value: str | None) -> str | None:
        return no_nul(value)


class PublicRoom(BaseModel):
    """A room of the directory, with the reader's role (null: not a member)."""

    id: uuid.UUID
    kind: Kind
    title: str | None
    created_by: uuid.UUID
    created_at: datetime
    member_count: int
    visibility: Visibility
    my_role: RoleName | None


class PublicRoomPage(BaseModel):
    items: list[PublicRoom]
    next_cursor: str | None


class NewInvite(Strict):
    """``POST /rooms/{id}/invites``: at most ``max_uses`` joins, for ``expires_in`` seconds."""

    max_uses: int | None = Field(default=None, ge=1, le=1_000_000)
    expires_in: int | None = Field(default=None, ge=1, le=LONGEST)


class Invite(BaseModel):
    code: str
    url: str
    room_id: uuid.UUID
    expires_at: datetime | None
    max_uses: int | None
    uses: int


class JoinByCode(Strict):
    """``POST /rooms/join``."""

    # Codes are URL-safe base64 (invites.py); anything else names no invite.
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class NewBan(Strict):
    """``POST /rooms/{id}/bans``: ``until`` absent or null bans until lifted."""

    user_id: Id
    reason: str | None = Field(default=None, max_length=REASON_MAX)
    until: datetime | None = None

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str | None) -> str | None:
        return no_nul(value)

    @field_validator("until")
    @classmethod
    def _until(cls, value: datetime | None) -> datetime | None:
        return zoned(value)


class Ban(BaseModel):
    room_id: uuid.UUID
    user_id: uuid.UUID
    banned_by: uuid.UUID
    reason: str | None
    until: datetime | None
    created_at: datetime


class BanPage(BaseModel):
    items: list[Ban]
    next_cursor: str | None


class NewMute(Strict):
    """``POST /rooms/{id}/mutes``."""

    user_id: Id
    until: datetime

    @field_validator("until")
    @classmethod
    def _until(cls, value: datetime) -> datetime | None:
        return zoned(value)


class Mute(BaseModel):
    room_id: uuid.UUID
    user_id: uuid.UUID
    muted_by: uuid.UUID
    until: datetime
    created_at: datetime


class Blocked(BaseModel):
    user_id: uuid.UUID
    created_at: datetime


class BlockedPage(BaseModel):
    items: list[Blocked]
    next_cursor: str | None


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
