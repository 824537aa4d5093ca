"""``chat`` / ``python -m chat_cli``: the terminal client of the chat backend."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence

import httpx

from chat_cli import commands, community, i18n, notifications, search
from chat_cli.client import Api
from chat_cli.endpoints import ENV_NAMES, resolve
from chat_cli.errors import CliError
from chat_cli.i18n import t
from chat_cli.session import SessionStore, config_dir

Command = Callable[[Api, argparse.Namespace], Awaitable[None]]


def _common() -> argparse.ArgumentParser:
    """Flags every command accepts, before or after its name."""
    common = argparse.ArgumentParser(add_help=False)
    s = argparse.SUPPRESS
    common.add_argument("--gateway", default=s, help=t("help.gateway"))
    for name in ("auth_url", "rooms_url", "messages_url", "ws_url"):
        flag = "--" + name.replace("_", "-")
        common.add_argument(flag, default=s, help=t(f"help.{name}", env=ENV_NAMES[name]))
    common.add_argument("--json", action="store_true", default=s, help=t("help.json"))
    common.add_argument("--lang", default=s, metavar="CODE", help=t("help.lang"))
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(prog="chat", parents=[common], description=t("help.chat"))
    # No command at all opens the full-screen client.
    parser.set_defaults(run=commands.ui)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, run: Command) -> argparse.ArgumentParser:
        help_text = t(f"help.command.{name}")
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(run=run)
        return p

    p = add("login", commands.login)
    p.add_argument("--email", required=True, help=t("help.email"))
    p.add_argument("--password", help=t("help.password"))
    p = add("register", commands.register)
    p.add_argument("--email", required=True, help=t("help.email"))
    p.add_argument("--display-name", required=True, help=t("help.display_name"))
    p.add_argument("--password", help=t("help.password"))
    add("logout", commands.logout)
    add("ui", commands.ui)
    p = add("rooms", commands.rooms)
    p.add_argument("--public", action="store_true", help=t("help.public"))
    p.add_argument("--query", "-q", help=t("help.query"))
    p = add("join", community.join)
    p.add_argument("target", nargs="+", metavar="NAME_OR_CODE", help=t("help.target"))
    p = add("send", commands.send)
    p.add_argument("room", type=commands.room, metavar="ROOM", help=t("help.room"))
    p.add_argument("text", nargs="*", metavar="TEXT", help=t("help.text"))
    p.add_argument("--file", action="append", metavar="PATH", help=t("help.file"))
    p.add_argument(
        "--reply-to", type=commands.message_id, metavar="MESSAGE_ID", help=t("help.reply_to")
    )
    p.add_argument(
        "--thread", type=commands.message_id, metavar="MESSAGE_ID", help=t("help.thread")
    )
    p = add("history", commands.history)
    p.add_argument("room", type=commands.room, metavar="ROOM", help=t("help.room"))
    limit = {"type": int, "choices": range(1, 201), "metavar": "N", "help": t("help.limit")}
    p.add_argument("--limit", default=50, **limit)  # type: ignore[arg-type]
    p.add_argument("--before", type=int, metavar="SEQ", help=t("help.before"))
    p = add("tail", commands.tail)
    p.add_argument("room", type=commands.room, metavar="ROOM", help=t("help.room"))
    p.add_argument("--since", type=int, metavar="SEQ", help=t("help.since"))
    p = add("notify", notifications.notify)
    notifications.configure(p)
    p = add("search", search.search)
    p.add_argument("text", nargs="+", metavar="TEXT", help=t("help.search_text"))
    p.add_argument("--room", type=commands.room, metavar="ROOM", help=t("help.search_room"))
    p.add_argument("--limit", default=20, **limit)  # type: ignore[arg-type]
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
    words = list(sys.argv[1:] if argv is None else argv)
    # The language first: the help and argparse's errors are said in it.
    i18n.set_language(i18n.from_arguments(words, os.environ))
    with i18n.argparse_words():
        args = build_parser().parse_args(words)
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
