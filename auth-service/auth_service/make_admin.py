"""``python -m auth_service make-admin <email>``: make an account a site administrator. Its
next access token (at the next login or refresh) carries ``roles: ["admin"]``."""

from __future__ import annotations

import asyncio
import sys

from auth_service import store_admin
from auth_service.models import email_key
from auth_service.settings import AuthSettings
from chatcore.db import create_pool


async def _make_admin(email: str) -> int:
    settings = AuthSettings.from_env()
    pool = await create_pool(
        settings.database_url, application_name="auth-make-admin", min_size=1, max_size=1
    )
    try:
        row = await store_admin.make_admin(pool, email_key(email))
    finally:
        await pool.close()
    if row is None:
        print(f"auth-service: no account with the email {email!r}", file=sys.stderr)
        return 1
    print(f"auth-service: {row['email']} ({row['id']}) is a site administrator")
    return 0


def make_admin(email: str) -> int:
    return asyncio.run(_make_admin(email))
