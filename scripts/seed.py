"""`make seed`: demo users, rooms, a direct chat and a few messages, through the real APIs.

Running it again changes nothing: a taken email logs in instead, rooms are looked up by
title among alice's rooms before being created, the direct room is unique per pair, and
each message carries a fixed client_msg_id, which message-service never stores twice; the
one image (a picture carol shares in "Weekend plans") is uploaded only while no message of
hers carries it yet.
The services must be running (`make run`); their URLs come from AUTH_URL, ROOMS_URL and
MESSAGES_URL as for the services themselves. SEED_PASSWORD sets the demo password.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from typing import Any

import httpx
from PIL import Image, ImageDraw

from chatcore.settings import ServiceSettings

DEFAULT_PASSWORD = "chat-demo-password"
USERS = (
    ("alice", "alice@example.com", "Alice Liddell"),
    ("bob", "bob@example.com", "Bob Builder"),
    ("carol", "carol@example.com", "Carol Danvers"),
)
# (title, owner, other members)
ROOMS = (
    ("General", "alice", ("bob", "carol")),
    ("Weekend plans", "carol", ("alice",)),
)
# (room key, sender, body): room key is a room title, or "direct" for alice and bob.
MESSAGES = (
    ("General", "alice", "Welcome to the chat! This room has all three of us."),
    ("General", "bob", "Hi both. Messages here arrive live on every open tab."),
    ("General", "carol", "And they stay in order, even after a reconnect."),
    ("Weekend plans", "carol", "Hiking on Saturday?"),
    ("Weekend plans", "alice", "Yes, if it does not rain."),
    ("direct", "alice", "Hi Bob, this is a direct chat: just the two of us."),
    ("direct", "bob", "Got it. Nobody else can read this."),
)


# (room key, sender, body, file name, client_msg_id) of the one message with an image.
IMAGE_MESSAGE = ("Weekend plans", "carol", "The view from the trail last time.", "trail.png")
IMAGE_KEY = "seed-image"


class SeedError(Exception):
    """A service answered something seeding cannot go on from."""


@dataclass
class User:
    key: str
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def expect(response: httpx.Response, *statuses: int) -> Any:
    if response.status_code not in statuses:
        try:
            code = str(response.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            code = ""
        raise SeedError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code} {code}".rstrip()
        )
    return response.json() if response.content else None


def sign_in(http: httpx.Client, auth: str, key: str, email: str, name: str, pw: str) -> User:
    """Register (or find already registered) and log in one demo user."""
    registered = http.post(
        f"{auth}/auth/register", json={"email": email, "password": pw, "display_name": name}
    )
    expect(registered, 201, 409)
    login = http.post(f"{auth}/auth/login", json={"email": email, "password": pw})
    if login.status_code == 401:
        raise SeedError(f"{email} exists with another password: set SEED_PASSWORD to it")
    body = expect(login, 200)
    return User(key=key, id=body["user"]["id"], token=body["access_token"])


def rooms_by_title(http: httpx.Client, rooms: str, user: User) -> dict[str, str]:
    """Every room of ``user`` by title (all pages)."""
    found: dict[str, str] = {}
    cursor: str | None = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        page = expect(http.get(f"{rooms}/rooms", params=params, headers=user.headers), 200)
        for room in page["items"]:
            if room.get("title"):
                found.setdefault(room["title"], room["id"])
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def seed(settings: ServiceSettings, password: str) -> dict[str, str]:
    """Create (or find) everything; returns room ids by room key."""
    auth, rooms, messages = settings.auth_url, settings.rooms_url, settings.messages_url
    with httpx.Client(timeout=10.0) as http:
        users = {key: sign_in(http, auth, key, email, name, password) for key, email, name in USERS}
        room_ids: dict[str, str] = {}
        for title, owner, members in ROOMS:
            existing = rooms_by_title(http, rooms, users[owner])
            if title in existing:
                room_ids[title] = existing[title]
                continue
            body = {"title": title, "member_ids": [users[m].id for m in members]}
            created = http.post(f"{rooms}/rooms", json=body, headers=users[owner].headers)
            room_ids[title] = expect(created, 201)["id"]
        direct = http.post(
            f"{rooms}/rooms/direct",
            json={"user_id": users["bob"].id},
            headers=users["alice"].headers,
        )
        room_ids["direct"] = expect(direct, 200, 201)["id"]
        for n, (room, sender, text) in enumerate(MESSAGES, start=1):
            sent = http.post(
                f"{messages}/messages",
                json={"room_id": room_ids[room], "body": text, "client_msg_id": f"seed-{n}"},
                headers=users[sender].headers,
            )
            expect(sent, 200, 201)
        send_image(http, messages, room_ids, users)
    return room_ids


def picture() -> bytes:
    """A small landscape: sky, sun, hills (made here, so the seed needs no file)."""
    image = Image.new("RGB", (480, 320), (135, 190, 235))
    draw = ImageDraw.Draw(image)
    draw.ellipse((350, 40, 420, 110), fill=(255, 214, 90))
    draw.polygon(
        [(0, 320), (0, 210), (140, 150), (300, 230), (480, 170), (480, 320)], (70, 140, 80)
    )
    draw.polygon([(0, 320), (0, 270), (200, 220), (480, 280), (480, 320)], fill=(50, 110, 60))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def send_image(
    http: httpx.Client, messages: str, room_ids: dict[str, str], users: dict[str, User]
) -> None:
    """Carol's picture in "Weekend plans", once."""
    room, sender, text, filename = IMAGE_MESSAGE
    user = users[sender]
    page = expect(
        http.get(
            f"{messages}/messages",
            params={"room_id": room_ids[room], "limit": "200"},
            headers=user.headers,
        ),
        200,
    )
    if any(m["client_msg_id"] == IMAGE_KEY and m["sender_id"] == user.id for m in page["items"]):
        return
    uploaded = http.post(
        f"{messages}/messages/attachments",
        params={"room_id": room_ids[room], "filename": filename},
        content=picture(),
        headers={**user.headers, "Content-Type": "image/png"},
    )
    attachment = expect(uploaded, 201)
    sent = http.post(
        f"{messages}/messages",
        json={
            "room_id": room_ids[room],
            "body": text,
            "client_msg_id": IMAGE_KEY,
            "attachment_ids": [attachment["id"]],
        },
        headers=user.headers,
    )
    expect(sent, 200, 201)


def main() -> int:
    settings = ServiceSettings.from_env()
    password = os.environ.get("SEED_PASSWORD") or DEFAULT_PASSWORD
    try:
        room_ids = seed(settings, password)
    except httpx.TransportError:
        print(
            f"make seed: cannot reach the services ({settings.auth_url} ...): "
            "start them first with `make run`.",
            file=sys.stderr,
        )
        return 1
    except SeedError as exc:
        print(f"make seed: {exc}", file=sys.stderr)
        return 1
    print("Demo data is ready (running `make seed` again changes nothing).")
    for _, email, name in USERS:
        print(f"  {email:<20} password: {password}   ({name})")
    print(f"  rooms: {', '.join(t for t, _, _ in ROOMS)}; a direct chat of alice and bob")
    print(f"  {len(MESSAGES) + 1} messages across them ({len(room_ids)} rooms), one with an image")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
