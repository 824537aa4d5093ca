"""``chat notify``: preferences, room mutes and webhooks from the terminal, against the real
running system."""

from __future__ import annotations

import json
import uuid

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from cli.tests.test_cli import chat, cli_env

# The environment and the subprocess runner of the CLI tests: one copy, in test_cli.py.
__all__ = ["cli_env"]


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
