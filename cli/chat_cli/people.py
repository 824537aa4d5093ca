"""Display names for user ids, asked of auth-service once each."""

from __future__ import annotations

from chat_cli.client import Api, ApiError


class Names:
    """A cache of user id -> display name."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.cache: dict[str, str] = {}

    async def name(self, user_id: str) -> str:
        """The user's display name, or a short id when the profile cannot be read."""
        if user_id not in self.cache:
            try:
                user = await self.api.call("GET", "auth", f"/auth/users/{user_id}")
                self.cache[user_id] = str(user.get("display_name") or user_id[:8])
            except ApiError:
                self.cache[user_id] = user_id[:8]
        return self.cache[user_id]
