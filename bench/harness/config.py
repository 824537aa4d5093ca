"""What one ``make bench`` run does, read once from the command line and the environment."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import TypeVar

from harness.ours_variants import Variant, VariantError, from_env
from harness.systems import ALL as SYSTEMS
from harness.systems import FAMILIES

# In run order: those with a target first, so a run short of time skips the one without.
SCENARIOS = (
    "storm",
    "resume",
    "fanout",
    "latency",
    "direct",
    "idle",
    "groups",
    "history",
    "search",
)
# QUICK=1: every system at equal processes, the scenarios with a target, shorter and smaller.
QUICK_SYSTEMS = FAMILIES
QUICK_SCENARIOS = ("storm", "resume", "fanout", "latency")
FULL_SIZES = (10, 100, 500, 1000, 2000, 5000)


T = TypeVar("T")


class ConfigError(Exception):
    """A selection or a number the run cannot use."""


@dataclass(frozen=True)
class Config:
    systems: tuple[str, ...]
    scenarios: tuple[str, ...]
    quick: bool
    warmup_s: float
    duration_s: float
    workers: int
    fanout_sizes: tuple[int, ...]
    one_process_sizes: tuple[int, ...]  # the -1p rows: fewer sizes, to fit the run's time
    windows: tuple[int, ...]
    curve: tuple[float, ...]  # latency curve: offered rates, fractions of the saturation
    step_warmup_s: float
    step_duration_s: float
    all_window: int
    idle_connections: int
    idle_users: int
    idle_hold_s: float
    resume_messages: int
    storm_clients: int
    storm_rooms: int
    budget_s: float
    latency_rate: float | None  # BENCH_RATE: the fixed rate, msg/s (else half the slowest)
    profile: bool  # BENCH_PROFILE=1: py-spy flame graphs of ours' services per case
    redis_url: str
    admin_database_url: str
    database_name: str
    ours_variant: Variant = field(default_factory=Variant)  # BENCH_OURS_*: traced, PgBouncer, ...


def _pick(
    raw: str, allowed: tuple[str, ...], what: str, default: tuple[str, ...]
) -> tuple[str, ...]:
    names = tuple(n.strip() for n in raw.replace(",", " ").split() if n.strip())
    if not names:
        return default
    if names == ("all",):
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


def _numbers(env: dict[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = env.get(name, "").replace(",", " ").split()
    try:
        values = tuple(int(v) for v in raw) if raw else default
    except ValueError as exc:
        raise ConfigError(f"{name} must be whole numbers, not {env[name]!r}") from exc
    if not values or min(values) < 1:
        raise ConfigError(f"{name} must list numbers of at least 1")
    return tuple(sorted(set(values)))


def load(argv: list[str] | None = None, env: dict[str, str] | None = None) -> Config:
    """The run's configuration: ``--systems``/``--scenarios`` (or SYSTEMS/SCENARIOS), QUICK,
    BENCH_*."""
    env = dict(os.environ) if env is None else env
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--systems", default=env.get("SYSTEMS", ""))
    parser.add_argument("--scenarios", default=env.get("SCENARIOS", ""))
    parser.add_argument("--quick", default=env.get("QUICK", ""))
    args = parser.parse_args(argv)
    quick = args.quick.strip() not in ("", "0", "no", "false")

    def q(full: T, short: T) -> T:
        return short if quick else full

    try:
        ours_variant = from_env(env)
    except VariantError as exc:
        raise ConfigError(str(exc)) from exc

    return Config(
        systems=_pick(args.systems, SYSTEMS, "system", q(SYSTEMS, QUICK_SYSTEMS)),
        scenarios=_pick(args.scenarios, SCENARIOS, "scenario", q(SCENARIOS, QUICK_SCENARIOS)),
        quick=quick,
        warmup_s=_number(env, "BENCH_WARMUP", q(2, 1), 0),
        duration_s=_number(env, "BENCH_DURATION", q(5, 3), 1),
        workers=int(_number(env, "BENCH_WORKERS", 2, 1)),
        fanout_sizes=_numbers(env, "BENCH_SIZES", q(FULL_SIZES, (10, 500))),
        one_process_sizes=_numbers(env, "BENCH_SIZES_1P", q((500, 2000), (500,))),
        windows=_numbers(env, "BENCH_WINDOWS", q((16, 64, 256), (64,))),
        curve=q((0.25, 0.5, 0.75, 1.0, 1.2), (0.5, 1.0)),
        step_warmup_s=_number(env, "BENCH_STEP_WARMUP", 1, 0),
        step_duration_s=_number(env, "BENCH_STEP_DURATION", 2, 1),
        all_window=int(_number(env, "BENCH_ALL_WINDOW", 2, 1)),
        idle_connections=int(_number(env, "BENCH_IDLE", q(20000, 5000), 1)),
        idle_users=int(_number(env, "BENCH_IDLE_USERS", 1000, 2)),
        idle_hold_s=_number(env, "BENCH_IDLE_HOLD", 5, 0),
        resume_messages=int(_number(env, "BENCH_RESUME", 10000, 1)),
        storm_clients=int(_number(env, "BENCH_STORM", q(10000, 1000), 10)),
        storm_rooms=int(_number(env, "BENCH_STORM_ROOMS", q(1000, 100), 1)),
        # The whole run must finish within fifteen minutes; scenarios that would not fit are
        # skipped (and say so) once this many seconds are spent.
        budget_s=_number(env, "BENCH_BUDGET", q(880, 300), 30),
        latency_rate=_number(env, "BENCH_RATE", 0, 0) or None,
        profile=env.get("BENCH_PROFILE", "").strip() not in ("", "0"),
        redis_url=env.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        admin_database_url=env.get(
            "BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        database_name=env.get("BENCH_DATABASE", "chat_bench"),
        ours_variant=ours_variant,
    )
