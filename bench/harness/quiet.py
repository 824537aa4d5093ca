"""Waiting for the machine to calm down between cases: a system that is still busy after its
scenario (closing sockets, draining queues) must not take CPU from the next one measured."""

from __future__ import annotations

import os
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            found += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            continue
    return found


def cpu_seconds(roots: list[int]) -> float:
    """CPU time used so far by the processes ``roots`` and all their descendants."""
    total = 0.0
    stack = list(roots)
    while stack:
        pid = stack.pop()
        stack += _children(pid)
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def wait_quiet(roots: list[int], below_cores: float = 0.15, longest_s: float = 20.0) -> float:
    """Wait until ``roots`` use less than ``below_cores`` (or ``longest_s`` passed); the wait."""
    began = time.monotonic()
    last = cpu_seconds(roots)
    while time.monotonic() - began < longest_s:
        time.sleep(0.5)
        now = cpu_seconds(roots)
        if (now - last) / 0.5 < below_cores:
            break
        last = now
    return time.monotonic() - began
