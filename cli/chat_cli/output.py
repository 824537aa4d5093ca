"""How results are printed: plain lines for people, one JSON object per line for scripts."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from chat_cli.files import attachment_text


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
        text = "(deleted)"
    else:
        text = str(message.get("body") or "")
        if kind == "message_edited" or message.get("edited_at"):
            text += "  (edited)"
        files = [attachment_text(a, base) for a in message.get("attachments") or []]
        text = "  ".join(part for part in (text, *files) if part)
    prefix = {"message_edited": "edit ", "message_deleted": "delete "}.get(kind, "")
    # One message, one line: embedded newlines would break line-based scripts.
    text = text.replace("\r", " ").replace("\n", " \u21b5 ")
    return f"{when}  {prefix}#{seq}  {sender}: {text}"


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
