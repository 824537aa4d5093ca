"""Who can fetch an attachment and how it is served: signed URLs, bearer fetches, removed
members, inline versus download, byte ranges."""

from __future__ import annotations

import os
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx

from chat_testkit.attachments import PDF, absolute, png, upload
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.users import TestUser
from message_service.signing import UrlSigner

if TYPE_CHECKING:
    from conftest import Chat, Eventually

URL_KEY = "test-attachment-url-key"


async def uploaded(
    http: httpx.AsyncClient,
    url: str,
    user: TestUser,
    room: str,
    data: bytes,
    filename: str = "f",
    content_type: str = "application/octet-stream",
) -> dict[str, Any]:
    r = await upload(http, url, user, room, data, filename=filename, content_type=content_type)
    assert r.status_code == 201, r.text
    attachment: dict[str, Any] = r.json()
    return attachment


def content_path(attachment: dict[str, Any]) -> str:
    return f"/messages/attachments/{attachment['id']}/content"


async def test_signed_url_works_and_a_forged_or_expired_one_is_404(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """The signed URL fetches the file with no token; a changed signature, another
    attachment's signature, an expired URL and a missing file all get the same 404."""
    alice = await make_user()
    room = await chat.room(alice)
    one = await uploaded(http, files_service.url, alice, room, PDF)
    two = await uploaded(http, files_service.url, alice, room, b"other")
    good = absolute(files_service.url, one["url"])
    assert (await http.get(good)).status_code == 200
    query = parse_qs(urlsplit(good).query)
    exp, sig = query["exp"][0], query["sig"][0]
    base = f"{files_service.url}{content_path(one)}"
    refusals = [
        await http.get(base, params={"exp": exp, "sig": sig[:-2] + "AA"}),
        await http.get(f"{files_service.url}{content_path(two)}", params={"exp": exp, "sig": sig}),
        await http.get(base, params={"exp": str(int(exp) + 60), "sig": sig}),
        await http.get(base),
        await http.get(
            f"{files_service.url}/messages/attachments/{uuid.uuid4()}/content",
            params={"exp": exp, "sig": sig},
        ),
    ]
    # An expired URL, correctly signed by the service's key.
    signer = UrlSigner(URL_KEY.encode(), ttl=10, base="")
    old = signer.url(uuid.UUID(one["id"]), "content", now=time.time() - 3600)
    refusals.append(await http.get(absolute(files_service.url, old)))
    fresh = signer.url(uuid.UUID(one["id"]), "content")
    assert (await http.get(absolute(files_service.url, fresh))).status_code == 200
    bodies = {r.text for r in refusals}
    assert [r.status_code for r in refusals] == [404] * len(refusals)
    assert len(bodies) == 1


async def test_bearer_fetch_for_members_only_and_removed_member(
    http: httpx.AsyncClient,
    chat: Chat,
    files_service: ServiceProcess,
    make_user: MakeUser,
    eventually: Eventually,
) -> None:
    """A member fetches with a bearer token; a non-member gets the 404 of a missing file,
    on the content and on GET /messages/attachments/{id}; once removed, a former member is
    refused within a second."""
    alice, bob, mallory = await make_user(), await make_user(), await make_user()
    room = await chat.room(alice, bob)
    doc = await uploaded(http, files_service.url, alice, room, PDF)
    url = f"{files_service.url}{content_path(doc)}"
    assert (await http.get(url, headers=bob.headers)).content == PDF
    missing = await http.get(
        f"{files_service.url}/messages/attachments/{uuid.uuid4()}/content", headers=bob.headers
    )
    denied = await http.get(url, headers=mallory.headers)
    assert denied.status_code == missing.status_code == 404
    assert denied.json() == missing.json()
    meta = await http.get(
        f"{files_service.url}/messages/attachments/{doc['id']}", headers=bob.headers
    )
    assert meta.status_code == 200
    assert meta.json()["id"] == doc["id"]
    assert "sig=" in meta.json()["url"]
    other = await http.get(
        f"{files_service.url}/messages/attachments/{doc['id']}", headers=mallory.headers
    )
    assert other.status_code == 404
    await chat.remove(alice, room, bob)

    async def refused() -> bool:
        r = await http.get(url, headers=bob.headers)
        return r.status_code == 404

    await eventually(refused, within=1.5)


async def test_images_inline_everything_else_a_download(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A PNG is served inline; a PDF, an SVG and an HTML file are attachments; every answer
    has nosniff and a sandboxing CSP, and HTML is never served as text/html inline."""
    alice = await make_user()
    room = await chat.room(alice)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    html = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
    cases = [
        (png(), "a.png", "image/png", "inline"),
        (PDF, "b.pdf", "application/pdf", "attachment"),
        (svg, "c.svg", "image/svg+xml", "attachment"),
        (html, "d.html", "text/html", "attachment"),
        (os.urandom(100) + b"\0", "e.bin", "application/octet-stream", "attachment"),
    ]
    for data, name, kind, disposition in cases:
        attachment = await uploaded(
            http, files_service.url, alice, room, data, filename=name, content_type="image/png"
        )
        assert attachment["content_type"] == kind
        r = await http.get(absolute(files_service.url, attachment["url"]))
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(kind)
        assert r.headers["content-disposition"].startswith(disposition + ";")
        assert name in r.headers["content-disposition"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == "default-src 'none'; sandbox"


async def test_korean_filename_in_content_disposition(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A Korean name is given to the browser as filename* (RFC 5987), UTF-8 percent-encoded."""
    alice = await make_user()
    room = await chat.room(alice)
    doc = await uploaded(
        http, files_service.url, alice, room, PDF, filename="%EA%B3%84%EC%95%BD%EC%84%9C.pdf"
    )
    r = await http.get(absolute(files_service.url, doc["url"]))
    assert "filename*=UTF-8''%EA%B3%84%EC%95%BD%EC%84%9C.pdf" in r.headers["content-disposition"]


async def test_range_requests(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Range: bytes=a-b answers 206 with Content-Range; a suffix and an open range work; a
    range past the end is 416; several ranges get the whole file."""
    alice = await make_user()
    room = await chat.room(alice)
    data = b"%PDF-" + os.urandom(10_000)
    doc = await uploaded(http, files_service.url, alice, room, data)
    url = absolute(files_service.url, doc["url"])
    r = await http.get(url, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206
    assert r.content == data[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(data)}"
    r = await http.get(url, headers={"Range": "bytes=-10"})
    assert (r.status_code, r.content) == (206, data[-10:])
    r = await http.get(url, headers={"Range": "bytes=10000-"})
    assert (r.status_code, r.content) == (206, data[10000:])
    r = await http.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(data)}"
    r = await http.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert (r.status_code, r.content) == (200, data)
    r = await http.get(url)
    assert r.headers["accept-ranges"] == "bytes"


async def test_any_replica_accepts_another_replicas_urls(
    http: httpx.AsyncClient,
    chat: Chat,
    message_service: ServiceProcess,
    second_replica: ServiceProcess,
    make_user: MakeUser,
) -> None:
    """Without MESSAGES_ATTACHMENT_URL_KEY the replicas share the key kept in Postgres: a URL
    one signed works on the other, and a forged one on neither."""
    alice = await make_user()
    room = await chat.room(alice)
    doc = await uploaded(http, message_service.url, alice, room, PDF)
    for replica in (message_service, second_replica):
        assert (await http.get(absolute(replica.url, doc["url"]))).content == PDF
        forged = doc["url"].replace("sig=", "sig=x")
        assert (await http.get(absolute(replica.url, forged))).status_code == 404
