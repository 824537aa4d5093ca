"""``chat tail``: print a room's messages live, reconnecting with ``resume`` after a drop."""

from __future__ import annotations

from typing import Any

from chat_cli.client import Api
from chat_cli.connection import LiveConnection
from chat_cli.errors import CliError
from chat_cli.feed import Gap, RoomFeed
from chat_cli.i18n import error_text, t
from chat_cli.output import emit, message_line, note, reaction_line, thread_line
from chat_cli.people import Names


def _frame_error(frame: dict[str, Any]) -> str:
    """A gateway error frame in words: the sentence for its code (the gateway's own in English)."""
    code = str(frame.get("code") or "")
    message = str(frame.get("message") or code)
    return error_text(code, message) if code else message


class Tail:
    """Follow one room until interrupted."""

    def __init__(self, api: Api, room_id: str, since: int | None, *, as_json: bool) -> None:
        self.api = api
        self.feed = RoomFeed(room_id, last_seq=since)
        self.names = Names(api)
        self.as_json = as_json
        self.connection = LiveConnection(
            api, on_ready=self.feed.on_ready, on_frame=self._on_frame, on_status=self._status
        )

    async def run(self) -> None:
        """Connect, print, and reconnect forever; only a fatal error ends it."""
        await self.connection.run()

    def _status(self, text: str) -> None:
        if text == "connected":
            text = t("tail.connected", room=self.feed.room_id, seq=str(self.feed.last_seq))
        note(f"# {text}")

    async def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        message = frame.get("message")
        if kind == "message" and isinstance(message, dict):
            verdict = self.feed.on_message(message)
            if isinstance(verdict, Gap):
                await self._fill(verdict)
                verdict = self.feed.on_message(message)
            if verdict is True:
                self.feed.note_position(frame)
                await self._print(message, "message")
        elif kind in ("message_edited", "message_deleted") and isinstance(message, dict):
            if self.feed.on_change(frame):
                await self._print(message, str(kind))
        elif kind in ("reaction", "thread_updated"):
            if self.feed.on_change(frame):
                await self._print_change(frame)
        elif kind == "room_removed":
            room = frame.get("room") or {}
            if str(room.get("id")) == self.feed.room_id:
                raise CliError(t("tail.removed", room=self.feed.room_id))
        elif kind == "error":
            note("# " + t("tail.gateway_error", reason=_frame_error(frame)))

    async def _fill(self, gap: Gap) -> None:
        """Print what history holds between the last printed seq and a message that jumped."""
        after = gap.after_seq
        while after < gap.before_seq - 1:
            page = await self.api.call(
                "GET",
                "messages",
                "/messages",
                params={"room_id": self.feed.room_id, "after_seq": after, "limit": 200},
            )
            items = [m for m in page.get("items", []) if int(m["seq"]) < gap.before_seq]
            if not items:
                break
            for message in items:
                if self.feed.filled(message):
                    await self._print(message, "message")
                after = max(after, int(message["seq"]))

    async def _print(self, message: dict[str, Any], kind: str) -> None:
        if self.as_json:
            emit({"type": kind, "message": message}, as_json=True)
            return
        sender = await self.names.name(str(message.get("sender_id")))
        base = self.api.endpoints.messages_url
        emit(None, as_json=False, text=message_line(message, sender, kind=kind, base=base))

    async def _print_change(self, frame: dict[str, Any]) -> None:
        if self.as_json:
            emit(frame, as_json=True)
        elif frame.get("type") == "reaction":
            who = await self.names.name(str(frame.get("user_id")))
            emit(None, as_json=False, text=reaction_line(frame, who))
        else:
            emit(None, as_json=False, text=thread_line(frame))
