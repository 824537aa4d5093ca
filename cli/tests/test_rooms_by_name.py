"""Rooms by name in every command: titles, the other person's name for a direct chat, one
clear error when a name is ambiguous or unknown."""

from __future__ import annotations

import secrets
import unicodedata

import httpx

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from cli.tests.test_cli import chat, cli_env, logged_in

__all__ = ["cli_env"]  # the fixture, used by name


async def _room(
    http: httpx.AsyncClient, rooms: ServiceProcess, headers: dict[str, str], title: str
) -> str:
    created = await http.post(f"{rooms.url}/rooms", headers=headers, json={"title": title})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_send_and_history_take_a_room_name(
    cli_env: dict[str, str],
    gateway_service: ServiceProcess,
    room_service: ServiceProcess,
    http: httpx.AsyncClient,
    make_user: MakeUser,
) -> None:
    """`chat send 회의실 hi` finds the room by its title, whatever the case or normal form."""
    user = await make_user()
    await logged_in(cli_env, gateway_service, user)
    title = f"회의실 {secrets.token_hex(2)} General"
    room_id = await _room(http, room_service, user.headers, title)
    typed = unicodedata.normalize("NFD", title.upper())
    status, out, err = await chat(cli_env, "send", typed, "안녕하세요")
    assert status == 0, err
    assert out.startswith("sent #1 ")
    status, out, err = await chat(cli_env, "--json", "history", title)
    assert status == 0, err
    assert f'"room_id": "{room_id}"' in out
    assert "안녕하세요" in out


async def test_a_direct_chat_is_named_after_the_other_person(
    cli_env: dict[str, str],
    gateway_service: ServiceProcess,
    room_service: ServiceProcess,
    http: httpx.AsyncClient,
    make_user: MakeUser,
) -> None:
    """`chat rooms` shows the other person's name for a direct chat, and that name sends."""
    me = await make_user()
    other = await make_user(display_name=f"김민수 {secrets.token_hex(2)}")
    opened = await http.post(
        f"{room_service.url}/rooms/direct", headers=me.headers, json={"user_id": str(other.id)}
    )
    assert opened.status_code == 201, opened.text
    await logged_in(cli_env, gateway_service, me)
    status, out, err = await chat(cli_env, "rooms")
    assert status == 0, err
    assert other.display_name in out
    status, out, err = await chat(cli_env, "send", other.display_name, "hi")
    assert status == 0, err


async def test_an_ambiguous_or_unknown_name_is_refused(
    cli_env: dict[str, str],
    gateway_service: ServiceProcess,
    room_service: ServiceProcess,
    http: httpx.AsyncClient,
    make_user: MakeUser,
) -> None:
    """Two rooms with one name: exit 2 naming both ids; no such room: exit 2, nothing sent."""
    user = await make_user()
    await logged_in(cli_env, gateway_service, user)
    first = await _room(http, room_service, user.headers, "Twins")
    second = await _room(http, room_service, user.headers, "twins")
    status, _, err = await chat(cli_env, "send", "Twins", "hello")
    assert status == 2
    assert "2 of your rooms are called 'Twins'" in err
    assert first in err
    assert second in err
    status, _, err = await chat(cli_env, "send", "Nowhere", "hello")
    assert status == 2
    assert "no room called 'Nowhere'" in err
