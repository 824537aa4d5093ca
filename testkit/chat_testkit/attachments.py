"""Files to upload in the attachment tests: images made with Pillow, a PDF, a bomb."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from PIL import Image

from chat_testkit.users import TestUser


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg_with_exif(width: int = 80, height: int = 40, orientation: int = 6) -> bytes:
    """A JPEG carrying GPS and camera EXIF, and an orientation tag (6: rotate 90 degrees)."""
    image = Image.new("RGB", (width, height), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N", 2: (37.0, 33.0, 59.0), 3: "E", 4: (126.0, 58.0, 41.0)}  # GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 200


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bomb(side: int = 100_000) -> bytes:
    """A valid PNG header claiming ``side`` x ``side`` 1-bit pixels, in a few KB: inflated it
    would be over a gigabyte."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (1 + side // 8) * 100, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


async def upload(
    http: httpx.AsyncClient,
    url: str,
    user: TestUser,
    room_id: str,
    data: Any,
    *,
    filename: str = "file.bin",
    content_type: str = "application/octet-stream",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """``POST /messages/attachments?room_id=`` as ``user``; the answer, whatever it is."""
    return await http.post(
        f"{url}/messages/attachments",
        params={"room_id": room_id},
        content=data,
        headers={
            **user.headers,
            "Content-Type": content_type,
            # Header values are ASCII: the name goes percent-encoded UTF-8 (a "%" is kept, so
            # an already encoded name passes as it is).
            "X-Filename": quote(filename, safe="%/.-_ "),
            **(headers or {}),
        },
        timeout=60,
    )


def absolute(base: str, url: str) -> str:
    """An attachment URL sent to the instance at ``base`` (URLs name MESSAGES_URL, which in
    tests is the main instance; an extra instance under test serves its own)."""
    parts = urlsplit(url)
    return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
