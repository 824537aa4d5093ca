"""A private PgBouncer in transaction mode for tests, in front of the run's Postgres.

Debian's ``pgbouncer`` (scripts/install-pgbouncer.sh) is started on a free port with trust
authentication for the user of the Postgres URL it fronts, ``pool_mode = transaction`` and a
small server pool, so that consecutive transactions of one client land on different server
connections: the traps of transaction pooling show at once instead of by chance.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from chat_testkit.servers import free_port, wait_port

BINARY = "/usr/sbin/pgbouncer"


class NoPgBouncer(Exception):
    """PgBouncer is not installed, or did not start."""


@dataclass(frozen=True)
class PgBouncer:
    """A running PgBouncer: ``url(dsn)`` is ``dsn`` reached through it."""

    port: int
    user: str

    def url(self, dsn: str) -> str:
        parts = urlsplit(dsn)
        return urlunsplit(parts._replace(netloc=f"{self.user}@127.0.0.1:{self.port}"))

    def show(self, what: str) -> list[dict[str, str]]:
        """``SHOW <what>`` on the admin console (simple query protocol only: psql)."""
        run = subprocess.run(
            [
                *("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user),
                *("-d", "pgbouncer", "-A", "-F", "\t", "-c", f"SHOW {what}"),
            ],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        lines = [line for line in run.stdout.splitlines() if line and not line.startswith("(")]
        head = lines[0].split("\t")
        return [dict(zip(head, line.split("\t"), strict=False)) for line in lines[1:]]


@contextmanager
def pgbouncer(postgres_url: str, workdir: Path, *, server_pool: int = 4) -> Iterator[PgBouncer]:
    """PgBouncer on 127.0.0.1:<free port> fronting ``postgres_url``'s server, every database,
    at most ``server_pool`` server connections per database and user."""
    binary = shutil.which("pgbouncer") or BINARY
    if not Path(binary).exists():
        raise NoPgBouncer("pgbouncer is not installed: run scripts/install-pgbouncer.sh")
    upstream = urlsplit(postgres_url)
    user = upstream.username or "postgres"
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "userlist.txt").write_text(f'"{user}" ""\n')
    lines = [
        "[databases]",
        f"* = host={upstream.hostname or '127.0.0.1'} port={upstream.port or 5432}",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        "unix_socket_dir =",
        "auth_type = trust",
        f"auth_file = {workdir / 'userlist.txt'}",
        f"admin_users = {user}",
        "pool_mode = transaction",
        f"default_pool_size = {server_pool}",
        "max_client_conn = 1000",
        # asyncpg sends no startup parameter pgbouncer lacks; psql and libpq may.
        "ignore_startup_parameters = extra_float_digits",
    ]
    if os.geteuid() == 0:
        # PgBouncer refuses to run as root; it drops to this user after reading its files.
        lines.append(f"user = {_unprivileged_user()}")
        # Its files must stay readable to that user.
        os.chmod(workdir, 0o755)  # noqa: S103
    config = workdir / "pgbouncer.ini"
    config.write_text("\n".join(lines) + "\n")
    with (workdir / "pgbouncer.log").open("ab") as log:
        process = subprocess.Popen([binary, str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_port(port, 20.0):
            raise NoPgBouncer(
                f"pgbouncer did not listen: {(workdir / 'pgbouncer.log').read_text()}"
            )
        yield PgBouncer(port, user)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise NoPgBouncer("no unprivileged user to run pgbouncer as")
