"""Registration throttling per client address, and the bounded line for a hashing slot."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from auth_service.hash_slots import HashingBusy, HashSlots, Priority
from chat_testkit.plugin import InProcess
from chat_testkit.processes import ServiceProcess


@pytest.fixture
async def register_throttled_auth(
    in_process: InProcess, own_prefix: str, auth_service: ServiceProcess
) -> AsyncIterator[httpx.AsyncClient]:
    """An instance behind a trusted proxy allowing 3 registrations per address an hour."""
    env = {
        "REDIS_PREFIX": own_prefix,
        "AUTH_REGISTER_IP_BURST": "3",
        "AUTH_REGISTER_IP_PER_HOUR": "3",
        "AUTH_TRUSTED_PROXIES": "127.0.0.1",
    }
    async with in_process("auth_service", env) as http:
        yield http


async def test_registrations_per_address_are_throttled(
    register_throttled_auth: httpx.AsyncClient,
) -> None:
    """Past the burst an address gets 429 with Retry-After; another address still registers."""
    http = register_throttled_auth

    async def register(address: str) -> httpx.Response:
        return await http.post(
            "/auth/register",
            json={
                "email": f"reg-{secrets.token_hex(5)}@example.test",
                "password": "a good password",
                "display_name": "Reg",
            },
            headers={"X-Forwarded-For": address},
        )

    statuses = [(await register("198.51.100.30")).status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    limited = await register("198.51.100.30")
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert (await register("198.51.100.31")).status_code == 201


async def test_hash_slots_serve_logins_first_and_refuse_a_full_line() -> None:
    """With every slot busy, logins overtake registrations, and a full line is HashingBusy."""
    slots = HashSlots(concurrency=1, queue_limit=4)
    await slots.acquire(Priority.LOGIN)
    order: list[str] = []

    async def wait(priority: Priority, name: str) -> None:
        await slots.acquire(priority)
        order.append(name)
        slots.release()

    register = asyncio.create_task(wait(Priority.REGISTER, "register"))
    await asyncio.sleep(0)
    # A quarter of the line (1) is all registrations may fill.
    with pytest.raises(HashingBusy):
        await slots.acquire(Priority.REGISTER)
    logins = [asyncio.create_task(wait(Priority.LOGIN, f"login-{i}")) for i in range(3)]
    await asyncio.sleep(0)
    with pytest.raises(HashingBusy):
        await slots.acquire(Priority.LOGIN)
    slots.release()
    await asyncio.gather(register, *logins)
    assert order == ["login-0", "login-1", "login-2", "register"]
    assert slots.free == 1
    assert slots.waiting == 0


async def test_a_waiter_that_gives_up_leaves_the_line() -> None:
    """A cancelled waiter neither keeps its place nor loses the slot it was handed."""
    slots = HashSlots(concurrency=1, queue_limit=4)
    await slots.acquire(Priority.LOGIN)
    waiter = asyncio.create_task(slots.acquire(Priority.LOGIN))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert slots.waiting == 0
    slots.release()
    assert slots.free == 1


async def test_no_one_waits_in_line_past_the_longest_wait() -> None:
    """A registration kept waiting by a slot that is never freed gets HashingBusy in time."""
    slots = HashSlots(concurrency=1, queue_limit=8, max_wait=0.2)
    await slots.acquire(Priority.LOGIN)
    started = asyncio.get_running_loop().time()
    with pytest.raises(HashingBusy):
        await slots.acquire(Priority.REGISTER)
    assert 0.15 < asyncio.get_running_loop().time() - started < 2.0
    assert slots.waiting == 0
    slots.release()
    assert slots.free == 1
