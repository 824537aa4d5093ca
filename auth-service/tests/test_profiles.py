"""The caller's profile, avatars, public profiles and the user directory."""

from __future__ import annotations

import base64
import json
import secrets
import uuid

import httpx

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 40


async def test_me_requires_token(http: httpx.AsyncClient, auth_service: ServiceProcess) -> None:
    """/auth/me without a token is 401 for GET and PATCH."""
    assert (await http.get(f"{auth_service.url}/auth/me")).status_code == 401
    r = await http.patch(f"{auth_service.url}/auth/me", json={"status_text": "x"})
    assert r.status_code == 401


async def test_patch_me(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """PATCH changes the given fields only and answers the whole profile."""
    user = await make_user()
    url = f"{auth_service.url}/auth/me"
    r = await http.patch(url, json={"status_text": "  at lunch  "}, headers=user.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["status_text"], r.json()["display_name"]) == ("at lunch", user.display_name)
    assert r.json()["email"] == user.email
    r = await http.patch(
        url, json={"display_name": "Nuevo 👩‍💻", "unknown": 1}, headers=user.headers
    )
    assert (r.json()["display_name"], r.json()["status_text"]) == ("Nuevo 👩‍💻", "at lunch")
    r = await http.patch(url, json={"status_text": ""}, headers=user.headers)
    assert r.json()["status_text"] == ""
    assert (await http.get(url, headers=user.headers)).json()["display_name"] == "Nuevo 👩‍💻"
    login = await http.post(
        f"{auth_service.url}/auth/login", json={"email": user.email, "password": user.password}
    )
    assert login.json()["user"]["display_name"] == "Nuevo 👩‍💻"


async def test_patch_me_bad_input(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Empty or unknown-only bodies, nulls, wrong types and bad lengths get 422."""
    user = await make_user()
    url = f"{auth_service.url}/auth/me"
    cases = [
        ({}, "body"),
        ({"nickname": "x"}, "body"),
        ({"display_name": None}, "display_name"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": " \t "}, "display_name"),
        ({"display_name": "n" * 101}, "display_name"),
        ({"display_name": 5}, "display_name"),
        ({"status_text": None}, "status_text"),
        ({"status_text": "s" * 201}, "status_text"),
        ({"status_text": "line\nbreak"}, "status_text"),
        ({"status_text": ["x"]}, "status_text"),
    ]
    for body, field in cases:
        r = await http.patch(url, json=body, headers=user.headers)
        assert r.status_code == 422, body
        assert r.json()["error"]["field"] == field, body
    ok = await http.patch(
        url, json={"display_name": "n" * 100, "status_text": "s" * 200}, headers=user.headers
    )
    assert ok.status_code == 200
    r = await http.patch(url, content=b"{oops", headers=user.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "malformed_json")
    r = await http.patch(url, json=[1], headers=user.headers)
    assert r.status_code == 400


async def test_sql_injection_display_name_stored_literally(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A display name full of SQL is stored and returned exactly as sent."""
    user = await make_user()
    name = "'; UPDATE auth.users SET display_name = 'pwned'; --"
    r = await http.patch(
        f"{auth_service.url}/auth/me", json={"display_name": name}, headers=user.headers
    )
    assert r.json()["display_name"] == name
    other = await make_user()
    r = await http.get(f"{auth_service.url}/auth/users/{other.id}", headers=user.headers)
    assert r.json()["display_name"] == other.display_name


async def test_avatar_roundtrip(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """PNG, JPEG and WebP avatars are stored and served with type, ETag, caching and nosniff."""
    user = await make_user()
    for data, media in [(PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp")]:
        r = await http.put(
            f"{auth_service.url}/auth/me/avatar",
            content=data,
            headers={**user.headers, "Content-Type": media},
        )
        assert r.status_code == 200, r.text
        avatar_url = r.json()["avatar_url"]
        assert avatar_url.startswith(f"/auth/users/{user.id}/avatar?v=")
        got = await http.get(f"{auth_service.url}{avatar_url}")
        assert got.status_code == 200
        assert got.content == data
        assert got.headers["content-type"] == media
        assert got.headers["x-content-type-options"] == "nosniff"
        assert "immutable" in got.headers["cache-control"]
        etag = got.headers["etag"]
        plain = await http.get(f"{auth_service.url}/auth/users/{user.id}/avatar")
        assert plain.headers["cache-control"] == "no-cache"
        assert plain.headers["etag"] == etag
        cached = await http.get(
            f"{auth_service.url}/auth/users/{user.id}/avatar", headers={"If-None-Match": etag}
        )
        assert cached.status_code == 304
        assert cached.content == b""
    me = await http.get(f"{auth_service.url}/auth/me", headers=user.headers)
    assert me.json()["avatar_url"] == avatar_url


async def test_avatar_refusals(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Wrong types and mislabelled bytes get 415, over 1 MiB 413, no token 401."""
    user = await make_user()
    url = f"{auth_service.url}/auth/me/avatar"

    async def put(data: bytes, media: str | None) -> httpx.Response:
        headers = dict(user.headers)
        if media is not None:
            headers["Content-Type"] = media
        return await http.put(url, content=data, headers=headers)

    for data, media in [
        (b"just some text, honestly", "image/png"),
        (PNG, "image/jpeg"),
        (JPEG, "image/webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "image/webp"),
        (b"", "image/png"),
        (b"GIF89a" + b"\x00" * 20, "image/gif"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        (PNG, "text/html"),
        (PNG, None),
    ]:
        r = await put(data, media)
        assert r.status_code == 415, (data[:8], media)
        assert r.json()["error"]["code"] == "unsupported_media_type"
    r = await put(PNG + b"\x00" * (1024 * 1024), "image/png")
    assert (r.status_code, r.json()["error"]["code"]) == (413, "too_large")
    exactly = PNG + b"\x00" * (1024 * 1024 - len(PNG))
    assert (await put(exactly, "image/png; charset=binary")).status_code == 200
    r = await http.put(url, content=PNG, headers={"Content-Type": "image/png"})
    assert r.status_code == 401


async def test_avatar_missing(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A user without an avatar, an unknown user and a non-UUID id all get 404."""
    user = await make_user()
    for ident in [str(user.id), str(uuid.uuid4()), "not-a-uuid", "1' OR '1'='1"]:
        r = await http.get(f"{auth_service.url}/auth/users/{ident}/avatar")
        assert r.status_code == 404, ident


async def test_public_profile(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Another user's profile has no email; unknown or non-UUID ids 404; no token 401."""
    me, other = await make_user(), await make_user()
    r = await http.get(f"{auth_service.url}/auth/users/{other.id}", headers=me.headers)
    assert r.status_code == 200
    assert set(r.json()) == {"id", "display_name", "avatar_url", "status_text", "created_at"}
    assert r.json()["display_name"] == other.display_name
    for ident in [str(uuid.uuid4()), "nope", "x" * 100, "00000000-0000-0000-0000-00000000000g"]:
        r = await http.get(f"{auth_service.url}/auth/users/{ident}", headers=me.headers)
        assert r.status_code == 404, ident
    assert (await http.get(f"{auth_service.url}/auth/users/{other.id}")).status_code == 401


async def _directory(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], **params: str
) -> httpx.Response:
    return await http.get(f"{url}/auth/users", params=params, headers=headers)


async def test_directory_search_and_pages(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Any part of a display name (any case) matches; cursor pages; no one else's email."""
    tag = secrets.token_hex(3)
    names = [f"Dir{tag} {n}" for n in ["Ana", "bea", "Cid", "dan", "Eve"]]
    users = [await make_user(display_name=n) for n in names]
    me = users[0]
    url = auth_service.url
    r = await _directory(http, url, me.headers, q=f"iR{tag}", limit="2")
    assert r.status_code == 200
    seen, pages = [], 0
    while True:
        body = r.json()
        assert len(body["items"]) <= 2
        seen += [item["display_name"] for item in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        r = await _directory(
            http, url, me.headers, q=f"ir{tag}", limit="2", cursor=body["next_cursor"]
        )
    assert (seen, pages) == (names, 3)
    full = (await _directory(http, url, me.headers, q=f"{tag} B")).json()["items"]
    assert [(i["display_name"], i.get("email")) for i in full] == [(names[1], None)]
    mine = (await _directory(http, url, me.headers, q=f"{tag} ana")).json()["items"]
    assert [i["email"] for i in mine] == [me.email], "the caller sees their own email"
    assert (await _directory(http, url, {}, q="dir")).status_code == 401


async def test_directory_shows_an_email_only_to_who_typed_it(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """An exact email finds its user with the email; a prefix reaching the "@" finds the user
    without it; a part of the name before the "@" finds nobody."""
    me, other = await make_user(), await make_user()
    url = auth_service.url
    exact = (await _directory(http, url, me.headers, q=other.email.upper())).json()["items"]
    assert [(i["id"], i["email"]) for i in exact] == [(str(other.id), other.email)]
    for prefix in (other.email[:-3], other.email.split("@")[0] + "@"):
        found = (await _directory(http, url, me.headers, q=prefix)).json()["items"]
        assert [(i["id"], i.get("email")) for i in found] == [(str(other.id), None)], prefix
    user_part = other.email.split("@")[0]
    assert (await _directory(http, url, me.headers, q=user_part)).json()["items"] == []
    assert (await _directory(http, url, me.headers, q=user_part[:-1])).json()["items"] == []


async def test_directory_short_queries_find_nobody(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """An empty or one-character query lists nobody (200, empty page), not the directory."""
    me = await make_user(display_name="x" + secrets.token_hex(3))
    for params in [{}, {"q": ""}, {"q": "   "}, {"q": "x"}, {"q": "김"}]:
        r = await _directory(http, auth_service.url, me.headers, **params)
        assert r.status_code == 200, params
        assert r.json() == {"items": [], "next_cursor": None}, params


async def test_directory_korean_names_by_any_part(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """김민수 is found by 민수, by 김민 and by the whole name; 이민수 by 민수 too."""
    tag = secrets.token_hex(3)
    kim = await make_user(display_name=f"김민수 {tag}")
    lee = await make_user(display_name=f"이민수 {tag}")
    park = await make_user(display_name=f"박지성 {tag}")
    url = auth_service.url

    async def ids(q: str) -> set[str]:
        r = await _directory(http, url, park.headers, q=q, limit="200")
        assert r.status_code == 200, r.text
        return {i["id"] for i in r.json()["items"] if i["display_name"].endswith(tag)}

    assert await ids("민수") == {str(kim.id), str(lee.id)}
    assert await ids("김민") == {str(kim.id)}
    assert await ids(f"민수 {tag}") == {str(kim.id), str(lee.id)}
    assert await ids(f"김민수 {tag}") == {str(kim.id)}
    assert await ids("지성") == {str(park.id)}


async def test_directory_wildcards_and_sql_literal(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """%, _ and \\ in q match themselves; SQL in q is searched as text."""
    tag = secrets.token_hex(3)
    percent = await make_user(display_name=f"W{tag}%x")
    under = await make_user(display_name=f"W{tag}_y")
    slash = await make_user(display_name=f"W{tag}\\z")
    await make_user(display_name=f"W{tag}abc")
    url, headers = auth_service.url, percent.headers

    async def names(q: str) -> list[str]:
        r = await _directory(http, url, headers, q=q)
        assert r.status_code == 200, r.text
        return [i["display_name"] for i in r.json()["items"]]

    assert await names(f"w{tag}%") == [percent.display_name]
    assert await names(f"w{tag}_") == [under.display_name]
    assert await names(f"w{tag}\\") == [slash.display_name]
    assert len(await names(f"w{tag}")) == 4
    assert await names("' OR '1'='1") == []
    assert await names("%") == []


async def test_directory_bad_parameters(
    http: httpx.AsyncClient, auth_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Bad limits and cursors outside the cursor syntax get 422 naming the parameter, never a
    500."""
    user = await make_user()

    def forged(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    cases = [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "9" * 40}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": "a"}, "cursor"),
        ({"cursor": "x" * 5000}, "cursor"),
        ({"cursor": forged({"a": 1})}, "cursor"),
        ({"cursor": forged(["name", "not-a-uuid"])}, "cursor"),
        ({"cursor": forged(["a\u0000b", str(uuid.uuid4())])}, "cursor"),
        ({"cursor": forged([1, 2, 3])}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b"\xff\xfe").decode()}, "cursor"),
        ({"q": "x" * 300}, "q"),
        ({"q": "nul\x00"}, "q"),
    ]
    for params, field in cases:
        r = await _directory(http, auth_service.url, user.headers, **params)
        assert r.status_code == 422, params
        assert r.json()["error"]["field"] == field, params
    # Any cursor in the documented syntax is a position to page from, odd bytes included.
    for name in (b"zzzz", "이름".encode(), b"\xff\x00"):
        position = base64.urlsafe_b64encode(name).decode().rstrip("=")
        ok = await _directory(
            http, auth_service.url, user.headers, cursor=f"{position}.{uuid.uuid4().hex}"
        )
        assert ok.status_code == 200, name
    assert (await _directory(http, auth_service.url, user.headers, limit="200")).status_code == 200
