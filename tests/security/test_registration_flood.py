"""A registration flood against the hashing slots: registrations are turned away fast (503 with
Retry-After) and logins of existing users keep going through (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time

import httpx
import pytest

from chat_testkit.plugin import StartService, production_hashing
from chat_testkit.processes import ServiceProcess
from tests.chaos import report

FLOOD = 150


@pytest.fixture(scope="module")
def narrow_auth(
    start_service: StartService, redis_prefix: str, auth_service: ServiceProcess
) -> ServiceProcess:
    """One hashing slot and a line of 8, registrations unthrottled per address (the flood
    comes from a botnet: many addresses)."""
    return start_service(
        "auth_service",
        env={
            **production_hashing(),
            "REDIS_PREFIX": f"{redis_prefix}sec-regflood:",
            "AUTH_HASH_CONCURRENCY": "1",
            "AUTH_HASH_QUEUE": "8",
            "AUTH_REGISTER_IP_BURST": "100000",
        },
        migrate=False,
    )


async def test_registration_flood_does_not_starve_logins(
    narrow_auth: ServiceProcess,
) -> None:
    """150 registrations at once: each is answered 201 or a fast 503 with Retry-After, and
    an existing user's logins meanwhile all succeed."""
    url = narrow_auth.url
    limits = httpx.Limits(max_connections=FLOOD + 20, max_keepalive_connections=FLOOD + 20)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        email, password = f"owner-{secrets.token_hex(4)}@example.test", "owner's password"
        r = await http.post(
            f"{url}/auth/register",
            json={"email": email, "password": password, "display_name": "Owner"},
        )
        assert r.status_code == 201

        refused: list[float] = []

        async def register(i: int) -> int:
            started = time.perf_counter()
            answer = await http.post(
                f"{url}/auth/register",
                json={
                    "email": f"flood-{i}-{secrets.token_hex(4)}@example.test",
                    "password": "flood password",
                    "display_name": "Flood",
                },
            )
            if answer.status_code == 503:
                refused.append(time.perf_counter() - started)
                assert answer.json()["error"]["code"] == "busy"
                assert answer.headers["retry-after"] == "1"
            return answer.status_code

        async def logins() -> list[tuple[int, float]]:
            await asyncio.sleep(0.05)
            results = []
            for _ in range(10):
                started = time.perf_counter()
                answer = await http.post(
                    f"{url}/auth/login", json={"email": email, "password": password}
                )
                results.append((answer.status_code, time.perf_counter() - started))
            return results

        flood = asyncio.gather(*(register(i) for i in range(FLOOD)))
        login_results = await logins()
        statuses = await flood
    assert set(statuses) <= {201, 503}, set(statuses)
    login_ms = sorted(t * 1000 for _, t in login_results)
    refused_ms = statistics.median(refused) * 1000 if refused else 0.0
    report.MEASURES.append(
        report.Measure(
            f"registration flood: {FLOOD} at once, 1 hashing slot",
            f"{statuses.count(201)} created, {statuses.count(503)} refused 503 "
            f"(median {refused_ms:.0f} ms); 10 logins meanwhile: "
            f"{[s for s, _ in login_results].count(200)} ok, slowest {login_ms[-1]:.0f} ms",
            "every login 200; every 503 within 10 s (a shared 2-core machine)",
        )
    )
    assert [s for s, _ in login_results] == [200] * 10
    assert statuses.count(503) > 0
    assert login_ms[-1] < 3000, login_ms  # the event loop also parses 150 registrations
    assert max(refused) < 10.0, max(refused)
