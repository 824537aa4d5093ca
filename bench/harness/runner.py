"""Running the load generator on one case's spec: ``node loadgen/main.js SPEC`` in its own
process group, its JSON result read from the last line of its output; for the reconnect storm,
with the server restarted when the generator asks for it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent
LOADGEN = BENCH / "loadgen" / "main.js"
Result = dict[str, Any]


def run_loadgen(spec: dict[str, Any], timeout_s: float) -> Result:
    """The generator's JSON result, or ``{"error": ...}`` when it fails or hangs."""
    # The spec holds access tokens: a private file, removed right after.
    fd, path = tempfile.mkstemp(prefix="bench-spec-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(spec, out)
        # Its own process group, so a timeout ends the coordinator and its workers together.
        child = subprocess.Popen(  # noqa: S603 (fixed argv)
            ["node", str(LOADGEN), path],  # noqa: S607 (node from PATH, as npm ci used)
            stdout=subprocess.PIPE,
            cwd=BENCH,
            start_new_session=True,
        )
        try:
            stdout, _ = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            return {"error": f"load generator did not finish in {timeout_s:.0f}s"}
    finally:
        Path(path).unlink(missing_ok=True)
    lines = stdout.decode(errors="replace").strip().splitlines()
    if child.returncode != 0 or not lines:
        return {"error": f"load generator exited {child.returncode} without a result"}
    try:
        result: Result = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": f"unreadable load generator output: {lines[-1][:200]}"}
    return result


def run_storm(
    spec: dict[str, Any], timeout_s: float, restart: Callable[[], dict[str, Any]]
) -> Result:
    """The storm's result: like ``run_loadgen``, but when the generator prints
    ``{"ev": "restart"}`` the server is restarted (``restart()``, which answers the new
    process groups as ``pids`` and what the restarted edge's CPU was, System.restart_edge),
    and that and the instant it was ready go back on the generator's stdin."""
    fd, path = tempfile.mkstemp(prefix="bench-spec-", suffix=".json")
    lines: queue.Queue[str | None] = queue.Queue()
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(spec, out)
        child = subprocess.Popen(  # noqa: S603 (fixed argv)
            ["node", str(LOADGEN), path],  # noqa: S607 (node from PATH, as npm ci used)
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=BENCH,
            start_new_session=True,
        )
        stdout, stdin = child.stdout, child.stdin
        if stdout is None or stdin is None:  # never: both are pipes
            raise RuntimeError("no pipes to the load generator")

        def read() -> None:
            for raw in stdout:
                lines.put(raw.decode(errors="replace").strip())
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout_s
        last = ""
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                return {"error": f"load generator did not finish in {timeout_s:.0f}s"}
            if line is None:
                break
            if line == '{"ev":"restart"}':
                try:
                    restarted = restart()
                except Exception as exc:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
                    return {"error": f"restart failed: {exc}"}
                ready_us = time.monotonic_ns() // 1000
                answer = json.dumps({**restarted, "ready_us": ready_us})
                stdin.write(f"{answer}\n".encode())
                stdin.close()
            elif line:
                last = line
        child.wait()
    finally:
        Path(path).unlink(missing_ok=True)
    if child.returncode != 0 or not last:
        return {"error": f"load generator exited {child.returncode} without a result"}
    try:
        result: Result = json.loads(last)
    except json.JSONDecodeError:
        return {"error": f"unreadable load generator output: {last[:200]}"}
    return result
