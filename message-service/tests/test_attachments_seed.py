"""`make seed` (scripts/seed.py) adds one message with an image, once however often it runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from chat_testkit.processes import ServiceProcess

ROOT = Path(__file__).resolve().parents[2]


async def test_seed_adds_one_image_once(
    http: httpx.AsyncClient,
    auth_service: ServiceProcess,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
) -> None:
    """Run twice, the seed leaves exactly one message with an image (with its thumbnail) in
    "Weekend plans"."""
    env = {
        **os.environ,
        "AUTH_URL": auth_service.url,
        "ROOMS_URL": room_service.url,
        "MESSAGES_URL": message_service.url,
    }
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "seed.py")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    login = await http.post(
        f"{auth_service.url}/auth/login",
        json={"email": "carol@example.com", "password": "chat-demo-password"},
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    rooms = (await http.get(f"{room_service.url}/rooms", headers=headers)).json()["items"]
    room = next(r for r in rooms if r["title"] == "Weekend plans")
    page = await http.get(
        f"{message_service.url}/messages", params={"room_id": room["id"]}, headers=headers
    )
    with_files = [m for m in page.json()["items"] if m["attachments"]]
    assert len(with_files) == 1
    (image,) = with_files[0]["attachments"]
    assert (image["content_type"], image["width"], image["height"]) == ("image/png", 480, 320)
    assert image["thumbnail_url"].startswith(message_service.url)
    thumb = await http.get(image["thumbnail_url"])
    assert thumb.status_code == 200
