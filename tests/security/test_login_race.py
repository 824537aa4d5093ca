"""Password guessing at once and from many places: the login buckets hold however the
attempts arrive, and a guesser cannot lock the owner out (docs/api/auth.md, Login throttling).

The instances here trust X-Forwarded-For from 127.0.0.1 (``AUTH_TRUSTED_PROXIES``), so one
test process can speak from many client addresses.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from chat_testkit.plugin import StartService, production_hashing
from chat_testkit.processes import ServiceProcess
from tests.chaos import report

AT_ONCE = 200
PAIR_BURST = 5
IP_BURST = 30
ACCOUNT_PER_HOUR = 40


@pytest.fixture(scope="module")
def guarded_auth(
    start_service: StartService, redis_prefix: str, auth_service: ServiceProcess
) -> ServiceProcess:
    """The default login limits, an hourly account cap of 40, behind a trusted proxy."""
    return start_service(
        "auth_service",
        env={
            # The race is for the checks a slow hash leaves open: hash as in production.
            **production_hashing(),
            "REDIS_PREFIX": f"{redis_prefix}sec-race:",
            "AUTH_TRUSTED_PROXIES": "127.0.0.1",
            "AUTH_LOGIN_ACCOUNT_PER_HOUR": str(ACCOUNT_PER_HOUR),
        },
        migrate=False,
    )


@pytest.fixture
async def wide_http() -> AsyncIterator[httpx.AsyncClient]:
    """A client with room for every attempt of a burst on its own connection."""
    limits = httpx.Limits(max_connections=AT_ONCE + 10, max_keepalive_connections=AT_ONCE + 10)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        yield client


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def _register(http: httpx.AsyncClient, url: str) -> tuple[str, str]:
    email, password = f"race-{secrets.token_hex(5)}@example.test", secrets.token_hex(10)
    r = await http.post(
        f"{url}/auth/register", json={"email": email, "password": password, "display_name": "R"}
    )
    assert r.status_code == 201, r.text
    return email, password


async def _login(http: httpx.AsyncClient, url: str, email: str, password: str, address: str) -> int:
    r = await http.post(
        f"{url}/auth/login",
        json={"email": email, "password": password},
        headers=_from(address),
    )
    assert r.status_code in (200, 401, 429), r.text
    return r.status_code


async def _burst(
    http: httpx.AsyncClient, url: str, attempts: list[tuple[str, str, str]]
) -> list[int]:
    """Every attempt sent at the same moment: all wait on one event, then go."""
    go = asyncio.Event()

    async def one(email: str, password: str, address: str) -> int:
        await go.wait()
        return await _login(http, url, email, password, address)

    tasks = [asyncio.create_task(one(*a)) for a in attempts]
    await asyncio.sleep(0.05)
    go.set()
    return await asyncio.gather(*tasks)


async def test_concurrent_guesses_at_one_account_get_at_most_the_burst(
    wide_http: httpx.AsyncClient, guarded_auth: ServiceProcess
) -> None:
    """200 wrong passwords at one account at once, twice: at most the burst (5) is checked."""
    url = guarded_auth.url
    email, _ = await _register(wide_http, url)
    started = time.monotonic()
    rounds = []
    for _ in range(2):
        statuses = await _burst(wide_http, url, [(email, "wrong", "198.51.100.7")] * AT_ONCE)
        rounds.append(statuses.count(401))
        assert statuses.count(401) + statuses.count(429) == AT_ONCE
    # The pair bucket refills 1 a minute: the elapsed time may have earned one more.
    allowed = PAIR_BURST + int((time.monotonic() - started) / 60) + 1
    report.MEASURES.append(
        report.Measure(
            "login race: 200 wrong passwords at one account at once, twice",
            f"{rounds[0]} and {rounds[1]} checked (401), the rest 429",
            f"at most the burst ({PAIR_BURST}) checked in all",
        )
    )
    assert sum(rounds) <= allowed, rounds


async def test_concurrent_spraying_from_one_address_gets_at_most_the_burst(
    wide_http: httpx.AsyncClient, guarded_auth: ServiceProcess
) -> None:
    """200 guesses at 200 accounts from one address at once: at most its burst (30) checked."""
    url = guarded_auth.url
    attempts = [
        (f"spray-{i}-{secrets.token_hex(3)}@example.test", "Winter2026!", "198.51.100.8")
        for i in range(AT_ONCE)
    ]
    statuses = await _burst(wide_http, url, attempts)
    report.MEASURES.append(
        report.Measure(
            "login race: 200 accounts from one address at once",
            f"{statuses.count(401)} checked (401), {statuses.count(429)} refused (429)",
            f"at most the address burst ({IP_BURST}) checked",
        )
    )
    assert statuses.count(401) <= IP_BURST + 1, statuses.count(401)
    assert statuses.count(429) >= AT_ONCE - IP_BURST - 1


async def test_guesses_from_one_address_do_not_lock_out_the_owner(
    wide_http: httpx.AsyncClient, guarded_auth: ServiceProcess
) -> None:
    """An address flooding wrong passwords is refused; the owner, elsewhere, logs in at once."""
    url = guarded_auth.url
    email, password = await _register(wide_http, url)
    statuses = await _burst(wide_http, url, [(email, "wrong", "203.0.113.66")] * 50)
    assert statuses.count(401) <= PAIR_BURST + 1
    # The attacker's own address is refused even with the right password ...
    assert await _login(wide_http, url, email, password, "203.0.113.66") == 429
    # ... while the owner, from anywhere else, is not.
    started = time.monotonic()
    owner = await _login(wide_http, url, email, password, "192.0.2.10")
    report.MEASURES.append(
        report.Measure(
            "lockout: owner logs in after 50 guesses from another address",
            f"{owner} in {(time.monotonic() - started) * 1000:.0f} ms",
            "200",
        )
    )
    assert owner == 200


async def test_hourly_account_cap_holds_across_addresses(
    wide_http: httpx.AsyncClient, guarded_auth: ServiceProcess
) -> None:
    """Guesses from 100 addresses at once: at most the hourly account cap is checked; a new
    address is then refused, and the owner's usual address still gets in."""
    url = guarded_auth.url
    email, password = await _register(wide_http, url)
    assert await _login(wide_http, url, email, password, "192.0.2.20") == 200  # usual place
    attempts = [(email, f"guess-{i}", f"10.9.{i // 4}.{i % 4 + 1}") for i in range(AT_ONCE)]
    statuses = await _burst(wide_http, url, attempts[:100] * 2)
    checked = statuses.count(401)
    newcomer = await _login(wide_http, url, email, password, "192.0.2.99")
    owner = await _login(wide_http, url, email, password, "192.0.2.20")
    report.MEASURES.append(
        report.Measure(
            f"account cap: 200 guesses, one account, 100 addresses (cap {ACCOUNT_PER_HOUR}/h)",
            f"{checked} checked; new address {newcomer}; owner's usual address {owner}",
            f"at most {ACCOUNT_PER_HOUR} checked; owner 200",
        )
    )
    assert checked <= ACCOUNT_PER_HOUR + 1, checked
    assert newcomer == 429
    assert owner == 200


async def test_forwarded_header_is_ignored_unless_the_proxy_is_trusted(
    wide_http: httpx.AsyncClient,
    start_service: StartService,
    redis_prefix: str,
    auth_service: ServiceProcess,
) -> None:
    """By default X-Forwarded-For is ignored: rotating it does not earn a guesser new buckets."""
    auth = start_service(
        "auth_service", env={"REDIS_PREFIX": f"{redis_prefix}sec-xff:"}, migrate=False
    )
    email, _ = await _register(wide_http, auth.url)
    statuses = [
        await _login(wide_http, auth.url, email, "wrong", f"10.1.0.{i}") for i in range(1, 13)
    ]
    assert statuses.count(401) <= PAIR_BURST, statuses
