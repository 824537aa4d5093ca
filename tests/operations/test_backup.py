"""`make backup` / `make restore`: a backup restored into a fresh database holds every row of
every service schema, accounts, memberships and messages included."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ("auth", "rooms", "messages")


async def _contents(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the service schemas, as its sorted rows."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema = ANY($1::text[]) AND table_type = 'BASE TABLE'",
            list(SCHEMAS),
        )
        contents = {}
        for t in tables:
            name = f'"{t["table_schema"]}"."{t["table_name"]}"'
            rows = await conn.fetch(f"SELECT * FROM {name}")
            contents[name] = sorted((tuple(r.values()) for r in rows), key=repr)
        return contents
    finally:
        await conn.close()


def _script(*args: str, database_url: str) -> str:
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "backup.py"), *args],
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin:/usr/local/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


async def test_a_backup_restores_every_account_membership_and_message(
    tmp_path: Path,
    database_url: str,
    http: httpx.AsyncClient,
    make_user: MakeUser,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
) -> None:
    """Dump the run's database, restore it into a new one: every table holds the same rows."""
    chat = Chat(http, room_service.url, message_service.url)
    alice, bob = await make_user(display_name="앨리스"), await make_user()
    room = await chat.room(alice, bob)
    for i in range(5):
        await chat.send(alice if i % 2 else bob, room, f"백업 message {i}")
    out = _script("backup", "--dir", str(tmp_path), database_url=database_url)
    folder = Path(out.strip().rsplit(" ", 1)[1])
    assert sorted(p.name for p in folder.iterdir()) == [
        "auth.dump",
        "manifest.json",
        "messages.dump",
        "rooms.dump",
    ]
    target = urlsplit(database_url)._replace(path=f"/chat_restore_{secrets.token_hex(4)}")
    try:
        _script("restore", str(folder), "--into", target.geturl(), database_url=database_url)
        before, after = await _contents(database_url), await _contents(target.geturl())
    finally:
        admin = await asyncpg.connect(urlsplit(database_url)._replace(path="/postgres").geturl())
        await admin.execute(f'DROP DATABASE IF EXISTS "{target.path.lstrip("/")}" WITH (FORCE)')
        await admin.close()
    assert before.keys() == after.keys()
    for table, rows in before.items():
        assert after[table] == rows, table
    assert {alice.id, bob.id} <= {r[0] for r in after['"auth"."users"']}
    assert sum(1 for r in after['"rooms"."members"'] if str(r[0]) == room) == 2
    assert len([r for r in after['"messages"."messages"'] if str(r[1]) == room]) == 5


def test_restore_of_a_folder_that_is_no_backup_says_so(tmp_path: Path, database_url: str) -> None:
    """A wrong folder is refused in one line, with a non-zero exit and nothing changed."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "backup.py"), "restore", str(tmp_path)],
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "has no manifest.json" in run.stderr
