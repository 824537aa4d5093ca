"""A whole private system for the fault suite: its own Redis and Postgres, every service as a
real process, two gateways, and message-service's Redis link through a relay it can cut.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chat_testkit.processes import ServiceProcess
from chat_testkit.proxy import TcpProxy
from chat_testkit.servers import free_port
from tests.chaos.servers import PrivatePostgres, PrivateRedis

PORT_SETTING = {
    "auth_service": "AUTH_PORT",
    "room_service": "ROOMS_PORT",
    "message_service": "MESSAGES_PORT",
    "gateway": "GATEWAY_PORT",
}

# Events that mean a task or a request died on something unexpected. A warning with a
# traceback attached (asyncpg retrying its pool while Postgres is down) is not one.
CRASH_EVENTS = ("client_task_failed", "unhandled_error", "dispatch_failed", "worker_failed")


def is_crash(line: str) -> bool:
    """True for a log line that reports an unexpected failure."""
    try:
        entry = json.loads(line)
    except ValueError:
        # Not our structured log: an interpreter's own traceback printed on stderr.
        return line.startswith("Traceback")
    if not isinstance(entry, dict):
        return False
    return entry.get("event") in CRASH_EVENTS or entry.get("level") in ("error", "critical")


@dataclass
class Stack:
    """The private system; :meth:`up` starts it, :meth:`down` removes every trace."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="chaos-")))
    redis: PrivateRedis = field(init=False)
    postgres: PrivatePostgres = field(init=False)
    proxy: TcpProxy = field(init=False)
    env: dict[str, str] = field(default_factory=dict)
    auth: ServiceProcess = field(init=False)
    rooms: ServiceProcess = field(init=False)
    messages: ServiceProcess = field(init=False)
    gateways: list[ServiceProcess] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def database_url(self) -> str:
        return self.postgres.url()

    def up(self, extra_env: dict[str, str] | None = None) -> Stack:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # the postgres user must reach its data directory below
        self.redis = PrivateRedis(self.root).start()
        self.postgres = PrivatePostgres(self.root / "pg").init()
        self.proxy = TcpProxy(self.redis.port)
        key = self.root / "signing-key.pem"
        key.write_bytes(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        vapid = self.root / "vapid-key.pem"
        vapid.write_bytes(
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        ports = {name: free_port() for name in ("auth", "rooms", "messages")}
        self.env = {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "REDIS_PREFIX": "chaos:",
            "LOG_LEVEL": "INFO",
            "AUTH_URL": f"http://127.0.0.1:{ports['auth']}",
            "ROOMS_URL": f"http://127.0.0.1:{ports['rooms']}",
            "MESSAGES_URL": f"http://127.0.0.1:{ports['messages']}",
            "AUTH_SIGNING_KEY_FILE": str(key),
            # The gateway's proof on POST /messages/batch (chatcore.internal_secret).
            "MESSAGES_GATEWAY_SECRET": secrets.token_urlsafe(32),
            # Registration of a few hundred load users must not take minutes; the password
            # hash strength is not what this suite tests.
            "AUTH_ARGON2_MEMORY_KIB": "64",
            "AUTH_ARGON2_TIME_COST": "1",
            # ... and all of them come from 127.0.0.1, at once.
            "AUTH_REGISTER_IP_BURST": "1000000",
            "AUTH_HASH_QUEUE": "100000",
            "AUTH_HASH_MAX_WAIT": "600",
            # A silent room with a lost last publish is found within this many seconds.
            "GATEWAY_GAP_CHECK_INTERVAL": "2",
            # Notifications go to receivers on loopback, retried within the suite's patience.
            "MESSAGES_VAPID_PRIVATE_KEY_FILE": str(vapid),
            "MESSAGES_WEBHOOK_ALLOW_PRIVATE": "true",
            "MESSAGES_NOTIFY_RETRY_BASE": "0.2",
            "MESSAGES_NOTIFY_RETRY_MAX": "2",
            "MESSAGES_NOTIFY_POLL": "0.2",
            "MESSAGES_NOTIFY_TIMEOUT": "2",
            # Every load client connects from 127.0.0.1: the per-address connect rate would
            # throttle their reconnect waves, which is not what this suite measures.
            "GATEWAY_CONNECT_RATE": "100000",
            "GATEWAY_CONNECT_BURST": "100000",
            **(extra_env or {}),
        }
        self.env["GATEWAY_INTERNAL_SECRET"] = self.env["MESSAGES_GATEWAY_SECRET"]
        self.env["MESSAGES_GATEWAY_SECRET_FILE"] = self.env["GATEWAY_INTERNAL_SECRET_FILE"] = ""
        migrations = [
            self._process("auth_service", ports["auth"]),
            self._process("room_service", ports["rooms"]),
            self._process("message_service", ports["messages"]),
        ]
        migrations[0].migrate()  # creates the database; the others then run side by side
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(ServiceProcess.migrate, migrations[1:]))
        proxied = f"redis://127.0.0.1:{self.proxy.port}/0"
        self.auth = self._process("auth_service", ports["auth"])
        self.rooms = self._process("room_service", ports["rooms"])
        self.messages = self._process("message_service", ports["messages"], REDIS_URL=proxied)
        self.gateways = [self._process("gateway", free_port()) for _ in range(2)]
        # Started together: each waits for its own readiness, not for the others' start-up.
        with ThreadPoolExecutor(5) as pool:
            list(pool.map(ServiceProcess.start, [self.auth, self.rooms, self.messages]))
            list(pool.map(ServiceProcess.start, self.gateways))
        return self

    def _process(self, module: str, port: int, **env: str) -> ServiceProcess:
        return ServiceProcess(
            module=module,
            port=port,
            env={**self.env, PORT_SETTING[module]: str(port), **env},
            log_path=self.logs / f"{module}-{port}.log",
        )

    def kill(self, process: ServiceProcess, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` and wait for the process to end."""
        process.stop(sig, timeout=15)

    def restart(self, process: ServiceProcess) -> None:
        process.stop()
        process.start()

    def crashes(self) -> list[str]:
        """Log lines of every service that say a task or request failed unexpectedly."""
        found = []
        for path in sorted(self.logs.glob("*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if is_crash(line):
                    found.append(f"{path.name}: {line[:300]}")
        return found

    def down(self) -> None:
        for process in [*self.gateways, getattr(self, "messages", None), *self._others()]:
            if process is not None:
                process.stop()
        if hasattr(self, "proxy"):
            self.proxy.close()
        if hasattr(self, "redis"):
            self.redis.stop()
        if hasattr(self, "postgres"):
            self.postgres.stop("immediate")
        # The service logs outlive the run, for whoever reads a failure afterwards.
        kept = Path(__file__).resolve().parents[2] / ".artifacts" / "reliability" / "logs"
        shutil.rmtree(kept, ignore_errors=True)
        if self.logs.is_dir():
            shutil.copytree(self.logs, kept)
        shutil.rmtree(self.root, ignore_errors=True)

    def _others(self) -> list[ServiceProcess | None]:
        return [getattr(self, "rooms", None), getattr(self, "auth", None)]
