"""``chat join`` and ``chat rooms --public``: public rooms and invite links."""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from chat_cli.client import Api, ApiError
from chat_cli.errors import CliError, UsageError
from chat_cli.i18n import t
from chat_cli.output import emit, note

JOIN_MARK = "/#/join/"


def invite_code(target: str) -> str | None:
    """The code of an invite link (``.../#/join/<code>``), else None."""
    _, mark, code = target.partition(JOIN_MARK)
    return code.strip("/ ") or None if mark else None


async def public_rooms(api: Api, args: argparse.Namespace) -> None:
    params: dict[str, Any] = {"limit": 50}
    if args.query:
        params["q"] = args.query
    page = await api.call("GET", "rooms", "/rooms/public", params=params)
    for room in page["items"]:
        joined = t("cli.joined_mark") if room.get("my_role") else ""
        members = t("cli.members", count=room["member_count"])
        text = f"{room['id']}  {members:>13}  {joined:6}  {room['title']}"
        emit(room, as_json=args.json, text=text)
    if not page["items"] and not args.json:
        note(t("cli.no_public_rooms"))


async def join(api: Api, args: argparse.Namespace) -> None:
    """Join by a room id, an invite link or code, or the title of a public room."""
    target = " ".join(args.target).strip()
    if not target:
        raise UsageError(t("join.what"))
    room = await join_target(api, target)
    emit(room, as_json=args.json, text=t("cli.joined", title=room.get("title"), id=room["id"]))


async def join_target(api: Api, target: str) -> dict[str, Any]:
    """The room joined: by id, invite link or code, or the title of a public room."""
    try:
        room_id = str(uuid.UUID(target))
    except ValueError:
        room_id = None
    if room_id is not None:
        return await _post(api, f"/rooms/{room_id}/join")
    code = invite_code(target)
    if code is not None or " " not in target:
        try:
            return await _post(api, "/rooms/join", json={"code": code or target})
        except ApiError as exc:
            if code is not None or exc.code != "invite_not_found":
                raise
    # Not a code: the title of a public room.
    page = await api.call("GET", "rooms", "/rooms/public", params={"q": target, "limit": 50})
    exact = [r for r in page["items"] if str(r.get("title", "")).casefold() == target.casefold()]
    found = exact or page["items"]
    if not found:
        raise CliError(t("join.none", target=repr(target)))
    if len(found) > 1:
        names = ", ".join(f"{r['title']} ({r['id']})" for r in found[:5])
        raise CliError(t("join.several", count=len(found), target=repr(target), names=names))
    return await _post(api, f"/rooms/{found[0]['id']}/join")


async def _post(api: Api, path: str, **kwargs: Any) -> dict[str, Any]:
    """A call to room-service answered with a room."""
    room: dict[str, Any] = await api.call("POST", "rooms", path, **kwargs)
    return room
