"""One Postgres role per service: each service runs as a role that can use its own schema and
nothing else (chatcore.db_roles). Role names are unique per run: roles are cluster-wide."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from chat_testkit.plugin import StartService
from chat_testkit.processes import ServiceProcess
from chat_testkit.users import register_user
from chatcore.db_roles import DbRole, role_url
from tests.chaos import report

SCHEMAS = {"auth_service": "auth", "room_service": "rooms", "message_service": "messages"}
PREFIX = {"auth_service": "AUTH", "room_service": "ROOMS", "message_service": "MESSAGES"}


@dataclass
class RoleStack:
    """The three services, each running as a role of its own."""

    roles: dict[str, DbRole]
    services: dict[str, ServiceProcess]


@pytest.fixture(scope="module")
def role_stack(
    start_service: StartService,
    database_url: str,
    redis_prefix: str,
    auth_service: ServiceProcess,
) -> Iterator[RoleStack]:
    """Each service migrated with ``<SERVICE>_DB_ROLE`` set, then serving as that role."""
    tag = secrets.token_hex(4)
    roles = {
        module: DbRole(f"test_{schema}_{tag}", secrets.token_urlsafe(12))
        for module, schema in SCHEMAS.items()
    }
    services: dict[str, ServiceProcess] = {}
    try:
        for module, role in roles.items():
            services[module] = start_service(
                module,
                env={
                    f"{PREFIX[module]}_DB_ROLE": role.name,
                    f"{PREFIX[module]}_DB_PASSWORD": role.password or "",
                    "REDIS_PREFIX": f"{redis_prefix}roles:",
                    # message-service asks this run's role-bound room-service about members.
                    **(
                        {"ROOMS_URL": services["room_service"].url}
                        if module == "message_service"
                        else {}
                    ),
                },
            )
        yield RoleStack(roles, services)
    finally:
        for process in services.values():
            process.stop()
        _drop_roles(database_url, list(roles.values()))


def _drop_roles(database_url: str, roles: list[DbRole]) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            for role in roles:
                exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role.name)
                if exists:
                    await conn.execute(f'DROP OWNED BY "{role.name}"')
                    await conn.execute(f'DROP ROLE "{role.name}"')
        finally:
            await conn.close()

    asyncio.run(drop())


async def test_each_role_reads_its_own_schema_and_no_other(
    role_stack: RoleStack, database_url: str
) -> None:
    """As a service's role: its own tables are readable and writable; another service's
    schema, new tables and dropping its own tables are all refused."""
    refused = 0
    for module, role in role_stack.roles.items():
        own = SCHEMAS[module]
        conn = await asyncpg.connect(role_url(database_url, role))
        try:
            assert await conn.fetchval("SELECT current_user") == role.name
            await conn.fetchval(f"SELECT count(*) FROM {own}.schema_migrations")
            for other in set(SCHEMAS.values()) - {own}:
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.fetch(f"SELECT * FROM {other}.schema_migrations LIMIT 1")
                refused += 1
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f"CREATE TABLE {own}.intruder (x int)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f"DROP TABLE {own}.schema_migrations")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f"DELETE FROM {own}.schema_migrations")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE SCHEMA intruder")
            refused += 4
        finally:
            await conn.close()
    report.MEASURES.append(
        report.Measure(
            "database roles: each service's role against the others' schemas and DDL",
            f"{refused} of {refused} attempts refused (permission denied)",
            "every one refused",
        )
    )


async def test_the_services_work_as_their_roles(
    role_stack: RoleStack, http: httpx.AsyncClient
) -> None:
    """Registering, logging in, creating a room and sending a message all work with each
    service connected as its own role."""
    auth = role_stack.services["auth_service"].url
    rooms = role_stack.services["room_service"].url
    messages = role_stack.services["message_service"].url
    user = await register_user(http, auth)
    room = await http.post(f"{rooms}/rooms", json={"title": "roles"}, headers=user.headers)
    assert room.status_code == 201, room.text
    room_id = room.json()["id"]
    sent = await http.post(
        f"{messages}/messages",
        json={"room_id": room_id, "body": "권한 분리", "client_msg_id": uuid.uuid4().hex},
        headers=user.headers,
    )
    assert sent.status_code == 201, sent.text
    history = await http.get(
        f"{messages}/messages", params={"room_id": room_id}, headers=user.headers
    )
    assert [m["body"] for m in history.json()["items"]] == ["권한 분리"]
