"""The rules docker-compose.yml keeps, as a checker that lists every broken one.

No Docker engine runs here, so these rules are what keeps the compose file honest: the
schema, and agreement with `make run` (Procfile commands, Makefile migrations) and the
contract (names, ports, health endpoints).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml

from tests.deploy import isolation_rules
from tests.deploy.project import BY_NAME, ROOT, SERVICES, in_image, interpolate

SCHEMA = Path(__file__).with_name("compose-spec.json")
KEY_VOLUME = "signing-key"


@dataclass(frozen=True)
class Reference:
    """What the compose file must agree with."""

    procfile: dict[str, list[str]]
    migrate_services: list[str]
    packages: dict[str, str]  # module -> workspace member


def load(path: Path = ROOT / "docker-compose.yml") -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def schema_errors(data: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    return [
        f"schema: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(data)
    ]


def problems(raw: dict[str, Any], ref: Reference) -> list[str]:
    """Every rule ``raw`` (a loaded compose file) breaks; empty when it keeps them all."""
    found = schema_errors(raw)
    data = interpolate(raw)
    assert isinstance(data, dict)
    services: dict[str, Any] = data.get("services") or {}
    for name in ("postgres", "redis", "migrate", *BY_NAME):
        if name not in services:
            found.append(f"service {name} is missing")
    found += _backing(services)
    found += isolation_rules.compose_problems(services)
    found += _pooled(services)
    found += _replica(services)
    if "migrate" in services:
        found += _migrate(services["migrate"], ref)
    for name in BY_NAME:
        if name in services:
            found += [f"{name}: {p}" for p in _app(name, services[name], ref)]
    for name, service in services.items():
        user = str(service.get("user", ""))
        if user.split(":")[0] in {"root", "0"}:
            found.append(f"{name}: runs as root")
        mounts = [_volume_source(v) for v in service.get("volumes", [])]
        if KEY_VOLUME in mounts and name not in {"auth", "migrate"}:
            found.append(f"{name}: mounts the signing key, which only auth-service may read")
    return found


# The services with a database, and the prefix of their settings.
POOLED = {"auth": "AUTH", "rooms": "ROOMS", "messages": "MESSAGES"}


def _pooled(services: dict[str, Any]) -> list[str]:
    """Each service with a database reaches it through PgBouncer in transaction mode, saying
    so (DB_POOLER); migrate alone connects to Postgres itself (its session advisory lock)."""
    found = []
    if "pgbouncer" not in services:
        return ["service pgbouncer is missing"]
    if not _healthcheck(services["pgbouncer"]):
        found.append("pgbouncer: no healthcheck")
    for name, prefix in POOLED.items():
        env = _env(services.get(name) or {})
        if urlsplit(str(env.get(f"{prefix}_DATABASE_URL", ""))).hostname != "pgbouncer":
            found.append(f"{name}: {prefix}_DATABASE_URL must point at the pgbouncer service")
        if env.get("DB_POOLER") != "pgbouncer":
            found.append(f"{name}: DB_POOLER must be pgbouncer behind PgBouncer")
        if _condition(services.get(name) or {}, "pgbouncer") != "service_healthy":
            found.append(f"{name}: depends_on pgbouncer must be service_healthy")
    if urlsplit(str(_env(services.get("migrate") or {}).get("DATABASE_URL", ""))).hostname != (
        "postgres"
    ):
        found.append("migrate: must connect to postgres itself, not through a pooler")
    return found


def _replica(services: dict[str, Any]) -> list[str]:
    """A streaming replica of postgres (a copy by pg_basebackup -R, as the role the primary's
    init script creates), reached over the compose network only, where message-service
    reads."""
    replica = services.get("postgres-replica")
    if replica is None:
        return ["service postgres-replica is missing"]
    found = []
    if replica.get("ports") or replica.get("network_mode") == "host":
        found.append("postgres-replica: must be reached over the compose network only")
    steps = " ".join(" ".join(step) for step in _shell_steps(replica.get("command")))
    if (
        "pg_basebackup" not in steps
        or "--host=postgres" not in steps
        or ("--write-recovery-conf" not in steps and " -R" not in steps)
    ):
        found.append(
            "postgres-replica: must start as a copy of postgres "
            "(pg_basebackup --host=postgres --write-recovery-conf)"
        )
    if _condition(replica, "postgres") != "service_healthy":
        found.append("postgres-replica: depends_on postgres must be service_healthy")
    init = [str(v) for v in (services.get("postgres") or {}).get("volumes", [])]
    if not any(v.split(":")[1:2] == ["/docker-entrypoint-initdb.d/replication.sh"] for v in init):
        found.append("postgres: must mount deploy/replica/replication.sh (the replica's role)")
    env = _env(services.get("messages") or {})
    if urlsplit(str(env.get("MESSAGES_READ_DATABASE_URL", ""))).hostname != "postgres-replica":
        found.append("messages: MESSAGES_READ_DATABASE_URL must point at postgres-replica")
    return found


def _backing(services: dict[str, Any]) -> list[str]:
    found = []
    for name, image, data_dir in (
        ("postgres", "postgres", "/var/lib/postgresql/data"),
        ("postgres-replica", "postgres", "/var/lib/postgresql/data"),
        ("redis", "redis", None),
    ):
        service = services.get(name)
        if service is None:
            continue
        tag = str(service.get("image", ""))
        base, _, version = tag.partition(":")
        if base != image or not version[:1].isdigit():
            found.append(f"{name}: use the official image with a pinned major version ({tag!r})")
        if not _healthcheck(service):
            found.append(f"{name}: no healthcheck")
        if data_dir and not any(
            str(v).endswith(f":{data_dir}") and not str(v).startswith(("/", "."))
            for v in service.get("volumes", [])
        ):
            found.append(f"{name}: keep {data_dir} in a named volume")
    return found


def _migrate(service: dict[str, Any], ref: Reference) -> list[str]:
    found = []
    steps = _shell_steps(service.get("command"))
    keygen = [s for s in steps if s[:4] == ["python", "-m", "auth_service", "keygen"]]
    migrated = [
        s[2] for s in steps if len(s) == 4 and s[:2] == ["python", "-m"] and s[3] == "migrate"
    ]
    if migrated != ref.migrate_services:
        found.append(f"migrate: migrates {migrated}, make migrate does {ref.migrate_services}")
    if len(keygen) != 1 or len(keygen[0]) != 5:
        found.append("migrate: must create the signing key (python -m auth_service keygen PATH)")
    elif not keygen[0][4].startswith(_key_mount(service) or "//"):
        found.append("migrate: keygen must write into the signing-key volume")
    packages = str(_build_args(service).get("PACKAGES", "")).split()
    for module in ref.migrate_services:
        if ref.packages.get(module) not in packages:
            found.append(f"migrate: its image lacks {module} (PACKAGES={packages})")
    if _condition(service, "postgres") != "service_healthy":
        found.append("migrate: must wait for postgres to be healthy")
    if service.get("restart", "no") != "no":
        found.append("migrate: is one-shot (restart: no)")
    return found


def _app(name: str, service: dict[str, Any], ref: Reference) -> list[str]:
    spec = BY_NAME[name]
    found = []
    build = service.get("build")
    if not isinstance(build, dict) or build.get("context") not in {".", "./"}:
        found.append("build it from the repository's Dockerfile (build.context: .)")
    args = _build_args(service)
    if str(args.get("MODULE")) != spec.module:
        found.append(f"build arg MODULE is {args.get('MODULE')!r}, not {spec.module!r}")
    if str(args.get("PACKAGES", "")).split() != [ref.packages.get(spec.module)]:
        found.append(f"build arg PACKAGES must be exactly {ref.packages.get(spec.module)!r}")
    expected = in_image(ref.procfile.get(name, []))
    if not expected:
        found.append(f"the Procfile has no {name!r} entry to compare with")
    elif service.get("command") != expected:
        found.append(f"command {service.get('command')} is not the Procfile's {expected}")
    if f"{spec.port}:{spec.port}" not in [str(p) for p in service.get("ports", [])]:
        found.append(f"must publish port {spec.port}")
    test = _healthcheck(service)
    if not test:
        found.append("no healthcheck")
    elif not any(f"127.0.0.1:{spec.port}/{p}" in " ".join(test) for p in ("readyz", "healthz")):
        found.append(f"healthcheck must call /readyz or /healthz on port {spec.port}")
    found += _environment(name, service)
    needs = {"redis": "service_healthy"}
    if name != "gateway":
        needs |= {"postgres": "service_healthy", "migrate": "service_completed_successfully"}
    if name in {"rooms", "gateway"}:
        needs["auth"] = "service_healthy"
    if name == "gateway":
        needs |= {"rooms": "service_healthy", "messages": "service_healthy"}
    for other, condition in needs.items():
        if _condition(service, other) != condition:
            found.append(f"depends_on {other} must be {condition}")
    if name == "gateway":
        # The browser cannot resolve compose hostnames: /config.json must give it localhost.
        env = _env(service)
        for other in SERVICES[:3]:
            public = f"GATEWAY_PUBLIC_{other.port_env.removesuffix('_PORT')}_URL"
            if env.get(public) != f"http://localhost:{other.port}":
                found.append(f"{public} must be http://localhost:{other.port}")
    if name == "auth":
        mount = _key_mount(service, read_only=True)
        key_file = str(_env(service).get("AUTH_SIGNING_KEY_FILE", ""))
        if not mount or not key_file.startswith(mount + "/"):
            found.append("AUTH_SIGNING_KEY_FILE must be in the signing-key volume, mounted :ro")
    return found


def _environment(name: str, service: dict[str, Any]) -> list[str]:
    env = _env(service)
    found = []
    if env.get("BIND_HOST") != "0.0.0.0":
        found.append("BIND_HOST must be 0.0.0.0 in a container")
    if urlsplit(str(env.get("DATABASE_URL", ""))).hostname != "postgres" and name != "gateway":
        found.append("DATABASE_URL must point at the postgres service")
    if urlsplit(str(env.get("REDIS_URL", ""))).hostname != "redis":
        found.append("REDIS_URL must point at the redis service")
    for other in SERVICES:
        if other.name == "gateway":
            continue
        url = urlsplit(str(env.get(other.url_env, "")))
        if (url.hostname, url.port) != (other.name, other.port):
            found.append(f"{other.url_env} must be http://{other.name}:{other.port}")
    if env.get("GATEWAY_URL") != "http://localhost:8000":
        found.append("GATEWAY_URL must be the browser's http://localhost:8000")
    if "http://localhost:8000" not in str(env.get("CORS_ORIGINS", "")).split(","):
        found.append("CORS_ORIGINS must allow the web client at http://localhost:8000")
    return found


def _env(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return dict(env)


def _build_args(service: dict[str, Any]) -> dict[str, Any]:
    build = service.get("build")
    return dict(build.get("args") or {}) if isinstance(build, dict) else {}


def _healthcheck(service: dict[str, Any]) -> list[str]:
    check = service.get("healthcheck") or {}
    if check.get("disable"):
        return []
    test = check.get("test") or []
    return [test] if isinstance(test, str) else [str(t) for t in test]


def _condition(service: dict[str, Any], other: str) -> str | None:
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return "service_started" if other in depends else None
    entry = depends.get(other)
    return None if entry is None else str(entry.get("condition", "service_started"))


def _volume_source(volume: object) -> str:
    if isinstance(volume, dict):
        return str(volume.get("source", ""))
    return str(volume).split(":")[0]


def _key_mount(service: dict[str, Any], read_only: bool = False) -> str | None:
    """Where the signing-key volume is mounted in ``service`` (with ``:ro`` if asked)."""
    for volume in service.get("volumes", []):
        parts = str(volume).split(":")
        if parts[0] == KEY_VOLUME and len(parts) >= 2:
            if read_only and (len(parts) < 3 or "ro" not in parts[2].split(",")):
                return None
            return parts[1]
    return None


def _shell_steps(command: object) -> list[list[str]]:
    """The commands of a ``sh -c "a && b && c"`` (or a plain list) command."""
    if isinstance(command, list) and command[:2] in (["/bin/sh", "-c"], ["sh", "-c"]):
        script = " ".join(str(c) for c in command[2:])
    elif isinstance(command, list):
        return [[str(c) for c in command]]
    else:
        script = str(command or "")
    return [shlex.split(step) for step in script.split("&&") if step.strip()]
