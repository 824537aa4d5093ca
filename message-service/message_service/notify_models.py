"""What the notification calls take and return on the wire."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

Level = Literal["all", "mentions", "none"]
ROOM_OVERRIDES_MAX = 1000
URL_MAX = 2048


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class NotifySettings(_Strict):
    level: Level = Field(description="all, mentions (direct messages and mentions) or none")
    rooms: dict[uuid.UUID, Level | None] | None = Field(
        default=None,
        max_length=ROOM_OVERRIDES_MAX,
        description="Per-room levels (none mutes the room); null removes a room's level. "
        "Left out: the rooms' levels stay as they are.",
    )


class NotifySettingsOut(BaseModel):
    level: Level
    rooms: dict[uuid.UUID, Level]


def _b64url(value: str, size: int, field: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"{field} must be base64url") from None
    if len(raw) != size or (size == 65 and raw[0] != 4):
        raise ValueError(f"{field} is not a valid key")
    return value


# The whole syntax of a push endpoint or webhook URL: http(s), a host name, an IPv4 address or
# a bracketed IPv6 one,
# an optional port (1-65535), any path and query without spaces or control characters.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = r"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
# Bracketed IPv6 in forms that are always valid: loopback, IPv4-mapped, all eight groups.
_IPV6 = rf"\[(::1|::ffff:{_OCTET}(\.{_OCTET}){{3}}|[0-9A-Fa-f]{{1,4}}(:[0-9A-Fa-f]{{1,4}}){{7}})\]"
_HOST = rf"({_LABEL}(\.{_LABEL})*|{_IPV6})"
URL_PATTERN = rf"^https?://{_HOST}(:{_PORT})?([/?][^\s\x00-\x1f\x7f]*)?$"


class PushKeys(_Strict):
    # The whole syntax: base64url of 65 bytes starting 0x04 (an uncompressed point), and of 16
    # bytes; whether the point lies on the curve is found when a push is encrypted for it.
    p256dh: StrictStr = Field(
        max_length=88,
        pattern=r"^B[A-P][A-Za-z0-9_-]{84}[AEIMQUYcgkosw048]=?$",
        description="the browser's P-256 key, base64url",
    )
    auth: StrictStr = Field(
        max_length=24,
        pattern=r"^[A-Za-z0-9_-]{21}[AQgw](==)?$",
        description="16 bytes, base64url",
    )

    @field_validator("p256dh")
    @classmethod
    def _p256dh(cls, value: str) -> str:
        return _b64url(value, 65, "p256dh")

    @field_validator("auth")
    @classmethod
    def _auth(cls, value: str) -> str:
        return _b64url(value, 16, "auth")


class PushSubscription(_Strict):
    endpoint: StrictStr = Field(min_length=8, max_length=URL_MAX, pattern=URL_PATTERN)
    keys: PushKeys


class PushEndpoint(_Strict):
    endpoint: StrictStr = Field(min_length=1, max_length=URL_MAX, pattern=r"^[^\x00]*$")


class PushSubscribed(BaseModel):
    id: uuid.UUID
    endpoint: str


class VapidPublicKey(BaseModel):
    public_key: str = Field(description="applicationServerKey: uncompressed P-256, base64url")


class NewWebhook(_Strict):
    url: StrictStr = Field(min_length=8, max_length=URL_MAX, pattern=URL_PATTERN)
    secret: StrictStr = Field(min_length=1, max_length=256)


class WebhookCreated(BaseModel):
    id: uuid.UUID


class Webhook(BaseModel):
    id: uuid.UUID
    url: str
    created_at: datetime


class WebhookList(BaseModel):
    items: list[Webhook]
    next_cursor: str | None
