"""The sans-I/O core of ``tail``: which frames to send and which messages to print.

It remembers the last seq printed for the room. On every ``ready`` (first connect or a
reconnect) it asks the gateway to ``resume`` from that seq, so a dropped connection loses
nothing; a message at or below that seq is a repeat and is skipped; a jump past the next seq
is a gap the caller fills from history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chat_cli.errors import CliError


class NotAMember(CliError):
    """The gateway's ``ready`` does not list the room: the user is not in it."""


@dataclass(frozen=True)
class Gap:
    """Messages after ``after_seq`` and before ``before_seq`` must come from history."""

    after_seq: int
    before_seq: int


@dataclass
class RoomFeed:
    """Order and de-duplicate one room's messages across reconnects."""

    room_id: str
    last_seq: int | None = None
    # The last change position seen (docs/protocol.md); a resume with it replays exactly the
    # edits, deletes and reactions missed, none twice.
    last_pos: int | None = None
    resumed: bool = field(default=False, init=False)

    def on_ready(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        """The frames to send after ``ready``: a ``resume`` from the last seq seen."""
        rooms = {str(r.get("room_id")): r for r in frame.get("rooms") or [] if isinstance(r, dict)}
        if self.room_id not in rooms:
            raise NotAMember(f"not a member of room {self.room_id}")
        if self.last_seq is None:
            # First connection without --since: start at the room's newest message.
            self.last_seq = int(rooms[self.room_id].get("last_seq") or 0)
            if isinstance(rooms[self.room_id].get("last_pos"), int):
                self.last_pos = int(rooms[self.room_id]["last_pos"])
        self.resumed = False
        resume: dict[str, Any] = {"type": "resume", "rooms": {self.room_id: self.last_seq}}
        if self.last_pos is not None:
            resume["positions"] = {self.room_id: self.last_pos}
        return [resume]

    def on_change(self, frame: dict[str, Any]) -> bool:
        """True to print a change frame of the room (edit, delete, reaction, thread), False
        for another room's or one already seen (at or below the last position)."""
        message = frame.get("message")
        room = frame.get("room_id") or (
            message.get("room_id") if isinstance(message, dict) else None
        )
        if str(room) != self.room_id:
            return False
        pos = frame.get("pos")
        if isinstance(pos, int):
            if self.last_pos is not None and pos <= self.last_pos:
                return False
            self.last_pos = pos
        return True

    def note_position(self, frame: dict[str, Any]) -> None:
        """Remember the position of a message frame that was printed."""
        pos = frame.get("pos")
        if isinstance(pos, int) and (self.last_pos is None or pos > self.last_pos):
            self.last_pos = pos

    def on_message(self, message: dict[str, Any]) -> Gap | bool:
        """True to print this message, False to skip a repeat, a :class:`Gap` to fill first."""
        if str(message.get("room_id")) != self.room_id:
            return False
        seq = int(message.get("seq") or 0)
        last = self.last_seq or 0
        if seq <= last:
            return False
        if seq > last + 1:
            return Gap(after_seq=last, before_seq=seq)
        self.last_seq = seq
        return True

    def filled(self, message: dict[str, Any]) -> bool:
        """Take a message fetched from history to fill a gap; True if it is new."""
        return self.on_message(message) is True
