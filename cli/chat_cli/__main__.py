"""``chat`` / ``python -m chat_cli``: the terminal client of the chat backend."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence

import httpx

from chat_cli import commands, community, notifications, search
from chat_cli.client import Api
from chat_cli.endpoints import ENV_NAMES, resolve
from chat_cli.errors import CliError
from chat_cli.session import SessionStore, config_dir

Command = Callable[[Api, argparse.Namespace], Awaitable[None]]


def _common() -> argparse.ArgumentParser:
    """Flags every command accepts, before or after its name."""
    common = argparse.ArgumentParser(add_help=False)
    s = argparse.SUPPRESS
    common.add_argument("--gateway", default=s, help="gateway base URL; reads its /config.json")
    for name, what in (
        ("auth_url", "auth-service URL"),
        ("rooms_url", "room-service URL"),
        ("messages_url", "message-service URL"),
        ("ws_url", "gateway websocket URL"),
    ):
        flag = "--" + name.replace("_", "-")
        common.add_argument(flag, default=s, help=f"{what} (else ${ENV_NAMES[name]})")
    common.add_argument("--json", action="store_true", default=s, help="one JSON object per line")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="chat", parents=[common], description="Terminal client for the chat backend."
    )
    # No command at all opens the full-screen client.
    parser.set_defaults(run=commands.ui)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, run: Command, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(run=run)
        return p

    p = add("login", commands.login, "log in and store the session")
    p.add_argument("--email", required=True)
    p.add_argument("--password", help="else $CHAT_PASSWORD, else asked for")
    p = add("register", commands.register, "create an account and log in")
    p.add_argument("--email", required=True)
    p.add_argument("--display-name", required=True)
    p.add_argument("--password", help="else $CHAT_PASSWORD, else asked for")
    add("logout", commands.logout, "revoke the stored session")
    add("ui", commands.ui, "the full-screen client (also: `chat` alone)")
    p = add("rooms", commands.rooms, "list your rooms with unread counts")
    p.add_argument("--public", action="store_true", help="list public rooms to join instead")
    p.add_argument("--query", "-q", help="with --public: part of a room's title")
    p = add("join", community.join, "join a public room by name or id, or by an invite link/code")
    p.add_argument("target", nargs="+", metavar="NAME_OR_CODE")
    p = add("send", commands.send, "send a message to a room, with files if given")
    p.add_argument("room", type=commands.room, metavar="ROOM", help="its name or id")
    p.add_argument("text", nargs="*", metavar="TEXT")
    p.add_argument(
        "--file", action="append", metavar="PATH", help="attach a file (repeat for more, up to 10)"
    )
    p.add_argument(
        "--reply-to", type=commands.message_id, metavar="MESSAGE_ID", help="quote this message"
    )
    p.add_argument(
        "--thread", type=commands.message_id, metavar="MESSAGE_ID", help="reply in its thread"
    )
    p = add("history", commands.history, "print a room's recent messages, oldest first")
    p.add_argument("room", type=commands.room, metavar="ROOM", help="its name or id")
    p.add_argument("--limit", type=int, default=50, choices=range(1, 201), metavar="N")
    p.add_argument("--before", type=int, metavar="SEQ", help="only messages before this seq")
    p = add("tail", commands.tail, "print a room's messages live (reconnects, never repeats)")
    p.add_argument("room", type=commands.room, metavar="ROOM", help="its name or id")
    p.add_argument("--since", type=int, metavar="SEQ", help="also print messages after SEQ")
    p = add("notify", notifications.notify, "notification level, room mutes and webhooks")
    notifications.configure(p)
    p = add("search", search.search, "find messages in your rooms, best match first")
    p.add_argument("text", nargs="+", metavar="TEXT")
    p.add_argument("--room", type=commands.room, metavar="ROOM", help="only this room (name or id)")
    p.add_argument("--limit", type=int, default=20, choices=range(1, 201), metavar="N")
    return parser


async def _run(args: argparse.Namespace) -> None:
    store = SessionStore(config_dir())
    saved = store.load()
    flags = {
        "auth_url": getattr(args, "auth_url", None),
        "rooms_url": getattr(args, "rooms_url", None),
        "messages_url": getattr(args, "messages_url", None),
        "ws_url": getattr(args, "ws_url", None),
    }
    gateway = getattr(args, "gateway", None) or os.environ.get("CHAT_GATEWAY_URL")
    endpoints = resolve(flags, os.environ, gateway, saved.urls if saved else {})
    args.json = getattr(args, "json", False)
    async with httpx.AsyncClient(timeout=15.0) as http:
        await args.run(Api(endpoints, store, http), args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 1 failed, 2 usage, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        asyncio.run(_run(args))
    except CliError as exc:
        print(f"chat: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
