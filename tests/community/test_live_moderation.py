"""Moderation seen end to end: bans and mutes on open sockets, deactivation everywhere, and
the audit logs."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.sockets import OpenSocket
from chat_testkit.users import TestUser
from tests.community.conftest import MakeAdmin


async def test_banned_member_stops_receiving_within_a_second_and_cannot_come_back(
    gateway_service: ServiceProcess, chat: Chat, make_user: MakeUser, open_socket: OpenSocket
) -> None:
    """After a ban the member's open socket gets room_removed and no further message within
    a second; joining, an invite and being added are all refused."""
    owner, bad = await make_user(), await make_user()
    r = await chat.http.post(
        f"{chat.rooms_url}/rooms",
        json={"title": "Open house", "visibility": "public"},
        headers=owner.headers,
    )
    room_id = r.json()["id"]
    invite = await chat.http.post(
        f"{chat.rooms_url}/rooms/{room_id}/invites", json={}, headers=owner.headers
    )
    r = await chat.http.post(f"{chat.rooms_url}/rooms/{room_id}/join", headers=bad.headers)
    assert r.status_code == 200
    socket = await open_socket(gateway_service.url, bad.access_token, live=True)
    await chat.send(owner, room_id, "welcome")
    await socket.messages(room_id, 1)

    r = await chat.http.post(
        f"{chat.rooms_url}/rooms/{room_id}/bans",
        json={"user_id": str(bad.id), "reason": "trolling"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    banned_at = time.monotonic()
    frame = await socket.until(lambda f: f["type"] == "room_removed", timeout=1.0)
    assert frame["room"]["id"] == room_id
    assert time.monotonic() - banned_at < 1.0
    await chat.send(owner, room_id, "after the ban")
    assert not [f for f in await socket.quiet(0.5) if f["type"] == "message"]

    code = invite.json()["code"]
    refused = [
        await chat.http.post(f"{chat.rooms_url}/rooms/{room_id}/join", headers=bad.headers),
        await chat.http.post(
            f"{chat.rooms_url}/rooms/join", json={"code": code}, headers=bad.headers
        ),
        await chat.http.post(
            f"{chat.rooms_url}/rooms/{room_id}/members",
            json={"user_id": str(bad.id)},
            headers=owner.headers,
        ),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    r = await chat.http.post(
        f"{chat.messages_url}/messages",
        json={"room_id": room_id, "body": "let me in", "client_msg_id": "x1"},
        headers=bad.headers,
    )
    assert r.status_code == 404


async def test_muted_members_send_frame_gets_muted(
    gateway_service: ServiceProcess, chat: Chat, make_user: MakeUser, open_socket: OpenSocket
) -> None:
    """A muted member's ``send`` frame is answered with ``error`` code ``muted``."""
    owner, member = await make_user(), await make_user()
    room_id = await chat.room(owner, member)
    socket = await open_socket(gateway_service.url, member.access_token, live=True)
    await socket.send(
        {"type": "send", "ref": "a", "room_id": room_id, "body": "hi", "client_msg_id": "m1"}
    )
    assert (await socket.until(lambda f: f.get("ref") == "a"))["type"] == "ack"
    until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    r = await chat.http.post(
        f"{chat.rooms_url}/rooms/{room_id}/mutes",
        json={"user_id": str(member.id), "until": until},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    await asyncio.sleep(0.3)
    await socket.send(
        {"type": "send", "ref": "b", "room_id": room_id, "body": "hi", "client_msg_id": "m2"}
    )
    answer = await socket.until(lambda f: f.get("ref") == "b")
    assert answer["type"] == "error"
    assert answer["code"] == "muted"


async def test_deactivation_closes_sockets_and_refuses_the_token_everywhere(
    gateway_service: ServiceProcess,
    auth_service: ServiceProcess,
    chat: Chat,
    http: httpx.AsyncClient,
    make_user: MakeUser,
    make_admin: MakeAdmin,
    open_socket: OpenSocket,
) -> None:
    """Deactivating a user closes their open socket with 4003 within a second; their still
    valid access token is then refused by all three services and the gateway, their refresh
    token and login too; reactivation lets them log in again."""
    admin, user = await make_admin(), await make_user()
    claims = jwt.decode(admin.access_token, options={"verify_signature": False})
    assert claims["roles"] == ["admin"]
    room_id = await chat.room(user)
    socket = await open_socket(gateway_service.url, user.access_token, live=True)
    token_exp = jwt.decode(user.access_token, options={"verify_signature": False})["exp"]
    assert token_exp > time.time() + 60

    r = await http.post(
        f"{auth_service.url}/auth/admin/users/{user.id}/deactivate", headers=user.headers
    )
    assert r.status_code == 403
    r = await http.post(
        f"{auth_service.url}/auth/admin/users/{user.id}/deactivate", headers=admin.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["deactivated_at"] is not None
    started = time.monotonic()
    assert await socket.closed(timeout=1.0) == 4003
    assert time.monotonic() - started < 1.0

    await asyncio.sleep(0.2)  # every process has heard the revocation by now
    for url in (
        f"{auth_service.url}/auth/me",
        f"{chat.rooms_url}/rooms",
        f"{chat.messages_url}/messages?room_id={room_id}",
    ):
        r = await http.get(url, headers=user.headers)
        assert r.status_code == 401, (url, r.text)
        assert r.json()["error"]["code"] == "token_revoked"
    again = await open_socket(gateway_service.url, user.access_token, ready=False)
    assert await again.closed() == 4001
    r = await http.post(
        f"{auth_service.url}/auth/refresh", json={"refresh_token": user.refresh_token}
    )
    assert r.status_code == 401
    login = {"email": user.email, "password": user.password}
    r = await http.post(f"{auth_service.url}/auth/login", json=login)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "account_deactivated"

    r = await http.post(
        f"{auth_service.url}/auth/admin/users/{user.id}/reactivate", headers=admin.headers
    )
    assert r.status_code == 200
    assert r.json()["deactivated_at"] is None
    await asyncio.sleep(1.1)  # tokens issued in the second of the revocation stay refused
    r = await http.post(f"{auth_service.url}/auth/login", json=login)
    assert r.status_code == 200, r.text
    fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await http.get(f"{chat.rooms_url}/rooms", headers=fresh)).status_code == 200


async def test_audit_logs_record_moderation_for_site_admins_only(
    auth_service: ServiceProcess,
    chat: Chat,
    http: httpx.AsyncClient,
    make_user: MakeUser,
    make_admin: MakeAdmin,
) -> None:
    """Bans, mutes, removals, moderator deletions, report resolutions and deactivations land
    in the owning service's audit log, readable (paged) by site administrators only."""
    admin = await make_admin()
    owner, member, other, target = [await make_user() for _ in range(4)]
    room_id = await chat.room(owner, member, other)
    rooms = chat.rooms_url
    until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    await http.post(
        f"{rooms}/rooms/{room_id}/mutes",
        json={"user_id": str(member.id), "until": until},
        headers=owner.headers,
    )
    await http.delete(f"{rooms}/rooms/{room_id}/mutes/{member.id}", headers=owner.headers)
    message = await chat.send(other, room_id, "to delete")
    r = await http.delete(f"{chat.messages_url}/messages/{message['id']}", headers=owner.headers)
    assert r.status_code == 200
    await chat.remove(owner, room_id, other)
    await http.post(
        f"{rooms}/rooms/{room_id}/bans", json={"user_id": str(member.id)}, headers=owner.headers
    )
    await http.post(
        f"{auth_service.url}/auth/admin/users/{target.id}/deactivate", headers=admin.headers
    )

    r = await http.get(f"{rooms}/rooms/admin/audit", headers=admin.headers, params={"limit": 200})
    assert r.status_code == 200, r.text
    mine = [e for e in r.json()["items"] if e["room_id"] == room_id]
    assert [e["action"] for e in mine] == ["ban", "remove", "unmute", "mute"]
    assert mine[0]["actor_id"] == str(owner.id)
    r = await http.get(
        f"{chat.messages_url}/messages/admin/audit", headers=admin.headers, params={"limit": 200}
    )
    assert r.status_code == 200, r.text
    assert any(
        e["action"] == "delete_message" and e["detail"]["message_id"] == message["id"]
        for e in r.json()["items"]
    )
    r = await http.get(
        f"{auth_service.url}/auth/admin/audit", headers=admin.headers, params={"limit": 1}
    )
    assert r.status_code == 200
    page = r.json()
    assert page["items"][0]["action"] == "deactivate"
    assert page["items"][0]["target_id"] == str(target.id)
    # Each service's log pages by the next_cursor it hands out, in order, none twice.
    for url in (
        f"{auth_service.url}/auth/admin/audit",
        f"{rooms}/rooms/admin/audit",
        f"{chat.messages_url}/messages/admin/audit",
    ):
        everything = (await http.get(url, headers=admin.headers, params={"limit": 200})).json()
        ids = [e["id"] for e in everything["items"]]
        paged: list[int] = []
        cursor = None
        while True:
            params: dict[str, str | int] = {"limit": 1}
            if cursor is not None:
                params["cursor"] = cursor
            r = await http.get(url, headers=admin.headers, params=params)
            assert r.status_code == 200, (url, r.text)
            paged += [e["id"] for e in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
        assert paged == ids, url
    for url in (
        f"{auth_service.url}/auth/admin/audit",
        f"{rooms}/rooms/admin/audit",
        f"{chat.messages_url}/messages/admin/audit",
    ):
        assert (await http.get(url, headers=owner.headers)).status_code == 403
    assert uuid.UUID(mine[0]["target_id"]) == member.id


async def test_blocker_is_hidden_from_the_blocked_users_directory(
    auth_service: ServiceProcess, chat: Chat, http: httpx.AsyncClient, make_user: MakeUser
) -> None:
    """After a block the blocked person no longer finds the blocker in the user directory;
    after unblocking they do again. Others still find them."""
    blocker, pest, bystander = [await make_user() for _ in range(3)]
    directory = f"{auth_service.url}/auth/users"
    query = {"q": blocker.display_name}

    async def found_by(user: TestUser) -> bool:
        r = await http.get(directory, params=query, headers=user.headers)
        assert r.status_code == 200, r.text
        return str(blocker.id) in [u["id"] for u in r.json()["items"]]

    assert await found_by(pest)
    r = await http.put(f"{chat.rooms_url}/rooms/blocks/{pest.id}", headers=blocker.headers)
    assert r.status_code == 204
    assert not await found_by(pest)
    assert await found_by(bystander)
    r = await http.delete(f"{chat.rooms_url}/rooms/blocks/{pest.id}", headers=blocker.headers)
    assert r.status_code == 204
    assert await found_by(pest)


async def test_site_admins_list_every_rooms_reports(
    chat: Chat, http: httpx.AsyncClient, make_user: MakeUser, make_admin: MakeAdmin
) -> None:
    """Without room_id, GET /messages/reports lists every room's open reports to site
    administrators, who can also resolve them by dismissing."""
    admin = await make_admin()
    owner, reporter = await make_user(), await make_user()
    room_id = await chat.room(owner, reporter)
    message = await chat.send(owner, room_id, "questionable")
    r = await http.post(
        f"{chat.messages_url}/messages/{message['id']}/report",
        json={"reason": "looks off"},
        headers=reporter.headers,
    )
    report_id = r.json()["id"]
    r = await http.get(
        f"{chat.messages_url}/messages/reports", params={"limit": 200}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    assert report_id in [x["id"] for x in r.json()["items"]]
    r = await http.post(
        f"{chat.messages_url}/messages/reports/{report_id}/resolve",
        json={"action": "dismiss"},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["resolved_by"] == str(admin.id)
