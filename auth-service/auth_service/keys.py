"""The Ed25519 keys that sign access tokens, and the JWKS that publishes their public halves.

The ``kid`` of a key is its RFC 7638 thumbprint, so the same key always has the same id and
replicas sharing a key file agree without coordination.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth_service.settings import AuthSettings
from chatcore.tokens import ACCESS_TOKEN_TYPE, ALGORITHM


class KeyConfigError(Exception):
    """No usable signing key is configured."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyConfigError("the signing key must be an Ed25519 private key")
        return cls(kid=thumbprint(public_jwk_fields(key)), private=key)

    def public_jwk(self) -> dict[str, str]:
        fields = public_jwk_fields(self.private)
        return {**fields, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}


def public_jwk_fields(key: Ed25519PrivateKey) -> dict[str, str]:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}


def thumbprint(fields: dict[str, str]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return _b64(hashlib.sha256(canonical).digest())


class KeySet:
    """The current signing key and the earlier ones still published for verification."""

    def __init__(self, current: SigningKey, previous: list[SigningKey]) -> None:
        self.current = current
        self.previous = previous

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> KeySet:
        if settings.signing_key:
            current = SigningKey.from_pem(settings.signing_key.encode())
        elif settings.signing_key_file:
            current = SigningKey.from_pem(Path(settings.signing_key_file).read_bytes())
        else:
            raise KeyConfigError("set AUTH_SIGNING_KEY_FILE or AUTH_SIGNING_KEY (an Ed25519 PEM)")
        previous = [
            SigningKey.from_pem(Path(p.strip()).read_bytes())
            for p in settings.previous_key_files.split(",")
            if p.strip()
        ]
        return cls(current, [k for k in previous if k.kid != current.kid])

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in (self.current, *self.previous)]}

    def issue_access_token(
        self,
        *,
        user_id: uuid.UUID,
        name: str,
        issuer: str,
        audience: str,
        ttl: int,
        roles: list[str] | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "name": name,
            "iss": issuer,
            "aud": audience,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        if roles:
            claims["roles"] = roles
        return jwt.encode(
            claims,
            self.current.private,
            algorithm=ALGORITHM,
            headers={"kid": self.current.kid, "typ": ACCESS_TOKEN_TYPE},
        )


def generate_pem() -> bytes:
    """A new Ed25519 private key as PKCS#8 PEM."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
