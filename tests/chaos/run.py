"""One fault case from start to verdict: users and rooms, the load, the comparison of what
every client received with what Postgres holds, and the figures of the case."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from tests.chaos.load import ChatClient
from tests.chaos.stack import Stack


@dataclass(frozen=True)
class Scale:
    """How big a case runs: ``short`` in ``make test``, ``full`` in ``make chaos``."""

    name: str
    clients: int
    rooms: int
    interval: float  # seconds between one client's sends
    before: float  # seconds of load before the fault
    after: float  # seconds of load after it
    repeats: int  # how often a repeatable fault (a storm, a drop) is done
    outage: float  # seconds a stopped server stays down
    recover_within: float  # seconds every client must send again within, after the fault


SCALES = {
    "short": Scale(
        "short",
        clients=24,
        rooms=4,
        interval=0.5,
        before=0.8,
        after=1.0,
        repeats=1,
        outage=1.0,
        recover_within=20.0,
    ),
    "full": Scale(
        "full",
        clients=200,
        rooms=20,
        interval=1.0,
        before=4.0,
        after=8.0,
        repeats=3,
        outage=2.0,
        recover_within=60.0,
    ),
}


@dataclass
class Figures:
    """The outcome of one case (docs/reliability.md explains each column)."""

    case: str
    scale: str
    clients: int
    rooms: int
    acknowledged: int = 0
    lost: int = 0
    duplicates: int = 0
    order_violations: int = 0
    recover_s: float | None = None
    stored_duplicates: int = 0
    ack_mismatches: int = 0
    unacked: int = 0
    gaps_in_seq: int = 0
    foreign: int = 0
    crashes: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    recover_within: float = 60.0
    # A few clients that lost or misordered something: what they got, connection by connection.
    examples: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.lost
            or self.duplicates
            or self.order_violations
            or self.stored_duplicates
            or self.ack_mismatches
            or self.unacked
            or self.gaps_in_seq
            or self.foreign
            or self.crashes
            or self.recover_s is None
            or self.recover_s > self.recover_within
        )


class Users:
    """Load users, registered once per stack and reused by every case."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.users: list[tuple[str, str]] = []  # (user_id, access token)

    async def ensure(self, count: int) -> list[tuple[str, str]]:
        async with httpx.AsyncClient(timeout=30) as http:
            limit = asyncio.Semaphore(16)

            async def one() -> tuple[str, str]:
                async with limit:
                    return await _register(http, self.stack.auth.url)

            missing = count - len(self.users)
            if missing > 0:
                self.users += await asyncio.gather(*(one() for _ in range(missing)))
        return self.users[:count]


async def _register(http: httpx.AsyncClient, auth_url: str) -> tuple[str, str]:
    email = f"load-{secrets.token_hex(6)}@example.test"
    password = secrets.token_hex(12)
    answer = await http.post(
        f"{auth_url}/auth/register",
        json={"email": email, "password": password, "display_name": "load"},
    )
    assert answer.status_code == 201, answer.text
    login = await http.post(f"{auth_url}/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    body = login.json()
    return str(body["user"]["id"]), str(body["access_token"])


class Load:
    """The clients of one case, spread evenly over its rooms and the two gateways."""

    def __init__(self, stack: Stack, scale: Scale, case: str) -> None:
        self.stack = stack
        self.scale = scale
        self.case = case
        self.clients: list[ChatClient] = []
        self.rooms: list[str] = []
        self.crashes_before = len(stack.crashes())

    async def start(self, users: list[tuple[str, str]]) -> None:
        per_room = len(users) // self.scale.rooms
        groups = [users[i * per_room : (i + 1) * per_room] for i in range(self.scale.rooms)]
        async with httpx.AsyncClient(timeout=30) as http:
            for group in groups:
                owner_token = group[0][1]
                answer = await http.post(
                    f"{self.stack.rooms.url}/rooms",
                    json={"title": f"chaos {self.case}", "member_ids": [u for u, _ in group[1:]]},
                    headers={"Authorization": f"Bearer {owner_token}"},
                )
                assert answer.status_code == 201, answer.text
                self.rooms.append(str(answer.json()["id"]))
        urls = [g.url for g in self.stack.gateways]
        for r, group in enumerate(groups):
            for _, token in group:
                client = ChatClient(
                    len(self.clients), token, self.rooms[r], urls, interval=self.scale.interval
                )
                self.clients.append(client)
        for client in self.clients:
            client.start()
        await self.wait(lambda: all(c.live.is_set() for c in self.clients), 60, "connect")
        for client in self.clients:
            client.sending = True

    async def wait(self, check: Any, timeout: float, what: str) -> float:
        started = time.monotonic()
        while not check():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{self.case}: {what} not done within {timeout}s")
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    def recovery(self, fault_at: float, restored_at: float) -> float | None:
        """Seconds from the fault until every client had a send acknowledged again."""
        worst = 0.0
        for client in self.clients:
            after = [t for t in client.ack_times if t > restored_at]
            if not after:
                return None
            worst = max(worst, min(after) - fault_at)
        return round(worst, 2)

    async def finish(self, fault_at: float, restored_at: float) -> Figures:
        """Stop sending, let every send be acknowledged and every client catch up, compare."""
        # Sending goes on until every client had a send acknowledged after the fault (within
        # the bound), so a slow recovery is measured rather than cut off by the window.
        with contextlib.suppress(AssertionError):
            await self.wait(
                lambda: all(any(t > restored_at for t in c.ack_times) for c in self.clients),
                max(0.0, self.scale.recover_within - (time.monotonic() - fault_at)),
                "recovery",
            )
        recover = self.recovery(fault_at, restored_at)
        for client in self.clients:
            client.sending = False
        figures = Figures(
            self.case,
            self.scale.name,
            len(self.clients),
            len(self.rooms),
            recover_within=self.scale.recover_within,
        )
        # Sends still unacknowledged after a minute are counted below (as unacked).
        with contextlib.suppress(AssertionError):
            await self.wait(lambda: not any(c.unacked for c in self.clients), 60, "acks")
        conn = await asyncpg.connect(self.stack.database_url)
        try:
            newest: dict[str, int] = {}

            def caught_up() -> bool:
                return all(c.received.last >= newest.get(c.room_id, 0) for c in self.clients)

            newest = await _newest(conn, self.rooms)
            deadline = time.monotonic() + 60
            while not caught_up() and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                newest = await _newest(conn, self.rooms)
            rows = await conn.fetch(
                "SELECT room_id::text AS room_id, seq, id::text AS id, body "
                "FROM messages.messages WHERE room_id = ANY($1::uuid[])",
                self.rooms,
            )
        finally:
            await conn.close()
        await asyncio.sleep(0.5)  # a late duplicate would arrive now
        for client in self.clients:
            await client.stop()
        self._compare(figures, rows)
        figures.recover_s = recover
        figures.crashes = len(self.stack.crashes()) - self.crashes_before
        return figures

    def _compare(self, figures: Figures, rows: list[asyncpg.Record]) -> None:
        by_room: dict[str, set[int]] = {r: set() for r in self.rooms}
        by_id = {row["id"]: row for row in rows}
        bodies: dict[str, int] = {}
        for row in rows:
            by_room[row["room_id"]].add(int(row["seq"]))
            bodies[row["body"]] = bodies.get(row["body"], 0) + 1
        figures.stored_duplicates = sum(n - 1 for n in bodies.values() if n > 1)
        for seqs in by_room.values():
            figures.gaps_in_seq += (max(seqs, default=0) - len(seqs)) if seqs else 0
        for client in self.clients:
            stored = by_room[client.room_id]
            got = client.received
            missing = stored - got.seen
            figures.lost += len(missing)
            if (missing or got.order_violations) and len(figures.examples) < 4:
                low = min(missing, default=got.last) - 6
                high = max(missing, default=got.last) + 6
                figures.examples.append(
                    f"client {client.index} room {client.room_id[:8]} missing "
                    f"{sorted(missing)[:20]}; (connection, seq) around it "
                    f"{[t for t in got.trace if low <= t[1] <= high][:60]}; connects "
                    f"(n, gateway, resumed from, ready last_seq) {got.connects[-12:]}"
                )
            figures.duplicates += got.duplicates
            figures.order_violations += got.order_violations
            figures.foreign += got.foreign
            figures.acknowledged += len(client.acked)
            figures.unacked += len(client.unacked)
            for message_id, seq in client.acked.values():
                row = by_id.get(message_id)
                if row is None or int(row["seq"]) != seq:
                    figures.ack_mismatches += 1
            for code, n in client.errors.items():
                figures.errors[code] = figures.errors.get(code, 0) + n
        # An acknowledged message missing from Postgres is lost, whoever should have seen it.
        figures.lost += figures.ack_mismatches


async def _newest(conn: asyncpg.Connection, rooms: list[str]) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT room_id::text AS room_id, last_seq FROM messages.rooms "
        "WHERE room_id = ANY($1::uuid[])",
        rooms,
    )
    return {row["room_id"]: int(row["last_seq"]) for row in rows}
