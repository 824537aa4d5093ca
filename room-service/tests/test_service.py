"""What every process serves: health, readiness, metrics and a complete OpenAPI document."""

from __future__ import annotations

import httpx

from chat_testkit.processes import ServiceProcess

CALLS = {
    ("post", "/rooms"),
    ("get", "/rooms"),
    ("post", "/rooms/direct"),
    ("get", "/rooms/joined"),
    ("post", "/rooms/joined/batch"),
    ("get", "/rooms/{room_id}"),
    ("patch", "/rooms/{room_id}"),
    ("get", "/rooms/{room_id}/members"),
    ("post", "/rooms/{room_id}/members"),
    ("get", "/rooms/{room_id}/members/{user_id}"),
    ("patch", "/rooms/{room_id}/members/{user_id}"),
    ("delete", "/rooms/{room_id}/members/{user_id}"),
    ("get", "/rooms/public"),
    ("post", "/rooms/{room_id}/join"),
    ("post", "/rooms/join"),
    ("post", "/rooms/{room_id}/invites"),
    ("delete", "/rooms/{room_id}/invites/{code}"),
    ("post", "/rooms/{room_id}/bans"),
    ("get", "/rooms/{room_id}/bans"),
    ("delete", "/rooms/{room_id}/bans/{user_id}"),
    ("post", "/rooms/{room_id}/mutes"),
    ("delete", "/rooms/{room_id}/mutes/{user_id}"),
    ("put", "/rooms/blocks/{user_id}"),
    ("delete", "/rooms/blocks/{user_id}"),
    ("get", "/rooms/blocks"),
    ("get", "/rooms/admin/audit"),
}


async def test_health_ready_metrics(http: httpx.AsyncClient, room_service: ServiceProcess) -> None:
    """/healthz and /readyz answer 200; /metrics is Prometheus text with the HTTP counters."""
    assert (await http.get(f"{room_service.url}/healthz")).json() == {"status": "ok"}
    assert (await http.get(f"{room_service.url}/readyz")).json() == {"status": "ok"}
    await http.get(f"{room_service.url}/rooms/joined")
    metrics = await http.get(f"{room_service.url}/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'route="/rooms/joined"' in metrics.text
    assert "rooms_membership_publish_failures_total" in metrics.text


async def test_openapi_document_is_complete(
    http: httpx.AsyncClient, room_service: ServiceProcess
) -> None:
    """Every call is in the OpenAPI document with its body, query parameters and answers."""
    doc = (await http.get(f"{room_service.url}/rooms/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    assert {(m, p) for p, ops in paths.items() for m in ops} == CALLS
    for path, method in [
        ("/rooms", "post"),
        ("/rooms/direct", "post"),
        ("/rooms/{room_id}", "patch"),
        ("/rooms/{room_id}/members", "post"),
        ("/rooms/{room_id}/members/{user_id}", "patch"),
    ]:
        assert "application/json" in paths[path][method]["requestBody"]["content"], path
        assert "security" in paths[path][method]
    for path in ["/rooms", "/rooms/{room_id}/members"]:
        assert {p["name"] for p in paths[path]["get"]["parameters"] if p["in"] == "query"} == {
            "limit",
            "cursor",
        }
    assert set(paths["/rooms/direct"]["post"]["responses"]) >= {"200", "201", "404", "422"}
    assert "204" in paths["/rooms/{room_id}/members/{user_id}"]["delete"]["responses"]
    schemas = doc["components"]["schemas"]
    assert {"Room", "RoomPage", "Member", "MemberPage", "Membership", "JoinedRooms"} <= set(schemas)
