"""``chat notify``: preferences, room mutes and webhooks from the terminal, against the real
running system."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

import pytest

from chatcore.testing.plugin import MakeUser
from chatcore.testing.processes import ServiceProcess


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    return {**env, "CHAT_CLI_CONFIG": str(tmp_path / "chat-cli")}


async def chat(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chat_cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, out.decode(), err.decode()


async def test_notify_sets_level_mutes_and_webhooks(
    cli_env: dict[str, str], gateway_service: ServiceProcess, make_user: MakeUser
) -> None:
    """The level, a muted room and a webhook set from the terminal are what the server keeps;
    a bad level is a usage error."""
    user = await make_user()
    status, _, err = await chat(
        cli_env,
        "--gateway",
        gateway_service.url,
        "login",
        "--email",
        user.email,
        "--password",
        user.password,
    )
    assert status == 0, err
    status, out, _ = await chat(cli_env, "notify")
    assert out.strip() == "level: mentions"
    assert (await chat(cli_env, "notify", "level", "all"))[0] == 0
    room = str(uuid.uuid4())
    status, out, err = await chat(cli_env, "--json", "notify", "mute", room)
    assert status == 0, err
    assert json.loads(out) == {"level": "all", "rooms": {room: "none"}}
    status, out, err = await chat(cli_env, "notify", "unmute", room)
    assert out.strip() == "level: all"
    status, _, err = await chat(cli_env, "notify", "level", "loud")
    assert status == 2
    assert "one of" in err
    status, out, err = await chat(
        cli_env, "--json", "notify", "webhook", "http://127.0.0.1:9/hook", "--secret", "s3cret"
    )
    assert status == 0, err
    hook_id = json.loads(out)["id"]
    status, out, _ = await chat(cli_env, "notify", "webhooks")
    assert hook_id in out
    assert (await chat(cli_env, "notify", "unhook", hook_id))[0] == 0
    status, out, _ = await chat(cli_env, "notify", "webhooks")
    assert hook_id not in out
