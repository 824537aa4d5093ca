"""The one-shot commands in Korean: argparse's help and errors, ``notify``, the ``history`` and
``tail`` lines and ``send --file``; their line shapes stay those scripts read, and English
reads exactly as before."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from chat_cli.files import attachment_text
from chat_cli.i18n import from_arguments, set_language
from chat_cli.output import message_line, reaction_line, thread_line
from chat_testkit.attachments import PDF
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from cli.tests.test_cli import chat, cli_env, logged_in, new_room, tail

# The environment, the subprocess runner and `chat tail` of the CLI tests: one copy each.
__all__ = ["cli_env", "tail"]

HANGUL = re.compile(r"[\uac00-\ud7a3]")
MESSAGE = {
    "created_at": "2026-12-05T06:05:00Z",
    "seq": 4,
    "id": "aaaaaaaa-1",
    "body": "안녕",
    "edited_at": "2026-12-05T06:06:00Z",
    "reply_to": "bbbbbbbb-2",
    "thread": {"reply_count": 1234},
    "reactions": [{"emoji": "👍", "count": 2}],
    "attachments": [{"filename": "회의록.pdf", "size": 2048, "url": "/files/1"}],
}


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    """Each test may switch the language; the next one starts in English again."""
    yield
    set_language("en")


def test_lines_translate_words_and_keep_their_shape() -> None:
    """A history/tail line in Korean has the same time, #seq, sender and bracketed parts, with
    Korean words; in English it is the line scripts always read (numbers ungrouped)."""
    frame = {"emoji": "👍", "added": True, "count": 3, "message_id": "cccccccc-3"}
    thread = {"root_id": "dddddddd-4", "thread": {"reply_count": 1, "last_reply_seq": 9}}
    edit = message_line(MESSAGE, "Ana", kind="message_edited", base="http://m")
    english = [
        edit.split("  ", 1)[1],
        message_line({**MESSAGE, "deleted": True}, "Ana").split("  ", 1)[1],
        reaction_line(frame, "보라"),
        thread_line(thread),
    ]
    assert english == [
        "edit #4  Ana: 안녕  (edited)  [file 회의록.pdf (2.0 KB) http://m/files/1]"
        "  [reply to bbbbbbbb, 1234 replies, 👍2; id aaaaaaaa]",
        "#4  Ana: (deleted)  [reply to bbbbbbbb, 1234 replies, 👍2; id aaaaaaaa]",
        "react 👍 +1 (3) on cccccccc  보라",
        "thread dddddddd: 1 replies, last #9",
    ]
    set_language("ko")
    korean = [
        message_line(MESSAGE, "Ana", kind="message_edited", base="http://m").split("  ", 1)[1],
        message_line({**MESSAGE, "deleted": True}, "Ana").split("  ", 1)[1],
        reaction_line(frame, "보라"),
        thread_line(thread),
        attachment_text({"filename": "", "size": 10, "url": "/f"}, "http://m"),
    ]
    assert korean == [
        "수정 #4  Ana: 안녕  (수정됨)  [파일 회의록.pdf (2.0 KB) http://m/files/1]"
        "  [bbbbbbbb에 답장, 답글 1234개, 👍2; ID aaaaaaaa]",
        "#4  Ana: (삭제됨)  [bbbbbbbb에 답장, 답글 1234개, 👍2; ID aaaaaaaa]",
        "반응 👍 +1 (3) 대상 cccccccc  보라",
        "스레드 dddddddd: 답글 1개, 마지막 #9",
        "[파일 파일 (10 B) http://m/f]",
    ]


def test_the_language_is_known_before_the_arguments_are_parsed() -> None:
    """``--lang CODE``/``--lang=CODE`` anywhere on the line wins over LANG; else LANG."""
    assert from_arguments(["rooms", "--lang", "ko"], {"LANG": "en_US.UTF-8"}) == "ko"
    assert from_arguments(["--lang=en", "rooms"], {"LANG": "ko_KR.UTF-8"}) == "en"
    assert from_arguments(["rooms"], {"LANG": "ko_KR.UTF-8"}) == "ko"
    assert from_arguments(["rooms"], {}) == "en"


async def test_help_and_usage_errors_in_korean(cli_env: dict[str, str]) -> None:
    """``chat --help`` and argparse's own errors are Korean under LANG=ko_KR or --lang ko."""
    plain = {k: v for k, v in cli_env.items() if k not in ("LC_ALL", "LC_MESSAGES")}
    korean = {**plain, "LANG": "ko_KR.UTF-8"}
    status, out, _ = await chat(korean, "--help")
    assert status == 0
    assert out.startswith("사용법: chat")
    for words in ("위치 인자:", "옵션:", "이 도움말을 보여 주고 끝내요", "방에 메시지를 보내요"):
        assert words in out, words
    for english in ("usage:", "options:", "show this help", "send a message", "log in and"):
        assert english not in out, english
    status, out, _ = await chat(korean, "send", "--help")
    assert "방 이름이나 ID" in out
    assert "파일 첨부" in out

    status, _, err = await chat(korean, "history")
    assert status == 2
    assert "chat history: 오류: 다음 인자가 필요해요: ROOM" in err
    status, _, err = await chat(plain, "--lang", "ko", "notify", "loud")
    assert status == 2
    assert "고를 수 없는 값이에요: 'loud'" in err
    status, _, err = await chat(korean, "--lang", "en", "history")
    assert "chat history: error: the following arguments are required: ROOM" in err


async def test_notify_history_tail_and_files_in_korean(
    cli_env: dict[str, str],
    tmp_path: Path,
    gateway_service: ServiceProcess,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
    make_user: MakeUser,
    http: httpx.AsyncClient,
    tail: Callable[..., object],
) -> None:
    """With LANG=ko_KR: notify's settings and refusals, tail's status, message, reply, thread
    and reaction lines, history's file line and a missing file are Korean."""
    # In place: `chat tail` (the fixture) runs with this same environment.
    for name in ("LC_ALL", "LC_MESSAGES"):
        cli_env.pop(name, None)
    cli_env["LANG"] = "ko_KR.UTF-8"
    env = cli_env
    user = await make_user(display_name="보라")
    await logged_in(env, gateway_service, user)

    status, out, _ = await chat(env, "notify")
    assert out.strip() == "알림 수준: mentions"
    status, _, err = await chat(env, "notify", "level", "loud")
    assert status == 2
    assert err.strip() == "chat: 알림 수준은 all, mentions, none 중 하나예요"
    status, _, err = await chat(env, "notify", "webhook", "http://127.0.0.1:9/hook")
    assert err.strip() == "chat: 웹훅에는 --secret(또는 $CHAT_WEBHOOK_SECRET)이 필요해요"
    status, _, err = await chat(env, "notify", "webhooks")
    assert err.strip() == "# 웹훅이 없어요"
    room = await new_room(http, room_service, user)
    status, out, _ = await chat(env, "notify", "mute", room)
    assert out.strip() == f"알림 수준: mentions\n알림 끈 방: {room}"

    watcher = await tail("tail", room)  # type: ignore[operator]
    await watcher.status(f"# 연결됨: 방 {room}")
    status, out, err = await chat(env, "send", room, "뿌리", "--json")
    assert status == 0, err
    root = json.loads(out)
    assert (await watcher.line()).endswith("#1  보라: 뿌리")
    status, out, err = await chat(env, "send", room, "인용", "--reply-to", root["id"])
    assert status == 0, err
    assert f"[{root['id'][:8]}에 답장; ID " in await watcher.line()
    status, out, err = await chat(env, "send", room, "스레드에서", "--thread", root["id"])
    assert status == 0, err
    assert f"[스레드 {root['id'][:8]}; ID " in await watcher.line()
    assert await watcher.line() == f"스레드 {root['id'][:8]}: 답글 1개, 마지막 #3"
    r = await http.put(
        f"{message_service.url}/messages/{root['id']}/reactions/%F0%9F%91%8D",
        headers=user.headers,
    )
    assert r.status_code == 200
    assert await watcher.line() == f"반응 👍 +1 (1) 대상 {root['id'][:8]}  보라"

    (tmp_path / "회의록.pdf").write_bytes(PDF)
    status, out, err = await chat(
        env, "send", room, "회의록", "--file", str(tmp_path / "회의록.pdf")
    )
    assert status == 0, err
    assert HANGUL.search(out), out
    status, out, _ = await chat(env, "history", room)
    assert f"#4  보라: 회의록  [파일 회의록.pdf ({len(PDF)} B) http" in out.splitlines()[-1]
    status, _, err = await chat(env, "send", room, "없음", "--file", str(tmp_path / "없는.pdf"))
    assert status == 2
    assert err.strip() == f"chat: {tmp_path / '없는.pdf'}: 그런 파일이 없어요"
