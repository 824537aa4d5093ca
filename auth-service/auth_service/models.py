"""What auth-service takes and returns on the wire."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

EMAIL_MAX = 254


def email_key(email: str) -> str:
    """The form two emails are compared in: NFC-normalised, then case-folded."""
    return unicodedata.normalize("NFC", email).casefold()


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class Register(Strict):
    email: str = Field(min_length=3, max_length=EMAIL_MAX)
    password: str = Field(min_length=8, max_length=1024)
    display_name: str = Field(min_length=1, max_length=100)

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
        value = value.strip()
        if not value or any(unicodedata.category(c)[0] == "C" for c in value):
            raise ValueError("must be visible text")
        return value


class Login(Strict):
    email: str = Field(max_length=EMAIL_MAX)
    password: str = Field(max_length=1024)


class User(BaseModel):
    id: uuid.UUID
    email: str | None = None
    display_name: str
    avatar_url: str | None
    status_text: str
    created_at: datetime


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: User


class JWKS(BaseModel):
    keys: list[dict[str, str]]
