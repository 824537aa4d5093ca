"""Registering and logging in: every bad input, look-alike emails, password rehashing."""

from __future__ import annotations

import secrets

import asyncpg
import httpx

from chat_testkit.processes import ServiceProcess


def _tag() -> str:
    return secrets.token_hex(4)


async def _register(
    http: httpx.AsyncClient, url: str, email: str, name: str = "N"
) -> httpx.Response:
    return await http.post(
        f"{url}/auth/register",
        json={"email": email, "password": "long-enough", "display_name": name},
    )


async def test_register_and_login_answer_contract_shapes(
    http: httpx.AsyncClient, auth_service: ServiceProcess
) -> None:
    """Register answers 201 with the user; login the pair with a refresh token and the user."""
    email = f"Shape-{_tag()}@Example.test"
    r = await _register(http, auth_service.url, email, name="  Shape  ")
    assert r.status_code == 201, r.text
    user = r.json()
    assert set(user) == {"id", "email", "display_name", "avatar_url", "status_text", "created_at"}
    assert (user["email"], user["display_name"], user["avatar_url"]) == (email, "Shape", None)
    r = await http.post(
        f"{auth_service.url}/auth/login", json={"email": email.lower(), "password": "long-enough"}
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["refresh_token"]
    assert body["user"]["id"] == user["id"]


async def test_wrong_password_and_unknown_email_same_answer(
    http: httpx.AsyncClient, auth_service: ServiceProcess
) -> None:
    """A wrong password and an unknown email get the same 401 body."""
    email = f"same-{_tag()}@example.test"
    await _register(http, auth_service.url, email)
    wrong = await http.post(
        f"{auth_service.url}/auth/login", json={"email": email, "password": "not-the-one"}
    )
    unknown = await http.post(
        f"{auth_service.url}/auth/login",
        json={"email": f"nobody-{_tag()}@example.test", "password": "not-the-one"},
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"


async def test_malformed_bodies(http: httpx.AsyncClient, auth_service: ServiceProcess) -> None:
    """Bodies that are not JSON objects get 400 malformed_json on register and login."""
    for path in ["/auth/register", "/auth/login"]:
        for raw in [b"", b"{", b"not json", b"[1, 2]", b'"text"', b"null", b"\xff\xfe"]:
            r = await http.post(f"{auth_service.url}{path}", content=raw)
            assert r.status_code == 400, (path, raw)
            assert r.json()["error"]["code"] == "malformed_json"


async def test_missing_and_wrong_typed_fields(
    http: httpx.AsyncClient, auth_service: ServiceProcess
) -> None:
    """Missing or wrong-typed fields get 422 naming the field."""
    ok = {"email": f"t-{_tag()}@example.test", "password": "long-enough", "display_name": "T"}
    for field in ok:
        missing = {k: v for k, v in ok.items() if k != field}
        for body in [missing, {**ok, field: 12}, {**ok, field: None}, {**ok, field: ["x"]}]:
            r = await http.post(f"{auth_service.url}/auth/register", json=body)
            assert r.status_code == 422, body
            assert r.json()["error"]["field"] == field
    for body, field in [
        ({"password": "x"}, "email"),
        ({"email": "a@b.c", "password": 1}, "password"),
    ]:
        r = await http.post(f"{auth_service.url}/auth/login", json=body)
        assert (r.status_code, r.json()["error"]["field"]) == (422, field)


async def test_bad_values(http: httpx.AsyncClient, auth_service: ServiceProcess) -> None:
    """Weak passwords, bad emails and invisible names get 422 naming the field."""
    cases = [
        ({"password": "short"}, "password"),
        ({"password": "p" * 1025}, "password"),
        ({"email": "no-at-sign"}, "email"),
        ({"email": "a@nodot"}, "email"),
        ({"email": "a b@example.test"}, "email"),
        ({"email": "a@@example.test"}, "email"),
        ({"email": "nul\x00@example.test"}, "email"),
        ({"email": "x" * 250 + "@example.test"}, "email"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "   "}, "display_name"),
        ({"display_name": "\u200b\u200b"}, "display_name"),
        ({"display_name": "evil\u202egnp.exe"}, "display_name"),
        ({"display_name": "bell\x07"}, "display_name"),
        ({"display_name": "n" * 101}, "display_name"),
    ]
    for change, field in cases:
        body = {"email": f"v-{_tag()}@example.test", "password": "long-enough", "display_name": "V"}
        r = await http.post(f"{auth_service.url}/auth/register", json={**body, **change})
        assert r.status_code == 422, change
        assert r.json()["error"]["field"] == field, change
    r = await http.post(
        f"{auth_service.url}/auth/login", json={"email": "nul\x00@x.io", "password": "long-enough"}
    )
    assert (r.status_code, r.json()["error"]["field"]) == (422, "email")


async def test_megabyte_password_is_413(
    http: httpx.AsyncClient, auth_service: ServiceProcess
) -> None:
    """A 1 MB password passes the 64 KiB JSON body limit: 413 too_large, before any hashing."""
    body = {"email": f"big-{_tag()}@example.test", "password": "p" * 1_000_000, "display_name": "B"}
    for path in ["/auth/register", "/auth/login"]:
        r = await http.post(f"{auth_service.url}{path}", json=body)
        assert r.status_code == 413, path
        assert r.json()["error"]["code"] == "too_large"


async def test_sql_injection_strings_are_literal(
    http: httpx.AsyncClient, auth_service: ServiceProcess
) -> None:
    """SQL-looking emails and names are stored and matched literally."""
    email = f"x'OR'1'='1--{_tag()}@example.test"
    name = "Robert'); DROP TABLE auth.users;--"
    r = await _register(http, auth_service.url, email, name=name)
    assert r.status_code == 201, r.text
    assert (r.json()["email"], r.json()["display_name"]) == (email, name)
    r = await http.post(
        f"{auth_service.url}/auth/login", json={"email": email, "password": "long-enough"}
    )
    assert r.status_code == 200
    assert r.json()["user"]["display_name"] == name
    r = await http.post(
        f"{auth_service.url}/auth/login",
        json={"email": "' OR '1'='1", "password": "' OR '1'='1"},
    )
    assert r.status_code == 401


async def test_lookalike_and_equivalent_emails(
    http: httpx.AsyncClient, auth_service: ServiceProcess
) -> None:
    """A Cyrillic look-alike is another account; NFC- and case-equal emails are the same one."""
    tag = _tag()
    latin = await _register(http, auth_service.url, f"alice-{tag}@example.test")
    cyrillic = await _register(http, auth_service.url, f"\u0430lice-{tag}@example.test")
    assert latin.status_code == cyrillic.status_code == 201
    assert latin.json()["id"] != cyrillic.json()["id"]
    login = await http.post(
        f"{auth_service.url}/auth/login",
        json={"email": f"\u0430lice-{tag}@example.test", "password": "long-enough"},
    )
    assert login.json()["user"]["id"] == cyrillic.json()["id"]

    composed = await _register(http, auth_service.url, f"caf\u00e9-{tag}@example.test")
    decomposed = await _register(http, auth_service.url, f"cafe\u0301-{tag}@example.test")
    assert composed.status_code == 201
    assert decomposed.status_code == 409
    assert decomposed.json()["error"]["code"] == "email_taken"
    login = await http.post(
        f"{auth_service.url}/auth/login",
        json={"email": f"CAFE\u0301-{tag}@example.test", "password": "long-enough"},
    )
    assert login.json()["user"]["id"] == composed.json()["id"]

    assert (await _register(http, auth_service.url, f"A{tag}@x.io")).status_code == 201
    again = await _register(http, auth_service.url, f"a{tag}@X.IO")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "email_taken")


async def test_login_rehashes_when_parameters_change(
    http: httpx.AsyncClient,
    auth_service: ServiceProcess,
    lenient_auth: httpx.AsyncClient,
    db: asyncpg.Connection,
) -> None:
    """Logging in on an instance with a higher argon2 time cost rewrites the stored hash."""
    email = f"rehash-{_tag()}@example.test"
    await _register(http, auth_service.url, email)
    query = "SELECT password_hash FROM auth.users WHERE email = $1"
    before = await db.fetchval(query, email)
    assert "$argon2id$" in before
    assert ",t=1," in before  # the run's instances hash at the cheapest setting (chat_testkit)
    r = await lenient_auth.post("/auth/login", json={"email": email, "password": "long-enough"})
    assert r.status_code == 200
    after = await db.fetchval(query, email)
    assert ",t=3," in after
    assert after != before
    again = await lenient_auth.post("/auth/login", json={"email": email, "password": "long-enough"})
    assert again.status_code == 200
    assert await db.fetchval(query, email) == after, "no rehash when parameters match"
