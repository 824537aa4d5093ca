"""Files in the terminal: ``chat send --file PATH`` uploads before sending, and messages print
each attachment's name, size and URL."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from chat_cli.client import Api, ApiError, _error_from
from chat_cli.errors import CliError, UsageError
from chat_cli.i18n import t

CHUNK = 256 * 1024
MAX_FILES = 10


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    # Streamed: a 25 MB file is never read whole into memory.
    f = await asyncio.to_thread(path.open, "rb")
    try:
        while data := await asyncio.to_thread(f.read, CHUNK):
            yield data
    finally:
        f.close()


def _checked(name: str) -> tuple[Path, int]:
    """The file named on the command line and its size; a usage error if it is not one."""
    path = Path(os.path.expanduser(name))
    if not path.is_file():
        raise UsageError(t("files.no_such_file", name=name))
    return path, path.stat().st_size


async def upload(api: Api, room_id: str, name: str) -> dict[str, Any]:
    """Upload one file to the room; the attachment message-service made of it."""
    path, size = await asyncio.to_thread(_checked, name)
    url = f"{api.endpoints.messages_url}/messages/attachments"
    headers = {
        "Content-Length": str(size),
        "Content-Type": "application/octet-stream",
        "X-Filename": quote(path.name, safe=""),
    }
    for attempt in (1, 2):
        token = await api.access_token()
        try:
            response = await api.http.post(
                url,
                params={"room_id": room_id},
                content=_chunks(path),
                headers={**headers, "Authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(10.0, write=300.0, read=300.0),
            )
        except httpx.HTTPError as exc:
            raise CliError(t("cli.unreachable", url=url, reason=str(exc))) from exc
        if response.status_code == 401 and attempt == 1:
            await api.refresh()
            continue
        if response.is_error:
            raise _error_from(response)
        attachment: dict[str, Any] = response.json()
        return attachment
    raise ApiError(401, "unauthorized", t("cli.not_logged_in"))


async def upload_all(api: Api, room_id: str, paths: list[str]) -> list[str]:
    """Upload each file in turn; their attachment ids."""
    if len(paths) > MAX_FILES:
        raise UsageError(t("files.too_many", count=MAX_FILES))
    return [str((await upload(api, room_id, p))["id"]) for p in paths]


def size_text(size: int) -> str:
    """``512 B``, ``1.5 KB``, ``2.0 MB``: numbers ungrouped, as scripts read them."""
    if size < 1024:
        return t("files.bytes", n=str(size))
    if size < 1024 * 1024:
        return t("files.kb", n=f"{size / 1024:.1f}")
    return t("files.mb", n=f"{size / 1024 / 1024:.1f}")


def attachment_text(attachment: dict[str, Any], base: str) -> str:
    """``[file name (size) URL]``, the URL made absolute against message-service."""
    url = str(attachment.get("url") or "")
    if url.startswith("/"):
        url = base.rstrip("/") + url
    name = str(attachment.get("filename") or t("files.file")).replace("\n", " ")
    size = size_text(int(attachment.get("size", 0)))
    return "[" + t("files.attachment", name=name, size=size, url=url) + "]"
