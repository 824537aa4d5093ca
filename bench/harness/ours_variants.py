"""Ours as deployments vary it: traced at a sampling ratio, through PgBouncer, with a read
replica; read once from the environment (``BENCH_OURS_*``), applied by :func:`start`.

- ``BENCH_OURS_TRACING=0.01``: every service exports spans over OTLP/HTTP, sampled with
  ``parentbased_traceidratio`` at that ratio, to a sink the harness starts
  (:mod:`harness.otlp_sink`, which accepts and drops them).
- ``BENCH_OURS_DB``, a comma list of:
  ``pgbouncer`` (every service reaches Postgres through PgBouncer in transaction mode,
  ``DB_POOLER=pgbouncer``; migrations connect directly, as they must);
  ``private`` (our database on a primary of our own, made with ``initdb``, instead of the
  shared server: the baseline of the replica variant, same server settings);
  ``replica`` (``private`` plus a streaming replica made with ``pg_basebackup -R``;
  message-service reads history, search and unread there, ``MESSAGES_READ_DATABASE_URL``).
  The private servers come from :mod:`chat_testkit.pgcluster` (``fsync = off``, as for
  the tests): compare ``replica`` with ``private``, not with the shared server.
- ``BENCH_OURS_ENV="NAME=value ..."``: more environment for our services, applied last
  (``OTEL_EXPORTER_OTLP_ENDPOINT=sink`` names the harness's sink).
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from harness.processes import Server, free_port

DB_OPTIONS = ("pgbouncer", "private", "replica")
SINK = "sink"
# PgBouncer's server connections per database and user: the services' own pools (10 per
# process) share them, as they would share a production PgBouncer's pool.
PGBOUNCER_POOL = 20
LAG_EVERY_S = 0.5


class VariantError(Exception):
    """A ``BENCH_OURS_*`` value the run cannot use."""


@dataclass(frozen=True)
class Variant:
    tracing: float | None = None
    db: frozenset[str] = frozenset()
    env: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        """How the run names this variant ("" for ours as it ships)."""
        parts = sorted(self.db)
        if self.tracing is not None:
            parts.append(f"tracing {self.tracing:g}")
        parts.extend(f"{k}={v}" for k, v in self.env)
        return ", ".join(parts)


def from_env(env: dict[str, str]) -> Variant:
    """The variant the ``BENCH_OURS_*`` variables name."""
    tracing = None
    raw = env.get("BENCH_OURS_TRACING", "").strip()
    if raw:
        try:
            tracing = float(raw)
        except ValueError as exc:
            raise VariantError(f"BENCH_OURS_TRACING must be a ratio, not {raw!r}") from exc
        if not 0 <= tracing <= 1:
            raise VariantError("BENCH_OURS_TRACING must be between 0 and 1")
    db = frozenset(n.strip() for n in env.get("BENCH_OURS_DB", "").split(",") if n.strip())
    unknown = sorted(db - set(DB_OPTIONS))
    if unknown:
        raise VariantError(
            f"unknown BENCH_OURS_DB: {', '.join(unknown)} (choose from {', '.join(DB_OPTIONS)})"
        )
    pairs = []
    for word in shlex.split(env.get("BENCH_OURS_ENV", "")):
        name, sep, value = word.partition("=")
        if not sep or not name.isidentifier():
            raise VariantError(f"BENCH_OURS_ENV: {word!r} is not NAME=value")
        pairs.append((name, value))
    return Variant(tracing=tracing, db=db, env=tuple(pairs))


@dataclass
class Started:
    """What the variant started: the servers to use, the environment to add, what to watch."""

    admin_url: str  # where our database is made
    serve_env: dict[str, str] = field(default_factory=dict)  # added to the services' env
    serve_url: Callable[[str], str] = lambda url: url  # DATABASE_URL as the services use it
    pid_groups: dict[str, list[int]] = field(default_factory=dict)
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    replica_url: Callable[[str], str] | None = None
    lag: ReplicaLag | None = None

    def stop(self) -> None:
        if self.lag is not None:
            self.lag.stop()
            print(f"  replica lag during the run: {self.lag.describe()}", flush=True)
        self.stack.close()


def start(variant: Variant, admin_url: str, logs: Path) -> Started:
    """Start what ``variant`` needs in front of or beside our services (nothing for the
    default); ``Started.stop`` ends it all."""
    started = Started(admin_url=admin_url)
    try:
        _start(variant, started, logs)
    except BaseException:
        started.stop()
        raise
    return started


def _start(variant: Variant, started: Started, logs: Path) -> None:
    if "replica" in variant.db or "private" in variant.db:
        from chat_testkit.pgcluster import primary_and_replica

        primary, replica = started.stack.enter_context(primary_and_replica())
        started.admin_url = primary.url()
        if "replica" in variant.db:
            started.replica_url = lambda url: _with_port(url, replica.port)
            started.pid_groups["postgres replica"] = _postmaster(replica.data)
            started.lag = ReplicaLag(primary.url())
        else:
            # The replica streams but serves nothing: stop it, so it costs nothing.
            replica.stop()
    if "pgbouncer" in variant.db:
        from chat_testkit.pgbouncer import pgbouncer

        workdir = logs / "pgbouncer"
        bouncer = started.stack.enter_context(
            pgbouncer(started.admin_url, workdir, server_pool=PGBOUNCER_POOL)
        )
        started.serve_url = bouncer.url
        started.serve_env["DB_POOLER"] = "pgbouncer"
        started.pid_groups["pgbouncer"] = _pids_with(str(workdir / "pgbouncer.ini"))
    sink_wanted = variant.tracing is not None or (
        dict(variant.env).get("OTEL_EXPORTER_OTLP_ENDPOINT") == SINK
    )
    if sink_wanted:
        port = free_port()
        sink = Server(
            name="otlp-sink",
            argv=[sys.executable, "-m", "harness.otlp_sink", str(port)],
            env={},
            health_url=f"http://127.0.0.1:{port}/readyz",
            log_path=logs / "otlp-sink.log",
        ).start()
        started.stack.callback(sink.stop)
        started.serve_env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{port}"
    if variant.tracing is not None:
        started.serve_env["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
        started.serve_env["OTEL_TRACES_SAMPLER_ARG"] = f"{variant.tracing:g}"
    for name, value in variant.env:
        if name == "OTEL_EXPORTER_OTLP_ENDPOINT" and value == SINK:
            continue
        started.serve_env[name] = value
    if started.lag is not None:
        started.lag.start()


def _with_port(url: str, port: int) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


def _postmaster(data: Path) -> list[int]:
    try:
        return [int((data / "postmaster.pid").read_text().split()[0])]
    except (OSError, ValueError, IndexError):
        return []


def _pids_with(argument: str) -> list[int]:
    """Processes whose command line holds ``argument`` (PgBouncer, by its config file)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if argument.encode() in cmdline.read_bytes().split(b"\0"):
                found.append(int(cmdline.parent.name))
    return found


class ReplicaLag:
    """Samples the replica's replay lag (bytes and seconds) on the primary every half second
    while the run lasts; the largest of each is reported at the end."""

    def __init__(self, primary_url: str) -> None:
        self.primary_url = primary_url
        self.max_bytes = 0
        self.max_ms = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replica-lag", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def describe(self) -> str:
        if not self.samples:
            return "not sampled"
        return (
            f"largest {self.max_bytes:,} bytes, {self.max_ms:.1f} ms "
            f"({self.samples} samples, every {LAG_EVERY_S:g} s)"
        )

    def _run(self) -> None:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            asyncio.run(self._sample())

    async def _sample(self) -> None:
        conn = await asyncpg.connect(self.primary_url)
        try:
            while not self._stop.is_set():
                row = await conn.fetchrow(
                    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS bytes,"
                    " extract(epoch FROM replay_lag) * 1000 AS ms FROM pg_stat_replication"
                )
                if row is not None:
                    self.samples += 1
                    self.max_bytes = max(self.max_bytes, int(row["bytes"] or 0))
                    self.max_ms = max(self.max_ms, float(row["ms"] or 0))
                await asyncio.sleep(LAG_EVERY_S)
        finally:
            await conn.close()
