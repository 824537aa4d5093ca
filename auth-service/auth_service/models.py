"""What auth-service takes and returns on the wire, and the text rules behind them."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

EMAIL_MAX = 254
DISPLAY_NAME_MAX = 100
STATUS_TEXT_MAX = 200
# Bidirectional overrides and isolates let a name display as something it is not.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def email_key(email: str) -> str:
    """The form two emails are compared in: NFC-normalised, case-folded, NFC again."""
    folded = unicodedata.normalize("NFC", email.strip()).casefold()
    return unicodedata.normalize("NFC", folded)


def clean_text(value: str, *, field_max: int, allow_empty: bool) -> str:
    """``value`` NFC-normalised and stripped; refuses control characters and invisible text.

    Format characters such as the zero-width joiner stay allowed (emoji sequences need
    them), but a name must hold at least one letter, digit, mark, punctuation or symbol.
    """
    value = unicodedata.normalize("NFC", value).strip()
    if len(value) > field_max:
        raise ValueError(f"must be at most {field_max} characters")
    for c in value:
        category = unicodedata.category(c)
        if category in ("Cc", "Cs", "Co", "Cn") or c in _BIDI_CONTROLS:
            raise ValueError("must not contain control characters")
    visible = any(unicodedata.category(c)[0] in "LNPSM" for c in value)
    if not visible and not (allow_empty and not value):
        raise ValueError("must be visible text")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class Register(Strict):
    email: str = Field(min_length=3, max_length=EMAIL_MAX)
    password: str = Field(min_length=8, max_length=1024)
    display_name: str = Field(min_length=1, max_length=DISPLAY_NAME_MAX)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = unicodedata.normalize("NFC", value.strip())
        local, at, domain = value.rpartition("@")
        if (
            not at
            or not local
            or "." not in domain
            or domain.startswith(".")
            or domain.endswith(".")
            or any(c.isspace() or unicodedata.category(c)[0] == "C" for c in value)
            or "@" in local
        ):
            raise ValueError("not a valid email address")
        return value

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str) -> str:
        return clean_text(value, field_max=DISPLAY_NAME_MAX, allow_empty=False)


def no_controls(value: str) -> str:
    """``value`` unchanged; refuses control characters (Postgres text cannot even hold NUL)."""
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must not contain control characters")
    return value


class Login(Strict):
    email: str = Field(max_length=EMAIL_MAX)
    password: str = Field(max_length=1024)

    _email = field_validator("email")(no_controls)


class RefreshRequest(Strict):
    # Real refresh tokens are 43 characters; anything far longer cannot be one.
    refresh_token: str = Field(max_length=512)


class ProfileUpdate(Strict):
    """``PATCH /auth/me``: at least one of the fields; unknown fields are ignored."""

    display_name: str | None = Field(default=None, max_length=DISPLAY_NAME_MAX)
    status_text: str | None = Field(default=None, max_length=STATUS_TEXT_MAX)

    @field_validator("display_name", "status_text", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Absent means "leave it"; an explicit null is a mistake, not a way to clear it.
        if value is None:
            raise ValueError("must be a string, not null")
        return value

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str) -> str:
        return clean_text(value, field_max=DISPLAY_NAME_MAX, allow_empty=False)

    @field_validator("status_text")
    @classmethod
    def _status_text(cls, value: str) -> str:
        return clean_text(value, field_max=STATUS_TEXT_MAX, allow_empty=True)

    @model_validator(mode="after")
    def _something(self) -> ProfileUpdate:
        if self.display_name is None and self.status_text is None:
            raise ValueError("give display_name or status_text")
        return self


class DirectoryQuery(Strict):
    q: str = Field(default="", max_length=EMAIL_MAX)
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=1024)

    _q = field_validator("q")(no_controls)


class User(BaseModel):
    id: uuid.UUID
    email: str | None = None
    display_name: str
    avatar_url: str | None
    status_text: str
    created_at: datetime


class PublicUser(BaseModel):
    """A user as others see them: no email."""

    id: uuid.UUID
    display_name: str
    avatar_url: str | None
    status_text: str
    created_at: datetime


class UserPage(BaseModel):
    items: list[User]
    next_cursor: str | None


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: User


class JWKS(BaseModel):
    keys: list[dict[str, str]]
