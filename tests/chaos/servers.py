"""Private Redis and Postgres servers that the fault suite may stop and restart at will.

The machine's shared servers (127.0.0.1:5432 and :6379) serve other engineers and CI, so a
case that restarts Redis or Postgres does it to a server of its own: a ``redis-server`` on a
free port, and a Postgres cluster made with ``initdb`` in a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from chat_testkit.pgcluster import as_postgres
from chat_testkit.servers import free_port, spawn_redis, wait_port

PG_BIN = Path(os.environ.get("CHAOS_PG_BIN", "/usr/lib/postgresql/15/bin"))


class ServerFailed(Exception):
    """A private server did not start (its log's tail is the message)."""


@dataclass
class PrivateRedis:
    """A throwaway ``redis-server`` with no persistence, on a free port."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        log = self.workdir / f"redis-{self.port}.log"
        self.process = spawn_redis(self.port, self.workdir, log=log)
        if not wait_port(self.port, 10):
            raise ServerFailed(f"redis-server did not listen on {self.port}")
        return self

    def shutdown(self) -> None:
        """``SHUTDOWN NOSAVE``: the server drops every client and exits at once."""
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "SHUTDOWN", "NOSAVE"],
            capture_output=True,
            timeout=10,
            check=False,
        )
        if self.process is not None:
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@dataclass
class PrivatePostgres:
    """A Postgres cluster in a temporary directory, trust auth, on a free port.

    Postgres refuses to run as root, so when the suite runs as root the cluster belongs to
    the ``postgres`` system user and every ``pg_ctl`` call runs as that user.
    """

    workdir: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.workdir / "pgdata"

    def url(self, database: str = "chat") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        command = as_postgres([str(PG_BIN / args[0]), *args[1:]])
        return subprocess.run(command, capture_output=True, timeout=timeout, check=False)

    def init(self) -> PrivatePostgres:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        result = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        if result.returncode != 0:
            raise ServerFailed(f"initdb failed: {result.stderr.decode(errors='replace')}")
        return self.start()

    def start(self) -> PrivatePostgres:
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.workdir / "pg.log"),
            "-w",
            "start",
        )
        if result.returncode != 0:
            raise ServerFailed(f"pg_ctl start failed: {self.log_tail()}")
        return self

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m <mode>``: fast rolls back open transactions and drops clients."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def log_tail(self) -> str:
        try:
            return (self.workdir / "pg.log").read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"
