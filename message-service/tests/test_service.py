"""What every process serves: health, readiness, metrics and a complete OpenAPI document."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
import httpx

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess

if TYPE_CHECKING:
    from conftest import Chat

CALLS = {
    ("post", "/messages"),
    ("get", "/messages"),
    ("patch", "/messages/{message_id}"),
    ("delete", "/messages/{message_id}"),
    ("post", "/messages/read"),
    ("post", "/messages/changes"),
    ("get", "/messages/unread"),
    ("post", "/messages/batch"),
    ("get", "/messages/rooms"),
    ("post", "/messages/positions"),
    ("post", "/messages/{message_id}/report"),
    ("get", "/messages/reports"),
    ("post", "/messages/reports/{report_id}/resolve"),
    ("get", "/messages/admin/audit"),
    ("get", "/messages/notifications/settings"),
    ("put", "/messages/notifications/settings"),
    ("get", "/messages/notifications/vapid"),
    ("post", "/messages/notifications/push"),
    ("delete", "/messages/notifications/push"),
    ("post", "/messages/notifications/webhooks"),
    ("get", "/messages/notifications/webhooks"),
    ("delete", "/messages/notifications/webhooks/{webhook_id}"),
    ("post", "/messages/attachments"),
    ("get", "/messages/attachments/{attachment_id}"),
    ("get", "/messages/attachments/{attachment_id}/content"),
    ("get", "/messages/attachments/{attachment_id}/thumbnail"),
    ("put", "/messages/{message_id}/reactions/{emoji}"),
    ("delete", "/messages/{message_id}/reactions/{emoji}"),
    ("get", "/messages/threads/{root_id}"),
    ("get", "/messages/receipts"),
    ("get", "/messages/changes"),
    ("get", "/messages/search"),
    ("get", "/messages/rooms/{room_id}/retention"),
    ("put", "/messages/rooms/{room_id}/retention"),
}


async def test_health_ready_metrics(
    http: httpx.AsyncClient, message_service: ServiceProcess
) -> None:
    """/healthz and /readyz answer 200; /metrics has the HTTP and message-service metrics."""
    assert (await http.get(f"{message_service.url}/healthz")).json() == {"status": "ok"}
    assert (await http.get(f"{message_service.url}/readyz")).json() == {"status": "ok"}
    await http.get(f"{message_service.url}/messages/unread")
    metrics = await http.get(f"{message_service.url}/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'route="/messages/unread"' in metrics.text
    for name in [
        "messages_persisted_total",
        "messages_batch_size_bucket",
        "messages_publish_failures_total",
        "messages_published_total",
        "messages_membership_cache_resets_total",
    ]:
        assert f"\n{name}" in metrics.text, name


async def test_the_writer_has_sessions_of_its_own(
    message_service: ServiceProcess, database_url: str, chat: Chat, make_user: MakeUser
) -> None:
    """Without a pooler, the group-commit writer runs on sessions of its own (planning its
    statement once), beside the service's pool; a send opens one."""
    alice = await make_user()
    await chat.send(alice, await chat.room(alice), "열렸다")
    conn = await asyncpg.connect(database_url)
    try:
        names = await conn.fetch(
            "SELECT DISTINCT application_name FROM pg_stat_activity"
            " WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    assert {"message-service", "message-service-writer"} <= {r[0] for r in names}


async def test_openapi_document_is_complete(
    http: httpx.AsyncClient, message_service: ServiceProcess
) -> None:
    """Every call is in the OpenAPI document with its body, query parameters and answers."""
    doc = (await http.get(f"{message_service.url}/messages/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    assert {(m, p) for p, ops in paths.items() for m in ops} == CALLS
    for path, method in [
        ("/messages", "post"),
        ("/messages/{message_id}", "patch"),
        ("/messages/read", "post"),
    ]:
        assert "application/json" in paths[path][method]["requestBody"]["content"], path
    query = {p["name"] for p in paths["/messages"]["get"]["parameters"]}
    assert query == {
        "room_id",
        "before_seq",
        "after_seq",
        "around_seq",
        "limit",
        "cursor",
        "top_level",
    }
    send = paths["/messages"]["post"]["responses"]
    assert {"200", "201", "404", "413", "422", "429"} <= set(send)
    assert "409" in paths["/messages/{message_id}"]["patch"]["responses"]
    schemas = doc["components"]["schemas"]
    assert {"Message", "MessagePage", "UnreadList", "RoomReadState", "SendMessage"} <= set(schemas)
    assert set(schemas["Message"]["properties"]) == {
        "id",
        "room_id",
        "seq",
        "sender_id",
        "body",
        "client_msg_id",
        "created_at",
        "edited_at",
        "deleted",
        "reply_to",
        "thread_root_id",
        "mentions",
        "reactions",
        "thread",
        "attachments",
    }


async def test_other_methods_on_fixed_paths_are_405(
    http: httpx.AsyncClient, message_service: ServiceProcess
) -> None:
    """PATCH /messages/read is 405 method_not_allowed (not a message id "read": 404)."""
    for method, path in (("PATCH", "/messages/read"), ("DELETE", "/messages/unread")):
        r = await http.request(method, f"{message_service.url}{path}")
        assert r.status_code == 405, (method, path)
        assert r.json()["error"]["code"] == "method_not_allowed"
