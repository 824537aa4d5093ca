"""Refresh-token rotation, reuse detection, logout and the access-token matrix."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth_service.keys import SigningKey, generate_pem
from chat_testkit.plugin import InProcess, MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.tokens import access_claims, b64url, sign, unsigned


async def _refresh(http: httpx.AsyncClient, url: str, token: str) -> httpx.Response:
    return await http.post(f"{url}/auth/refresh", json={"refresh_token": token})


async def test_login_issues_opaque_refresh_token(
    make_user: MakeUser, db: asyncpg.Connection
) -> None:
    """Login returns a random refresh token; only its SHA-256 is stored, with an expiry."""
    user = await make_user()
    assert len(user.refresh_token) >= 43
    assert user.refresh_token.count(".") == 0
    digest = hashlib.sha256(user.refresh_token.encode()).digest()
    row = await db.fetchrow(
        "SELECT expires_at - created_at AS ttl FROM auth.refresh_tokens WHERE token_hash = $1",
        digest,
    )
    assert row is not None
    assert row["ttl"].days == 30
    plain = await db.fetchval(
        "SELECT count(*) FROM auth.refresh_tokens WHERE token_hash = $1",
        user.refresh_token.encode(),
    )
    assert plain == 0


async def test_refresh_rotates_pair(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Refresh answers a new pair with the user; the old refresh token stops working."""
    user = await make_user()
    r = await _refresh(http, auth_service.url, user.refresh_token)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["user"]["id"] == str(user.id)
    assert body["refresh_token"] != user.refresh_token
    me = await http.get(
        f"{auth_service.url}/auth/me",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert me.status_code == 200
    again = await _refresh(http, auth_service.url, body["refresh_token"])
    assert again.status_code == 200


async def test_reused_refresh_token_revokes_family(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A spent refresh token gets 401 and revokes its family: the newer token fails too."""
    user = await make_user()
    first = await _refresh(http, auth_service.url, user.refresh_token)
    newer = first.json()["refresh_token"]
    reused = await _refresh(http, auth_service.url, user.refresh_token)
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "refresh_token_reused"
    after = await _refresh(http, auth_service.url, newer)
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "invalid_refresh_token"


async def test_other_login_family_survives_reuse(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Revoking one login's family leaves the user's other logins working."""
    user = await make_user()
    other = await http.post(
        f"{auth_service.url}/auth/login", json={"email": user.email, "password": user.password}
    )
    await _refresh(http, auth_service.url, user.refresh_token)
    await _refresh(http, auth_service.url, user.refresh_token)
    r = await _refresh(http, auth_service.url, other.json()["refresh_token"])
    assert r.status_code == 200


async def test_concurrent_refresh_exactly_one_wins(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Two refreshes racing with one token: one 200, one 401, and the family ends revoked."""
    for _ in range(4):
        user = await make_user()
        a, b = await asyncio.gather(
            _refresh(http, auth_service.url, user.refresh_token),
            _refresh(http, auth_service.url, user.refresh_token),
        )
        assert sorted([a.status_code, b.status_code]) == [200, 401]
        winner = a if a.status_code == 200 else b
        late = await _refresh(http, auth_service.url, winner.json()["refresh_token"])
        assert late.status_code == 401


async def test_expired_refresh_token_refused(
    http: httpx.AsyncClient,
    auth_service: ServiceProcess,
    make_user: MakeUser,
    db: asyncpg.Connection,
) -> None:
    """A refresh token past its expiry gets 401."""
    user = await make_user()
    await db.execute(
        "UPDATE auth.refresh_tokens SET expires_at = now() - interval '1 second'"
        " WHERE token_hash = $1",
        hashlib.sha256(user.refresh_token.encode()).digest(),
    )
    r = await _refresh(http, auth_service.url, user.refresh_token)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_refresh_token"


async def test_refresh_bad_input(http: httpx.AsyncClient, auth_service: ServiceProcess) -> None:
    """Unknown or empty tokens get 401; malformed bodies 400; missing or wrong types 422."""
    url = f"{auth_service.url}/auth/refresh"
    for token in ["", "x" * 43, "' OR 1=1 --"]:
        r = await http.post(url, json={"refresh_token": token})
        assert r.status_code == 401, token
    r = await http.post(url, content=b"{not json")
    assert (r.status_code, r.json()["error"]["code"]) == (400, "malformed_json")
    r = await http.post(url, json=["refresh_token"])
    assert (r.status_code, r.json()["error"]["code"]) == (400, "malformed_json")
    for body in [{}, {"refresh_token": 7}, {"refresh_token": None}, {"refresh_token": "x" * 600}]:
        r = await http.post(url, json=body)
        assert r.status_code == 422, body
        assert r.json()["error"]["field"] == "refresh_token"


async def test_logout_revokes_family(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Logout answers 204 and the family's refresh tokens stop working."""
    user = await make_user()
    rotated = (await _refresh(http, auth_service.url, user.refresh_token)).json()
    r = await http.post(
        f"{auth_service.url}/auth/logout", json={"refresh_token": rotated["refresh_token"]}
    )
    assert r.status_code == 204
    assert r.content == b""
    r = await _refresh(http, auth_service.url, rotated["refresh_token"])
    assert r.status_code == 401


async def test_logout_unknown_token_is_204(
    http: httpx.AsyncClient, auth_service: ServiceProcess
) -> None:
    """Logging out an unknown token answers 204 (it is dead either way); bad bodies do not."""
    url = f"{auth_service.url}/auth/logout"
    assert (await http.post(url, json={"refresh_token": "never-issued"})).status_code == 204
    assert (await http.post(url, json={"refresh_token": 1})).status_code == 422
    assert (await http.post(url, content=b"nope")).status_code == 400


# --- the access-token matrix --------------------------------------------------------------


async def test_token_matrix(
    http: httpx.AsyncClient,
    auth_service: ServiceProcess,
    make_user: MakeUser,
    signing_key_file: Path,
) -> None:
    """Every forged, stale or misdirected token gets 401 on /auth/me, never a 500."""
    user = await make_user()
    key = SigningKey.from_pem(signing_key_file.read_bytes())
    stranger = SigningKey.from_pem(generate_pem())
    public_pem = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    good = access_claims(user.id)
    header = {"kid": key.kid, "typ": "at+jwt"}

    def signed(claims: dict[str, Any], by: SigningKey = key) -> str:
        return sign(claims, by.private, by.kid)

    valid = signed(good)
    rotated = (await _refresh(http, auth_service.url, user.refresh_token)).json()
    await _refresh(http, auth_service.url, user.refresh_token)  # reuse: revokes the family
    cases = {
        "alg none": unsigned({**header, "alg": "none"}, good, None),
        "HS256 with the public key": unsigned({**header, "alg": "HS256"}, good, public_pem),
        "expired": signed(access_claims(user.id, iat=now - 2000, exp=now - 120)),
        "iat in the future": signed(access_claims(user.id, iat=now + 600, exp=now + 1200)),
        "no exp": signed(access_claims(user.id, exp=None)),
        "wrong aud": signed(access_claims(user.id, aud="someone-else")),
        "wrong iss": signed(access_claims(user.id, iss="evil-auth")),
        "unknown kid": signed(good, stranger),
        "kid of ours, signed by another key": sign(good, Ed25519PrivateKey.generate(), key.kid),
        "refresh token as access token": user.refresh_token,
        "tampered payload": valid.split(".")[0]
        + "."
        + b64url(json.dumps(access_claims(uuid.uuid4())).encode())
        + "."
        + valid.split(".")[2],
        "garbage": "a.b.c",
        "huge": "x" * 20000,
    }
    control = await http.get(
        f"{auth_service.url}/auth/me", headers={"Authorization": f"Bearer {valid}"}
    )
    assert control.status_code == 200, "the forging helper must be able to make a good token"
    for name, token in cases.items():
        r = await http.get(
            f"{auth_service.url}/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 401, f"{name}: {r.status_code} {r.text}"
        assert r.headers["www-authenticate"] == "Bearer"
    spent = await _refresh(http, auth_service.url, rotated["refresh_token"])
    assert spent.status_code == 401, "a reuse must also end the family's newer token"
    for header_value in ["", "Bearer", "Basic abc", f"Token {valid}"]:
        r = await http.get(f"{auth_service.url}/auth/me", headers={"Authorization": header_value})
        assert r.status_code == 401, header_value


async def test_key_rotation(
    http: httpx.AsyncClient,
    auth_service: ServiceProcess,
    in_process: InProcess,
    make_user: MakeUser,
    signing_key_file: Path,
    tmp_path: Path,
) -> None:
    """A new key with the old one as previous: both kids published, old tokens still verify."""
    user = await make_user()
    new_key = tmp_path / "new-key.pem"
    new_key.write_bytes(generate_pem())
    env = {"AUTH_SIGNING_KEY_FILE": str(new_key), "AUTH_PREVIOUS_KEY_FILES": str(signing_key_file)}
    old_kid = SigningKey.from_pem(signing_key_file.read_bytes()).kid
    new_kid = SigningKey.from_pem(new_key.read_bytes()).kid
    async with in_process("auth_service", env) as rotated:
        jwks = (await rotated.get("/auth/.well-known/jwks.json")).json()
        assert [k["kid"] for k in jwks["keys"]] == [new_kid, old_kid]
        r = await rotated.get("/auth/me", headers=user.headers)
        assert r.status_code == 200, r.text
        login = await rotated.post(
            "/auth/login", json={"email": user.email, "password": user.password}
        )
        token = login.json()["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    # The old instance does not know the new key yet: its tokens are refused there.
    r = await http.get(f"{auth_service.url}/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
