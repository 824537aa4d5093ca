"""Send and history-read throughput with and without PgBouncer and a read replica.

    .venv/bin/python message-service/scripts/data_tier.py --messages 5000 --reads 5000

Starts a private Postgres primary (initdb) with a streaming replica (pg_basebackup -R) and
PgBouncer in transaction mode in front of the primary, then, for each setup, auth-, room-
and message-service processes on it: sends ``--messages`` messages over HTTP
(``--concurrency`` keep-alive connections), then reads ``--reads`` history pages of 50
(GET /messages) as members who sent nothing (so replica reads need no wait). Prints each
setup's rates and the replica's largest replay lag seen during the sends (sampled every
50 ms from pg_stat_replication on the primary).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import asyncpg
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).parent))
from throughput import Connection, send_all, set_up

from chat_testkit.pgbouncer import pgbouncer
from chat_testkit.pgcluster import Server, primary_and_replica
from chat_testkit.processes import ServiceProcess
from chat_testkit.servers import LOCAL_REDIS, free_port
from chatcore.migrations import migrate

SETUPS = ("direct", "pgbouncer", "replica", "pgbouncer+replica")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--reads", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--users", type=int, default=20, help="senders (and as many readers)")
    parser.add_argument("--rooms", type=int, default=5)
    parser.add_argument("--setups", default=",".join(SETUPS))
    parser.add_argument("--redis", default=os.environ.get("TEST_REDIS_URL", LOCAL_REDIS))
    return parser.parse_args()


class Reader(Connection):
    async def get(self, token: str, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            b"GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n"
            % (path.encode(), self.host.encode(), token.encode())
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        await self.reader.readexactly(length)
        return int(head[9:12])


def start(
    stack: ExitStack, setup: str, primary: Server, replica: Server, bounced: str, logs: Path
) -> dict[str, str]:
    key_file = logs / f"{setup}-key.pem"
    key_file.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ports = {name: free_port() for name in ("auth", "rooms", "messages")}
    env = {
        "DATABASE_URL": bounced if "pgbouncer" in setup else primary.url("chat"),
        "DB_POOLER": "pgbouncer" if "pgbouncer" in setup else "",
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", LOCAL_REDIS),
        "REDIS_PREFIX": f"bench-{secrets.token_hex(4)}:",
        "LOG_LEVEL": "WARNING",
        "AUTH_SIGNING_KEY_FILE": str(key_file),
        "AUTH_LOGIN_IP_BURST": "100000",
        "AUTH_REGISTER_IP_BURST": "100000",
        "MESSAGES_SEND_RATE": "1000000",
        "MESSAGES_SEND_BURST": "1000000",
        **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
        **{f"{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items()},
    }
    if "replica" in setup:
        env["MESSAGES_READ_DATABASE_URL"] = replica.url("chat")
    urls = {}
    for name, module in (("auth", "auth_service"), ("rooms", "room_service")):
        process = ServiceProcess(module, ports[name], env, logs / f"{setup}-{module}.log")
        process.start(timeout=90)
        stack.callback(process.stop)
        urls[name] = process.url
    process = ServiceProcess("message_service", ports["messages"], env, logs / f"{setup}-m.log")
    process.start(timeout=90)
    stack.callback(process.stop)
    urls["messages"] = process.url
    return urls


async def lag_sampler(primary: Server, stop: asyncio.Event) -> tuple[int, float]:
    """The largest replay lag seen: in bytes and in seconds (replay_lag)."""
    conn = await asyncpg.connect(primary.url())
    most_bytes, most_seconds = 0, 0.0
    try:
        while not stop.is_set():
            row = await conn.fetchrow(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS b,"
                " extract(epoch FROM replay_lag)::float8 AS s FROM pg_stat_replication"
            )
            if row is not None:
                most_bytes = max(most_bytes, int(row["b"] or 0))
                most_seconds = max(most_seconds, float(row["s"] or 0.0))
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return most_bytes, most_seconds


async def measure(
    setup: str, urls: dict[str, str], primary: Server, args: argparse.Namespace
) -> str:
    senders, rooms = await set_up(urls, args)
    async with httpx.AsyncClient(timeout=60) as http:
        from chat_testkit.users import register_user

        readers = [await register_user(http, urls["auth"]) for _ in range(args.users)]
        for room in rooms:
            for reader in readers:
                answer = await http.post(
                    f"{urls['rooms']}/rooms/{room}/members",
                    json={"user_id": str(reader.id)},
                    headers=senders[0].headers,
                )
                answer.raise_for_status()
    stop = asyncio.Event()
    sampler = asyncio.create_task(lag_sampler(primary, stop))
    elapsed, statuses = await send_all(urls["messages"], senders, rooms, args)
    stop.set()
    lag_bytes, lag_seconds = await sampler
    sent = statuses.get(201, 0) / elapsed
    await asyncio.sleep(1.0)  # the replica catches up before the reads
    counter = iter(range(args.reads))
    read_statuses: dict[int, int] = {}

    async def read_loop() -> None:
        connection = Reader(urls["messages"])
        for n in counter:
            user = readers[n % len(readers)]
            path = f"/messages?room_id={rooms[n % len(rooms)]}&limit=50"
            status = await connection.get(user.access_token, path)
            read_statuses[status] = read_statuses.get(status, 0) + 1
        if connection.writer is not None:
            connection.writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(read_loop() for _ in range(args.concurrency)))
    read_elapsed = time.perf_counter() - started
    read = read_statuses.get(200, 0) / read_elapsed
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"{urls['messages']}/metrics")).text
    from_replica = re.search(r'^messages_reads_total\{server="replica"\} (\S+)$', metrics, re.M)
    return (
        f"| {setup} | {sent:,.0f} | {read:,.0f} | "
        f"{float(from_replica.group(1)) if from_replica else 0:,.0f} | "
        f"{lag_bytes:,} B / {lag_seconds * 1000:.1f} ms | {statuses} {read_statuses} |"
    )


def main() -> int:
    args = parse_args()
    rows = []
    with primary_and_replica() as (primary, replica), tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_create(primary))
        logs = Path(tmp)
        with pgbouncer(primary.url("chat"), logs / "pgbouncer", server_pool=20) as bouncer:
            bounced = bouncer.url(primary.url("chat"))
            for setup in args.setups.split(","):
                print(f"{setup} ...", file=sys.stderr)
                with ExitStack() as stack:
                    urls = start(stack, setup, primary, replica, bounced, logs)
                    rows.append(asyncio.run(measure(setup, urls, primary, args)))
    print(
        "| setup | sends/s | history pages/s | pages from the replica | largest replay lag"
        " | answers |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    return 0


async def _create(primary: Server) -> None:
    """The database ``chat``, every service's migrations applied."""
    conn = await asyncpg.connect(primary.url())
    try:
        await conn.execute("CREATE DATABASE chat")
    finally:
        await conn.close()
    import auth_service
    import message_service
    import room_service

    for package, schema in (
        (auth_service, "auth"),
        (room_service, "rooms"),
        (message_service, "messages"),
    ):
        folder = Path(package.__file__ or "").parent / "migrations"
        await migrate(primary.url("chat"), schema, folder)


if __name__ == "__main__":
    raise SystemExit(main())
