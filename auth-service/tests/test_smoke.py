"""The auth-service core path over real HTTP: register, log in, read the profile, JWKS."""

import httpx

from chat_testkit.processes import ServiceProcess


async def test_register_login_me(http: httpx.AsyncClient, auth_service: ServiceProcess) -> None:
    """A registered user logs in and reads their own profile with the access token."""
    url = auth_service.url
    r = await http.post(
        f"{url}/auth/register",
        json={"email": "Smoke@Example.test", "password": "secret-pass", "display_name": "Smoke"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["email"] == "Smoke@Example.test"
    r = await http.post(
        f"{url}/auth/login", json={"email": "smoke@example.TEST", "password": "secret-pass"}
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    r = await http.get(f"{url}/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json()["display_name"] == "Smoke"
    jwks = (await http.get(f"{url}/auth/.well-known/jwks.json")).json()
    assert jwks["keys"][0]["kty"] == "OKP"
