"""Access tokens for the attack matrix: good ones signed with this run's key, and every kind
of bad one a service must refuse."""

from __future__ import annotations

import time
from typing import Any

from cryptography.hazmat.primitives import serialization

from auth_service.keys import SigningKey, generate_pem
from chat_testkit.tokens import access_claims, sign, unsigned
from chat_testkit.users import TestUser


class Forger:
    """Access tokens, good and bad, for one user, signed with this run's key or others."""

    def __init__(self, key: SigningKey) -> None:
        self.key = key

    def sign(self, claims: dict[str, Any], key: SigningKey | None = None) -> str:
        key = key or self.key
        return sign(claims, key.private, key.kid)

    def matrix(self, user: TestUser) -> dict[str, str]:
        """Every kind of token a service must refuse, by name (issue 9's list and more)."""
        now = int(time.time())
        good = access_claims(user.id)
        header = {"kid": self.key.kid, "typ": "at+jwt"}
        public = self.key.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        stranger = SigningKey.from_pem(generate_pem())
        return {
            "alg none": unsigned({**header, "alg": "none"}, good, None),
            "HS256 with the public key": unsigned({**header, "alg": "HS256"}, good, public),
            "expired": self.sign(access_claims(user.id, iat=now - 2000, exp=now - 120)),
            "iat in the future": self.sign(access_claims(user.id, iat=now + 600, exp=now + 1200)),
            "no exp": self.sign(access_claims(user.id, exp=None)),
            "wrong aud": self.sign(access_claims(user.id, aud="someone-else")),
            "wrong iss": self.sign(access_claims(user.id, iss="evil-auth")),
            "unknown kid": self.sign(good, stranger),
            "refresh token as access token": user.refresh_token,
            "garbage": "a.b.c",
        }
