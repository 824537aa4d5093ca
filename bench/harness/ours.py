"""Our system, started exactly as the tests start it: ``python -m <pkg> migrate`` then
``python -m <pkg> serve`` for each service, on a database of its own recreated each run,
with a Redis prefix of its own and a throwaway signing key. Limits that would throttle a
load generator on purpose (rate limits, login throttling, slow password hashing) are raised.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis.asyncio as aioredis

from harness import ours_variants
from harness.config import Config
from harness.plan import Plan
from harness.population import populate
from harness.processes import Server, free_port, run_once
from harness.systems import PROCESSES, System

MODULES = {
    "auth-service": "auth_service",
    "room-service": "room_service",
    "message-service": "message_service",
    "gateway": "gateway",
}
UNLIMITED = "1000000"
# What the gateway proves itself with on POST /messages/batch; a fresh one each run.
GATEWAY_SECRET = secrets.token_urlsafe(32)


async def recreate_database(admin_url: str, name: str) -> tuple[str, int | None]:
    """The URL of a new, empty database ``name``, and the Postgres server's main pid."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
        # Read while this backend lives: its parent is the postmaster.
        postmaster = _parent(int(await conn.fetchval("SELECT pg_backend_pid()")))
    finally:
        await conn.close()
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}")), postmaster


async def _backends(admin_url: str, name: str) -> list[int]:
    conn = await asyncpg.connect(admin_url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


def database_backends(admin_url: str, name: str) -> list[int]:
    """The Postgres backends serving database ``name`` now (the services' pooled connections):
    their CPU is ours alone, where the postmaster's tree holds every database on the server."""
    try:
        return asyncio.run(_backends(admin_url, name))
    except (OSError, asyncpg.PostgresError):
        return []


def _parent(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(text[text.rindex(")") + 2 :].split()[1])


async def _drop_keys(url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()


async def _seed_revocations(url: str, prefix: str, count: int) -> None:
    """``count`` revoked users (none of them the bench's own) in the revocation hash every
    process keeps a copy of and checks on each call and frame (chatcore.revocations)."""
    client = aioredis.Redis.from_url(url)
    try:
        now = int(time.time())
        await client.hset(
            f"{prefix}revoked", mapping={str(uuid.uuid4()): now for _ in range(count)}
        )
    finally:
        await client.aclose()


def ours_python() -> str:
    """The Python our services run under: this one, or ``BENCH_OURS_PYTHON`` (the virtual
    environment of another checkout, to measure a commit against another in one run)."""
    return os.environ.get("BENCH_OURS_PYTHON") or sys.executable


def start_ours(config: Config, plan: Plan, logs: Path) -> System:
    """Start the four services and create the plan's users and rooms through their APIs."""
    if config.ours_variant.label:
        print(f"  variant: {config.ours_variant.label}", flush=True)
    variant = ours_variants.start(config.ours_variant, config.admin_database_url, logs)
    try:
        database_url, postmaster = asyncio.run(
            recreate_database(variant.admin_url, config.database_name)
        )
    except BaseException:
        variant.stop()
        raise
    prefix = f"bench:{secrets.token_hex(4)}:"
    keys = tempfile.TemporaryDirectory(prefix="bench-keys-")
    key_file = str(Path(keys.name) / "signing-key.pem")
    ports = {name: free_port() for name in MODULES}
    env = {
        "DATABASE_URL": variant.serve_url(database_url),
        "REDIS_URL": config.redis_url,
        "REDIS_PREFIX": prefix,
        "LOG_LEVEL": "WARNING",
        "AUTH_URL": f"http://127.0.0.1:{ports['auth-service']}",
        "ROOMS_URL": f"http://127.0.0.1:{ports['room-service']}",
        "MESSAGES_URL": f"http://127.0.0.1:{ports['message-service']}",
        "GATEWAY_URL": f"http://127.0.0.1:{ports['gateway']}",
        "AUTH_PORT": str(ports["auth-service"]),
        "ROOMS_PORT": str(ports["room-service"]),
        "MESSAGES_PORT": str(ports["message-service"]),
        "GATEWAY_PORT": str(ports["gateway"]),
        "AUTH_SIGNING_KEY_FILE": key_file,
        # Thousands of users are made per run: cheap hashes, long tokens, no login throttle.
        "AUTH_ARGON2_MEMORY_KIB": "8",
        "AUTH_ARGON2_TIME_COST": "1",
        "AUTH_ACCESS_TTL": "3600",
        "AUTH_LOGIN_ACCOUNT_BURST": UNLIMITED,
        "AUTH_LOGIN_ACCOUNT_PER_MINUTE": UNLIMITED,
        "AUTH_LOGIN_IP_BURST": UNLIMITED,
        "AUTH_LOGIN_IP_PER_MINUTE": UNLIMITED,
        "AUTH_LOGIN_ACCOUNT_PER_HOUR": UNLIMITED,
        "AUTH_REGISTER_IP_BURST": UNLIMITED,
        "AUTH_REGISTER_IP_PER_HOUR": UNLIMITED,
        "AUTH_HASH_QUEUE": UNLIMITED,
        "AUTH_HASH_MAX_WAIT": UNLIMITED,
        # A load generator sends far above a person's rate on purpose.
        "MESSAGES_GATEWAY_SECRET": GATEWAY_SECRET,
        "GATEWAY_INTERNAL_SECRET": GATEWAY_SECRET,
        "MESSAGES_GATEWAY_SECRET_FILE": "",
        "GATEWAY_INTERNAL_SECRET_FILE": "",
        # No Web Push in a bench run: message-service makes a throwaway VAPID key.
        "MESSAGES_VAPID_PRIVATE_KEY_FILE": "",
        "GATEWAY_RATE": UNLIMITED,
        "GATEWAY_BURST": UNLIMITED,
        "MESSAGES_SEND_RATE": UNLIMITED,
        "MESSAGES_SEND_BURST": UNLIMITED,
        "GATEWAY_USER_RATE": UNLIMITED,
        "GATEWAY_USER_BURST": UNLIMITED,
        "GATEWAY_CONNECT_RATE": UNLIMITED,
        "GATEWAY_CONNECT_BURST": UNLIMITED,
        "GATEWAY_MAX_CONNECTIONS_PER_USER": "0",
        "ROOMS_CREATE_RATE": UNLIMITED,
        "ROOMS_CREATE_BURST": UNLIMITED,
        "GATEWAY_WORKERS": str(PROCESSES),
        **variant.serve_env,
    }
    if variant.replica_url is not None:
        env["MESSAGES_READ_DATABASE_URL"] = variant.replica_url(database_url)
    # Migrations take a session lock: always Postgres itself, never PgBouncer.
    migrate_env = {**env, "DATABASE_URL": database_url}
    python = ours_python()
    run_once([python, "-m", "auth_service", "keygen", key_file], env)
    system = System(
        name="ours",
        protocol="ours",
        url=f"ws://127.0.0.1:{ports['gateway']}/ws",
        persists=True,
        servers=[],
        pid_groups={},
    )
    system.env = env
    system.stop_hooks.append(keys.cleanup)
    system.stop_hooks.append(lambda: asyncio.run(_drop_keys(config.redis_url, prefix)))
    system.stop_hooks.append(variant.stop)
    try:
        revoked = int(os.environ.get("BENCH_REVOKED") or 0)
        if revoked:
            asyncio.run(_seed_revocations(config.redis_url, prefix, revoked))
        for name, module in MODULES.items():
            run_once([python, "-m", module, "migrate"], migrate_env)
            server = Server(
                name=name,
                argv=[python, "-m", module, "serve"],
                env=env,
                health_url=f"http://127.0.0.1:{ports[name]}/readyz",
                log_path=logs / f"ours-{name}.log",
            )
            system.servers.append(server.start())
            system.pid_groups[name] = [server.pid]
        if postmaster is not None:
            system.pid_groups["postgres (all databases)"] = [postmaster]
        system.pid_groups.update(variant.pid_groups)
        system.tokens, system.room_names = populate(plan, env["AUTH_URL"], env["ROOMS_URL"])
    except BaseException:
        system.stop()
        raise
    return system


def start_one_process(ours: System, logs: Path) -> System:
    """``ours-1p``: a second gateway with ``GATEWAY_WORKERS=1`` in front of ours' services,
    users and rooms (only the gateway differs, and only the gateway is started)."""
    port = free_port()
    env = {**ours.env, "GATEWAY_PORT": str(port), "GATEWAY_WORKERS": "1"}
    server = Server(
        name="gateway-1p",
        argv=[ours_python(), "-m", "gateway", "serve"],
        env=env,
        health_url=f"http://127.0.0.1:{port}/readyz",
        log_path=logs / "ours-1p-gateway.log",
    ).start()
    return System(
        name="ours-1p",
        protocol="ours",
        url=f"ws://127.0.0.1:{port}/ws",
        persists=True,
        servers=[server],
        pid_groups={**ours.pid_groups, "gateway": [server.pid]},
        processes=1,
        room_names=ours.room_names,
        tokens=ours.tokens,
        env=env,
    )
