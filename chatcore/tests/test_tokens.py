"""Access-token verification: the accepted shape, every rejected one, and the JWKS cache."""

import base64
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from hashlib import sha256
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chatcore.errors import Unauthorized
from chatcore.tokens import TokenVerifier

ISS, AUD = "chat-auth", "chat"


def _jwk(key: Ed25519PrivateKey, kid: str) -> dict[str, str]:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}


def _token(
    key: Any, *, kid: str = "k1", alg: str = "EdDSA", typ: str = "at+jwt", **overrides: Any
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "iss": ISS,
        "aud": AUD,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "name": "n",
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": typ})


class _JWKSServer:
    """A real HTTP server publishing a JWKS document that a test can change."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def jwks_server() -> Iterator[_JWKSServer]:
    server = _JWKSServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _verifier(key: Ed25519PrivateKey) -> TokenVerifier:
    verifier = TokenVerifier("http://127.0.0.1:9/unused", issuer=ISS, audience=AUD, leeway=5)
    verifier.load({"keys": [_jwk(key, "k1")]})
    return verifier


async def test_valid_token_gives_claims(key: Ed25519PrivateKey) -> None:
    """A well-formed EdDSA access token yields its user id and name."""
    user = uuid.uuid4()
    claims = await _verifier(key).verify(_token(key, sub=str(user), name="Ann"))
    assert claims.user_id == user
    assert claims.name == "Ann"


def _public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


BAD_TOKENS = {
    "expired": lambda k: _token(k, exp=int(time.time()) - 60, iat=int(time.time()) - 120),
    "iat in the future": lambda k: _token(k, iat=int(time.time()) + 600),
    "no exp": lambda k: _token(k, exp=None),
    "no jti": lambda k: _token(k, jti=None),
    "wrong aud": lambda k: _token(k, aud="other"),
    "wrong iss": lambda k: _token(k, iss="evil"),
    "sub not a uuid": lambda k: _token(k, sub="root"),
    "not an access token": lambda k: _token(k, typ="JWT"),
    "unknown kid": lambda k: _token(Ed25519PrivateKey.generate(), kid="k2"),
    "other key, same kid": lambda k: _token(Ed25519PrivateKey.generate()),
    "alg none": lambda k: jwt.encode(
        {"sub": "x"}, None, algorithm="none", headers={"kid": "k1", "typ": "at+jwt"}
    ),
    "garbage": lambda k: "not.a.token",
    "huge": lambda k: "a" * 20000,
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_bad_tokens_are_unauthorized(key: Ed25519PrivateKey, case: str) -> None:
    """Every malformed, forged or out-of-date token is a 401, never another error."""
    verifier = _verifier(key)
    # An unknown kid makes the verifier refetch; its JWKS URL points nowhere, which must
    # still end in Unauthorized (the cached keys remain), not in a crash.
    with pytest.raises(Unauthorized):
        await verifier.verify(BAD_TOKENS[case](key))


async def test_hs256_with_public_key_is_refused(key: Ed25519PrivateKey) -> None:
    """The algorithm is pinned: HS256 'signed' with the public key bytes is refused."""
    payload = json.dumps(
        {
            "sub": str(uuid.uuid4()),
            "iss": ISS,
            "aud": AUD,
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
            "jti": "j",
        }
    ).encode()
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "HS256", "kid": "k1", "typ": "at+jwt"}).encode()
    ).rstrip(b"=")
    body = base64.urlsafe_b64encode(payload).rstrip(b"=")
    signature = base64.urlsafe_b64encode(
        hmac.new(_public_pem(key), header + b"." + body, sha256).digest()
    ).rstrip(b"=")
    with pytest.raises(Unauthorized):
        await _verifier(key).verify((header + b"." + body + b"." + signature).decode())


async def test_unknown_kid_refetches_once(jwks_server: _JWKSServer, key: Ed25519PrivateKey) -> None:
    """A new kid is fetched from the JWKS; a flood of unknown kids fetches at most once."""
    verifier = TokenVerifier(jwks_server.url, issuer=ISS, audience=AUD, refetch_interval=60)
    jwks_server.document = {"keys": [_jwk(key, "k1")]}
    await verifier.verify(_token(key))
    assert jwks_server.fetches == 1
    stranger = Ed25519PrivateKey.generate()
    for _ in range(5):
        with pytest.raises(Unauthorized):
            await verifier.verify(_token(stranger, kid="k9"))
    assert jwks_server.fetches == 1


async def test_a_token_counts_until_exp_plus_the_leeway_then_says_expired(
    key: Ed25519PrivateKey,
) -> None:
    """The one rule (docs/api/auth.md): valid until exp + leeway, then 401 token_expired,
    whether the token was verified before (cached) or not."""
    verifier = _verifier(key)  # leeway 5 s
    now = int(time.time())
    within = _token(key, exp=now - 3, iat=now - 60)
    assert (await verifier.verify(within)).expires_at == now - 3
    assert (await verifier.verify(within)).expires_at == now - 3  # cached
    past = _token(key, exp=now - 6, iat=now - 60)
    with pytest.raises(Unauthorized) as refused:
        await verifier.verify(past)
    assert refused.value.code == "token_expired"
