"""Private Postgres servers for tests: a primary made with ``initdb`` and a streaming replica
made from it with ``pg_basebackup -R``, each a postmaster on a free port.

The shared server on 127.0.0.1:5432 is left alone (its pg_hba.conf allows no replication
connections); these servers live in a temporary directory and are stopped afterwards. As
root, they run as the ``postgres`` user (Postgres refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from chat_testkit.servers import free_port

BIN = Path("/usr/lib/postgresql/15/bin")


class NoCluster(Exception):
    """The Postgres server binaries are missing, or a server did not start."""


def _bin(name: str) -> str:
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise NoCluster(f"{name} is not installed (Debian: postgresql)")
    return found


def as_postgres(command: list[str]) -> list[str]:
    """``command`` run as the postgres user when we are root (Postgres refuses root);
    runuser lives in /usr/sbin, which a minimal PATH may leave out."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    return [runuser or "runuser", "-u", "postgres", "--", *command]


def _run(*args: str, timeout: float = 120.0) -> None:
    result = subprocess.run(
        as_postgres(list(args)), capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise NoCluster(f"{' '.join(args)}: {result.stdout}{result.stderr}")


@dataclass(frozen=True)
class Server:
    """One postmaster: its data directory and port."""

    data: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        _run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def start(self) -> None:
        _run(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.data / "log"), "-w", "start")


@contextmanager
def primary_and_replica() -> Iterator[tuple[Server, Server]]:
    """A primary (wal_level replica, replication over loopback allowed) and a hot-standby
    replica streaming from it; both stopped and deleted afterwards."""
    root = Path(tempfile.mkdtemp(prefix="chat-pgcluster-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres user must reach its data directories
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    started: list[Server] = []
    try:
        primary = Server(root / "primary", free_port())
        _run(
            _bin("initdb"), "-D", str(primary.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        with (primary.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {primary.port}\n"
                f"unix_socket_directories = '{root}'\nwal_level = replica\n"
                "max_wal_senders = 5\nfsync = off\nsynchronous_commit = on\n"
            )
        with (primary.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        primary.start()
        started.append(primary)
        replica = Server(root / "replica", free_port())
        _run(
            _bin("pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(replica.data), "-R", "-X", "stream"),
        )
        with (replica.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {replica.port}\nhot_standby = on\n")
        replica.start()
        started.append(replica)
        yield primary, replica
    finally:
        for server in reversed(started):
            with suppress(NoCluster):
                server.stop()
        shutil.rmtree(root, ignore_errors=True)
