"""The commands: each takes the parsed arguments and an :class:`Api`, prints, returns."""

from __future__ import annotations

import argparse
import getpass
import os
import uuid
from typing import Any

from chat_cli.client import Api
from chat_cli.errors import UsageError
from chat_cli.output import emit, message_line, note
from chat_cli.people import Names
from chat_cli.tail import Tail

MAX_BODY = 4000


def room_id(text: str) -> str:
    """An argparse type: a room id must be a UUID."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a room id (a UUID): {text!r}") from None


def message_id(text: str) -> str:
    """An argparse type: a message id must be a UUID."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a message id (a UUID): {text!r}") from None


def _password(args: argparse.Namespace) -> str:
    password = args.password or os.environ.get("CHAT_PASSWORD")
    if not password:
        password = getpass.getpass("Password: ")
    if not password:
        raise UsageError("a password is needed")
    return str(password)


async def login(api: Api, args: argparse.Namespace) -> None:
    session = await api.login(args.email, _password(args))
    user = session.user
    emit(
        user,
        as_json=args.json,
        text=f"logged in as {user.get('display_name')} <{user.get('email')}>",
    )


async def register(api: Api, args: argparse.Namespace) -> None:
    password = _password(args)
    if len(password) < 8:
        raise UsageError("the password needs at least 8 characters")
    await api.call(
        "POST",
        "auth",
        "/auth/register",
        auth=False,
        json={"email": args.email, "password": password, "display_name": args.display_name},
    )
    session = await api.login(args.email, password)
    emit(session.user, as_json=args.json, text=f"registered and logged in as {args.display_name}")


async def logout(api: Api, args: argparse.Namespace) -> None:
    await api.logout()
    emit({"logged_out": True}, as_json=args.json, text="logged out")


async def rooms(api: Api, args: argparse.Namespace) -> None:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await api.call("GET", "rooms", "/rooms", params=_params(limit=200, cursor=cursor))
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    unread = await api.call("GET", "messages", "/messages/unread")
    counts = {u["room_id"]: u for u in unread.get("items", [])}
    for room in items:
        info = counts.get(room["id"], {})
        row = {**room, "unread": info.get("unread", 0), "last_seq": info.get("last_seq", 0)}
        title = room.get("title") or ("(direct chat)" if room.get("kind") == "direct" else "")
        text = f"{room['id']}  {room.get('kind', ''):6}  {row['unread']:>4} unread  {title}"
        emit(row, as_json=args.json, text=text)
    if not items and not args.json:
        note("# no rooms yet")


async def send(api: Api, args: argparse.Namespace) -> None:
    body = " ".join(args.text).strip()
    if not body:
        raise UsageError("nothing to send: the message is empty")
    if len(body) > MAX_BODY:
        raise UsageError(f"the message is {len(body)} characters; at most {MAX_BODY} are allowed")
    payload: dict[str, Any] = {
        "room_id": args.room_id,
        "body": body,
        "client_msg_id": str(uuid.uuid4()),
    }
    if args.reply_to:
        payload["reply_to"] = args.reply_to
    if args.thread:
        payload["thread_root_id"] = args.thread
    message = await api.call("POST", "messages", "/messages", json=payload)
    emit(message, as_json=args.json, text=f"sent #{message['seq']} to {args.room_id}")


async def history(api: Api, args: argparse.Namespace) -> None:
    page = await api.call(
        "GET",
        "messages",
        "/messages",
        params=_params(room_id=args.room_id, limit=args.limit, before_seq=args.before),
    )
    names = Names(api)
    for message in sorted(page["items"], key=lambda m: int(m["seq"])):
        if args.json:
            emit(message, as_json=True)
        else:
            sender = await names.name(str(message["sender_id"]))
            emit(None, as_json=False, text=message_line(message, sender))


async def tail(api: Api, args: argparse.Namespace) -> None:
    if args.since is not None and args.since < 0:
        raise UsageError("--since must be 0 or more")
    await Tail(api, args.room_id, args.since, as_json=args.json).run()


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
