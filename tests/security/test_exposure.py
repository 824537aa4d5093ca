"""What a signed-in stranger can harvest: emails from the directory, and a bulk token check
through the gateway's own call (docs/api/auth.md, docs/operations.md)."""

from __future__ import annotations

import secrets
import uuid

import httpx

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from chatcore.internal_secret import HEADER
from tests.chaos import report


async def test_the_directory_hands_out_no_one_elses_email(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A scraper's queries (empty, one letter, name parts, email parts) get no one else's
    email; only the exact address confirms its owner."""
    tag = secrets.token_hex(3)
    victims = [await make_user(display_name=f"Victim {tag} {i}") for i in range(5)]
    scraper = await make_user()
    queries = ["", "a", "e", "@", "V", f"{tag}", f"victim {tag}", "example.test", "user-"]
    queries += [v.email.split("@")[0] for v in victims] + [v.email[:-1] for v in victims]
    leaked: set[str] = set()
    listed = 0
    for q in queries:
        r = await http.get(
            f"{auth_service.url}/auth/users",
            params={"q": q, "limit": "200"},
            headers=scraper.headers,
        )
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        listed += len(items)
        leaked |= {i["email"] for i in items if i.get("email") and i["id"] != str(scraper.id)}
    exact = await http.get(
        f"{auth_service.url}/auth/users", params={"q": victims[0].email}, headers=scraper.headers
    )
    report.MEASURES.append(
        report.Measure(
            f"directory scraping: {len(queries)} queries by a stranger",
            f"{listed} profiles listed, {len(leaked)} emails shown",
            "0 emails (only an exact address confirms its owner)",
        )
    )
    assert leaked == set()
    assert [i["email"] for i in exact.json()["items"]] == [victims[0].email]


async def test_only_the_gateway_may_check_tokens_in_bulk(
    http: httpx.AsyncClient, message_service: ServiceProcess, make_user: MakeUser
) -> None:
    """POST /messages/batch without the gateway's secret, or with a wrong one, is 403 before
    any of its 256 tokens is looked at."""
    user = await make_user()
    items = [
        {
            "token": user.access_token,
            "room_id": str(uuid.uuid4()),
            "body": "x",
            "client_msg_id": str(i),
        }
        for i in range(256)
    ]
    tries = [{}, {HEADER: ""}, {HEADER: "guess"}, {HEADER: "x" * 4096}]
    statuses = [
        (
            await http.post(
                f"{message_service.url}/messages/batch", json={"items": items}, headers=headers
            )
        ).status_code
        for headers in tries
    ]
    report.MEASURES.append(
        report.Measure(
            "bulk token check: POST /messages/batch (256 tokens) without the gateway's secret",
            f"{statuses.count(403)} of {len(tries)} refused 403",
            "every one refused",
        )
    )
    assert statuses == [403] * len(tries)
