"""The restarted edge's CPU in a storm: a process tree's CPU, read from /proc."""

import os
import subprocess
import sys
import time
from pathlib import Path

from harness.quiet import cpu_seconds

# A parent that starts a child; both spin until killed.
_SPIN_TREE = """
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "while True: pass"])
while True: pass
"""


def _own_cpu(pid: int) -> float:
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_process_trees_cpu_counts_its_descendants() -> None:
    parent = subprocess.Popen([sys.executable, "-c", _SPIN_TREE])
    try:
        time.sleep(1.5)
        own = _own_cpu(parent.pid)
        spent = cpu_seconds([parent.pid])
    finally:
        subprocess.run(["pkill", "-P", str(parent.pid)], check=False)
        parent.kill()
        parent.wait()
    assert own > 0.2
    assert spent > own + 0.2  # the child's spinning too


def test_a_process_that_is_gone_costs_nothing() -> None:
    assert cpu_seconds([2**22 + 12345]) == 0.0
