"""Steps shared by the web client's edge tests: two people in a room, and a token for the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from playwright.async_api import Page

from chat_testkit.processes import ServiceProcess
from tests.browser.ui import Person, create_room, invite, open_room, register

NewPage = Callable[..., Awaitable[Page]]


async def pair_in_room(new_page: NewPage, web_url: str, title: str) -> tuple[Person, Person]:
    """Ana creates `title`, adds Bo, and both have it open."""
    ana = await register(await new_page(), web_url, "Ana")
    bo = await register(await new_page(), web_url, "Bo")
    await create_room(ana, title)
    await invite(ana, bo)
    await open_room(bo, title)
    return ana, bo


async def token_of(auth: ServiceProcess, person: Person) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        login = await http.post(
            f"{auth.url}/auth/login", json={"email": person.email, "password": person.password}
        )
        assert login.status_code == 200, login.text
        return str(login.json()["access_token"])


async def leave_by_api(
    auth: ServiceProcess, rooms: ServiceProcess, person: Person, room_id: str
) -> None:
    """`person` leaves the room through room-service (as another client would)."""
    headers = {"Authorization": f"Bearer {await token_of(auth, person)}"}
    async with httpx.AsyncClient(timeout=10) as http:
        me = (await http.get(f"{auth.url}/auth/me", headers=headers)).json()
        gone = await http.delete(f"{rooms.url}/rooms/{room_id}/members/{me['id']}", headers=headers)
        assert gone.status_code == 204, gone.text
