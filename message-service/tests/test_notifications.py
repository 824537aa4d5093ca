"""Notification preferences, subscriptions and webhooks: the calls and what they refuse; the
rules deciding who is notified; the address rule for outgoing requests."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest

from chat_testkit.plugin import Listening, MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.push import PushService
from message_service import notify_rules, webhooks
from message_service.notify_rules import Preferences

if TYPE_CHECKING:
    from conftest import Chat

SETTINGS = "/messages/notifications/settings"
PUSH = "/messages/notifications/push"
HOOKS = "/messages/notifications/webhooks"


async def test_settings_default_to_mentions_and_round_trip(chat: Chat, make_user: MakeUser) -> None:
    """Preferences start at mentions with no rooms, are saved as given, keep the rooms when
    only the level is sent, and a null room level removes it."""
    user = await make_user()
    r = await chat.call("GET", SETTINGS, user)
    assert r.status_code == 200
    assert r.json() == {"level": "mentions", "rooms": {}}
    room = str(uuid.uuid4())
    r = await chat.call("PUT", SETTINGS, user, json={"level": "all", "rooms": {room: "none"}})
    assert r.status_code == 200, r.text
    assert r.json() == {"level": "all", "rooms": {room: "none"}}
    r = await chat.call("PUT", SETTINGS, user, json={"level": "none"})
    assert r.json() == {"level": "none", "rooms": {room: "none"}}
    r = await chat.call("PUT", SETTINGS, user, json={"level": "none", "rooms": {room: None}})
    assert (await chat.call("GET", SETTINGS, user)).json() == {"level": "none", "rooms": {}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "level"),
        ({"level": "loud"}, "level"),
        ({"level": 1}, "level"),
        ({"level": "all", "rooms": {"not-a-uuid": "none"}}, "rooms.not-a-uuid.[key]"),
        ({"level": "all", "rooms": {str(uuid.UUID(int=1)): "sometimes"}}, "rooms"),
        ({"level": "all", "rooms": ["x"]}, "rooms"),
    ],
)
async def test_bad_settings_get_422_naming_the_field(
    chat: Chat, make_user: MakeUser, body: dict[str, object], field: str
) -> None:
    """Each bad preferences body gets 422 with the field it is about."""
    user = await make_user()
    r = await chat.call("PUT", SETTINGS, user, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"].startswith(field.split(".")[0])


async def test_notification_calls_need_a_token(chat: Chat) -> None:
    """Preferences, subscriptions and webhooks answer 401 without a token."""
    for method, path in (("GET", SETTINGS), ("POST", PUSH), ("POST", HOOKS), ("GET", HOOKS)):
        r = await chat.call(method, path, None, json={})
        assert r.status_code == 401, (method, path)


async def test_vapid_key_is_an_uncompressed_p256_point(chat: Chat) -> None:
    """The VAPID public key is 65 bytes of base64url starting with 0x04, the form a browser
    takes as applicationServerKey."""
    r = await chat.call("GET", "/messages/notifications/vapid", None)
    assert r.status_code == 200
    key = r.json()["public_key"]
    assert "=" not in key
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65
    assert raw[0] == 4


async def test_push_subscription_is_added_and_removed(
    chat: Chat, make_user: MakeUser, message_service: ServiceProcess
) -> None:
    """A subscription is 201, the same endpoint again 201 (taken over), and DELETE 204."""
    user = await make_user()
    key = (await chat.call("GET", "/messages/notifications/vapid", None)).json()["public_key"]
    service = await PushService.start(key)
    try:
        _, subscription = service.subscribe()
        r = await chat.call("POST", PUSH, user, json=subscription)
        assert r.status_code == 201, r.text
        assert r.json()["endpoint"] == subscription["endpoint"]
        assert (await chat.call("POST", PUSH, user, json=subscription)).status_code == 201
        r = await chat.call("DELETE", PUSH, user, json={"endpoint": subscription["endpoint"]})
        assert r.status_code == 204
    finally:
        await service.close()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"keys": {"p256dh": "x", "auth": "y"}}, "endpoint"),
        ({"endpoint": "ftp://push.example/1", "keys": {}}, "endpoint"),
        ({"endpoint": "http://127.0.0.1:9/p"}, "keys"),
        (
            {"endpoint": "http://127.0.0.1:9/p", "keys": {"p256dh": "A" * 87, "auth": "A" * 22}},
            "keys.p256dh",
        ),
        (
            {
                "endpoint": "http://127.0.0.1:9/p",
                "keys": {"p256dh": "BA" + "A" * 85, "auth": "!!!!" * 6},
            },
            "keys.auth",
        ),
    ],
)
async def test_bad_push_subscription_gets_422(
    chat: Chat, make_user: MakeUser, body: dict[str, object], field: str
) -> None:
    """A subscription without an http(s) endpoint or with keys that are not a P-256 point and
    16 bytes is refused with 422 naming the field."""
    user = await make_user()
    r = await chat.call("POST", PUSH, user, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


async def test_webhook_to_a_host_not_resolving_now_is_taken(
    chat: Chat, make_user: MakeUser
) -> None:
    """A host that does not resolve at registration is taken (each delivery resolves it
    again); only an address that may not be reached is refused."""
    user = await make_user()
    body = {"url": "https://no-such-host.invalid/hook", "secret": "s"}
    assert (await chat.call("POST", HOOKS, user, json=body)).status_code == 201


async def test_webhooks_are_added_listed_and_removed(chat: Chat, make_user: MakeUser) -> None:
    """A webhook is 201 with its id, listed without its secret, deleted once (then 404), and
    nobody else can delete it."""
    user, other = await make_user(), await make_user()
    r = await chat.call(
        "POST", HOOKS, user, json={"url": "http://127.0.0.1:9/hook", "secret": "s3cret"}
    )
    assert r.status_code == 201, r.text
    hook_id = r.json()["id"]
    listed = (await chat.call("GET", HOOKS, user)).json()
    assert [item["id"] for item in listed["items"]] == [hook_id]
    assert "secret" not in listed["items"][0]
    assert (await chat.call("DELETE", f"{HOOKS}/{hook_id}", other)).status_code == 404
    assert (await chat.call("DELETE", f"{HOOKS}/{hook_id}", user)).status_code == 204
    assert (await chat.call("DELETE", f"{HOOKS}/{hook_id}", user)).status_code == 404
    assert (await chat.call("DELETE", f"{HOOKS}/not-an-id", user)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"secret": "s"}, "url"),
        ({"url": "http://127.0.0.1:9/hook"}, "secret"),
        ({"url": "http://127.0.0.1:9/hook", "secret": ""}, "secret"),
        ({"url": "javascript:alert(1)", "secret": "s"}, "url"),
        ({"url": "http://:80/", "secret": "s"}, "url"),
        ({"url": "http://127.0.0.1:99999/", "secret": "s"}, "url"),
    ],
)
async def test_bad_webhook_gets_422(
    chat: Chat, make_user: MakeUser, body: dict[str, object], field: str
) -> None:
    """A webhook without a reachable http(s) URL or a secret is refused with 422."""
    user = await make_user()
    r = await chat.call("POST", HOOKS, user, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


@pytest.fixture(scope="session")
async def strict_addresses(
    listening: Listening, message_service: ServiceProcess
) -> AsyncIterator[str]:
    """The URL of an instance (in this process) with the default address rule (private
    addresses refused)."""
    async with listening("message_service", {"MESSAGES_WEBHOOK_ALLOW_PRIVATE": "false"}) as url:
        yield url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_webhook_to_private_address_is_refused_by_default(
    http: httpx.AsyncClient, strict_addresses: str, make_user: MakeUser, url: str
) -> None:
    """Without MESSAGES_WEBHOOK_ALLOW_PRIVATE, loopback, private and link-local addresses are
    refused for webhooks and push endpoints alike."""
    user = await make_user()
    r = await http.post(
        f"{strict_addresses}{HOOKS}", json={"url": url, "secret": "s"}, headers=user.headers
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "url_not_allowed"
    subscription = {"endpoint": url, "keys": {"p256dh": "BA" + "A" * 85, "auth": "A" * 22}}
    r = await http.post(f"{strict_addresses}{PUSH}", json=subscription, headers=user.headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "endpoint"


async def test_delivery_checks_the_address_again() -> None:
    """The check made at each delivery refuses a host that resolves to loopback and lets a
    public address through."""
    with pytest.raises(webhooks.RefusedAddress):
        await webhooks.resolve("http://localhost:1/hook", allow_private=False)
    with pytest.raises(webhooks.NotResolved):
        await webhooks.resolve("http://no-such-host.invalid/", allow_private=False)
    assert await webhooks.resolve("http://localhost:1/hook", allow_private=True)
    assert await webhooks.resolve("http://93.184.215.14/hook", allow_private=False)


def test_signature_is_hmac_sha256_of_the_body() -> None:
    """X-Chat-Signature is sha256= and the hex HMAC-SHA256 of the raw body."""
    assert webhooks.signature("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


def test_rules_leave_out_sender_online_and_refusing_users() -> None:
    """The sender, users online and users whose level (or the room's) is none are not
    notified; a mention is told apart from a direct message."""
    room = str(uuid.uuid4())
    job = {"recipients": ["s", "on", "off", "quiet", "muted", "m"], "mentioned": ["m"]}
    prefs = {
        "quiet": Preferences("none"),
        "muted": Preferences("all", {room: "none"}),
        "m": Preferences("mentions", {str(uuid.uuid4()): "none"}),
    }
    chosen = notify_rules.recipients(job, room, "s", prefs, {"on"})
    assert chosen == [("off", "direct"), ("m", "mention")]
    # A room level of all overrides a user level of none.
    unmuted = {"quiet": Preferences("none", {room: "all"})}
    assert notify_rules.recipients(
        {"recipients": ["quiet"], "direct": True}, room, "s", unmuted, ()
    )
    assert notify_rules.recipients(job, room, "s", {}, set()) == [
        ("on", "direct"),
        ("off", "direct"),
        ("quiet", "direct"),
        ("muted", "direct"),
        ("m", "mention"),
    ]


def test_preview_is_one_short_line() -> None:
    """The preview joins lines and cuts long text at whole characters, Korean included."""
    assert notify_rules.preview("hello\n  world") == "hello world"
    long = notify_rules.preview("가" * 500)
    assert len(long) == notify_rules.PREVIEW_CHARS
    assert long.endswith("…")
    assert notify_rules.preview(None) == ""
