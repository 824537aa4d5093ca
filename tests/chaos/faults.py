"""The faults, each done to the private stack while the load runs.

Each returns ``(fault_at, restored_at)`` on the monotonic clock: when the fault began, and
when whatever it broke was running again. Blocking steps (signals, ``pg_ctl``, waiting for a
restarted process to be ready) run in a thread so the clients keep going meanwhile.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable

from tests.chaos.run import Load
from tests.chaos.stack import Stack

Fault = Callable[[Stack, Load], Awaitable[tuple[float, float]]]


async def gateway_kill(stack: Stack, load: Load) -> tuple[float, float]:
    """SIGKILL the first gateway during fan-out; its clients move to the second."""
    return await _gateway_stop(stack, load, 0, signal.SIGKILL)


async def gateway_term(stack: Stack, load: Load) -> tuple[float, float]:
    """SIGTERM the second gateway during fan-out (1001 to every client); they move."""
    return await _gateway_stop(stack, load, 1, signal.SIGTERM)


async def _gateway_stop(stack: Stack, load: Load, index: int, sig: int) -> tuple[float, float]:
    gateway = stack.gateways[index]
    fault_at = time.monotonic()
    await asyncio.to_thread(stack.kill, gateway, sig)
    restored_at = time.monotonic()
    # Back for the cases after this one (its clients stay where they went).
    await asyncio.sleep(load.scale.outage)
    await asyncio.to_thread(gateway.start)
    return fault_at, restored_at


async def redis_restart(stack: Stack, load: Load) -> tuple[float, float]:
    """``SHUTDOWN NOSAVE`` the private Redis mid-stream, then start it again on its port."""
    fault_at = time.monotonic()
    await asyncio.to_thread(stack.redis.shutdown)
    await asyncio.sleep(load.scale.outage)
    await asyncio.to_thread(stack.redis.start)
    return fault_at, time.monotonic()


async def postgres_restart(stack: Stack, load: Load) -> tuple[float, float]:
    """Stop the private Postgres in fast mode mid-stream, then start it again."""
    fault_at = time.monotonic()
    await asyncio.to_thread(stack.postgres.stop, "fast")
    await asyncio.sleep(load.scale.outage)
    await asyncio.to_thread(stack.postgres.start)
    return fault_at, time.monotonic()


async def publish_lost(stack: Stack, load: Load) -> tuple[float, float]:
    """Cut message-service's link to Redis: sends commit, their publishes are lost."""
    fault_at = time.monotonic()
    await asyncio.to_thread(stack.proxy.cut)
    await asyncio.sleep(load.scale.outage)
    await asyncio.to_thread(stack.proxy.restore)
    return fault_at, time.monotonic()


async def messages_kill(stack: Stack, load: Load) -> tuple[float, float]:
    """SIGKILL message-service mid-stream (between commits and publishes), then restart it."""
    fault_at = time.monotonic()
    await asyncio.to_thread(stack.kill, stack.messages, signal.SIGKILL)
    await asyncio.to_thread(stack.messages.start)
    return fault_at, time.monotonic()


async def duplicate_sends(stack: Stack, load: Load) -> tuple[float, float]:
    """Clients drop their connection right after a send, before its ack, then re-send it."""
    fault_at = time.monotonic()
    for client in load.clients:
        client.drop_after_send = 0.3
    await asyncio.sleep(load.scale.interval * 4 * load.scale.repeats)
    for client in load.clients:
        client.drop_after_send = 0.0
    return fault_at, time.monotonic()


async def reconnect_storm(stack: Stack, load: Load) -> tuple[float, float]:
    """Every client drops at once and resumes at once."""
    fault_at = restored_at = time.monotonic()
    for round_ in range(load.scale.repeats):
        if round_:
            await asyncio.sleep(load.scale.interval * 3)
        restored_at = time.monotonic()
        for client in load.clients:
            client.drop()
    return fault_at, restored_at


CASES: dict[str, Fault] = {
    "gateway SIGKILL": gateway_kill,
    "gateway SIGTERM": gateway_term,
    "redis restart": redis_restart,
    "postgres restart": postgres_restart,
    "publish lost": publish_lost,
    "messages SIGKILL": messages_kill,
    "duplicate sends": duplicate_sends,
    "reconnect storm": reconnect_storm,
}
