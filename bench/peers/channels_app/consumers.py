"""One websocket consumer: ``join`` adds the connection to a room's group, ``send`` does
``group_send`` to the room (every member's consumer writes it out) and acks.

Frames are JSON text: ``{"type": "join", "room": R}`` -> ``{"type": "joined"}``;
``{"type": "send", "room": R, "body": B}`` -> ``{"type": "msg", "body": B}`` to every member,
then ``{"type": "ack"}`` to the sender. Nothing is stored.
"""

from __future__ import annotations

import json
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer


class ChatConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    rooms: set[str]

    async def connect(self) -> None:
        self.rooms = set()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for room in self.rooms:
            await self.channel_layer.group_discard(room, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = json.loads(text_data or "")
            kind, room = frame["type"], str(frame["room"])
        except (ValueError, KeyError, TypeError):
            await self.send(text_data='{"type":"error","code":"bad_frame"}')
            return
        if kind == "join":
            await self.channel_layer.group_add(room, self.channel_name)
            self.rooms.add(room)
            await self.send(text_data='{"type":"joined"}')
        elif kind == "send":
            await self.channel_layer.group_send(room, {"type": "chat.msg", "body": frame["body"]})
            await self.send(text_data='{"type":"ack"}')
        else:
            await self.send(text_data='{"type":"error","code":"unknown_type"}')

    async def chat_msg(self, event: dict[str, Any]) -> None:
        frame = {"type": "msg", "body": event["body"]}
        await self.send(text_data=json.dumps(frame, separators=(",", ":")))
