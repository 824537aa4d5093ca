"""The composer's slash commands in ``chat ui``: /join, /dm, /leave, /search, /help."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from chat_cli.community import join_target
from chat_cli.directory import normalized
from chat_cli.errors import CliError
from chat_cli.i18n import names, t

if TYPE_CHECKING:
    from chat_cli.ui import ChatApp


class SlashCommands:
    """Run one command line typed in the composer; answers go to the status line."""

    def __init__(self, app: ChatApp) -> None:
        self.app = app

    async def run(self, line: str) -> None:
        try:
            words = shlex.split(line[1:])
        except ValueError:
            words = line[1:].split()
        name, rest = (words[0].lower(), " ".join(words[1:])) if words else ("help", "")
        handler = {
            "help": self.help,
            "join": self.join,
            "dm": self.dm,
            "leave": self.leave,
            "search": self.search,
        }.get(name)
        if handler is None:
            self.app.status(t("slash.unknown", name=name, help=t("slash.help")))
            return
        await handler(rest.strip())

    async def help(self, _rest: str) -> None:
        self.app.status(t("slash.help"))

    async def join(self, what: str) -> None:
        if not what:
            self.app.status(t("slash.join_needs"))
            return
        try:
            room = await join_target(self.app.api, what)
        except CliError as exc:
            self.app.status(str(exc))
            return
        self.app.status(t("slash.joined", title=room.get("title") or what))

    async def dm(self, who: str) -> None:
        if len(who) < 2:
            self.app.status(t("slash.dm_needs"))
            return
        found = await self.app.call("GET", "auth", "/auth/users", params={"q": who, "limit": 20})
        me = self.app.live.user_id
        people = [u for u in (found or {}).get("items", []) if str(u.get("id")) != me]
        exact = [u for u in people if normalized(str(u.get("display_name"))) == normalized(who)]
        chosen = exact if exact else people
        if len(chosen) != 1:
            listed = names([str(u.get("display_name")) for u in chosen[:5]])
            self.app.status(
                t("slash.nobody", who=who) if not chosen else t("slash.which", names=listed)
            )
            return
        room = await self.app.call(
            "POST", "rooms", "/rooms/direct", json={"user_id": str(chosen[0]["id"])}
        )
        if room:
            self.app.status(t("slash.direct_with", name=chosen[0].get("display_name")))
            if str(room["id"]) in self.app.live.rooms:
                await self.app.open_room(str(room["id"]))

    async def leave(self, _rest: str) -> None:
        room_id = self.app.current
        if room_id is None:
            self.app.status(t("slash.leave_first"))
            return
        done = await self.app.call(
            "DELETE", "rooms", f"/rooms/{room_id}/members/{self.app.live.user_id}"
        )
        if done is None:
            self.app.status(t("slash.left"))

    async def search(self, text: str) -> None:
        if len(text) < 2:
            self.app.status(t("slash.search_needs"))
            return
        params: dict[str, Any] = {"q": text, "limit": 10}
        if self.app.current:
            params["room_id"] = self.app.current
        found = await self.app.call("GET", "messages", "/messages/search", params=params)
        if found is None:
            return
        hits = [item["message"] for item in found.get("items", [])]
        if not hits:
            self.app.status(t("slash.no_match", text=text))
            return
        shown = " · ".join(f"#{m['seq']} {str(m.get('body'))[:40]}" for m in hits[:5])
        self.app.status(t("slash.found", count=len(hits), shown=shown))
