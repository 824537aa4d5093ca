"""Remembered token verification: the same answers as verifying each time, expiry included."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chatcore.errors import Unauthorized
from chatcore.tokens import TokenVerifier

ISS, AUD = "chat-auth", "chat"


def _verifier(key: Ed25519PrivateKey, capacity: int = 10) -> TokenVerifier:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    verifier = TokenVerifier(
        "http://127.0.0.1:9/jwks", issuer=ISS, audience=AUD, leeway=0, capacity=capacity
    )
    verifier.load({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1"}]})
    return verifier


def _token(key: Any, ttl: int) -> str:
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "iss": ISS, "aud": AUD, "iat": now, "exp": now + ttl}
    claims["jti"] = uuid.uuid4().hex
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "k1", "typ": "at+jwt"})


async def test_remembered_until_expiry() -> None:
    """A verified token is answered from memory, and refused once its exp has passed."""
    key = Ed25519PrivateKey.generate()
    verifier = _verifier(key)
    token = _token(key, ttl=2)  # exp is whole seconds: ttl=1 could expire before its check
    first = verifier.verify_cached(token)
    assert verifier.verify_cached(token) is first
    await asyncio.sleep(max(0.0, first.expires_at - time.time()) + 1.05)
    with pytest.raises(Unauthorized) as refused:
        verifier.verify_cached(token)
    assert refused.value.code == "token_expired"


async def test_forged_tokens_are_not_remembered() -> None:
    """A token signed by another key is refused every time, and never fills the memory."""
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    verifier = _verifier(key, capacity=2)
    forged = _token(other, ttl=600)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            verifier.verify_cached(forged)
    tokens = [_token(key, ttl=600) for _ in range(3)]
    claims = [verifier.verify_cached(t) for t in tokens]
    assert [c.user_id for c in claims] == [verifier.verify_cached(t).user_id for t in tokens]
    assert len(verifier._verified) == 2  # the oldest was forgotten
