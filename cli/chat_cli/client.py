"""HTTP calls to the services with the stored session: refreshes the access token before it
expires and once more on a 401, and saves every new token pair."""

from __future__ import annotations

import time
from typing import Any

import httpx

from chat_cli.endpoints import Endpoints
from chat_cli.errors import CliError, UsageError
from chat_cli.i18n import error_text, t
from chat_cli.session import Session, SessionStore

# Refresh this many seconds before the access token's expiry.
REFRESH_MARGIN = 60.0


class ApiError(CliError):
    """A service answered with an error body; the message is the service's own."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        super().__init__(f"{error_text(code, message)} ({status} {code})")


def _error_from(response: httpx.Response) -> ApiError:
    code, message = f"http_{response.status_code}", response.reason_phrase or "error"
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            code = str(body["error"].get("code") or code)
            message = str(body["error"].get("message") or message)
    except ValueError:
        pass
    return ApiError(response.status_code, code, message)


class Api:
    """One client for the three HTTP services, acting as the stored session's user."""

    def __init__(self, endpoints: Endpoints, store: SessionStore, http: httpx.AsyncClient) -> None:
        self.endpoints = endpoints
        self.store = store
        self.http = http
        self.session: Session | None = store.load()

    def _base(self, service: str) -> str:
        return {
            "auth": self.endpoints.auth_url,
            "rooms": self.endpoints.rooms_url,
            "messages": self.endpoints.messages_url,
        }[service]

    async def _send(
        self, method: str, url: str, token: str | None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            return await self.http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(t("cli.unreachable", url=url, reason=exc)) from exc

    async def call(
        self, method: str, service: str, path: str, *, auth: bool = True, **kwargs: Any
    ) -> Any:
        """Make one call; returns the JSON body (None for 204) or raises :class:`ApiError`."""
        url = self._base(service) + path
        token = await self.access_token() if auth else None
        response = await self._send(method, url, token, **kwargs)
        if response.status_code == 401 and auth:
            await self.refresh()
            response = await self._send(method, url, await self.access_token(), **kwargs)
        if response.is_error:
            raise _error_from(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise CliError(t("cli.not_json", url=url)) from exc

    def _need_session(self) -> Session:
        if self.session is None or not self.session.refresh_token:
            raise UsageError(t("cli.not_logged_in"))
        return self.session

    async def access_token(self) -> str:
        """A valid access token, refreshed first when it is about to expire."""
        session = self._need_session()
        if not session.access_token or time.time() > session.expires_at - REFRESH_MARGIN:
            await self.refresh()
        return self._need_session().access_token

    async def refresh(self) -> None:
        """Trade the refresh token for a new pair and save it (the old one stops working)."""
        session = self._need_session()
        url = self.endpoints.auth_url + "/auth/refresh"
        response = await self._send(
            "POST", url, None, json={"refresh_token": session.refresh_token}
        )
        if response.status_code == 401:
            self.store.clear()
            self.session = None
            raise UsageError(t("cli.session_ended"))
        if response.is_error:
            raise _error_from(response)
        self._adopt(response.json(), session.user)

    def _adopt(self, pair: dict[str, Any], user: dict[str, Any]) -> Session:
        session = Session(
            access_token=str(pair["access_token"]),
            refresh_token=str(pair.get("refresh_token") or ""),
            expires_at=time.time() + float(pair.get("expires_in", 900)),
            user=pair.get("user") or user,
            urls=self.endpoints.as_dict(),
        )
        self.store.save(session)
        self.session = session
        return session

    async def login(self, email: str, password: str) -> Session:
        pair = await self.call(
            "POST", "auth", "/auth/login", auth=False, json={"email": email, "password": password}
        )
        return self._adopt(pair, {})

    async def logout(self) -> None:
        """Revoke the refresh token on the server and forget the session here."""
        session = self._need_session()
        try:
            await self.call(
                "POST",
                "auth",
                "/auth/logout",
                auth=False,
                json={"refresh_token": session.refresh_token},
            )
        finally:
            self.store.clear()
            self.session = None
