"""One Postgres role per service, with rights on its own schema only.

The design says each service owns its schema; this makes Postgres enforce it. ``migrate``
connects as the administrator (``DATABASE_URL``), applies the migrations, then creates the
service's role if it is missing (``<SERVICE>_DB_ROLE``, with ``<SERVICE>_DB_PASSWORD`` when
the server wants passwords) and grants it what the service does at run time: use of its schema
and reading and writing its tables, nothing else. The tables stay owned by the administrator,
so the service cannot alter or drop them, and it has no use of any other service's schema.
``serve`` then connects as that role (docs/operations.md, "Database roles").
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from asyncpg.exceptions import DuplicateObjectError


@dataclass(frozen=True)
class DbRole:
    """A service's role: its name and, where the server checks passwords, its password."""

    name: str
    password: str | None = None


def role_url(database_url: str, role: DbRole) -> str:
    """``database_url`` with the role's name and password in place of its credentials."""
    parts = urlsplit(database_url)
    host = parts.netloc.rpartition("@")[2]
    credentials = quote(role.name, safe="")
    if role.password:
        credentials += ":" + quote(role.password, safe="")
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


async def grant_own_schema(conn: asyncpg.Connection, role: DbRole, schema: str) -> None:
    """Create ``role`` if missing (set its password if given) and grant it ``schema`` only.

    Safe to repeat: every ``migrate`` grants again, so tables a new migration added are
    covered. The caller holds the migration lock, so two runs never create the role at once;
    another database of the same server may, hence the duplicate is tolerated.
    """
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role.name)
    if not exists:
        with contextlib.suppress(DuplicateObjectError):
            await conn.execute(await _format(conn, "CREATE ROLE %I LOGIN NOINHERIT", role.name))
    if role.password:
        await conn.execute(
            await _format(conn, "ALTER ROLE %I PASSWORD %L", role.name, role.password)
        )
    database = await conn.fetchval("SELECT current_database()")
    await conn.execute(
        await _format(conn, "GRANT CONNECT ON DATABASE %I TO %I", database, role.name)
    )
    for statement in (
        "GRANT USAGE ON SCHEMA %I TO %I",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I",
        "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO %I",
        "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO %I",
        # The service keeps the schema's bookkeeping to itself: read-only is enough.
        "REVOKE INSERT, UPDATE, DELETE ON %I.schema_migrations FROM %I",
    ):
        await conn.execute(await _format(conn, statement, schema, role.name))


async def _format(conn: asyncpg.Connection, template: str, *args: str) -> str:
    """A statement with identifiers (``%I``) and literals (``%L``) quoted by Postgres."""
    statement: str = await conn.fetchval(
        "SELECT format($1, VARIADIC $2::text[])", template, list(args)
    )
    return statement
