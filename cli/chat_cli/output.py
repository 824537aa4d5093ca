"""How results are printed: plain lines for people, one JSON object per line for scripts.

The message lines of ``history`` and ``tail`` are read by scripts too: their shape (time,
``#seq``, ``sender:``, the bracketed extras) is the same in every language and only the words
are translated; in English they read exactly as they always have. Numbers in them are printed
as they are (no grouping), so a script's number patterns still match. ``--json`` is the stable form.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from chat_cli.files import attachment_text
from chat_cli.i18n import t


def local_time(iso: str) -> str:
    """An RFC 3339 time as local ``YYYY-MM-DD HH:MM:SS`` (the input itself if unparsable)."""
    try:
        return (
            datetime.fromisoformat(iso.replace("Z", "+00:00"))
            .astimezone()
            .strftime("%Y-%m-%d %H:%M:%S")
        )
    except (ValueError, AttributeError):
        return str(iso)


def message_line(
    message: dict[str, Any], sender: str, *, kind: str = "message", base: str = ""
) -> str:
    """One message as a plain line: ``time  #seq  sender: body [file name (size) URL]...``
    (attachment URLs made absolute against ``base``, message-service's URL)."""
    when = local_time(str(message.get("created_at", "")))
    seq = message.get("seq")
    if message.get("deleted"):
        text = t("line.deleted")
    else:
        text = str(message.get("body") or "")
        if kind == "message_edited" or message.get("edited_at"):
            text += "  " + t("line.edited")
        files = [attachment_text(a, base) for a in message.get("attachments") or []]
        text = "  ".join(part for part in (text, *files) if part)
    prefix = {"message_edited": "line.edit", "message_deleted": "line.delete"}.get(kind)
    prefix = t(prefix) + " " if prefix else ""
    # One message, one line: embedded newlines would break line-based scripts.
    text = text.replace("\r", " ").replace("\n", " \u21b5 ")
    return f"{when}  {prefix}#{seq}  {sender}: {text}{_extras(message)}"


def _short(message_id: Any) -> str:
    return str(message_id)[:8]


def _extras(message: dict[str, Any]) -> str:
    """What a message line adds for replies, threads and reactions."""
    parts = []
    if message.get("reply_to"):
        parts.append(t("line.reply_to", id=_short(message["reply_to"])))
    if message.get("thread_root_id"):
        parts.append(t("line.in_thread", id=_short(message["thread_root_id"])))
    thread = message.get("thread")
    if isinstance(thread, dict) and thread.get("reply_count"):
        parts.append(t("line.replies", count=str(thread["reply_count"])))
    reactions = message.get("reactions") or []
    if reactions:
        parts.append(" ".join(f"{r.get('emoji')}{r.get('count')}" for r in reactions))
    if not parts:
        return ""
    return f"  [{', '.join(parts)}; {t('line.id', id=_short(message.get('id')))}]"


def reaction_line(frame: dict[str, Any], user: str) -> str:
    """A ``reaction`` frame as a line: ``react 👍 +1 (3) on <id>  Ana``."""
    return t(
        "line.reaction",
        emoji=str(frame.get("emoji")),
        sign="+1" if frame.get("added") else "-1",
        count=str(frame.get("count")),
        id=_short(frame.get("message_id")),
        user=user,
    )


def thread_line(frame: dict[str, Any]) -> str:
    """A ``thread_updated`` frame as a line: ``thread <id>: 3 replies, last #41``."""
    thread = frame.get("thread") or {}
    return t(
        "line.thread",
        id=_short(frame.get("root_id")),
        count=str(thread.get("reply_count")),
        seq=str(thread.get("last_reply_seq")),
    )


def emit(value: Any, *, as_json: bool, text: str | None = None) -> None:
    """Print ``value`` as JSON or ``text`` as a plain line, and flush at once."""
    line = (
        json.dumps(value, ensure_ascii=False)
        if as_json
        else (text if text is not None else str(value))
    )
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def note(text: str) -> None:
    """A status line for people (connected, reconnecting) on stderr, never mixed into data."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
