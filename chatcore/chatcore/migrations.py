"""Numbered plain-SQL migrations, one folder per service, each applied once.

Files are named ``NNNN_name.sql``. :func:`migrate` applies those not yet recorded in
``<schema>.schema_migrations``, each in its own transaction, while holding a Postgres advisory
lock, so several replicas starting at once apply each file exactly once.

The lock is a session lock, held across several transactions: ``migrate`` must reach Postgres
itself (DATABASE_URL), never a pooler in transaction mode such as PgBouncer, which would run
the lock, the migrations and the unlock on different server connections. The services may
reach Postgres through PgBouncer (their own <SERVICE>_DATABASE_URL and DB_POOLER).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from chatcore.db_roles import DbRole, grant_own_schema
from chatcore.logs import get_logger

log = get_logger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]*$")
# One lock for all services: migrations are rare and short, and one lock keeps them simple.
_LOCK_KEY = 7_246_031_955


class MigrationError(Exception):
    """A migration folder or file is not in the expected form."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path


def discover(directory: Path) -> list[Migration]:
    """The migrations in ``directory``, in order; refuses misnamed or duplicate numbers."""
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: name it NNNN_name.sql")
        version, name = match.groups()
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        found[version] = Migration(version, name, path)
    return [found[v] for v in sorted(found)]


async def migrate(dsn: str, schema: str, directory: Path, role: DbRole | None = None) -> list[str]:
    """Apply the pending migrations of ``schema``; returns the versions applied. With
    ``role``, that role is then granted the schema (and nothing else): :mod:`chatcore.db_roles`."""
    if not _SCHEMA.match(schema):
        raise MigrationError(f"bad schema name {schema!r}")
    migrations = discover(directory)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    version text PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            rows = await conn.fetch(f"SELECT version FROM {schema}.schema_migrations")
            done = {r["version"] for r in rows}
            applied = []
            for m in migrations:
                if m.version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(m.path.read_text())
                    await conn.execute(
                        f"INSERT INTO {schema}.schema_migrations (version, name) VALUES ($1, $2)",
                        m.version,
                        m.name,
                    )
                log.info("migration_applied", schema=schema, version=m.version, name=m.name)
                applied.append(m.version)
            if role is not None:
                await grant_own_schema(conn, role, schema)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()


async def ensure_database(dsn: str) -> bool:
    """Create the database ``dsn`` names if it does not exist; True if it was created."""
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    if not name or not re.match(r"^[A-Za-z0-9_\-]+$", name):
        raise MigrationError(f"bad database name {name!r}")
    admin = urlunsplit(parts._replace(path="/postgres"))
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        await conn.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await conn.close()
