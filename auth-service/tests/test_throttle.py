"""Login throttling per account and per client address, and equal-looking failures."""

from __future__ import annotations

import secrets
import statistics
import time

import httpx


async def _login(
    http: httpx.AsyncClient,
    email: str,
    password: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await http.post(
        "/auth/login", json={"email": email, "password": password}, headers=headers
    )


async def _register(http: httpx.AsyncClient) -> tuple[str, str]:
    email, password = f"thr-{secrets.token_hex(4)}@example.test", "right-password"
    r = await http.post(
        "/auth/register",
        json={"email": email, "password": password, "display_name": "Throttled"},
    )
    assert r.status_code == 201
    return email, password


async def test_account_throttle(
    account_throttled_auth: httpx.AsyncClient,
) -> None:
    """After 3 failures an account gets 429 with Retry-After, even with the right password."""
    http = account_throttled_auth
    email, password = await _register(http)
    for _ in range(3):
        assert (await _login(http, email, "wrong-password")).status_code == 401
    limited = await _login(http, email, "wrong-password")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "too_many_attempts"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    right = await _login(http, email.upper(), password)
    assert right.status_code == 429, "the bucket is per account, whatever the email's case"
    other_email, other_password = await _register(http)
    assert (await _login(http, other_email, other_password)).status_code == 200


async def test_unknown_account_throttled_alike(
    account_throttled_auth: httpx.AsyncClient,
) -> None:
    """An email with no account is throttled the same way, with the same 429 body."""
    http = account_throttled_auth
    email, _ = await _register(http)
    ghost = f"ghost-{secrets.token_hex(4)}@example.test"
    answers = []
    for address in [email, ghost]:
        statuses = [(await _login(http, address, "wrong-password")).status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        answers.append(await _login(http, address, "wrong-password"))
    assert [a.status_code for a in answers] == [429, 429]
    assert answers[0].json() == answers[1].json()


async def test_address_throttle_counts_only_failures(
    address_throttled_auth: httpx.AsyncClient,
) -> None:
    """Successful logins never use up the address bucket; 4 failures do, then 429 for all."""
    http = address_throttled_auth
    email, password = await _register(http)
    for _ in range(8):
        assert (await _login(http, email, password)).status_code == 200
    for i in range(4):
        ghost = f"ghost-{i}-{secrets.token_hex(4)}@example.test"
        # Without AUTH_TRUSTED_PROXIES the header is ignored: all of these are 127.0.0.1.
        forwarded = {"X-Forwarded-For": f"10.0.0.{i}"}
        assert (await _login(http, ghost, "nope-nope", forwarded)).status_code == 401
    limited = await _login(http, f"new-{secrets.token_hex(4)}@example.test", "nope-nope")
    assert limited.status_code == 429
    assert "retry-after" in limited.headers
    assert (await _login(http, email, password)).status_code == 429


async def test_trusted_forwarded_address(
    forwarded_auth: httpx.AsyncClient,
) -> None:
    """Behind a trusted proxy the last X-Forwarded-For entry is the client's address."""
    http = forwarded_auth

    def via(address: str) -> dict[str, str]:
        return {"X-Forwarded-For": f"203.0.113.9, {address}"}

    for _ in range(2):
        r = await _login(http, "ghost@example.test", "nope-nope", via("198.51.100.1"))
        assert r.status_code == 401
    r = await _login(http, "ghost2@example.test", "nope-nope", via("198.51.100.1"))
    assert r.status_code == 429
    r = await _login(http, "ghost3@example.test", "nope-nope", via("198.51.100.2"))
    assert r.status_code == 401


async def test_unknown_email_takes_as_long_as_wrong_password(
    lenient_auth: httpx.AsyncClient,
) -> None:
    """An unknown email is answered in about the time of a wrong password (the dummy hash)."""
    http = lenient_auth
    email, _ = await _register(http)
    known, unknown = [], []
    for i in range(9):
        for address, samples in [(email, known), (f"nobody-{i}@example.test", unknown)]:
            started = time.perf_counter()
            r = await _login(http, address, "wrong-password")
            samples.append(time.perf_counter() - started)
            assert r.status_code == 401
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2.0, (statistics.median(unknown), statistics.median(known))
