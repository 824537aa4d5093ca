"""``chat search TEXT``: find messages in one's rooms, best match first.

Each hit is one line, ``room  time  #seq  sender: text``; on a terminal the matched parts
are shown in reverse video. ``--json`` prints the service's hits as they are (``message``
and ``highlight``), one per line.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from typing import Any

from chat_cli.client import Api
from chat_cli.directory import find_room, labels, list_rooms
from chat_cli.errors import UsageError
from chat_cli.i18n import t
from chat_cli.output import emit, message_line, note
from chat_cli.people import Names

QUERY_MAX = 256
_MARK = re.compile(r"(<mark>|</mark>)")
_ON, _OFF = "\x1b[7m", "\x1b[27m"


def shown(highlight: str, *, marks: bool) -> str:
    """The service's highlight (escaped HTML, matches in ``<mark>``) as terminal text."""
    out = []
    for part in _MARK.split(highlight):
        if part == "<mark>":
            out.append(_ON if marks else "")
        elif part == "</mark>":
            out.append(_OFF if marks else "")
        else:
            # Escape sequences in a message must not reach the terminal.
            out.append(html.unescape(part).replace("\x1b", "?"))
    return "".join(out)


async def search(api: Api, args: argparse.Namespace) -> None:
    text = " ".join(args.text).strip()
    if not text:
        raise UsageError(t("search.nothing"))
    if len(text) > QUERY_MAX:
        raise UsageError(t("search.too_long", count=len(text), max=QUERY_MAX))
    params: dict[str, Any] = {"q": text, "limit": args.limit}
    if args.room:
        params["room_id"] = await find_room(api, args.room)
    page = await api.call("GET", "messages", "/messages/search", params=params)
    if args.json:
        for hit in page["items"]:
            emit(hit, as_json=True)
        return
    names = Names(api)
    titles = await labels(api, await list_rooms(api), names) if page["items"] else {}
    marks = sys.stdout.isatty()
    for hit in page["items"]:
        message = hit["message"]
        sender = await names.name(str(message["sender_id"]))
        body = shown(str(hit["highlight"]), marks=marks)
        line = message_line({**message, "body": body}, sender)
        emit(None, as_json=False, text=f"{titles.get(str(message['room_id']), '?')}  {line}")
    if not page["items"]:
        note(t("search.none"))
    elif page.get("next_cursor"):
        note(t("search.more", limit=args.limit))
