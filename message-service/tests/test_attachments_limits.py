"""Per-user limits on uploads: the quota of stored bytes and the upload rate; and the
memory an upload takes (the body streams, it is never held whole)."""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from PIL import Image

from chat_testkit.attachments import PDF, png, upload
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess

if TYPE_CHECKING:
    from conftest import Chat

MiB = 1024 * 1024


async def test_quota_is_429_and_counts_only_stored_files(
    http: httpx.AsyncClient, chat: Chat, tight_files: ServiceProcess, make_user: MakeUser
) -> None:
    """With a 3 MiB quota, three 900 KB files fit and the fourth is 429 quota_exceeded with
    Retry-After; deleting the message holding one frees its bytes."""
    alice = await make_user()
    room = await chat.room(alice)
    data = b"%PDF-" + os.urandom(900 * 1024)
    ids = []
    for _ in range(3):
        r = await upload(http, tight_files.url, alice, room, data)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = await upload(http, tight_files.url, alice, room, data)
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "quota_exceeded"
    assert "retry-after" in r.headers
    sent = await http.post(
        f"{tight_files.url}/messages",
        json={"room_id": room, "body": "", "client_msg_id": "q", "attachment_ids": ids[:1]},
        headers=alice.headers,
    )
    assert sent.status_code == 201
    await http.delete(f"{tight_files.url}/messages/{sent.json()['id']}", headers=alice.headers)
    assert (await upload(http, tight_files.url, alice, room, data)).status_code == 201


async def test_size_limit_is_configurable(
    http: httpx.AsyncClient, chat: Chat, tight_files: ServiceProcess, make_user: MakeUser
) -> None:
    """MESSAGES_MAX_ATTACHMENT=1 MiB: 1 MiB fits, one byte more is 413."""
    alice = await make_user()
    room = await chat.room(alice)
    fits = b"%PDF-" + b"\0" * (MiB - 5)
    assert (await upload(http, tight_files.url, alice, room, fits)).status_code == 201
    r = await upload(http, tight_files.url, alice, room, fits + b"\0")
    assert r.status_code == 413


async def test_upload_rate_is_limited_per_user(
    http: httpx.AsyncClient, chat: Chat, tight_files: ServiceProcess, make_user: MakeUser
) -> None:
    """A burst of 5 uploads passes; the 6th is 429 rate_limited with Retry-After; another
    user is not affected."""
    alice, bob = await make_user(), await make_user()
    room = await chat.room(alice, bob)
    answers = [await upload(http, tight_files.url, alice, room, png()) for _ in range(6)]
    assert [r.status_code for r in answers] == [201] * 5 + [429]
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert (await upload(http, tight_files.url, bob, room, PDF)).status_code == 201


def rss(pid: int) -> int:
    """The resident set size of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def test_a_25_mib_upload_streams_without_holding_the_file(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """During a 25 MiB upload the service's RSS grows by a few chunks, not by the file
    (sampled every 5 ms); the download is byte-identical. Prints throughput and peak RSS."""
    alice = await make_user()
    room = await chat.room(alice)
    assert files_service.process is not None
    pid = files_service.process.pid
    data = b"%PDF-" + os.urandom(25 * MiB - 5)
    await upload(http, files_service.url, alice, room, PDF)  # warm: imports, pools
    before = rss(pid)
    peak = before
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss(pid))
            await asyncio.sleep(0.005)

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 256 * 1024):
            yield data[start : start + 256 * 1024]

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    r = await http.post(
        f"{files_service.url}/messages/attachments",
        params={"room_id": room},
        content=body(),
        headers={**alice.headers, "Content-Length": str(len(data))},
        timeout=120,
    )
    up = time.perf_counter() - started
    done.set()
    await sampler
    assert r.status_code == 201, r.text
    started = time.perf_counter()
    got = await http.get(f"{files_service.url}{_path(r.json())}", headers=alice.headers)
    down = time.perf_counter() - started
    assert got.content == data
    grew = peak - before
    print(
        f"\n[{files_service.env.get('MESSAGES_ATTACHMENT_STORAGE')}] 25 MiB: "
        f"upload {25 / up:.1f} MiB/s, download {25 / down:.1f} MiB/s, "
        f"RSS before {before / MiB:.1f} MiB, peak {peak / MiB:.1f} MiB (+{grew / MiB:.1f})"
    )
    # Both backends hold a 256 KB chunk at a time (S3 spools each part to a temporary file).
    assert grew < 8 * MiB


def photo() -> bytes:
    """A JPEG of noise: it compresses like a photo does, not like a flat test pattern."""
    out = io.BytesIO()
    Image.frombytes("RGB", (400, 300), os.urandom(400 * 300 * 3)).save(out, "JPEG", quality=85)
    return out.getvalue()


def _path(attachment: dict[str, str]) -> str:
    return f"/messages/attachments/{attachment['id']}/content"


async def test_throughput_of_100_small_images(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """100 small photos (400 x 300 JPEGs of about 100 KB) upload 4 at a time (each decoded,
    re-encoded and thumbnailed) and download again; prints files/s and MB/s."""
    alice = await make_user()
    room = await chat.room(alice)
    images = [photo() for _ in range(100)]
    total = sum(len(i) for i in images)
    slots = asyncio.Semaphore(4)

    async def one(data: bytes) -> dict[str, str]:
        async with slots:
            r = await upload(http, files_service.url, alice, room, data, filename="i.png")
            assert r.status_code == 201, r.text
            answer: dict[str, str] = r.json()
            return answer

    started = time.perf_counter()
    done = await asyncio.gather(*(one(i) for i in images))
    up = time.perf_counter() - started

    async def fetch(a: dict[str, str]) -> int:
        async with slots:
            r = await http.get(f"{files_service.url}{_path(a)}", headers=alice.headers)
            assert r.status_code == 200
            return len(r.content)

    started = time.perf_counter()
    served = sum(await asyncio.gather(*(fetch(a) for a in done)))
    down = time.perf_counter() - started
    print(
        f"\n[{files_service.env.get('MESSAGES_ATTACHMENT_STORAGE')}] 100 images "
        f"({total / 1e6:.2f} MB): upload {100 / up:.0f} files/s {total / up / 1e6:.2f} MB/s, "
        f"download {100 / down:.0f} files/s {served / down / 1e6:.2f} MB/s"
    )
