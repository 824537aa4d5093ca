"""The migration runner: each file once, in order, under a lock, recorded per schema."""

import asyncio
import secrets
from pathlib import Path

import asyncpg
import pytest

from chatcore.migrations import MigrationError, discover, ensure_database, migrate


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


async def test_applies_each_file_once_in_order(database_url: str, tmp_path: Path) -> None:
    """Files apply in number order; a second run applies nothing."""
    schema = f"mig_{secrets.token_hex(3)}"
    folder = _write(
        tmp_path / "m",
        {
            "0002_more.sql": f"INSERT INTO {schema}.t VALUES (2);",
            "0001_init.sql": f"CREATE TABLE {schema}.t (n int); INSERT INTO {schema}.t VALUES (1);",
        },
    )
    assert await migrate(database_url, schema, folder) == ["0001", "0002"]
    assert await migrate(database_url, schema, folder) == []
    conn = await asyncpg.connect(database_url)
    try:
        assert [r["n"] for r in await conn.fetch(f"SELECT n FROM {schema}.t ORDER BY n")] == [1, 2]
    finally:
        await conn.close()


async def test_concurrent_runs_apply_once(database_url: str, tmp_path: Path) -> None:
    """Replicas migrating at once apply each file exactly once (the advisory lock)."""
    schema = f"mig_{secrets.token_hex(3)}"
    folder = _write(
        tmp_path / "m",
        {
            "0001_init.sql": f"CREATE TABLE {schema}.t (n int); INSERT INTO {schema}.t VALUES (1);",
        },
    )
    results = await asyncio.gather(*(migrate(database_url, schema, folder) for _ in range(4)))
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]


async def test_failed_file_rolls_back(database_url: str, tmp_path: Path) -> None:
    """A failing file leaves nothing half-applied and is not recorded."""
    schema = f"mig_{secrets.token_hex(3)}"
    folder = _write(
        tmp_path / "m",
        {
            "0001_bad.sql": f"CREATE TABLE {schema}.t (n int); SELECT 1/0;",
        },
    )
    with pytest.raises(asyncpg.DivisionByZeroError):
        await migrate(database_url, schema, folder)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT to_regclass($1)", f"{schema}.t") is None
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.schema_migrations") == 0
    finally:
        await conn.close()


def test_misnamed_and_duplicate_files_are_refused(tmp_path: Path) -> None:
    """A file not named NNNN_name.sql, or a number used twice, stops the run."""
    with pytest.raises(MigrationError):
        discover(_write(tmp_path / "a", {"init.sql": ""}))
    with pytest.raises(MigrationError):
        discover(_write(tmp_path / "b", {"0001_a.sql": "", "0001_b.sql": ""}))


async def test_bad_schema_name_is_refused(database_url: str, tmp_path: Path) -> None:
    """A schema name that is not a plain identifier never reaches SQL."""
    with pytest.raises(MigrationError):
        await migrate(database_url, "x; DROP TABLE y", tmp_path)


async def test_ensure_database_creates_once(database_url: str) -> None:
    """ensure_database creates a missing database and leaves an existing one alone."""
    name = f"chat_test_ensure_{secrets.token_hex(3)}"
    url = database_url.rsplit("/", 1)[0] + "/" + name
    try:
        assert await ensure_database(url) is True
        assert await ensure_database(url) is False
    finally:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
