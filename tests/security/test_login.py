"""Login enumeration and brute force, on auth-service instances of this suite's own (their
failure counters must not leak into other tests sharing the run's auth-service)."""

from __future__ import annotations

import os
import secrets
import statistics
import time
from pathlib import Path

import httpx
import pytest

from chat_testkit.plugin import StartService, production_hashing
from chat_testkit.processes import ServiceProcess
from tests.chaos import report

SAMPLES = 40


@pytest.fixture(scope="module")
def unthrottled_auth(
    start_service: StartService, redis_prefix: str, auth_service: ServiceProcess
) -> ServiceProcess:
    """An auth-service that never throttles, so every login does the full password check."""
    return start_service(
        "auth_service",
        env={
            **production_hashing(),
            "REDIS_PREFIX": f"{redis_prefix}sec-timing:",
            "AUTH_LOGIN_ACCOUNT_BURST": "100000",
            "AUTH_LOGIN_IP_BURST": "100000",
        },
    )


@pytest.fixture(scope="module")
def default_auth(
    start_service: StartService, redis_prefix: str, auth_service: ServiceProcess
) -> ServiceProcess:
    """An auth-service with the default throttling and counters of its own."""
    return start_service(
        "auth_service", env={**production_hashing(), "REDIS_PREFIX": f"{redis_prefix}sec-brute:"}
    )


async def _register(http: httpx.AsyncClient, url: str) -> tuple[str, str]:
    email, password = f"sec-{secrets.token_hex(5)}@example.test", secrets.token_hex(10)
    r = await http.post(
        f"{url}/auth/register", json={"email": email, "password": password, "display_name": "S"}
    )
    assert r.status_code == 201, r.text
    return email, password


async def _login(http: httpx.AsyncClient, url: str, email: str, password: str) -> httpx.Response:
    return await http.post(f"{url}/auth/login", json={"email": email, "password": password})


async def test_unknown_email_and_wrong_password_look_the_same(
    http: httpx.AsyncClient, unthrottled_auth: ServiceProcess
) -> None:
    """Same status, same body, same headers but the request id, and the same password-hashing
    work: the service's CPU time per login is within 25% between the two (CPU time, not wall
    time, so other load on the machine cannot fail it; a skipped hash would be ~20x cheaper)."""
    url = unthrottled_auth.url
    email, _ = await _register(http, url)
    for _ in range(3):  # warm the pool, the hasher and the connection
        await _login(http, url, email, "not-the-password")
    assert unthrottled_auth.process is not None
    pid = unthrottled_auth.process.pid
    known: list[float] = []
    unknown: list[float] = []
    cpu = {"known": 0.0, "unknown": 0.0}
    bodies = set()
    header_names = set()
    # Blocks of one kind at a time, alternating, so the CPU clock's 10 ms tick averages out.
    for block in range(4):
        kind = "known" if block % 2 == 0 else "unknown"
        cpu_before = _cpu_seconds(pid)
        for _ in range(SAMPLES // 2):
            address = email if kind == "known" else f"nobody-{secrets.token_hex(4)}@example.test"
            started = time.perf_counter()
            r = await _login(http, url, address, "not-the-password")
            (known if kind == "known" else unknown).append(time.perf_counter() - started)
            assert r.status_code == 401
            bodies.add(r.content)
            header_names.add(frozenset(set(r.headers) - {"date", "x-request-id"}))
        cpu[kind] += _cpu_seconds(pid) - cpu_before
    assert len(bodies) == 1, bodies
    assert len(header_names) == 1, header_names
    ratio = cpu["unknown"] / cpu["known"]
    report.MEASURES.append(
        report.Measure(
            "login: unknown email vs wrong password",
            f"CPU {cpu['unknown'] * 1000 / SAMPLES:.1f} vs {cpu['known'] * 1000 / SAMPLES:.1f} ms"
            f" a login (ratio {ratio:.2f}); median wall {statistics.median(unknown) * 1000:.1f}"
            f" vs {statistics.median(known) * 1000:.1f} ms, {SAMPLES} samples each",
            "CPU ratio 0.8-1.25",
        )
    )
    assert 0.8 <= ratio <= 1.25, cpu


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def test_password_guessing_is_throttled_and_gives_no_oracle(
    http: httpx.AsyncClient, default_auth: ServiceProcess
) -> None:
    """Guessing one account's password: after the burst every try is 429 with Retry-After,
    the right password included, so a lucky guess cannot be told from a wrong one."""
    url = default_auth.url
    email, password = await _register(http, url)
    statuses = [(await _login(http, url, email, f"guess-{i}")).status_code for i in range(20)]
    report.MEASURES.append(
        report.Measure(
            "brute force: 20 guesses at one account",
            f"{statuses.count(401)} checked (401), {statuses.count(429)} refused (429)",
            "at most the burst (5) checked",
        )
    )
    assert statuses.count(401) <= 5, statuses
    assert statuses[-10:] == [429] * 10, statuses
    right = await _login(http, url, email, password)
    assert right.status_code == 429
    assert int(right.headers["retry-after"]) >= 1


async def test_spraying_many_accounts_from_one_address_is_throttled(
    http: httpx.AsyncClient, default_auth: ServiceProcess
) -> None:
    """One address trying a password on many accounts is stopped by the per-address limit."""
    url = default_auth.url
    statuses = [
        (
            await _login(http, url, f"spray-{i}-{secrets.token_hex(3)}@example.test", "Winter2026!")
        ).status_code
        for i in range(45)
    ]
    assert 429 in statuses, statuses
    assert statuses.count(401) <= 31, statuses
