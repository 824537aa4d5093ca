"""Access tokens for the attack matrix: good ones signed with this run's key, and every kind
of bad one a service must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth_service.keys import SigningKey
from chatcore.testing.users import TestUser


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Forger:
    """Access tokens, good and bad, for one user, signed with this run's key or others."""

    def __init__(self, key: SigningKey) -> None:
        self.key = key

    def claims(self, user_id: uuid.UUID, **changes: Any) -> dict[str, Any]:
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

    def sign(self, claims: dict[str, Any], key: SigningKey | None = None) -> str:
        key = key or self.key
        return jwt.encode(
            claims, key.private, algorithm="EdDSA", headers={"kid": key.kid, "typ": "at+jwt"}
        )

    def unsigned(self, header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
        head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
        if secret is None:
            return head + "."
        return head + "." + _b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())

    def matrix(self, user: TestUser) -> dict[str, str]:
        """Every kind of token a service must refuse, by name (issue 9's list and more)."""
        now = int(time.time())
        good = self.claims(user.id)
        header = {"kid": self.key.kid, "typ": "at+jwt"}
        public = self.key.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        stranger = SigningKey.from_pem(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return {
            "alg none": self.unsigned({**header, "alg": "none"}, good, None),
            "HS256 with the public key": self.unsigned({**header, "alg": "HS256"}, good, public),
            "expired": self.sign(self.claims(user.id, iat=now - 2000, exp=now - 120)),
            "iat in the future": self.sign(self.claims(user.id, iat=now + 600, exp=now + 1200)),
            "no exp": self.sign(self.claims(user.id, exp=None)),
            "wrong aud": self.sign(self.claims(user.id, aud="someone-else")),
            "wrong iss": self.sign(self.claims(user.id, iss="evil-auth")),
            "unknown kid": self.sign(good, stranger),
            "refresh token as access token": user.refresh_token,
            "garbage": "a.b.c",
        }
