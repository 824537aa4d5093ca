"""What every process serves: health, readiness, metrics and a complete OpenAPI document."""

from __future__ import annotations

import httpx

from chat_testkit.processes import ServiceProcess

CALLS = {
    ("post", "/auth/register"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("post", "/auth/logout"),
    ("get", "/auth/me"),
    ("patch", "/auth/me"),
    ("put", "/auth/me/avatar"),
    ("get", "/auth/users/{user_id}"),
    ("get", "/auth/users/{user_id}/avatar"),
    ("get", "/auth/users"),
    ("get", "/auth/.well-known/jwks.json"),
    ("get", "/auth/admin/users/{user_id}"),
    ("post", "/auth/admin/users/{user_id}/deactivate"),
    ("post", "/auth/admin/users/{user_id}/reactivate"),
    ("get", "/auth/admin/audit"),
}


async def test_health_ready_metrics(http: httpx.AsyncClient, auth_service: ServiceProcess) -> None:
    """/healthz and /readyz answer 200; /metrics is Prometheus text with the HTTP counters."""
    assert (await http.get(f"{auth_service.url}/healthz")).json() == {"status": "ok"}
    assert (await http.get(f"{auth_service.url}/readyz")).json() == {"status": "ok"}
    await http.post(f"{auth_service.url}/auth/refresh", json={"refresh_token": "x"})
    metrics = await http.get(f"{auth_service.url}/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'route="/auth/refresh"' in metrics.text
    assert 'auth_refreshes_total{outcome="unknown"}' in metrics.text


async def test_openapi_document_is_complete(
    http: httpx.AsyncClient, auth_service: ServiceProcess
) -> None:
    """Every call is in the OpenAPI document with its body, query parameters and answers."""
    doc = (await http.get(f"{auth_service.url}/auth/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    found = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert found == CALLS
    paths = doc["paths"]
    for path, method in [
        ("/auth/register", "post"),
        ("/auth/login", "post"),
        ("/auth/refresh", "post"),
        ("/auth/logout", "post"),
        ("/auth/me", "patch"),
    ]:
        assert "application/json" in paths[path][method]["requestBody"]["content"], path
    avatar_media = set(paths["/auth/me/avatar"]["put"]["requestBody"]["content"])
    assert avatar_media == {"image/png", "image/jpeg", "image/webp"}
    query = {p["name"] for p in paths["/auth/users"]["get"]["parameters"]}
    assert query == {"q", "limit", "cursor"}
    assert "429" in paths["/auth/login"]["post"]["responses"]
    assert "204" in paths["/auth/logout"]["post"]["responses"]
    assert "security" not in paths["/auth/login"]["post"]
    assert "security" in paths["/auth/users"]["get"]
    schemas = doc["components"]["schemas"]
    assert {"User", "PublicUser", "UserPage", "TokenPair", "ProfileUpdate"} <= set(schemas)
