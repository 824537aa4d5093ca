"""The commands: each takes the parsed arguments and an :class:`Api`, prints, returns."""

from __future__ import annotations

import argparse
import getpass
import os
import uuid
from typing import Any

from chat_cli import community, files
from chat_cli.client import Api
from chat_cli.directory import find_room, labels, list_rooms
from chat_cli.errors import UsageError
from chat_cli.i18n import t
from chat_cli.output import emit, message_line, note
from chat_cli.people import Names
from chat_cli.tail import Tail

MAX_BODY = 4000


def room(text: str) -> str:
    """An argparse type: a room's name or id (resolved by :func:`find_room` when run)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("say which room: its name or id")
    return text


def message_id(text: str) -> str:
    """An argparse type: a message id must be a UUID."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a message id (a UUID): {text!r}") from None


def _password(args: argparse.Namespace) -> str:
    password = args.password or os.environ.get("CHAT_PASSWORD")
    if not password:
        password = getpass.getpass(t("cli.password_prompt"))
    if not password:
        raise UsageError(t("cli.password_needed"))
    return str(password)


async def login(api: Api, args: argparse.Namespace) -> None:
    session = await api.login(args.email, _password(args))
    user = session.user
    emit(
        user,
        as_json=args.json,
        text=t("cli.logged_in", name=user.get("display_name"), email=user.get("email")),
    )


async def register(api: Api, args: argparse.Namespace) -> None:
    password = _password(args)
    if len(password) < 8:
        raise UsageError(t("cli.password_short"))
    await api.call(
        "POST",
        "auth",
        "/auth/register",
        auth=False,
        json={"email": args.email, "password": password, "display_name": args.display_name},
    )
    session = await api.login(args.email, password)
    emit(session.user, as_json=args.json, text=t("cli.registered", name=args.display_name))


async def logout(api: Api, args: argparse.Namespace) -> None:
    await api.logout()
    emit({"logged_out": True}, as_json=args.json, text=t("cli.logged_out"))


async def rooms(api: Api, args: argparse.Namespace) -> None:
    if getattr(args, "public", False):
        await community.public_rooms(api, args)
        return
    items = await list_rooms(api)
    named = await labels(api, items, Names(api))
    unread = await api.call("GET", "messages", "/messages/unread")
    counts = {u["room_id"]: u for u in unread.get("items", [])}
    for item in items:
        info = counts.get(item["id"], {})
        row = {**item, "unread": info.get("unread", 0), "last_seq": info.get("last_seq", 0)}
        unread_text = t("cli.unread", count=row["unread"])
        text = f"{item['id']}  {item.get('kind', ''):6}  {unread_text:>11}  "
        emit(row, as_json=args.json, text=text + named[str(item["id"])])
    if not items and not args.json:
        note(t("cli.no_rooms"))


async def send(api: Api, args: argparse.Namespace) -> None:
    body = " ".join(args.text).strip()
    paths = args.file or []
    if not body and not paths:
        raise UsageError(t("cli.empty"))
    if len(body) > MAX_BODY:
        raise UsageError(t("cli.too_long", count=len(body), max=MAX_BODY))
    room_id = await find_room(api, args.room)
    payload: dict[str, Any] = {
        "room_id": room_id,
        "body": body,
        "client_msg_id": str(uuid.uuid4()),
    }
    if args.reply_to:
        payload["reply_to"] = args.reply_to
    if args.thread:
        payload["thread_root_id"] = args.thread
    if paths:
        payload["attachment_ids"] = await files.upload_all(api, room_id, paths)
    message = await api.call("POST", "messages", "/messages", json=payload)
    emit(message, as_json=args.json, text=t("cli.sent", seq=str(message["seq"]), room=args.room))


async def history(api: Api, args: argparse.Namespace) -> None:
    page = await api.call(
        "GET",
        "messages",
        "/messages",
        params=_params(
            room_id=await find_room(api, args.room), limit=args.limit, before_seq=args.before
        ),
    )
    names = Names(api)
    for message in sorted(page["items"], key=lambda m: int(m["seq"])):
        if args.json:
            emit(message, as_json=True)
        else:
            sender = await names.name(str(message["sender_id"]))
            line = message_line(message, sender, base=api.endpoints.messages_url)
            emit(None, as_json=False, text=line)


async def tail(api: Api, args: argparse.Namespace) -> None:
    if args.since is not None and args.since < 0:
        raise UsageError(t("cli.since_negative"))
    await Tail(api, await find_room(api, args.room), args.since, as_json=args.json).run()


async def ui(api: Api, args: argparse.Namespace) -> None:
    await api.access_token()  # not logged in: the usual message, before the screen opens
    from chat_cli.ui import ChatApp  # Textual loads only for the full-screen client

    await ChatApp(api).run_async()


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
