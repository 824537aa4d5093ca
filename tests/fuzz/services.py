"""What the bad-input suites read from a service process: its request counts by status (its
own ``http_requests_total``), its resident memory, and the crash lines in its log."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from chat_testkit.processes import ServiceProcess

_SAMPLE = re.compile(r"^http_requests_total\{([^}]*)\} ([0-9.e+]+)$", re.MULTILINE)
_STATUS = re.compile(r'status="(\d+)"')

CRASH_EVENTS = ("client_task_failed", "unhandled_error", "dispatch_failed", "worker_failed")


def answered(process: ServiceProcess) -> dict[int, int]:
    """Requests the process has answered so far, by status code."""
    text = httpx.get(f"{process.url}/metrics", timeout=10).text
    counts: dict[int, int] = {}
    for labels, value in _SAMPLE.findall(text):
        status = _STATUS.search(labels)
        if status is not None:
            code = int(status.group(1))
            counts[code] = counts.get(code, 0) + int(float(value))
    return counts


def rss_mib(process: ServiceProcess) -> float:
    """The process's resident memory now (VmRSS), in MiB."""
    assert process.process is not None
    status = Path(f"/proc/{process.process.pid}/status").read_text()
    kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
    return kib / 1024


def crashes(process: ServiceProcess) -> list[str]:
    """Log lines of the process that report an unexpected failure (an error or a traceback)."""
    found = []
    for line in process.log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            if line.startswith("Traceback"):
                found.append(line)
            continue
        if isinstance(entry, dict) and (
            entry.get("event") in CRASH_EVENTS or entry.get("level") in ("error", "critical")
        ):
            found.append(line[:500])
    return found
