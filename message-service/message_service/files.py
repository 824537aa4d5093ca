"""Attachments as the rest of message-service sees them: the storage, the URL signer, the
image workers, and the few operations that tie them to the database.

Built once by the lifespan (:func:`open_files`) and kept at ``app.state.files``.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from chatcore.errors import InvalidInput, NotFound
from chatcore.logs import get_logger
from message_service import store_attachments
from message_service.images import ImageWork
from message_service.settings import MessagesSettings
from message_service.signing import CONTENT, THUMBNAIL, UrlSigner
from message_service.storage import Storage, StorageError
from message_service.storage_local import LocalStorage
from message_service.storage_s3 import S3Storage

log = get_logger(__name__)


@dataclass
class Files:
    pool: asyncpg.Pool
    storage: Storage
    signer: UrlSigner
    images: ImageWork
    settings: MessagesSettings

    def json(self, row: Any) -> dict[str, Any]:
        """The contract's ``attachment`` object, with fresh signed URLs."""
        data: dict[str, Any] = {
            "id": row["id"],
            "room_id": row["room_id"],
            "filename": row["filename"],
            "content_type": row["content_type"],
            "size": row["size"],
        }
        if row["width"] is not None:
            data["width"] = row["width"]
            data["height"] = row["height"]
        data["url"] = self.signer.url(row["id"], CONTENT)
        if row["thumbnail_key"] is not None:
            data["thumbnail_url"] = self.signer.url(row["id"], THUMBNAIL)
        return data

    async def claimable(
        self, sender_id: uuid.UUID, room_id: uuid.UUID, ids: Sequence[uuid.UUID]
    ) -> tuple[dict[str, Any], ...]:
        """The attachments a new message of ``sender_id`` in ``room_id`` may carry, in the
        order named; else the error saying which one cannot and why."""
        if not ids:
            return ()
        if len(set(ids)) != len(ids):
            raise InvalidInput(
                "attachment_ids",
                "attachment_ids: an attachment is named twice.",
                code="duplicate_attachment",
            )
        rows = await store_attachments.by_ids(self.pool, ids)
        found = []
        for attachment_id in ids:
            row = rows.get(attachment_id)
            # Someone else's upload gets the same answer as one that does not exist.
            if row is None or row["uploader_id"] != sender_id:
                raise NotFound(f"No such attachment: {attachment_id}.", code="attachment_not_found")
            if row["room_id"] != room_id:
                raise InvalidInput(
                    "attachment_ids",
                    f"attachment_ids: {attachment_id} was uploaded to another room.",
                    code="attachment_wrong_room",
                )
            if row["message_id"] is not None:
                raise InvalidInput(
                    "attachment_ids",
                    f"attachment_ids: {attachment_id} is already part of a message.",
                    code="attachment_in_use",
                )
            found.append(self.json(row))
        return tuple(found)

    async def fill(self, messages: Sequence[dict[str, Any]]) -> None:
        """Set each message's ``attachments`` from the database (one query for all)."""
        live = [m["id"] for m in messages if not m["deleted"]]
        rows = await store_attachments.of_messages(self.pool, live) if live else {}
        for message in messages:
            message["attachments"] = [self.json(r) for r in rows.get(message["id"], [])]

    async def remove_of_message(self, message_id: uuid.UUID) -> None:
        """Stop serving the message's files and delete them (the sweep retries a failure)."""
        rows = await store_attachments.mark_deleted_of_message(self.pool, message_id)
        removed = [row["id"] for row in rows if await self.remove_objects(row)]
        if removed:
            await store_attachments.forget(self.pool, removed)

    async def remove_objects(self, row: Any) -> bool:
        """Delete a row's stored objects; whether they are gone."""
        try:
            await self.storage.delete(row["storage_key"])
            if row["thumbnail_key"] is not None:
                await self.storage.delete(row["thumbnail_key"])
        except (StorageError, OSError) as exc:
            log.warning("attachment_not_removed", id=str(row["id"]), error=type(exc).__name__)
            return False
        return True


async def open_storage(settings: MessagesSettings) -> Storage:
    """The storage backend the settings choose."""
    if settings.attachment_storage == "s3":
        s3 = S3Storage(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url or None,
            region=settings.s3_region,
            access_key=settings.s3_access_key_id or None,
            secret_key=settings.s3_secret_access_key or None,
            prefix=settings.s3_prefix,
        )
        return await s3.open(create_bucket=settings.s3_create_bucket)
    return LocalStorage(settings.attachment_dir)


def url_base(settings: MessagesSettings) -> str:
    """What attachment URLs start with: MESSAGES_PUBLIC_URL, else MESSAGES_URL (absolute, so
    a client can use a URL as it is); "/" makes them paths, for clients behind one ingress."""
    base = settings.public_url or settings.messages_url
    return "" if base == "/" else base.rstrip("/")


async def open_files(pool: asyncpg.Pool, settings: MessagesSettings) -> Files:
    # The configured key, else the one kept in Postgres (made by the first replica to start).
    key = settings.attachment_url_key.encode() or await store_attachments.url_signing_key(
        pool, secrets.token_bytes(32)
    )
    return Files(
        pool=pool,
        storage=await open_storage(settings),
        signer=UrlSigner(key, ttl=settings.attachment_url_ttl, base=url_base(settings)),
        images=ImageWork(workers=settings.image_workers, max_pixels=settings.image_max_pixels),
        settings=settings,
    )
