"""``BENCH_PROFILE=1``: py-spy records our Python services while each case runs on ours, one
flame graph per case and service in the run's log folder: what a target not met is waiting
on. Sampling costs a little CPU, so a profiled run's figures are not the ones to quote."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from pathlib import Path

from harness.systems import System, family

PROFILED = ("gateway", "message-service", "room-service", "auth-service")
RATE_HZ = 50


class Profiler:
    """py-spy recorders of one case on one system; ``stop()`` writes their flame graphs."""

    def __init__(self, system: System, case: str, logs: Path, enabled: bool) -> None:
        self.system = system
        self.case = case
        self.logs = logs
        self.enabled = enabled and family(system.name) == "ours"
        self.spies: list[subprocess.Popen[bytes]] = []
        self.written: list[Path] = []

    def start(self) -> None:
        if not self.enabled:
            return
        for group in PROFILED:
            for pid in self.system.pid_groups.get(group, []):
                self.attach(group, pid)

    def attach(self, group: str, pid: int) -> None:
        """Record ``pid`` (and its workers) too: a restarted server's new process."""
        if not self.enabled:
            return
        self.logs.mkdir(parents=True, exist_ok=True)
        n = sum(1 for p in self.written if f"-{group}" in p.name)
        suffix = f"-{n + 1}" if n else ""
        out = self.logs / f"profile-{self.system.name}-{self.case}-{group}{suffix}.svg"
        py_spy = str(Path(sys.executable).with_name("py-spy"))
        argv = [py_spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking"]
        argv += ["--rate", str(RATE_HZ), "--output", str(out)]
        self.spies.append(
            subprocess.Popen(  # noqa: S603 (argv built here)
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
        self.written.append(out)

    def stop(self) -> list[Path]:
        # SIGINT makes py-spy stop sampling and write its flame graph.
        for spy in self.spies:
            with contextlib.suppress(ProcessLookupError):
                spy.send_signal(signal.SIGINT)
        for spy in self.spies:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
        return [p for p in self.written if p.exists()]
