"""POST /messages/attachments on both storage backends: types, sizes, images, refusals."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from PIL import Image

from chat_testkit.attachments import ELF, PDF, absolute, jpeg_with_exif, png, png_bomb, upload
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess

if TYPE_CHECKING:
    from conftest import Chat

MiB = 1024 * 1024


def rss(pid: int) -> int:
    """The resident set size of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def test_upload_answers_the_attachment(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A PDF upload is 201 with the contract's fields; the type comes from the bytes."""
    alice = await make_user()
    room = await chat.room(alice)
    r = await upload(
        http, files_service.url, alice, room, PDF, filename="report.pdf", content_type="text/html"
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "room_id", "filename", "content_type", "size", "url"}
    assert body["room_id"] == room
    assert body["filename"] == "report.pdf"
    assert body["content_type"] == "application/pdf"
    assert body["size"] == len(PDF)
    got = await http.get(absolute(files_service.url, body["url"]))
    assert got.status_code == 200
    assert got.content == PDF


async def test_korean_filename_in_header_or_query(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A Korean name arrives intact, percent-encoded in X-Filename or in ?filename=; a path
    in the name is dropped."""
    alice = await make_user()
    room = await chat.room(alice)
    r = await upload(
        http, files_service.url, alice, room, b"hello", filename="%EB%B3%B4%EA%B3%A0%EC%84%9C.txt"
    )
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "보고서.txt"
    assert r.json()["content_type"] == "text/plain; charset=utf-8"
    r = await http.post(
        f"{files_service.url}/messages/attachments",
        params={"room_id": room, "filename": "../../etc/회의록.txt"},
        content=b"notes",
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "회의록.txt"


async def test_image_gets_size_thumbnail_and_loses_exif(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A JPEG with EXIF (GPS, camera, orientation 6) is served without any EXIF, rotated as
    its orientation said, with width/height after rotation and a WebP thumbnail."""
    alice = await make_user()
    room = await chat.room(alice)
    original = jpeg_with_exif(80, 40, orientation=6)
    assert b"SecretCam" in original
    r = await upload(
        http, files_service.url, alice, room, original, filename="p.jpg", content_type="image/jpeg"
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["content_type"] == "image/jpeg"
    assert (body["width"], body["height"]) == (40, 80)
    served = await http.get(absolute(files_service.url, body["url"]))
    assert served.status_code == 200
    assert b"SecretCam" not in served.content
    assert b"Exif" not in served.content
    image = Image.open(io.BytesIO(served.content))
    assert image.size == (40, 80)
    assert not image.getexif()
    assert body["size"] == len(served.content)
    thumb = await http.get(absolute(files_service.url, body["thumbnail_url"]))
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/webp"
    small = Image.open(io.BytesIO(thumb.content))
    assert small.format == "WEBP"
    assert max(small.size) <= 320


async def test_png_webp_gif_are_images(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """PNG, WebP and GIF uploads get their dimensions and a thumbnail."""
    alice = await make_user()
    room = await chat.room(alice)
    for fmt, kind in (("PNG", "image/png"), ("WEBP", "image/webp"), ("GIF", "image/gif")):
        out = io.BytesIO()
        Image.new("RGB", (30, 20), (1, 2, 3)).save(out, fmt)
        r = await upload(http, files_service.url, alice, room, out.getvalue(), filename=f"x.{fmt}")
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["content_type"] == kind
        assert (body["width"], body["height"]) == (30, 20)
        assert "thumbnail_url" in body


async def test_decompression_bomb_is_refused(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A few-KB PNG claiming 100,000 x 100,000 pixels is 422 image_too_large without a
    memory spike (RSS sampled every 5 ms grows by under 10 MiB), and the service keeps
    answering."""
    alice = await make_user()
    room = await chat.room(alice)
    bomb = png_bomb()
    assert len(bomb) < 10_000
    assert files_service.process is not None
    pid = files_service.process.pid
    await upload(http, files_service.url, alice, room, png(), filename="warm.png")
    before = peak = rss(pid)
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss(pid))
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    r = await upload(http, files_service.url, alice, room, bomb, filename="bomb.png")
    done.set()
    await sampler
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "image_too_large"
    assert peak - before < 10 * MiB
    r = await upload(http, files_service.url, alice, room, png(), filename="ok.png")
    assert r.status_code == 201, r.text


async def test_broken_image_is_refused(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Bytes that start like a PNG but are not one are 422 invalid_image, not a 500."""
    alice = await make_user()
    room = await chat.room(alice)
    r = await upload(http, files_service.url, alice, room, png()[:40], filename="cut.png")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_image"


async def test_executable_is_415(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """An ELF binary is refused with 415 whatever Content-Type it claims."""
    alice = await make_user()
    room = await chat.room(alice)
    r = await upload(
        http, files_service.url, alice, room, ELF, filename="a.png", content_type="image/png"
    )
    assert r.status_code == 415, r.text
    assert r.json()["error"]["code"] == "type_not_allowed"


async def test_non_member_gets_404(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Uploading to a room one is not in is 404, as for a room that does not exist."""
    alice, mallory = await make_user(), await make_user()
    room = await chat.room(alice)
    r = await upload(http, files_service.url, mallory, room, PDF)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "room_not_found"


async def test_bad_requests(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """No token is 401; a missing or malformed room_id is 422 naming it."""
    alice = await make_user()
    r = await http.post(f"{files_service.url}/messages/attachments?room_id=x", content=b"x")
    assert r.status_code == 401
    r = await http.post(
        f"{files_service.url}/messages/attachments", content=b"x", headers=alice.headers
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "room_id"


async def test_over_the_limit_by_content_length_is_413(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A Content-Length over 25 MiB is refused with 413 before the body is read."""
    alice = await make_user()
    room = await chat.room(alice)

    r = await http.post(
        f"{files_service.url}/messages/attachments",
        params={"room_id": room},
        content=b"\0" * (25 * MiB + 1),
        headers=alice.headers,
    )
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "too_large"


async def test_over_the_limit_while_streaming_is_413_and_stores_nothing(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A chunked upload (no Content-Length) past 25 MiB is 413 once counted past it; the
    user's stored bytes do not grow (nothing half-stored counts)."""
    alice = await make_user()
    room = await chat.room(alice)

    async def chunks() -> AsyncIterator[bytes]:
        block = os.urandom(MiB)
        for _ in range(26):
            yield block

    r = await http.post(
        f"{files_service.url}/messages/attachments",
        params={"room_id": room},
        content=chunks(),
        headers=alice.headers,
        timeout=60,
    )
    assert r.status_code == 413, r.text
    # A small upload still fits the quota: nothing from the refused one was counted.
    assert (await upload(http, files_service.url, alice, room, PDF)).status_code == 201


async def test_animated_gif_keeps_frames_loses_comment(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """An animated GIF is served with all its frames and without its comment; one whose
    frames add up to too many pixels is 422 image_too_large."""
    alice = await make_user()
    room = await chat.room(alice)
    frames = [Image.new("RGB", (40, 30), (i * 80, 10, 10)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(
        out, "GIF", save_all=True, append_images=frames[1:], duration=80, comment=b"SecretNote"
    )
    r = await upload(http, files_service.url, alice, room, out.getvalue(), filename="a.gif")
    assert r.status_code == 201, r.text
    served = await http.get(absolute(files_service.url, r.json()["url"]))
    assert b"SecretNote" not in served.content
    assert Image.open(io.BytesIO(served.content)).n_frames == 3
    big = [Image.new("L", (4000, 4000), i) for i in range(3)]
    out = io.BytesIO()
    big[0].save(out, "GIF", save_all=True, append_images=big[1:])
    r = await upload(http, files_service.url, alice, room, out.getvalue(), filename="b.gif")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "image_too_large"
