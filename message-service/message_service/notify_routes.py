"""The caller's notification preferences, Web Push subscriptions and webhooks
(docs/api/messages.md, "Notifications")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import Conflict, InvalidInput, NotFound
from chatcore.web import authenticate, json_response, path_uuid, read_json
from message_service import store_notify, webhooks
from message_service.api import api
from message_service.notify_models import (
    NewWebhook,
    NotifySettings,
    NotifySettingsOut,
    PushEndpoint,
    PushSubscribed,
    PushSubscription,
    VapidPublicKey,
    WebhookCreated,
    WebhookList,
)
from message_service.notify_rules import DEFAULT_LEVEL
from message_service.settings import MessagesSettings
from message_service.webpush import VapidKey

WEBHOOKS_MAX = 10


@api.route(
    "GET",
    "/notifications/settings",
    summary="The caller's notification preferences (default: direct messages and mentions)",
    responses={200: NotifySettingsOut},
)
async def get_settings(request: Request) -> Response:
    claims = await authenticate(request)
    row = await store_notify.settings_of(request.app.state.pool, claims.user_id)
    if row is None:
        return json_response({"level": DEFAULT_LEVEL, "rooms": {}})
    return json_response({"level": row["level"], "rooms": row["rooms"]})


@api.route(
    "PUT",
    "/notifications/settings",
    summary="Set the caller's level and per-room levels (none mutes a room)",
    body=NotifySettings,
    responses={200: NotifySettingsOut},
    errors=(400, 413),
)
async def put_settings(request: Request) -> Response:
    claims = await authenticate(request)
    body = await read_json(request, NotifySettings)
    pool = request.app.state.pool
    rooms: dict[str, str] = {}
    if body.rooms is None:
        row = await store_notify.settings_of(pool, claims.user_id)
        rooms = row["rooms"] if row is not None else {}
    else:
        rooms = {str(room): level for room, level in body.rooms.items() if level is not None}
    await store_notify.save_settings(pool, claims.user_id, body.level, rooms)
    return json_response({"level": body.level, "rooms": rooms})


@api.route(
    "GET",
    "/notifications/vapid",
    summary="The VAPID public key, for PushManager.subscribe({applicationServerKey})",
    responses={200: VapidPublicKey},
    auth=False,
)
async def vapid_key(request: Request) -> Response:
    key: VapidKey = request.app.state.vapid
    return json_response({"public_key": key.public_key})


@api.route(
    "POST",
    "/notifications/push",
    summary="Register a browser's Web Push subscription for the caller",
    body=PushSubscription,
    responses={201: PushSubscribed},
    errors=(400, 413),
)
async def subscribe(request: Request) -> Response:
    claims = await authenticate(request)
    body = await read_json(request, PushSubscription)
    await _reachable("endpoint", body.endpoint, request.app.state.settings)
    subscription_id = await store_notify.save_subscription(
        request.app.state.pool, claims.user_id, body.endpoint, body.keys.p256dh, body.keys.auth
    )
    return json_response({"id": subscription_id, "endpoint": body.endpoint}, status=201)


@api.route(
    "DELETE",
    "/notifications/push",
    summary="Remove the caller's subscription with this endpoint (204 whether or not it was there)",
    body=PushEndpoint,
    responses={204: None},
    errors=(400, 413),
)
async def unsubscribe(request: Request) -> Response:
    claims = await authenticate(request)
    body = await read_json(request, PushEndpoint)
    await store_notify.delete_subscription(request.app.state.pool, claims.user_id, body.endpoint)
    return Response(status_code=204)


@api.route(
    "POST",
    "/notifications/webhooks",
    summary=f"Add an outgoing webhook for the caller (at most {WEBHOOKS_MAX})",
    body=NewWebhook,
    responses={201: WebhookCreated},
    errors=(400, 409, 413),
)
async def add_webhook(request: Request) -> Response:
    claims = await authenticate(request)
    body = await read_json(request, NewWebhook)
    await _reachable("url", body.url, request.app.state.settings)
    pool = request.app.state.pool
    if await store_notify.count_webhooks(pool, claims.user_id) >= WEBHOOKS_MAX:
        raise Conflict(f"At most {WEBHOOKS_MAX} webhooks.", code="too_many_webhooks")
    webhook_id = await store_notify.add_webhook(pool, claims.user_id, body.url, body.secret)
    return json_response({"id": webhook_id}, status=201)


@api.route(
    "GET",
    "/notifications/webhooks",
    summary="The caller's webhooks (their secrets are never shown)",
    responses={200: WebhookList},
)
async def list_webhooks(request: Request) -> Response:
    claims = await authenticate(request)
    rows = await store_notify.webhooks_of(request.app.state.pool, claims.user_id)
    return json_response({"items": [dict(row) for row in rows], "next_cursor": None})


@api.route(
    "DELETE",
    "/notifications/webhooks/{webhook_id}",
    summary="Remove one of the caller's webhooks",
    responses={204: None},
    errors=(404,),
)
async def delete_webhook(request: Request) -> Response:
    claims = await authenticate(request)
    webhook_id = path_uuid(request, "webhook_id")
    if not await store_notify.delete_webhook(request.app.state.pool, claims.user_id, webhook_id):
        raise NotFound("No such webhook.", code="webhook_not_found")
    return Response(status_code=204)


async def _reachable(field: str, url: str, settings: MessagesSettings) -> None:
    """422 naming ``field`` unless the URL is one the service may call. A host that does not
    resolve now is taken (DNS may be passing trouble); each delivery checks it again."""
    webhooks.check_url(url, field)
    try:
        await webhooks.resolve(url, allow_private=settings.webhook_allow_private)
    except webhooks.RefusedAddress as exc:
        raise InvalidInput(field, f"{field}: {exc}.", code="url_not_allowed") from None
    except webhooks.NotResolved:
        pass
