"""Persisted messages per second through message-service's HTTP API, on this machine.

    .venv/bin/python message-service/scripts/throughput.py --messages 20000 --concurrency 200

Starts its own auth-, room- and message-service processes (a fresh database, this run's own
Redis prefix, send limits lifted), registers users, creates rooms, then has ``--concurrency``
keep-alive connections send ``--messages`` messages as fast as they are answered, spread over
the users and rooms. It prints the rate of 201s, the rows Postgres holds afterwards, the
group-commit batch sizes message-service saw (from its /metrics) and the CPU the load
generator itself used (it shares the machine's cores with the service).

The sends use a minimal HTTP/1.1 client on raw sockets: a general-purpose client would cost
more CPU than the service it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import secrets
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chat_testkit.processes import ServiceProcess
from chat_testkit.servers import (
    LOCAL_POSTGRES,
    LOCAL_REDIS,
    free_port,
    fresh_database,
)
from chat_testkit.users import TestUser, register_user


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages to send")
    parser.add_argument("--concurrency", type=int, default=200, help="connections sending")
    parser.add_argument("--users", type=int, default=100, help="senders")
    parser.add_argument("--rooms", type=int, default=20, help="rooms (every user in each)")
    parser.add_argument("--workers", type=int, default=1, help="MESSAGES_WORKERS")
    parser.add_argument("--batch-max", type=int, default=256, help="MESSAGES_BATCH_MAX")
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL", LOCAL_POSTGRES))
    parser.add_argument("--redis", default=os.environ.get("TEST_REDIS_URL", LOCAL_REDIS))
    return parser.parse_args()


def start_services(stack: ExitStack, args: argparse.Namespace, logs: Path) -> dict[str, str]:
    database = stack.enter_context(fresh_database(args.postgres))
    key_file = logs / "signing-key.pem"
    key_file.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ports = {name: free_port() for name in ("auth", "rooms", "messages")}
    env = {
        "DATABASE_URL": database,
        "REDIS_URL": args.redis,
        "REDIS_PREFIX": f"bench-{secrets.token_hex(4)}:",
        "LOG_LEVEL": "WARNING",
        "AUTH_SIGNING_KEY_FILE": str(key_file),
        "AUTH_LOGIN_IP_BURST": "100000",
        "MESSAGES_SEND_RATE": "1000000",
        "MESSAGES_SEND_BURST": "1000000",
        "MESSAGES_WORKERS": str(args.workers),
        "MESSAGES_BATCH_MAX": str(args.batch_max),
        **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
        **{f"{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items()},
    }
    urls = {}
    pids = {}
    for name, module in [
        ("auth", "auth_service"),
        ("rooms", "room_service"),
        ("messages", "message_service"),
    ]:
        process = ServiceProcess(module, ports[name], env, logs / f"{module}.log")
        process.migrate()
        process.start(timeout=60)
        stack.callback(process.stop)
        urls[name] = process.url
        if process.process is not None:
            pids[name] = process.process.pid
    urls["database"] = database
    urls["messages_pid"] = str(pids["messages"])
    return urls


def process_cpu(pid: str) -> float:
    """CPU seconds (user + system) used by a process and its live children (the workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if stat.parent.name == pid or fields[1] == pid:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


async def set_up(
    urls: dict[str, str], args: argparse.Namespace
) -> tuple[list[TestUser], list[str]]:
    async with httpx.AsyncClient(timeout=60) as http:
        users: list[TestUser] = []
        for start in range(0, args.users, 20):  # argon2 is heavy: a few at a time
            count = min(20, args.users - start)
            users += await asyncio.gather(
                *(register_user(http, urls["auth"]) for _ in range(count))
            )
        rooms = []
        for _ in range(args.rooms):
            r = await http.post(
                f"{urls['rooms']}/rooms",
                json={"title": "bench", "member_ids": [str(u.id) for u in users[1:]]},
                headers=users[0].headers,
            )
            r.raise_for_status()
            rooms.append(r.json()["id"])
        return users, rooms


class Connection:
    """One keep-alive HTTP/1.1 connection that sends POST /messages and reads the status."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, token: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            b"POST /messages HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (self.host.encode(), token.encode(), len(body), body)
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        await self.reader.readexactly(length)
        return status


async def send_all(
    url: str, users: list[TestUser], rooms: list[str], args: argparse.Namespace
) -> tuple[float, dict[int, int]]:
    statuses: dict[int, int] = {}
    counter = iter(range(args.messages))

    async def sender() -> None:
        connection = Connection(url)
        for n in counter:
            user = users[n % len(users)]
            body = orjson.dumps(
                {
                    "room_id": rooms[(n // len(users)) % len(rooms)],
                    "body": f"message {n} sent at {time.monotonic():.6f}",
                    "client_msg_id": uuid.uuid4().hex,
                }
            )
            status = await connection.post(user.access_token, body)
            statuses[status] = statuses.get(status, 0) + 1
        if connection.writer is not None:
            connection.writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(args.concurrency)))
    return time.perf_counter() - started, statuses


def batch_sizes(metrics_text: str) -> tuple[list[tuple[str, int]], float, float]:
    """The batch-size histogram as (bucket, batches in it), the batch count and size sum."""
    buckets = re.findall(r'^messages_batch_size_bucket\{le="([^"]+)"\} (\S+)$', metrics_text, re.M)
    count = float(re.search(r"^messages_batch_size_count (\S+)$", metrics_text, re.M).group(1))  # type: ignore[union-attr]
    total = float(re.search(r"^messages_batch_size_sum (\S+)$", metrics_text, re.M).group(1))  # type: ignore[union-attr]
    rows, previous = [], 0.0
    for bound, cumulative in buckets:
        value = float(cumulative)
        rows.append((bound, int(value - previous)))
        previous = value
    return rows, count, total


async def measure(urls: dict[str, str], args: argparse.Namespace) -> None:
    users, rooms = await set_up(urls, args)
    print(
        f"{len(users)} users, {len(rooms)} rooms; sending {args.messages} messages "
        f"over {args.concurrency} connections ...",
        file=sys.stderr,
    )
    conn = await asyncpg.connect(urls["database"])
    wal_before = await conn.fetchval("SELECT pg_current_wal_lsn()")
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    service_before = process_cpu(urls["messages_pid"])
    elapsed, statuses = await send_all(urls["messages"], users, rooms, args)
    service_cpu = process_cpu(urls["messages_pid"]) - service_before
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    # The whole cluster's WAL (other databases' writes count too: run it on a quiet server).
    wal = await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)", wal_before)
    disk = await conn.fetchval(
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'messages' AND c.relkind = 'r'"
    )
    stored = await conn.fetchval("SELECT count(*) FROM messages.messages")
    gaps = await conn.fetchval(
        """SELECT count(*) FROM (SELECT room_id, max(seq) AS m, count(*) AS c
           FROM messages.messages GROUP BY room_id) r WHERE m <> c"""
    )
    await conn.close()
    async with httpx.AsyncClient() as http:
        metrics_text = (await http.get(f"{urls['messages']}/metrics")).text
    rows, batches, total = batch_sizes(metrics_text)
    load_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    print(f"answers: {dict(sorted(statuses.items()))}")
    print(f"elapsed: {elapsed:.2f} s")
    print(f"persisted: {stored} rows, rooms with a seq gap: {gaps}")
    print(f"throughput: {statuses.get(201, 0) / elapsed:,.0f} persisted messages/s")
    per = max(1, stored)
    print(
        f"Postgres: {float(wal) / per:,.0f} WAL bytes per message, "
        f"{float(disk or 0) / per:,.0f} bytes on disk per message (schema messages, indexes "
        "included; bodies of about 35 characters)"
    )
    print(f"load generator CPU: {load_cpu:.2f} s ({100 * load_cpu / elapsed:.0f}% of a core)")
    print(
        f"message-service CPU: {service_cpu:.2f} s ({100 * service_cpu / elapsed:.0f}% of a "
        f"core, {1000 * service_cpu / max(1, args.messages):.2f} ms per message)"
    )
    lookups = re.findall(
        r'^messages_membership_lookups_total\{answer="(\w+)"\} (\S+)$', metrics_text, re.M
    )
    print(f"membership look-ups at room-service: {dict(lookups)}")
    if batches:
        # With several workers, /metrics is whichever worker answered: one worker's view.
        commit = re.search(r"^messages_batch_commit_seconds_sum (\S+)$", metrics_text, re.M)
        mean_ms = 1000 * float(commit.group(1)) / batches if commit else 0.0
        print(
            f"batches: {batches:.0f}, mean size {total / batches:.1f}, mean commit {mean_ms:.1f} ms"
        )
        for bound, n in rows:
            if n:
                print(f"  size <= {bound:>5}: {n} batches")


def main() -> int:
    args = parse_args()
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        print(f"starting services (logs in {tmp}) ...", file=sys.stderr)
        urls = start_services(stack, args, Path(tmp))
        asyncio.run(measure(urls, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
