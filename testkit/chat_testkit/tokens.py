"""Access tokens forged in tests: signed as auth-service signs them, or broken on purpose."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chatcore.tokens import ACCESS_TOKEN_TYPE, ALGORITHM


def b64url(data: bytes) -> str:
    """Unpadded base64url, as in a JWT's three parts."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_claims(user_id: uuid.UUID, **changes: Any) -> dict[str, Any]:
    """The claims of a 10-minute access token of ``user_id``, with ``changes`` (a change to
    None drops the claim)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "name": "forged",
        "iss": "chat-auth",
        "aud": "chat",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def sign(claims: dict[str, Any], key: Ed25519PrivateKey | bytes, kid: str) -> str:
    """``claims`` signed with ``key`` (or its PEM) under ``kid``, as an access token."""
    return jwt.encode(
        claims, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": ACCESS_TOKEN_TYPE}
    )


def unsigned(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A token of ``header`` and ``claims`` with no signature, or an HMAC-SHA256 one made
    with ``secret``."""
    head = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    if secret is None:
        return head + "."
    return head + "." + b64url(hmac.new(secret, head.encode(), hashlib.sha256).digest())
