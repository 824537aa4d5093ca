"""A stepped case's result (several measurements on one set of connections) as the table's
scenarios: fan-out's best step per room size with its window sweep, latency's fixed-rate step
with its curve."""

from __future__ import annotations

from typing import Any


def split(key: str, result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A stepped case's result as the table's scenarios: fan-out's best step per room size
    (``fanout-<size>``, its window sweep beside it), latency's fixed-rate step (the curve
    beside it); any other case as it is."""
    steps = result.get("steps")
    if not steps:
        return {key: result}
    common = {k: v for k, v in result.items() if k != "steps"}
    if key == "latency":
        fixed = {**common, **steps[0], "title": result["title"]}
        fixed["curve"] = [
            {
                "fraction": s["step"].get("fraction"),
                "offered_msgs_per_s": s["step"]["rate"],
                "delivered_per_s": dig(s, "measured", "delivered_per_s"),
                "p50_ms": dig(s, "measured", "latency", "p50_ms"),
                "p99_ms": dig(s, "measured", "latency", "p99_ms"),
            }
            for s in steps[1:]
        ]
        return {"latency": fixed}
    out: dict[str, dict[str, Any]] = {}
    for s in steps:
        size = s["step"].get("size")
        name = f"fanout-{size}"
        rate = dig(s, "measured", "delivered_per_s") or 0
        best = out.get(name)
        point = {
            "window": s["step"].get("window"),
            "delivered_per_s": rate,
            "p99_ms": dig(s, "measured", "latency", "p99_ms"),
        }
        sweep = [*best["sweep"], point] if best else [point]
        if best is None or rate > (dig(best, "measured", "delivered_per_s") or 0):
            best = {**common, **s, "title": f"fan-out 1 room x {size} (best window)"}
        best["sweep"] = sweep
        out[name] = best
    return out


def dig(data: Any, *path: str) -> Any:
    for step in path:
        if not isinstance(data, dict) or step not in data:
            return None
        data = data[step]
    return data
