"""Rooms by name: every command takes a room's title, or the other person's name for a direct
chat, as well as its id. Names are compared after Unicode NFC normalisation and case folding,
so ``general``, ``General`` and a title typed with decomposed Hangul all find the same room."""

from __future__ import annotations

import asyncio
import unicodedata
import uuid
from typing import Any

from chat_cli.client import Api
from chat_cli.errors import UsageError
from chat_cli.i18n import t
from chat_cli.people import Names


def normalized(name: str) -> str:
    """The form two names are compared in."""
    return unicodedata.normalize("NFC", name).casefold().strip()


async def list_rooms(api: Api) -> list[dict[str, Any]]:
    """Every room of the user, all pages."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = await api.call("GET", "rooms", "/rooms", params=params)
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


async def labels(api: Api, rooms: list[dict[str, Any]], names: Names) -> dict[str, str]:
    """Each room's name as people see it: its title, or the other person's name for a direct
    chat (one members call per direct chat, made together)."""
    me = str((api.session.user if api.session else {}).get("id", ""))

    async def direct_label(room: dict[str, Any]) -> str:
        members = await api.call("GET", "rooms", f"/rooms/{room['id']}/members")
        others = [str(m["user_id"]) for m in members.get("items", []) if str(m["user_id"]) != me]
        return await names.name(others[0]) if others else "(just you)"

    direct = [r for r in rooms if r.get("kind") == "direct" and not r.get("title")]
    found = await asyncio.gather(*(direct_label(r) for r in direct))
    result = {str(r["id"]): str(r.get("title") or "") for r in rooms}
    result.update({str(r["id"]): label for r, label in zip(direct, found, strict=True)})
    return result


async def find_room(api: Api, text: str, names: Names | None = None) -> str:
    """The id of the user's room called ``text`` (or with that id). Refuses, naming the
    candidates, a name that several rooms share; and a name no room has."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    wanted = normalized(text)
    if not wanted:
        raise UsageError(t("room.which"))
    rooms = await list_rooms(api)
    named = await labels(api, rooms, names or Names(api))
    matches = [room_id for room_id, label in named.items() if normalized(label) == wanted]
    if not matches:
        raise UsageError(t("room.none", name=repr(text)))
    if len(matches) > 1:
        raise UsageError(
            t("room.several", count=len(matches), name=repr(text), ids=", ".join(matches))
        )
    return matches[0]
