"""The ``history`` scenario (ours only): clients paging rooms' history over HTTP.

Made through the real APIs before measuring: ``ROOMS`` rooms of two users, each filled with
``MESSAGES_PER_ROOM`` messages by its owner (``POST /messages``). Then ``CLIENTS`` clients,
each the other member of one room (a reader, not the writer), page ``GET /messages``
newest first, ``PAGE`` messages a page, following ``next_cursor`` to the room's first
message and starting again, for the run's warm-up and measured seconds. The figures: pages/s
and messages/s read, page latency p50 / p99 / max, where message-service served the reads
(``messages_reads_total``: the primary, or the replica of ``BENCH_OURS_DB=replica``) and the
CPU of each of ours' process groups (cores) over the measured seconds.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from chat_testkit.chat import Chat
from chat_testkit.users import TestUser, register_user
from harness.config import Config
from harness.systems import System

TITLE = "history paging, HTTP"
ROOMS = 20
MESSAGES_PER_ROOM = 500
QUICK_MESSAGES_PER_ROOM = 150
CLIENTS = 50
PAGE = 50
SETUP_CONCURRENCY = 32
READS = re.compile(r'^messages_reads_total\{server="(\w+)"\} ([0-9.e+]+)$', re.M)
TICKS = os.sysconf("SC_CLK_TCK")


def run_history(system: System, config: Config) -> dict[str, Any]:
    """The scenario's figures on ``system`` (ours), or ``{"error": ...}``."""
    try:
        return asyncio.run(_run(system, config))
    except (OSError, AssertionError, aiohttp.ClientError, httpx.HTTPError) as exc:
        return {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}


def describe(result: dict[str, Any]) -> str:
    """One line for the run's log."""
    if result.get("error"):
        return f"FAILED: {result['error']}"
    reads = ", ".join(f"{k} {v:,.0f}" for k, v in result["reads_by_server"].items()) or "-"
    return (
        f"{result['pages_per_s']:,.0f} pages/s ({result['messages_per_s']:,.0f} messages/s), "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, errors {result['errors']}; "
        f"reads by server: {reads}; server CPU {result['server_cores']} cores"
    )


async def _setup(system: System, per_room: int) -> list[tuple[str, TestUser]]:
    """The rooms, filled; each with its reader."""
    env = system.env
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)
    async with httpx.AsyncClient(timeout=60.0) as http:
        chat = Chat(http, env["ROOMS_URL"], env["MESSAGES_URL"])

        async def user() -> TestUser:
            async with gate:
                return await register_user(http, env["AUTH_URL"])

        users = await asyncio.gather(*(user() for _ in range(2 * ROOMS)))
        owners, readers = users[:ROOMS], users[ROOMS:]
        rooms = await asyncio.gather(
            *(chat.room(o, r) for o, r in zip(owners, readers, strict=True))
        )

        async def send(owner: TestUser, room: str, n: int) -> None:
            async with gate:
                await chat.send(owner, room, f"history {n}: the quick brown fox, 다람쥐 헌 쳇바퀴")

        await asyncio.gather(
            *(send(o, r, n) for o, r in zip(owners, rooms, strict=True) for n in range(per_room))
        )
    return list(zip(rooms, readers, strict=True))


async def _reads(messages_url: str) -> dict[str, float]:
    """message-service's reads so far by server, on a connection of its own (the clients'
    pool is always busy)."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.get(f"{messages_url}/metrics") as answer,
    ):
        text = await answer.text()
    return {server: float(value) for server, value in READS.findall(text)}


async def _run(system: System, config: Config) -> dict[str, Any]:
    per_room = QUICK_MESSAGES_PER_ROOM if config.quick else MESSAGES_PER_ROOM
    started = time.monotonic()
    rooms = await _setup(system, per_room)
    setup_s = time.monotonic() - started
    messages_url = system.env["MESSAGES_URL"]
    took: list[float] = []
    counts = {"pages": 0, "messages": 0, "errors": 0}
    measuring = asyncio.Event()
    done = asyncio.Event()

    async def client(session: aiohttp.ClientSession, room: str, reader: TestUser) -> None:
        headers = reader.headers
        cursor: str | None = None
        while not done.is_set():
            params = {"room_id": room, "limit": str(PAGE)}
            if cursor is not None:
                params["cursor"] = cursor
            began = time.perf_counter()
            try:
                async with session.get(
                    f"{messages_url}/messages", params=params, headers=headers
                ) as answer:
                    body = await answer.json() if answer.status == 200 else None
            except (aiohttp.ClientError, TimeoutError):
                body = None
            if not measuring.is_set() or done.is_set():
                cursor = body.get("next_cursor") if body else None
                continue
            if body is None:
                counts["errors"] += 1
                cursor = None
                continue
            took.append((time.perf_counter() - began) * 1000)
            counts["pages"] += 1
            counts["messages"] += len(body["items"])
            cursor = body.get("next_cursor")

    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        tasks = [
            asyncio.create_task(client(session, *rooms[n % len(rooms)])) for n in range(CLIENTS)
        ]
        await asyncio.sleep(config.warmup_s)
        reads_before = await _reads(messages_url)
        cpu_before, client_before = _cpu(system.pid_groups), time.process_time()
        measuring.set()
        began = time.monotonic()
        await asyncio.sleep(config.duration_s)
        done.set()
        seconds = time.monotonic() - began
        cpu_after, client_after = _cpu(system.pid_groups), time.process_time()
        await asyncio.gather(*tasks)
        reads_after = await _reads(messages_url)
    took.sort()

    def at(fraction: float) -> float | None:
        return round(took[min(len(took) - 1, int(fraction * len(took)))], 2) if took else None

    cores = {
        name: round((cpu_after[name] - cpu_before.get(name, 0.0)) / seconds, 2)
        for name in cpu_after
    }
    return {
        "title": TITLE,
        "rooms": ROOMS,
        "messages_per_room": per_room,
        "clients": CLIENTS,
        "page": PAGE,
        "setup_s": round(setup_s, 1),
        "seconds": round(seconds, 2),
        "pages_per_s": round(counts["pages"] / seconds, 1),
        "messages_per_s": round(counts["messages"] / seconds, 1),
        "errors": counts["errors"],
        "p50_ms": at(0.50),
        "p99_ms": at(0.99),
        "max_ms": round(took[-1], 2) if took else None,
        "reads_by_server": {
            k: reads_after[k] - reads_before.get(k, 0.0)
            for k in reads_after
            if reads_after[k] - reads_before.get(k, 0.0)
        },
        "server_cores_by_group": cores,
        "server_cores": round(sum(cores.values()), 2),
        # The client runs in the harness' own process: near one core, it is the limit.
        "client_cores": round((client_after - client_before) / seconds, 2),
    }


def _cpu(groups: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far of each group's processes and their descendants (forked workers)."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        times[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    out: dict[str, float] = {}
    for name, roots in groups.items():
        seen: set[int] = set()
        todo = list(roots)
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            todo.extend(children.get(pid, []))
        out[name] = sum(times.get(pid, 0.0) for pid in seen)
    return out
