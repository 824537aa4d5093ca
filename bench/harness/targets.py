"""Issue 24's targets, judged on the figures of one run: ratios against the peers of that run,
every system with the same number of server processes (the ``-1p`` rows are not judged)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.report import Results, dig, memory_per_connection_kib

KIB = 1024


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool | None  # None: not measured in this run

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "measured": self.measured, "met": self.met}


def _ok(result: dict[str, Any] | None) -> dict[str, Any] | None:
    return result if result is not None and not result.get("error") else None


def _value(results: Results, scenario: str, system: str, *path: str) -> float | None:
    value = dig(_ok(results.get(scenario, {}).get(system)), *path)
    return float(value) if isinstance(value, int | float) else None


def _ratio(results: Results, scenario: str, peer: str, *path: str) -> float | None:
    ours = _value(results, scenario, "ours", *path)
    theirs = _value(results, scenario, peer, *path)
    if ours is None or not theirs:
        return None
    return ours / theirs


def _fanout(results: Results, peer: str, label: str, floor: float) -> Verdict:
    ratios = {
        size: _ratio(results, f"fanout-{size}", peer, "measured", "delivered_per_s")
        for size in (500, 2000)
    }
    known = {s: r for s, r in ratios.items() if r is not None}
    target = f"fan-out deliveries/s >= {floor:g}x {label}"
    if not known:
        return Verdict(target, "not measured", None)
    text = ", ".join(f"1x{s}: {r:.2f}x" for s, r in known.items())
    return Verdict(target, text, all(r >= floor for r in known.values()))


def _verdict(target: str, value: float | None, text: str, met: bool) -> Verdict:
    return Verdict(target, "not measured", None) if value is None else Verdict(target, text, met)


def _storm(results: Results) -> list[Verdict]:
    ours = _ok(results.get("storm", {}).get("ours"))
    theirs = _ok(results.get("storm", {}).get("socketio"))
    cpu = _value(results, "storm", "ours", "cpu_ms_per_connect_total")
    out = [
        _verdict(
            "reconnect storm: < 1 ms CPU per connect, all processes",
            cpu,
            f"{cpu or 0:.2f} ms",
            cpu is not None and cpu < 1.0,
        )
    ]
    all_s = _value(results, "storm", "ours", "resumed_all_s")
    peer_s = _value(results, "storm", "socketio", "resumed_all_s")
    ratio = all_s / peer_s if all_s is not None and peer_s else None
    count = int((ours or {}).get("resumed") or 0)
    out.append(
        _verdict(
            "reconnect storm: 100% resumed within 2x socket.io's time",
            ratio,
            f"{count:,} in {all_s or 0:.2f} s vs {peer_s or 0:.2f} s: {ratio or 0:.2f}x",
            ratio is not None and ratio <= 2.0 and theirs is not None,
        )
    )
    lost = _value(results, "storm", "ours", "messages", "lost")
    out.append(
        _verdict(
            "reconnect storm: no message lost",
            lost,
            f"{lost or 0:,.0f} lost of "
            f"{_value(results, 'storm', 'ours', 'messages', 'expected_deliveries') or 0:,.0f}",
            lost == 0,
        )
    )
    return out


def judge(results: Results) -> list[Verdict]:
    verdicts = [
        _fanout(results, "socketio", "socket.io", 1.5),
        _fanout(results, "pysio", "python-socketio", 10.0),
        _fanout(results, "channels", "Django Channels", 10.0),
    ]
    target = "direct-room msgs/s with persistence >= 0.5x socket.io (no persistence)"
    ratio = _ratio(results, "direct", "socketio", "measured", "acked_per_s")
    verdicts.append(
        Verdict(target, "not measured", None)
        if ratio is None
        else Verdict(target, f"{ratio:.2f}x", ratio >= 0.5)
    )
    target = "p99 at the fixed rate <= 1.2x socket.io's"
    p99 = _value(results, "latency", "ours", "measured", "latency", "p99_ms")
    peer = _value(results, "latency", "socketio", "measured", "latency", "p99_ms")
    verdicts.append(
        _verdict(
            target,
            None if p99 is None or peer is None else p99,
            f"{p99 or 0:.1f} ms vs {peer or 0:.1f} ms",
            p99 is not None and peer is not None and p99 <= 1.2 * peer,
        )
    )
    target = ">= 20,000 idle connections at <= 12 KiB gateway memory each"
    idle = _ok(results.get("idle", {}).get("ours"))
    if idle is None:
        verdicts.append(Verdict(target, "not measured", None))
    else:
        held = int(idle.get("open_at_end") or 0)
        kib = memory_per_connection_kib(idle)
        text = f"{held:,} held, " + ("? KiB" if kib is None else f"{kib:.1f} KiB each")
        verdicts.append(Verdict(target, text, held >= 20000 and kib is not None and kib <= 12))
    target = "resume of 10,000 missed messages over 100 rooms in < 0.5 s"
    resume = _ok(results.get("resume", {}).get("ours"))
    seconds = None if resume is None else resume.get("resume_to_all_s")
    if resume is None or seconds is None:
        verdicts.append(Verdict(target, "not measured", None))
    else:
        count = int(resume.get("expected") or 0)
        verdicts.append(
            Verdict(
                target,
                f"{count:,} over {resume.get('rooms') or 1} rooms in {seconds:.3f} s",
                count >= 10000 and (resume.get("rooms") or 1) >= 100 and seconds < 0.5,
            )
        )
    return [*verdicts, *_storm(results)]


def render(verdicts: list[Verdict]) -> str:
    width = max(len(v.target) for v in verdicts)
    lines = []
    for v in verdicts:
        state = {True: "met", False: "NOT MET", None: "n/a"}[v.met]
        lines.append(f"  {v.target.ljust(width)}  {state:8}  {v.measured}")
    return "\n".join(lines)
