"""``chat notify``: notification preferences, room mutes and webhooks from the terminal.

chat notify                      show the level and muted rooms
chat notify level mentions       all | mentions | none
chat notify mute ROOM_ID         no notifications from that room (unmute: back)
chat notify webhook URL --secret S
chat notify webhooks             list them;  chat notify unhook WEBHOOK_ID
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from chat_cli.client import Api
from chat_cli.directory import find_room
from chat_cli.errors import UsageError
from chat_cli.i18n import t
from chat_cli.output import emit, note

ACTIONS = ("show", "level", "mute", "unmute", "webhook", "webhooks", "unhook")
LEVELS = ("all", "mentions", "none")
SETTINGS = "/messages/notifications/settings"
HOOKS = "/messages/notifications/webhooks"


def configure(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``chat notify``."""
    parser.add_argument(
        "action", nargs="?", default="show", choices=ACTIONS, help=t("help.notify_action")
    )
    parser.add_argument("value", nargs="?", metavar="VALUE", help=t("help.notify_value"))
    parser.add_argument("--secret", help=t("help.notify_secret"))


async def notify(api: Api, args: argparse.Namespace) -> None:
    action = args.action
    if action in ("level", "mute", "unmute", "webhook", "unhook") and not args.value:
        raise UsageError(t("notify.needs_value", action=action))
    if action == "show":
        _show(await api.call("GET", "messages", SETTINGS), args.json)
    elif action == "level":
        if args.value not in LEVELS:
            raise UsageError(t("notify.level_choices", levels=", ".join(LEVELS)))
        current = await api.call("GET", "messages", SETTINGS)
        _show(await _save(api, args.value, current["rooms"]), args.json)
    elif action in ("mute", "unmute"):
        room = await find_room(api, args.value)
        current = await api.call("GET", "messages", SETTINGS)
        rooms: dict[str, Any] = dict(current["rooms"])
        rooms[room] = "none" if action == "mute" else None
        _show(await _save(api, current["level"], rooms), args.json)
    elif action == "webhook":
        secret = args.secret or os.environ.get("CHAT_WEBHOOK_SECRET", "")
        if not secret:
            raise UsageError(t("notify.needs_secret"))
        made = await api.call("POST", "messages", HOOKS, json={"url": args.value, "secret": secret})
        emit(made, as_json=args.json, text=t("notify.hook_added", id=str(made["id"])))
    elif action == "webhooks":
        page = await api.call("GET", "messages", HOOKS)
        for hook in page["items"]:
            emit(hook, as_json=args.json, text=f"{hook['id']}  {hook['url']}")
        if not page["items"] and not args.json:
            note(t("notify.no_hooks"))
    else:
        await api.call("DELETE", "messages", f"{HOOKS}/{args.value}")
        emit(
            {"removed": args.value}, as_json=args.json, text=t("notify.hook_removed", id=args.value)
        )


async def _save(api: Api, level: str, rooms: dict[str, Any]) -> dict[str, Any]:
    saved: dict[str, Any] = await api.call(
        "PUT", "messages", SETTINGS, json={"level": level, "rooms": rooms}
    )
    return saved


def _show(settings: dict[str, Any], as_json: bool) -> None:
    # The level and the room ids stay as typed on the command line; only the words change.
    muted = [room for room, level in settings["rooms"].items() if level == "none"]
    lines = [t("notify.level", level=settings["level"])]
    if muted:
        lines.append(t("notify.muted", rooms=", ".join(muted)))
    text = "\n".join(lines)
    emit(settings, as_json=as_json, text=text)
