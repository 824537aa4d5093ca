"""``chat`` with no command (or ``chat ui``): a full-screen client built on Textual.

The room list (unread counts, the other person's name for a direct chat), the open room's
history with scroll-back, live messages with edits and deletes in place, typing and presence,
a composer with slash commands, read markers moved as you read, and reconnect with resume.
All protocol state lives in :class:`chat_cli.live.Live`; this module draws it and does I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, ListItem, ListView, Static

from chat_cli.client import Api
from chat_cli.connection import LiveConnection, NotConnected
from chat_cli.directory import labels, list_rooms, normalized
from chat_cli.errors import CliError
from chat_cli.i18n import clock, error_text, names, t
from chat_cli.live import Added, Changed, Effect, Frame, Gap, Live, Notice, Removed
from chat_cli.people import Names
from chat_cli.slash import SlashCommands

MAX_BODY = 4000
PAGE = 50
TYPING_EVERY = 2.0


def message_text(message: Frame, sender: str) -> Text:
    """One message as the log shows it (never markup: a body is shown as typed)."""
    line = Text(clock(str(message.get("created_at", ""))) + "  ", style="dim")
    line.append(sender, style="bold")
    if message.get("deleted"):
        line.append(f"  {t('ui.deleted')}", style="italic dim")
        return line
    line.append(": " + str(message.get("body") or ""))
    if message.get("edited_at"):
        line.append(f"  {t('ui.edited')}", style="dim")
    return line


class ChatApp(App[None]):
    """The terminal chat client."""

    TITLE = "chat"
    CSS = """
    #rooms { width: 30; border-right: solid $primary; }
    #title { height: 1; background: $primary; color: $text; padding: 0 1; }
    #log { height: 1fr; padding: 0 1; }
    #typing { height: 1; color: $text-muted; padding: 0 1; }
    #status { height: 1; color: $warning; padding: 0 1; }
    .pending { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit"),
        Binding("ctrl+k", "focus_rooms", "Rooms"),
        Binding("escape", "focus_composer", "Composer", show=False),
        Binding("pageup", "older", "Older messages"),
    ]

    def __init__(self, api: Api) -> None:
        super().__init__()
        self.api = api
        session = api.session
        self.live = Live(session.user_id if session else "")
        self.names = Names(api)
        self.connection = LiveConnection(
            api,
            on_ready=self._gateway_ready,
            on_frame=self._gateway_frame,
            on_status=self._gateway_status,
        )
        self.commands = SlashCommands(self)
        self.current: str | None = None
        self.unsent: list[Frame] = []
        self.last_typing = 0.0
        self.shown: dict[int, Static] = {}
        # Drawing awaits (names, mounts); one draw at a time keeps the log in seq order.
        self.drawing = asyncio.Lock()
        self.listing = asyncio.Lock()

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield ListView(id="rooms")
            with Vertical():
                yield Static(t("ui.connecting"), id="title")
                yield VerticalScroll(id="log")
                yield Static("", id="typing")
                yield Static("", id="status")
                yield Input(placeholder=t("ui.composer_placeholder"), id="composer")

    def on_mount(self) -> None:
        self.run_worker(self.connection.run(), name="connection", exit_on_error=True)
        self.set_interval(1.0, self._expire_typing)
        self.query_one("#composer", Input).focus()

    # The connection's callbacks.

    def _gateway_ready(self, frame: Frame) -> list[Frame]:
        answer = self.live.on_ready(frame)
        self.run_worker(self._load_labels(), group="labels")
        return answer

    async def _gateway_frame(self, frame: Frame) -> None:
        if frame.get("type") == "ack":
            self._settled(frame)
            return
        if frame.get("type") == "error" and frame.get("ref"):
            self._settled(frame)
            reason = error_text(
                str(frame.get("code")), str(frame.get("message") or frame.get("code"))
            )
            self.status(t("ui.not_sent", reason=reason))
            return
        await self.apply(self.live.on_frame(frame, time.monotonic()))

    def _gateway_status(self, text: str) -> None:
        if not self.query("#status"):
            return  # the app is closing
        if text == "connected":
            self.status("")
            self.run_worker(self._flush_unsent(), group="flush")
        else:
            self.status(t("ui.reconnecting", reason=text))
        self._draw_title()

    # Effects of the live state.

    async def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Gap):
                await self._fill(effect)
            elif isinstance(effect, Added):
                await self._load_labels()
            elif isinstance(effect, Removed):
                if effect.room_id == self.current:
                    self.current = None
                    await self._draw_log()
                    self.status(t("ui.no_longer_in_room"))
                await self._draw_rooms()
            elif isinstance(effect, Notice):
                self.status(effect.text)
            elif isinstance(effect, Changed):
                await self._draw_room_entry(effect.room_id)
                if effect.room_id == self.current:
                    await self._draw_log()
                    await self._mark_read()

    async def _fill(self, gap: Gap) -> None:
        after = gap.after_seq
        while after < gap.before_seq - 1:
            page = await self.api.call(
                "GET",
                "messages",
                "/messages",
                params={"room_id": gap.room_id, "after_seq": after, "limit": 200},
            )
            items = [m for m in page.get("items", []) if int(m["seq"]) < gap.before_seq]
            if not items:
                break
            await self.apply(self.live.filled(gap.room_id, items))
            after = max(int(m["seq"]) for m in items)
        await self.apply(self.live.filled(gap.room_id, []))

    # Drawing.

    async def _load_labels(self) -> None:
        try:
            rooms = await list_rooms(self.api)
            named = await labels(self.api, rooms, self.names)
        except CliError as exc:
            self.status(t("ui.rooms_failed", reason=exc))
            return
        for info in rooms:
            room = self.live.rooms.get(str(info["id"]))
            if room is not None:
                room.kind = str(info.get("kind") or "group")
                room.label = named[room.id]
        await self._draw_rooms()
        self._draw_title()

    def _entry_text(self, room_id: str) -> str:
        room = self.live.rooms[room_id]
        unread = f"  ({room.unread})" if room.unread and room_id != self.current else ""
        return (room.label or "…") + unread

    async def _draw_rooms(self) -> None:
        async with self.listing:
            rooms_view = self.query_one("#rooms", ListView)
            ordered = sorted(self.live.rooms.values(), key=lambda r: normalized(r.label))
            await rooms_view.clear()
            for room in ordered:
                await rooms_view.append(
                    ListItem(Label(self._entry_text(room.id)), id=f"room-{room.id}")
                )

    async def _draw_room_entry(self, room_id: str) -> None:
        found = self.query(f"#room-{room_id} Label")
        if found:
            found.first(Label).update(self._entry_text(room_id))
        elif room_id in self.live.rooms:
            await self._draw_rooms()

    def _draw_title(self) -> None:
        title = self.query_one("#title", Static)
        room = self.live.rooms.get(self.current or "")
        if room is None:
            title.update(t("ui.pick_room_title"))
            return
        online = len(room.online - {self.live.user_id})
        title.update(Text(f"{room.label}  ·  {t('ui.online', count=online)}"))

    async def _draw_log(self) -> None:
        async with self.drawing:
            await self._draw_log_now()

    async def _draw_log_now(self) -> None:
        log = self.query_one("#log", VerticalScroll)
        room = self.live.rooms.get(self.current or "")
        if room is None:
            await log.remove_children()
            self.shown = {}
            return
        at_bottom = log.scroll_y >= log.max_scroll_y - 1
        for seq in sorted(room.messages):
            message = room.messages[seq]
            text = message_text(message, await self.names.name(str(message.get("sender_id"))))
            if seq in self.shown:
                self.shown[seq].update(text)
                continue
            widget = Static(text, id=f"m{seq}", classes="message")
            later = [s for s in self.shown if s > seq]
            self.shown[seq] = widget
            if later:
                await log.mount(widget, before=self.shown[min(later)])
            else:
                await log.mount(widget)
        for frame in self.unsent:
            if frame.get("room_id") == room.id and not self.query(f"#p{frame['client_msg_id']}"):
                await log.mount(
                    Static(
                        Text(f"{t('ui.sending')} {frame['body']}"),
                        id=f"p{frame['client_msg_id']}",
                        classes="pending",
                    )
                )
        if at_bottom:
            log.scroll_end(animate=False)
        self._draw_title()
        typing = room.typing_now(time.monotonic())
        typers = [await self.names.name(u) for u in typing]
        self.query_one("#typing", Static).update(
            "" if not typers else t("ui.typing", count=len(typers), names=names(typers))
        )

    def _expire_typing(self) -> None:
        room = self.live.rooms.get(self.current or "")
        if room is not None and room.typing and not room.typing_now(time.monotonic()):
            room.typing.clear()
            self.query_one("#typing", Static).update("")

    def status(self, text: str) -> None:
        for line in self.query("#status").results(Static):
            line.update(text)

    # Opening a room, reading and sending.

    async def open_room(self, room_id: str) -> None:
        if room_id not in self.live.rooms:
            return
        async with self.drawing:
            self.current = room_id
            await self.query_one("#log", VerticalScroll).remove_children()
            self.shown = {}
        room = self.live.rooms[room_id]
        if len(room.messages) < PAGE:
            page = await self.api.call(
                "GET", "messages", "/messages", params={"room_id": room_id, "limit": PAGE}
            )
            self.live.older(room_id, page.get("items", []))
        await self._draw_log()
        self.query_one("#log", VerticalScroll).scroll_end(animate=False)
        await self._draw_rooms()
        await self._mark_read()
        self._try_send({"type": "who", "room_id": room_id, "ref": "who"})

    async def _mark_read(self) -> None:
        if self.current is None:
            return
        seq = self.live.mark_read(self.current)
        if seq is not None:
            self._try_send({"type": "read", "room_id": self.current, "seq": seq})
            await self._draw_room_entry(self.current)

    def _try_send(self, frame: Frame) -> None:
        """Send a frame that may be lost while disconnected (typing, who, read)."""

        async def send() -> None:
            with contextlib.suppress(NotConnected):
                await self.connection.send(frame)

        self.run_worker(send(), group="send")

    async def send_message(self, body: str) -> None:
        if self.current is None:
            self.status(t("ui.pick_room_first"))
            return
        frame = {
            "type": "send",
            "room_id": self.current,
            "body": body,
            "client_msg_id": uuid.uuid4().hex,
        }
        frame["ref"] = frame["client_msg_id"]
        self.unsent.append(frame)
        await self._draw_log()
        await self._flush_unsent()

    async def _flush_unsent(self) -> None:
        for frame in list(self.unsent):
            try:
                await self.connection.send(frame)
            except NotConnected:
                self.status(t("ui.waiting", count=len(self.unsent)))
                return

    def _settled(self, frame: Frame) -> None:
        ref = str(frame.get("ref"))
        self.unsent = [f for f in self.unsent if f["client_msg_id"] != ref]
        for pending in self.query(f"#p{ref}"):
            pending.remove()

    # Textual events and actions.

    async def on_list_view_selected(self, event: ListView.Selected) -> None:
        if event.item.id and event.item.id.startswith("room-"):
            await self.open_room(event.item.id.removeprefix("room-"))
            self.query_one("#composer", Input).focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value
        if text.startswith("/"):
            event.input.value = ""
            await self.commands.run(text)
            return
        if not text.strip():
            self.status(t("ui.empty"))
            return
        if len(text) > MAX_BODY:
            self.status(t("ui.too_long", count=len(text), max=MAX_BODY))
            return
        event.input.value = ""
        self.status("")
        await self.send_message(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        now = time.monotonic()
        if self.current and event.value and now - self.last_typing > TYPING_EVERY:
            self.last_typing = now
            self._try_send({"type": "typing", "room_id": self.current})
        if len(event.value) > MAX_BODY - 200:
            self.status(t("ui.length", count=len(event.value), max=MAX_BODY))

    def action_focus_rooms(self) -> None:
        self.query_one("#rooms", ListView).focus()

    def action_focus_composer(self) -> None:
        self.query_one("#composer", Input).focus()

    async def action_older(self) -> None:
        room = self.live.rooms.get(self.current or "")
        if room is None or not room.oldest_loaded or room.oldest_loaded <= 1:
            return
        page = await self.api.call(
            "GET",
            "messages",
            "/messages",
            params={"room_id": room.id, "before_seq": room.oldest_loaded, "limit": PAGE},
        )
        await self.apply(self.live.older(room.id, page.get("items", [])))
        self.query_one("#log", VerticalScroll).scroll_home(animate=False)

    async def call(self, method: str, service: str, path: str, **kwargs: Any) -> Any:
        """An API call whose failure is shown in the status line; None then."""
        try:
            return await self.api.call(method, service, path, **kwargs)
        except CliError as exc:
            self.status(str(exc))
            return None
