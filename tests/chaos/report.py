"""The figures of a run, gathered from every suite and printed as one table at its end."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.run import Figures

ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "reliability"


@dataclass
class FuzzFigures:
    """The outcome of one bad-input suite."""

    suite: str
    inputs: int = 0
    server_errors: int = 0
    crashed_tasks: int = 0
    memory_before_mib: float = 0.0
    memory_after_mib: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class Measure:
    """One figure an attack test measured, and the bound it was held to."""

    check: str
    measured: str
    bound: str


@dataclass
class NotifyFigures:
    """One notification case: messages sent to offline users, and what each channel got."""

    case: str
    channel: str
    sent: int = 0
    delivered: int = 0
    duplicates: int = 0  # deliveries the receiver got again (same X-Chat-Delivery id)
    lost: int = 0
    attempts: int = 0
    seconds_to_last: float = 0.0


FAULTS: list[Figures] = []
NOTIFY: list[NotifyFigures] = []
FUZZ: list[FuzzFigures] = []
MEASURES: list[Measure] = []


def chaos_enabled() -> bool:
    """``make chaos`` sets CHAOS=1: the full-size cases and inputs run, not the short ones."""
    return os.environ.get("CHAOS", "") not in ("", "0")


def _fault_row(f: Figures) -> list[str]:
    recover = "never" if f.recover_s is None else f"{f.recover_s:.2f}"
    other = []
    if f.stored_duplicates or f.ack_mismatches or f.unacked or f.gaps_in_seq or f.foreign:
        other.append(
            f"stored dup {f.stored_duplicates}, ack mismatch {f.ack_mismatches}, "
            f"unacked {f.unacked}, seq gaps {f.gaps_in_seq}, foreign {f.foreign}"
        )
    if f.crashes:
        other.append(f"{f.crashes} crash lines")
    return [
        f.case,
        f"{f.clients}/{f.rooms}",
        str(f.acknowledged),
        str(f.lost),
        str(f.duplicates),
        str(f.order_violations),
        recover,
        "; ".join(other) or "ok",
    ]


def _fuzz_row(f: FuzzFigures) -> list[str]:
    memory = f"{f.memory_before_mib:.0f} -> {f.memory_after_mib:.0f} MiB"
    return [f.suite, str(f.inputs), str(f.server_errors), str(f.crashed_tasks), memory]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def table() -> list[str]:
    """The figures of this run as Markdown (the form docs/reliability.md quotes)."""
    lines: list[str] = []
    if FAULTS:
        lines += _table(
            [
                "fault case",
                "clients/rooms",
                "acknowledged",
                "lost",
                "duplicates seen",
                "order violations",
                "recover (s)",
                "other checks",
            ],
            [_fault_row(f) for f in FAULTS],
        )
    if FUZZ:
        if lines:
            lines.append("")
        lines += _table(
            ["bad-input suite", "inputs tried", "5xx answers", "crashed tasks", "service RSS"],
            [_fuzz_row(f) for f in FUZZ],
        )
    if NOTIFY:
        if lines:
            lines.append("")
        lines += _table(
            [
                "notification case",
                "channel",
                "sent",
                "delivered",
                "duplicates seen",
                "lost",
                "attempts",
                "last in (s)",
            ],
            [
                [
                    n.case,
                    n.channel,
                    str(n.sent),
                    str(n.delivered),
                    str(n.duplicates),
                    str(n.lost),
                    str(n.attempts),
                    f"{n.seconds_to_last:.1f}",
                ]
                for n in NOTIFY
            ],
        )
    if MEASURES:
        if lines:
            lines.append("")
        lines += _table(
            ["attack check", "measured", "bound"],
            [[m.check, m.measured, m.bound] for m in MEASURES],
        )
    return lines


_printed = False


def skip_other_size(items: list[Any]) -> None:
    """Outside ``make chaos`` skip the full-size items (marked ``chaos``); under it, skip the
    short versions of the same cases (their ids say ``short``)."""
    import pytest

    full = chaos_enabled()
    skip = pytest.mark.skip(
        reason="short size: make test runs it" if full else "full size: run with `make chaos`"
    )
    for item in items:
        marked = item.get_closest_marker("chaos") is not None
        spec = getattr(item, "callspec", None)
        short = spec is not None and "short" in spec.id.split("-")
        if (not full and marked) or (full and short):
            item.add_marker(skip)


def print_table(terminalreporter: Any) -> None:
    """Print the table once per run, whichever suite's conftest asks first."""
    global _printed
    lines = table()
    if _printed or not lines:
        return
    _printed = True
    terminalreporter.section("reliability figures")
    for line in lines:
        terminalreporter.write_line(line)
    path = save()
    if path is not None:
        terminalreporter.write_line(f"(saved to {path})")


def save() -> Path | None:
    """Write the figures as JSON beside the other artifacts (for the docs and CI)."""
    if not (FAULTS or FUZZ or MEASURES or NOTIFY):
        return None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / ("figures-full.json" if chaos_enabled() else "figures-short.json")
    data: dict[str, Any] = {
        "faults": [asdict(f) for f in FAULTS],
        "fuzz": [asdict(f) for f in FUZZ],
        "attacks": [asdict(m) for m in MEASURES],
        "notifications": [asdict(n) for n in NOTIFY],
    }
    path.write_text(json.dumps(data, indent=2))
    return path
