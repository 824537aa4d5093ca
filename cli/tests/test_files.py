"""``chat send --file`` and how messages with files print, against the real system."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx

from chat_testkit.attachments import PDF, png
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from cli.tests.test_cli import chat, cli_env

# The environment and the subprocess runner of the CLI tests: one copy, in test_cli.py.
__all__ = ["cli_env"]


async def test_send_files_and_tail_prints_name_size_url(
    cli_env: dict[str, str],
    tmp_path: Path,
    gateway_service: ServiceProcess,
    room_service: ServiceProcess,
    make_user: MakeUser,
    http: httpx.AsyncClient,
) -> None:
    """`chat send ROOM text --file a --file b` sends one message with both files; `tail
    --since 0` and `history` print each file's name, size and a URL that downloads it."""
    user = await make_user(display_name="파일 Tester")
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
    created = await http.post(
        f"{room_service.url}/rooms", headers=user.headers, json={"title": "files"}
    )
    room = created.json()["id"]
    (tmp_path / "회의록.pdf").write_bytes(PDF)
    (tmp_path / "pic.png").write_bytes(png())
    status, out, err = await chat(
        cli_env,
        "send",
        room,
        "minutes",
        "--file",
        str(tmp_path / "회의록.pdf"),
        "--file",
        str(tmp_path / "pic.png"),
    )
    assert status == 0, err
    assert out.startswith("sent #1")

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chat_cli",
        "tail",
        room,
        "--since",
        "0",
        env=cli_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
    finally:
        process.terminate()
        await process.wait()
    assert "파일 Tester: minutes" in line
    assert f"[file 회의록.pdf ({len(PDF)} B) http" in line
    assert "[file pic.png (" in line
    url = line.split("[file 회의록.pdf")[1].split(") ", 1)[1].split("]")[0]
    assert (await http.get(url)).content == PDF

    status, out, _ = await chat(cli_env, "history", room, "--json")
    (message,) = [json.loads(x) for x in out.splitlines()]
    assert [a["filename"] for a in message["attachments"]] == ["회의록.pdf", "pic.png"]


async def test_send_missing_file_is_a_usage_error(
    cli_env: dict[str, str], gateway_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A --file that does not exist exits 2 with a one-line error, sending nothing."""
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
    room = "00000000-0000-0000-0000-000000000001"
    status, _, err = await chat(cli_env, "send", room, "--file", "/nonexistent/x.pdf")
    assert status == 2
    assert "no such file" in err
