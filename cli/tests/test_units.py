"""The terminal client's parts that need no server: feed order, session file, URLs, lines."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from chat_cli.__main__ import build_parser, main
from chat_cli.endpoints import resolve
from chat_cli.feed import Gap, NotAMember, RoomFeed
from chat_cli.output import message_line
from chat_cli.session import Session, SessionStore, config_dir

ROOM = "6f0c1a56-1f7e-4a53-9c55-2b1d0f0e9a11"


def msg(seq: int, room: str = ROOM, body: str = "hi") -> dict[str, object]:
    return {
        "id": f"m{seq}",
        "room_id": room,
        "seq": seq,
        "sender_id": "u1",
        "body": body,
        "created_at": "2026-11-22T13:00:00Z",
        "edited_at": None,
        "deleted": False,
    }


def test_feed_starts_at_the_rooms_newest_message() -> None:
    """Without --since, the first ready sets the start to the room's last seq and resumes there."""
    feed = RoomFeed(ROOM)
    frames = feed.on_ready({"type": "ready", "rooms": [{"room_id": ROOM, "last_seq": 7}]})
    assert frames == [{"type": "resume", "rooms": {ROOM: 7}}]
    assert feed.on_message(msg(7)) is False
    assert feed.on_message(msg(8)) is True


def test_feed_resumes_from_the_last_printed_seq_after_a_reconnect() -> None:
    """A reconnect resumes from what was printed, and repeats are skipped."""
    feed = RoomFeed(ROOM, last_seq=2)
    assert feed.on_ready({"rooms": [{"room_id": ROOM, "last_seq": 9}]}) == [
        {"type": "resume", "rooms": {ROOM: 2}}
    ]
    assert [feed.on_message(msg(s)) for s in (3, 4, 3, 4, 5)] == [True, True, False, False, True]
    assert feed.on_ready({"rooms": [{"room_id": ROOM, "last_seq": 9}]}) == [
        {"type": "resume", "rooms": {ROOM: 5}}
    ]


def test_feed_reports_a_gap_and_ignores_other_rooms() -> None:
    """A jump past the next seq is a gap to fill; other rooms' messages are not printed."""
    feed = RoomFeed(ROOM, last_seq=3)
    assert feed.on_message(msg(6)) == Gap(after_seq=3, before_seq=6)
    assert feed.filled(msg(4))
    assert feed.filled(msg(5))
    assert feed.on_message(msg(6)) is True
    assert feed.on_message(msg(7, room="other")) is False


def test_feed_refuses_a_room_the_user_is_not_in() -> None:
    """A ready that does not list the room ends the tail with a clear error."""
    with pytest.raises(NotAMember, match="not a member"):
        RoomFeed(ROOM).on_ready({"rooms": []})


def test_session_file_is_private_and_round_trips(tmp_path: Path) -> None:
    """The session file is written with mode 0600 and reads back the same."""
    store = SessionStore(tmp_path / "cfg")
    session = Session(access_token="a", refresh_token="r", expires_at=1.0, user={"id": "u"})
    store.save(session)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.load() == session
    store.clear()
    assert store.load() is None


def test_config_dir_follows_the_environment(tmp_path: Path) -> None:
    """CHAT_CLI_CONFIG chooses the directory; else ~/.config/chat-cli."""
    assert config_dir({"CHAT_CLI_CONFIG": str(tmp_path)}) == tmp_path
    assert config_dir({}) == Path.home() / ".config" / "chat-cli"


def test_urls_come_from_flags_then_env_then_saved_then_defaults() -> None:
    """Each URL is taken from the first source that names it."""
    chosen = resolve(
        {"auth_url": "http://flag:1/"},
        {"CHAT_AUTH_URL": "http://env:1", "CHAT_ROOMS_URL": "http://env:2"},
        None,
        {"rooms_url": "http://saved:2", "messages_url": "http://saved:3"},
    )
    assert chosen.auth_url == "http://flag:1"
    assert chosen.rooms_url == "http://env:2"
    assert chosen.messages_url == "http://saved:3"
    assert chosen.ws_url == "ws://127.0.0.1:8000/ws"


def test_a_message_is_one_line() -> None:
    """Newlines in a body never break the one-message-per-line output."""
    line = message_line(msg(3, body="two\nlines"), "Ana")
    assert "\n" not in line
    assert line.endswith("#3  Ana: two \u21b5 lines")
    assert message_line({**msg(4), "deleted": True, "body": None}, "Ana").endswith("(deleted)")


def test_bad_arguments_exit_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A blank room name is refused before anything is sent."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["send", "  ", "hello"])
    assert exited.value.code == 2
    assert "say which room" in capsys.readouterr().err


def test_commands_need_a_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a stored session a command says to log in and exits with status 2."""
    monkeypatch.setenv("CHAT_CLI_CONFIG", str(tmp_path))
    assert main(["--auth-url", "http://127.0.0.1:9", "rooms"]) == 2
