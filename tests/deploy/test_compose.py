"""docker-compose.yml: valid against the Compose Specification and in step with `make run`.

The schema is a copy of the compose-spec repository's schema/compose-spec.json (Apache-2.0),
kept beside this file so a fresh clone tests offline.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.deploy import compose_rules
from tests.deploy.compose_rules import Reference
from tests.deploy.project import migrate_services, procfile, workspace_packages


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference(
        procfile=procfile(), migrate_services=migrate_services(), packages=workspace_packages()
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return compose_rules.load()


def test_compose_file_keeps_every_rule(compose: dict[str, Any], reference: Reference) -> None:
    """The compose file validates against the schema and agrees with make run."""
    assert compose_rules.problems(compose, reference) == []


def test_every_service_of_the_procfile_is_composed(
    compose: dict[str, Any], reference: Reference
) -> None:
    """Each process `make run` starts is a compose service with the same command."""
    assert set(reference.procfile) <= set(compose["services"])


def test_migrate_runs_what_make_migrate_runs(reference: Reference) -> None:
    """The Makefile migrates the three services with a schema, in dependency order."""
    assert reference.migrate_services == ["auth_service", "room_service", "message_service"]


def _drop_service(name: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        del data["services"][name]
        for service in data["services"].values():
            (service.get("depends_on") or {}).pop(name, None)

    return mutate


def _drop_key(name: str, key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        del data["services"][name][key]

    return mutate


def _set(name: str, *path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        node = data["services"][name]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _drop_env(name: str, key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        del data["services"][name]["environment"][key]

    return mutate


def _replace_migrate_step(old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        command = data["services"]["migrate"]["command"]
        command[-1] = command[-1].replace(old, new)

    return mutate


BREAKAGES = {
    "rooms service removed": (_drop_service("rooms"), "service rooms is missing"),
    "gateway service removed": (_drop_service("gateway"), "service gateway is missing"),
    "postgres removed": (_drop_service("postgres"), "service postgres is missing"),
    "auth healthcheck removed": (_drop_key("auth", "healthcheck"), "auth: no healthcheck"),
    "messages healthcheck removed": (
        _drop_key("messages", "healthcheck"),
        "messages: no healthcheck",
    ),
    "redis healthcheck removed": (_drop_key("redis", "healthcheck"), "redis: no healthcheck"),
    "healthcheck disabled": (
        _set("gateway", "healthcheck", value={"disable": True}),
        "gateway: no healthcheck",
    ),
    "healthcheck on the wrong port": (
        _set("rooms", "healthcheck", "test", value=["CMD", "true"]),
        "rooms: healthcheck must call /readyz or /healthz on port 8002",
    ),
    "command differs from the Procfile": (
        _set("auth", "command", value=["python", "-m", "auth_service", "migrate"]),
        "auth: command",
    ),
    "port not published": (_drop_key("gateway", "ports"), "gateway: must publish port 8000"),
    "depends_on without health": (
        _set("gateway", "depends_on", "messages", value={"condition": "service_started"}),
        "gateway: depends_on messages must be service_healthy",
    ),
    "migration not awaited": (
        _set("auth", "depends_on", "migrate", value={"condition": "service_started"}),
        "auth: depends_on migrate must be service_completed_successfully",
    ),
    "a migration skipped": (
        _replace_migrate_step("&& python -m room_service migrate", ""),
        "migrate: migrates ['auth_service', 'message_service']",
    ),
    "no signing key created": (
        _replace_migrate_step("python -m auth_service keygen /keys/signing-key.pem &&", ""),
        "migrate: must create the signing key",
    ),
    "signing key mounted writable": (
        _set("auth", "volumes", value=["signing-key:/keys"]),
        "auth: AUTH_SIGNING_KEY_FILE must be in the signing-key volume, mounted :ro",
    ),
    "signing key given to the gateway": (
        _set("gateway", "volumes", value=["signing-key:/keys:ro"]),
        "gateway: mounts the signing key",
    ),
    "service env pointing at localhost": (
        _set("messages", "environment", "ROOMS_URL", value="http://127.0.0.1:8002"),
        "messages: ROOMS_URL must be http://rooms:8002",
    ),
    "root user": (_set("rooms", "user", value="root"), "rooms: runs as root"),
    "postgres published": (
        _set("postgres", "ports", value=["5432:5432"]),
        "postgres: must be reached over the compose network only",
    ),
    "redis published": (
        _set("redis", "ports", value=["6379:6379"]),
        "redis: must be reached over the compose network only",
    ),
    "a service without its role": (
        _drop_env("rooms", "ROOMS_DB_ROLE"),
        "rooms: must connect as its own role",
    ),
    "a service with the administrator's password": (
        _set(
            "auth",
            "environment",
            "DATABASE_URL",
            value="postgresql://postgres:chat@postgres:5432/chat",
        ),
        "auth: DATABASE_URL must not carry the administrator's password",
    ),
    "the gateway's secret mounted by rooms": (
        _set("rooms", "volumes", value=["gateway-secret:/internal:ro"]),
        "rooms: mounts the gateway's secret",
    ),
    "unpinned postgres": (
        _set("postgres", "image", value="postgres:latest"),
        "postgres: use the official image with a pinned major version",
    ),
    "schema violation": (
        _set("redis", "restart", value=["always"]),
        "schema: services/redis/restart",
    ),
    "pgbouncer removed": (_drop_service("pgbouncer"), "service pgbouncer is missing"),
    "messages straight to postgres": (
        _set(
            "messages",
            "environment",
            "MESSAGES_DATABASE_URL",
            value="postgresql://chat_messages:x@postgres:5432/chat",
        ),
        "messages: MESSAGES_DATABASE_URL must point at the pgbouncer service",
    ),
    "replica removed": (_drop_service("postgres-replica"), "service postgres-replica is missing"),
    "replica published": (
        _set("postgres-replica", "ports", value=["5433:5432"]),
        "postgres-replica: must be reached over the compose network only",
    ),
    "replica not copied from the primary": (
        _set("postgres-replica", "command", value=["postgres"]),
        "postgres-replica: must start as a copy of postgres",
    ),
    "replica without a named volume": (
        _drop_key("postgres-replica", "volumes"),
        "postgres-replica: keep /var/lib/postgresql/data in a named volume",
    ),
    "no replication role on the primary": (
        _set("postgres", "volumes", value=["postgres-data:/var/lib/postgresql/data"]),
        "postgres: must mount deploy/replica/replication.sh",
    ),
    "reads on the primary": (
        _drop_env("messages", "MESSAGES_READ_DATABASE_URL"),
        "messages: MESSAGES_READ_DATABASE_URL must point at postgres-replica",
    ),
    "prepared statements behind pgbouncer": (
        _drop_env("rooms", "DB_POOLER"),
        "rooms: DB_POOLER must be pgbouncer",
    ),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_checker_reports_each_breakage(
    breakage: str, compose: dict[str, Any], reference: Reference
) -> None:
    """A copy of the compose file with one thing broken is reported for exactly that."""
    mutate, expected = BREAKAGES[breakage]
    broken = copy.deepcopy(compose)
    mutate(broken)
    reported = compose_rules.problems(broken, reference)
    assert any(p.startswith(expected) for p in reported), reported
