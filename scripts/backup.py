"""`make backup` and `make restore`: a logical backup of each service's schema, and its restore.

    python scripts/backup.py backup [--dir backups]        writes backups/<UTC time>/
    python scripts/backup.py restore backups/<UTC time>    into DATABASE_URL (or --into URL)

A backup is one custom-format ``pg_dump`` per service schema (``auth``, ``rooms``,
``messages``), so one service's data can be restored on its own, plus ``manifest.json``. The
three dumps read one snapshot, exported by a transaction held open while they run, so they
agree with each other as a single dump would. A restore creates the database if it is missing,
the extensions the schemas use, then restores each schema (replacing what is there). Run the
migrations afterwards (`make migrate`): they re-apply each service's grants.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg

from chatcore.migrations import ensure_database
from chatcore.settings import ServiceSettings

SCHEMAS = ("auth", "rooms", "messages")


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client tools")
    return path


async def backup(dsn: str, folder: Path) -> Path:
    """Dump every service schema from one snapshot into a new folder under ``folder``."""
    target = folder / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target.mkdir(parents=True)
    conn = await asyncpg.connect(dsn)
    try:
        extensions = await conn.fetch(
            "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY extname"
        )
        present = {
            r["nspname"]
            for r in await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[])", list(SCHEMAS)
            )
        }
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            dumps = [
                asyncio.create_subprocess_exec(
                    _tool("pg_dump"),
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--schema={schema}",
                    f"--file={target / f'{schema}.dump'}",
                    f"--dbname={dsn}",
                    stderr=subprocess.PIPE,
                )
                for schema in SCHEMAS
                if schema in present
            ]
            for process in await asyncio.gather(*dumps):
                _, err = await process.communicate()
                if process.returncode != 0:
                    raise BackupError(f"pg_dump failed: {err.decode().strip()}")
    finally:
        await conn.close()
    manifest = {
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "schemas": sorted(present),
        "extensions": [r["extname"] for r in extensions],
    }
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return target


async def restore(folder: Path, dsn: str) -> list[str]:
    """Restore the schemas a backup folder holds into ``dsn``; returns them."""
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise BackupError(f"{folder} is not a backup: it has no manifest.json")
    manifest = json.loads(manifest_path.read_text())
    await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        for name in manifest["extensions"]:
            await conn.execute(f'CREATE EXTENSION IF NOT EXISTS "{name}"')
        for schema in manifest["schemas"]:
            # Replaced whole: --clean alone would leave tables added since the backup.
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
    for schema in manifest["schemas"]:
        process = await asyncio.create_subprocess_exec(
            _tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            f"--dbname={dsn}",
            str(folder / f"{schema}.dump"),
            stderr=subprocess.PIPE,
        )
        _, err = await process.communicate()
        if process.returncode != 0:
            raise BackupError(f"pg_restore of {schema} failed: {err.decode().strip()}")
    return list(manifest["schemas"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("backup", help="dump every service schema")
    b.add_argument("--dir", default="backups", type=Path)
    r = sub.add_parser("restore", help="restore a backup folder")
    r.add_argument("folder", type=Path)
    r.add_argument("--into", default=None, help="database URL (default: DATABASE_URL)")
    args = parser.parse_args(argv)
    dsn = ServiceSettings().database_url
    try:
        if args.command == "backup":
            print(f"backup written to {asyncio.run(backup(dsn, args.dir))}")
        else:
            schemas = asyncio.run(restore(args.folder, args.into or dsn))
            print(f"restored {', '.join(schemas)} from {args.folder}; now run `make migrate`")
    except (BackupError, OSError, asyncpg.PostgresError) as exc:
        print(f"{args.command} failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
