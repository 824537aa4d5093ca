"""The run's pictures, written beside its JSON: deliveries/s by room size for every system,
and p99 latency against the offered rate (up to saturation) for the systems with a curve."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # after the backend is chosen

from harness.report import Results, dig

FANOUT = re.compile(r"^fanout-(\d+)$")


def sizes_series(results: Results) -> dict[str, list[tuple[int, float]]]:
    """Per system, (room size, deliveries/s at the best window), by size."""
    out: dict[str, list[tuple[int, float]]] = {}
    for scenario, by_system in results.items():
        match = FANOUT.match(scenario)
        if not match:
            continue
        for system, r in by_system.items():
            rate = dig(r, "measured", "delivered_per_s")
            if not r.get("error") and isinstance(rate, int | float) and rate > 0:
                out.setdefault(system, []).append((int(match.group(1)), float(rate)))
    return {s: sorted(points) for s, points in out.items()}


def curve_series(results: Results) -> dict[str, list[tuple[float, float]]]:
    """Per system with a curve, (offered messages/s, p99 ms), by offered rate."""
    out: dict[str, list[tuple[float, float]]] = {}
    for system, r in results.get("latency", {}).items():
        points = [
            (float(p["offered_msgs_per_s"]), float(p["p99_ms"]))
            for p in r.get("curve") or []
            if isinstance(p.get("p99_ms"), int | float)
        ]
        if points:
            out[system] = sorted(points)
    return out


def _style(system: str) -> dict[str, Any]:
    return {"linestyle": "--" if system.endswith("-1p") else "-", "marker": "o"}


def draw(results: Results, stem: Path) -> list[Path]:
    """The PNGs written (``<stem>-sizes.png``, ``<stem>-latency.png``), those with data."""
    written = []
    sizes = sizes_series(results)
    if sizes:
        fig, ax = plt.subplots(figsize=(7, 4.5), dpi=90)
        for system, points in sizes.items():
            ax.plot(*zip(*points, strict=True), label=system, **_style(system))
        ax.set(xscale="log", yscale="log", xlabel="room members", ylabel="deliveries/s")
        ax.set_title("Fan-out: deliveries/s by room size (one sender, saturated window)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        path = stem.with_name(f"{stem.name}-sizes.png")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    curves = curve_series(results)
    if curves:
        fig, ax = plt.subplots(figsize=(7, 4.5), dpi=90)
        for system, curve in curves.items():
            ax.plot(*zip(*curve, strict=True), label=system, **_style(system))
        ax.set(yscale="log", xlabel="offered messages/s to 1 room x 500", ylabel="p99 ms")
        ax.set_title("p99 send -> receive against offered rate, up to saturation")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        path = stem.with_name(f"{stem.name}-latency.png")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
