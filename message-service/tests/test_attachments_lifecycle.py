"""Attachment lifecycle on both backends: deleting a message deletes its files; uploads never
attached are swept, by any number of replicas at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest

from chat_testkit.attachments import PDF, absolute, png, upload
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from message_service.files import Files, open_files
from message_service.settings import MessagesSettings
from message_service.storage import Missing
from message_service.sweep import Sweeper

if TYPE_CHECKING:
    from conftest import Chat

URL_KEY = "test-attachment-url-key"


@pytest.fixture
async def files(files_service: ServiceProcess, database_url: str) -> AsyncIterator[Files]:
    """The service's storage and database, opened in the test with the service's settings."""
    settings = MessagesSettings.model_validate(
        {k.lower(): v for k, v in files_service.env.items() if k.startswith("MESSAGES_")}
        | {"database_url": database_url}
    )
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    opened = await open_files(pool, settings)
    yield opened
    await opened.storage.close()
    await pool.close()


async def stored(files: Files, key: str) -> bool:
    try:
        async for _ in files.storage.get(key):
            pass
    except Missing:
        return False
    return True


async def test_deleting_a_message_deletes_its_files(
    http: httpx.AsyncClient,
    chat: Chat,
    files_service: ServiceProcess,
    make_user: MakeUser,
    files: Files,
    db: asyncpg.Connection,
) -> None:
    """After DELETE /messages/{id} the stored file and thumbnail are gone, its URLs are 404
    and the tombstone has no attachments."""
    alice = await make_user()
    room = await chat.room(alice)
    r = await upload(http, files_service.url, alice, room, png(), filename="a.png")
    image = r.json()
    sent = await http.post(
        f"{files_service.url}/messages",
        json={
            "room_id": room,
            "body": "pic",
            "client_msg_id": "m",
            "attachment_ids": [image["id"]],
        },
        headers=alice.headers,
    )
    assert sent.status_code == 201, sent.text
    key = f"{room}/{image['id']}"
    assert await stored(files, key)
    assert await stored(files, key + ".thumb")
    gone = await http.delete(
        f"{files_service.url}/messages/{sent.json()['id']}", headers=alice.headers
    )
    assert gone.status_code == 200
    assert gone.json()["attachments"] == []
    assert not await stored(files, key)
    assert not await stored(files, key + ".thumb")
    assert (await http.get(absolute(files_service.url, image["url"]))).status_code == 404
    rows = await db.fetchval(
        "SELECT count(*) FROM messages.attachments WHERE id = $1", uuid.UUID(image["id"])
    )
    assert rows == 0


async def _backdate(db: asyncpg.Connection, ids: list[Any], hours: int) -> None:
    await db.execute(
        "UPDATE messages.attachments SET created_at = now() - make_interval(hours => $2) "
        "WHERE id = ANY($1::uuid[])",
        [uuid.UUID(i) for i in ids],
        hours,
    )


async def test_sweep_removes_uploads_never_attached(
    http: httpx.AsyncClient,
    chat: Chat,
    files_service: ServiceProcess,
    make_user: MakeUser,
    files: Files,
    db: asyncpg.Connection,
) -> None:
    """An upload older than the unattached TTL is deleted (file and row); an attached one of
    the same age and a fresh unattached one stay."""
    alice = await make_user()
    room = await chat.room(alice)
    old = (await upload(http, files_service.url, alice, room, PDF)).json()
    fresh = (await upload(http, files_service.url, alice, room, PDF)).json()
    used = (await upload(http, files_service.url, alice, room, PDF)).json()
    r = await http.post(
        f"{files_service.url}/messages",
        json={"room_id": room, "body": "", "client_msg_id": "u", "attachment_ids": [used["id"]]},
        headers=alice.headers,
    )
    assert r.status_code == 201
    await _backdate(db, [old["id"], used["id"]], hours=30)
    sweeper = Sweeper(files, interval=1, unattached_ttl=24 * 3600)
    while await sweeper.sweep_once():
        pass
    assert not await stored(files, f"{room}/{old['id']}")
    assert await stored(files, f"{room}/{fresh['id']}")
    assert await stored(files, f"{room}/{used['id']}")
    left = await db.fetch(
        "SELECT id FROM messages.attachments WHERE id = ANY($1::uuid[])",
        [uuid.UUID(a["id"]) for a in (old, fresh, used)],
    )
    assert {str(r["id"]) for r in left} == {fresh["id"], used["id"]}


async def test_sweepers_on_several_replicas_share_the_work(
    http: httpx.AsyncClient,
    chat: Chat,
    files_service: ServiceProcess,
    make_user: MakeUser,
    files: Files,
    db: asyncpg.Connection,
) -> None:
    """Three sweepers running at once (SKIP LOCKED) remove every expired upload between them."""
    alice = await make_user()
    room = await chat.room(alice)
    uploads = [(await upload(http, files_service.url, alice, room, PDF)).json() for _ in range(12)]
    await _backdate(db, [u["id"] for u in uploads], hours=30)
    sweepers = [Sweeper(files, interval=1, unattached_ttl=24 * 3600) for _ in range(3)]

    async def drain(sweeper: Sweeper) -> int:
        total = 0
        while n := await sweeper.sweep_once():
            total += n
        return total

    counts = await asyncio.gather(*(drain(s) for s in sweepers))
    assert sum(counts) >= 12
    for u in uploads:
        assert not await stored(files, f"{room}/{u['id']}")
