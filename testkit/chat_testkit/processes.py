"""Real service processes for tests: started on a free port, ready when ``/readyz`` says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


class ServiceFailed(Exception):
    """A service process exited or never became ready; the message holds its log's tail."""


@dataclass
class ServiceProcess:
    """One ``python -m <module> serve`` process and its log file."""

    module: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def migrate(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", self.module, "migrate"],
            env=self._env(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceFailed(
                f"{self.module} migrate failed:\n{result.stdout.decode()}{result.stderr.decode()}"
            )

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, "serve"],
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceFailed(f"{self.module} exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServiceFailed(f"{self.module} was not ready in {timeout}s:\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """Signal the process and wait for it; kills it if it does not stop in time."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.env}


# What an instance sharing the run's database under another Redis prefix runs of the work
# the run's own services share out through that database: the room outbox relay takes only
# rows a minute old (the run's relay publishes them within a second), and no notification
# worker runs. Otherwise they would take the run's rows and act on them under a prefix no
# gateway hears: a lost member_removed (seen twice in CI), a push to a user who is connected.
ELSEWHERE_SAFE = {"ROOMS_OUTBOX_AGE": "60", "MESSAGES_NOTIFY_WORKER": "false"}


def elsewhere_safe(service_env: dict[str, str], env: dict[str, str]) -> dict[str, str]:
    """``env``, with :data:`ELSEWHERE_SAFE` under it when it names another Redis prefix and
    the run's database (what ``env`` sets itself wins)."""
    prefix = env.get("REDIS_PREFIX", service_env.get("REDIS_PREFIX"))
    database = env.get("DATABASE_URL", service_env.get("DATABASE_URL"))
    if prefix == service_env.get("REDIS_PREFIX") or database != service_env.get("DATABASE_URL"):
        return env
    return {**ELSEWHERE_SAFE, **env}
