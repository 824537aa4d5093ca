"""The sans-I/O core of ``chat ui``: every room of the user, what is known of each, and what
each gateway frame changes. It takes frames and history pages in and says what the screen
must redraw and what must be fetched; the Textual app does the I/O.

Per room it keeps the messages loaded (by seq), the position (the last seq received in
order, which a reconnect resumes from), the read marker, who is typing and who is online.
A message past the next seq is held and reported as a :class:`Gap` to fill from history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Frame = dict[str, Any]
TYPING_SHOWN = 5.0  # seconds a typing notice stays without a new one


@dataclass
class RoomView:
    """One room as the client knows it."""

    id: str
    label: str = ""
    kind: str = "group"
    last_seq: int = 0
    read_seq: int = 0
    position: int | None = None
    messages: dict[int, Frame] = field(default_factory=dict)
    held: dict[int, Frame] = field(default_factory=dict)
    typing: dict[str, float] = field(default_factory=dict)
    online: set[str] = field(default_factory=set)

    @property
    def unread(self) -> int:
        return max(0, self.last_seq - self.read_seq)

    @property
    def oldest_loaded(self) -> int | None:
        return min(self.messages) if self.messages else None

    def typing_now(self, now: float) -> list[str]:
        return sorted(u for u, until in self.typing.items() if until > now)


@dataclass(frozen=True)
class Gap:
    """Messages after ``after_seq`` and before ``before_seq`` of a room must come from history."""

    room_id: str
    after_seq: int
    before_seq: int


@dataclass(frozen=True)
class Changed:
    """A room's list entry or its open view must be redrawn."""

    room_id: str


@dataclass(frozen=True)
class Added:
    """A room the user was added to (or created): its name must be looked up."""

    room_id: str


@dataclass(frozen=True)
class Removed:
    room_id: str


@dataclass(frozen=True)
class Notice:
    """Something to tell the user in the status line."""

    text: str


Effect = Gap | Changed | Added | Removed | Notice


class Live:
    """Every room of one user."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.rooms: dict[str, RoomView] = {}

    def on_ready(self, frame: Frame) -> list[Frame]:
        """Take ``ready``; the frame to answer it with: a ``resume`` from each known position
        (sent even when empty, which ends the gateway's resume hold at once)."""
        listed = {str(r["room_id"]): int(r.get("last_seq") or 0) for r in frame.get("rooms", [])}
        for room_id in set(self.rooms) - set(listed):
            del self.rooms[room_id]
        for room_id, last_seq in listed.items():
            room = self.rooms.setdefault(room_id, RoomView(room_id))
            room.last_seq = max(room.last_seq, last_seq)
            if room.position is None:
                room.position = last_seq
        positions = {r.id: r.position for r in self.rooms.values() if r.position is not None}
        return [{"type": "resume", "rooms": positions}]

    def on_frame(self, frame: Frame, now: float) -> list[Effect]:
        """What one server frame changes."""
        kind = frame.get("type")
        message = frame.get("message")
        if kind == "message" and isinstance(message, dict):
            return self._on_message(message)
        if kind in ("message_edited", "message_deleted") and isinstance(message, dict):
            room = self.rooms.get(str(message.get("room_id")))
            seq = int(message.get("seq") or 0)
            if room is None or seq not in room.messages:
                return []
            room.messages[seq] = message
            return [Changed(room.id)]
        if kind == "room_added" and isinstance(frame.get("room"), dict):
            info = frame["room"]
            room = self.rooms.setdefault(str(info["id"]), RoomView(str(info["id"])))
            room.kind = str(info.get("kind") or "group")
            room.label = str(info.get("title") or room.label)
            return [Added(room.id), Changed(room.id)]
        if kind == "room_removed" and isinstance(frame.get("room"), dict):
            room_id = str(frame["room"].get("id"))
            return [Removed(room_id)] if self.rooms.pop(room_id, None) else []
        if kind == "room_updated" and isinstance(frame.get("room"), dict):
            room = self.rooms.get(str(frame["room"].get("id")))
            if room is None or room.kind == "direct":
                return []
            room.label = str(frame["room"].get("title") or room.label)
            return [Changed(room.id)]
        room = self.rooms.get(str(frame.get("room_id")))
        if room is None:
            return [Notice(_error_text(frame))] if kind == "error" else []
        user = str(frame.get("user_id"))
        if kind == "typing" and user != self.user_id:
            room.typing[user] = now + TYPING_SHOWN
        elif kind == "presence":
            (room.online.add if frame.get("online") else room.online.discard)(user)
        elif kind == "presence_state":
            room.online = {str(u) for u in frame.get("online") or []}
        elif kind == "history_expired":
            # Older messages expired: the room's history now begins at oldest_seq, so the
            # seqs below it are no gap to fill.
            start = int(frame.get("oldest_seq") or 1) - 1
            if room.position is not None and room.position < start:
                room.position = start
            self._drain(room)
        else:
            return []
        return [Changed(room.id)]

    def _on_message(self, message: Frame) -> list[Effect]:
        room = self.rooms.get(str(message.get("room_id")))
        if room is None:
            return []
        seq = int(message.get("seq") or 0)
        if room.position is None:
            # A room just added: the gateway starts it at the page it sends after room_added.
            room.position = seq - 1
        if seq <= room.position:
            return []
        if seq > room.position + 1:
            room.held[seq] = message
            return [Gap(room.id, room.position, seq)]
        self._append(room, message)
        self._drain(room)
        return [Changed(room.id)]

    def filled(self, room_id: str, page: list[Frame]) -> list[Effect]:
        """Take messages read from history to fill a gap (any order, repeats ignored)."""
        room = self.rooms.get(room_id)
        if room is None:
            return []
        for message in sorted(page, key=lambda m: int(m["seq"])):
            if room.position is not None and int(message["seq"]) == room.position + 1:
                self._append(room, message)
        self._drain(room)
        return [Changed(room.id)]

    def older(self, room_id: str, page: list[Frame]) -> list[Effect]:
        """Take an older page of history (scroll-back); never moves the position."""
        room = self.rooms.get(room_id)
        if room is None:
            return []
        for message in page:
            room.messages.setdefault(int(message["seq"]), message)
            room.last_seq = max(room.last_seq, int(message["seq"]))
        return [Changed(room.id)]

    def mark_read(self, room_id: str) -> int | None:
        """Move the read marker to the newest message received; the seq, if it moved."""
        room = self.rooms.get(room_id)
        if room is None or room.position is None or room.position <= room.read_seq:
            return None
        room.read_seq = room.position
        return room.read_seq

    def _append(self, room: RoomView, message: Frame) -> None:
        seq = int(message["seq"])
        room.messages[seq] = message
        room.position = seq
        room.last_seq = max(room.last_seq, seq)
        room.typing.pop(str(message.get("sender_id")), None)
        if str(message.get("sender_id")) == self.user_id:
            room.read_seq = max(room.read_seq, seq)

    def _drain(self, room: RoomView) -> None:
        while room.position is not None and room.position + 1 in room.held:
            self._append(room, room.held.pop(room.position + 1))
        for seq in [s for s in room.held if room.position is not None and s <= room.position]:
            del room.held[seq]


def _error_text(frame: Frame) -> str:
    return str(frame.get("message") or frame.get("code") or "error")
