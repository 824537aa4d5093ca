"""Server processes of a run: started with their logs in the run's folder, ready when their
health URL answers 200, stopped with SIGTERM (then SIGKILL) at the end."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.quiet import cpu_seconds

# Connections are file descriptors on both sides: 20,000 idle sockets need more than the
# usual soft limit in the servers (which inherit ours) and in the load generator.
WANTED_FILES = 65536


class StartFailed(Exception):
    """A process exited early or never became ready; the message holds its log's tail."""


def raise_file_limit() -> int:
    """Raise RLIMIT_NOFILE as far as allowed (root may lift the hard limit); the new soft one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (max(WANTED_FILES, hard), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, target))
            return target
        except (ValueError, OSError):
            continue
    return soft


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One long-running process of a system under test."""

    name: str
    argv: list[str]
    env: dict[str, str]
    health_url: str
    log_path: Path
    cwd: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    # CPU seconds its process tree had spent when it first answered ready: what starting
    # costs it (imports, connections), before any client.
    startup_cpu_s: float | None = None
    # The same at the last start (after a restart: its startup and what clients that
    # reached it before its readiness was seen cost it).
    ready_cpu_s: float = 0.0

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else -1

    def start(self, timeout: float = 60.0) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (argv built by the harness)
                self.argv,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StartFailed(f"{self.name} exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.health_url, timeout=1.0).status_code == 200:
                    self.ready_cpu_s = cpu_seconds([self.process.pid])
                    if self.startup_cpu_s is None:
                        self.startup_cpu_s = self.ready_cpu_s
                    return self
            time.sleep(0.1)
        self.stop()
        raise StartFailed(f"{self.name} was not ready in {timeout:.0f}s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # Its workers (a forking server): killed with it if it must be killed, or they would
        # live on, orphaned, holding connections and CPU (and, with SO_REUSEPORT, the port).
        workers = children(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait(timeout)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc; none where there is no /proc)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = entry.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(entry.parent.name))
    return found


def run_once(argv: list[str], env: dict[str, str], timeout: float = 120.0) -> None:
    """Run a one-shot command (migrations, keygen); StartFailed with its output if it fails."""
    result = subprocess.run(  # noqa: S603 (argv built by the harness)
        argv, env={**os.environ, **env}, capture_output=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        out = (result.stdout + result.stderr).decode(errors="replace")[-3000:]
        raise StartFailed(f"{' '.join(argv[1:])} failed:\n{out}")
