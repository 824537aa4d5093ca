"""The composer's slash commands in ``chat ui``: /join, /dm, /leave, /search, /help."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from chat_cli.community import join_target
from chat_cli.directory import normalized
from chat_cli.errors import CliError

if TYPE_CHECKING:
    from chat_cli.ui import ChatApp

HELP = (
    "/join NAME-OR-CODE  join a public room or use an invite code · /dm NAME  a direct chat · "
    "/leave  leave this room · /search TEXT  find messages · Ctrl+K rooms · PgUp older · "
    "Ctrl+Q quit"
)


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
            self.app.status(f"No command /{name}. {HELP}")
            return
        await handler(rest.strip())

    async def help(self, _rest: str) -> None:
        self.app.status(HELP)

    async def join(self, what: str) -> None:
        if not what:
            self.app.status("/join needs a room name, an invite link or a code")
            return
        try:
            room = await join_target(self.app.api, what)
        except CliError as exc:
            self.app.status(str(exc))
            return
        self.app.status(f"Joined {room.get('title') or what}.")

    async def dm(self, who: str) -> None:
        if len(who) < 2:
            self.app.status("/dm needs a name (2 characters or more)")
            return
        found = await self.app.call("GET", "auth", "/auth/users", params={"q": who, "limit": 20})
        me = self.app.live.user_id
        people = [u for u in (found or {}).get("items", []) if str(u.get("id")) != me]
        exact = [u for u in people if normalized(str(u.get("display_name"))) == normalized(who)]
        chosen = exact if exact else people
        if len(chosen) != 1:
            names = ", ".join(str(u.get("display_name")) for u in chosen[:5])
            self.app.status(f"Nobody called {who!r}" if not chosen else f"Which one? {names}")
            return
        room = await self.app.call(
            "POST", "rooms", "/rooms/direct", json={"user_id": str(chosen[0]["id"])}
        )
        if room:
            self.app.status(f"Direct chat with {chosen[0].get('display_name')}.")
            if str(room["id"]) in self.app.live.rooms:
                await self.app.open_room(str(room["id"]))

    async def leave(self, _rest: str) -> None:
        room_id = self.app.current
        if room_id is None:
            self.app.status("Open the room to leave first.")
            return
        done = await self.app.call(
            "DELETE", "rooms", f"/rooms/{room_id}/members/{self.app.live.user_id}"
        )
        if done is None:
            self.app.status("You left the room.")

    async def search(self, text: str) -> None:
        if len(text) < 2:
            self.app.status("/search needs 2 characters or more")
            return
        params: dict[str, Any] = {"q": text, "limit": 10}
        if self.app.current:
            params["room_id"] = self.app.current
        found = await self.app.call("GET", "messages", "/messages/search", params=params)
        if found is None:
            return
        hits = [item["message"] for item in found.get("items", [])]
        if not hits:
            self.app.status(f"No message matches {text!r}.")
            return
        shown = " · ".join(f"#{m['seq']} {str(m.get('body'))[:40]}" for m in hits[:5])
        self.app.status(f"{len(hits)} found: {shown}")
