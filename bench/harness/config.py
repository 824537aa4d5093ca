"""What one ``make bench`` run does, read once from the command line and the environment."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

SYSTEMS = ("ours", "socketio", "pysio")
# In run order: those with a target first, so a run short of time skips the one without.
SCENARIOS = ("fanout", "resume", "latency", "direct", "idle", "groups", "search")


class ConfigError(Exception):
    """A selection or a number the run cannot use."""


@dataclass(frozen=True)
class Config:
    systems: tuple[str, ...]
    scenarios: tuple[str, ...]
    warmup_s: float
    duration_s: float
    workers: int
    fanout_sizes: tuple[int, ...]
    fanout_window: int
    all_window: int
    idle_connections: int
    idle_users: int
    idle_hold_s: float
    resume_messages: int
    budget_s: float
    redis_url: str
    admin_database_url: str
    database_name: str


def _pick(raw: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in raw.replace(",", " ").split() if n.strip())
    if not names or names == ("all",):
        return allowed
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ConfigError(
            f"unknown {what}: {', '.join(unknown)} (choose from {', '.join(allowed)})"
        )
    return tuple(n for n in allowed if n in names)


def _number(env: dict[str, str], name: str, default: float, low: float) -> float:
    raw = env.get(name, "")
    try:
        value = float(raw) if raw.strip() else default
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from exc
    if value < low:
        raise ConfigError(f"{name} must be at least {low}")
    return value


def load(argv: list[str] | None = None, env: dict[str, str] | None = None) -> Config:
    """The run's configuration: ``--systems``/``--scenarios`` (or SYSTEMS/SCENARIOS), BENCH_*."""
    env = dict(os.environ) if env is None else env
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--systems", default=env.get("SYSTEMS", ""))
    parser.add_argument("--scenarios", default=env.get("SCENARIOS", ""))
    args = parser.parse_args(argv)
    return Config(
        systems=_pick(args.systems, SYSTEMS, "system"),
        scenarios=_pick(args.scenarios, SCENARIOS, "scenario"),
        warmup_s=_number(env, "BENCH_WARMUP", 2, 0),
        duration_s=_number(env, "BENCH_DURATION", 8, 1),
        workers=int(_number(env, "BENCH_WORKERS", 2, 1)),
        fanout_sizes=(500, 2000),
        fanout_window=int(_number(env, "BENCH_WINDOW", 16, 1)),
        all_window=int(_number(env, "BENCH_ALL_WINDOW", 2, 1)),
        idle_connections=int(_number(env, "BENCH_IDLE", 20000, 1)),
        idle_users=int(_number(env, "BENCH_IDLE_USERS", 1000, 2)),
        idle_hold_s=_number(env, "BENCH_IDLE_HOLD", 5, 0),
        resume_messages=int(_number(env, "BENCH_RESUME", 10000, 1)),
        # The whole run must finish within ten minutes; scenarios that would not fit are
        # skipped (and say so) once this many seconds are spent.
        budget_s=_number(env, "BENCH_BUDGET", 560, 30),
        redis_url=env.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        admin_database_url=env.get(
            "BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        database_name=env.get("BENCH_DATABASE", "chat_bench"),
    )
