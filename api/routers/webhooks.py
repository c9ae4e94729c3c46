"""Outbound webhooks (admin): subscriptions, their signing secrets, deliveries, redelivery, and
the event catalogue they subscribe to."""

from __future__ import annotations

import json
from importlib import resources
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from api.auth import AdminPrincipal
from api.deps import PoolDep, SettingsDep
from api.ids import CursorQuery, DeliveryId, WebhookId
from api.problems import Problem
from api.webhook_schemas import (
    AttemptPublic,
    DeliveryDetail,
    DeliveryList,
    DeliveryPublic,
    EventTypePublic,
    SecretRotate,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookPublic,
    WebhookUpdate,
)
from commerce.payload_codec import codec_for
from commerce.settings import Settings
from commerce.webhook_sender import endpoint_refusal
from commerce.webhook_signing import new_secret, seal_secret
from domain.public_events import CATALOGUE
from eventstore.webhook_deliveries import WebhookDeliveries
from eventstore.webhook_subscriptions import Subscription, WebhookSubscriptions

router = APIRouter(prefix="/api/v1/admin/webhooks", tags=["admin: webhooks"])
Limit = Annotated[int, Query(ge=1, le=200)]


async def _subscriptions(pool: PoolDep) -> WebhookSubscriptions:
    return WebhookSubscriptions(pool)


SubscriptionsDep = Annotated[WebhookSubscriptions, Depends(_subscriptions)]


async def _existing(subscriptions: WebhookSubscriptions, webhook_id: UUID) -> Subscription:
    found = await subscriptions.get(webhook_id)
    if found is None:
        raise Problem(404, f"no webhook subscription {webhook_id}")
    return found


async def _checked_url(url: str, settings: Settings) -> str:
    """The SSRF guard, as deliveries apply it again before every attempt: 422 when refused."""
    refusal = await endpoint_refusal(
        url,
        production=settings.environment == "production",
        allow_private=settings.webhook_allow_private,
    )
    if refusal:
        raise Problem(422, f"url: {refusal}")
    return url


def _retry_window_s(settings: Settings) -> float:
    return settings.webhook_retry_hours * 3600


@router.get("/event-types", response_model=list[EventTypePublic], response_model_by_alias=True)
async def event_types(_: AdminPrincipal) -> list[EventTypePublic]:
    """The event catalogue: each public event type, its version, audience and JSON Schema."""
    folder = resources.files("domain") / "event_schemas"
    return [
        EventTypePublic(
            type=entry.name,
            version=entry.version,
            audience=entry.audience,
            description=entry.description,
            json_schema=json.loads((folder / f"{entry.name}.json").read_text()),
        )
        for entry in CATALOGUE
    ]


@router.post("", status_code=201, response_model=WebhookCreated)
async def create_webhook(
    body: WebhookCreate,
    _: AdminPrincipal,
    subscriptions: SubscriptionsDep,
    settings: SettingsDep,
    response: Response,
) -> WebhookCreated:
    """Subscribe a URL to event types; the answer holds the signing secret, shown only now. 422
    for a URL that is not https (production), resolves to a private or link-local address, or
    names unknown event types."""
    url = await _checked_url(body.url, settings)
    secret = new_secret()
    sealed = await seal_secret(codec_for(settings), secret)
    created = await subscriptions.create(
        url, body.event_types, body.active, body.description, sealed
    )
    response.headers["Location"] = f"{router.prefix}/{created.id}"
    return WebhookCreated(**WebhookPublic.of(created).model_dump(), secret=secret)


@router.get("", response_model=WebhookList)
async def list_webhooks(
    _: AdminPrincipal,
    subscriptions: SubscriptionsDep,
    limit: Limit = 50,
    cursor: CursorQuery = None,
) -> WebhookList:
    """Subscriptions, newest first."""
    items, next_cursor = await subscriptions.page(limit, cursor)
    return WebhookList(items=[WebhookPublic.of(s) for s in items], next_cursor=next_cursor)


@router.get("/{webhook_id}", response_model=WebhookPublic)
async def get_webhook(
    webhook_id: WebhookId, _: AdminPrincipal, subscriptions: SubscriptionsDep
) -> WebhookPublic:
    """The subscription (its secret is never shown again)."""
    return WebhookPublic.of(await _existing(subscriptions, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookPublic)
async def update_webhook(
    webhook_id: WebhookId,
    body: WebhookUpdate,
    _: AdminPrincipal,
    subscriptions: SubscriptionsDep,
    settings: SettingsDep,
) -> WebhookPublic:
    """Change the URL, event types, description or active flag. Activating a disabled
    subscription resumes its waiting deliveries (nothing recorded meanwhile is lost)."""
    changes = body.model_dump(exclude_unset=True)
    for name in ("url", "event_types", "active", "description"):
        if name in changes and changes[name] is None:
            raise Problem(422, f"{name}: may not be null")
    await _existing(subscriptions, webhook_id)
    if "url" in changes:
        await _checked_url(changes["url"], settings)
    updated = await subscriptions.update(webhook_id, changes, _retry_window_s(settings))
    if updated is None:
        raise Problem(404, f"no webhook subscription {webhook_id}")
    return WebhookPublic.of(updated)


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(
    webhook_id: WebhookId, _: AdminPrincipal, subscriptions: SubscriptionsDep
) -> Response:
    """Remove the subscription and its delivery log; nothing more is sent to it."""
    if not await subscriptions.delete(webhook_id):
        raise Problem(404, f"no webhook subscription {webhook_id}")
    return Response(status_code=204)


@router.post("/{webhook_id}/rotate-secret", response_model=SecretRotated)
async def rotate_secret(
    webhook_id: WebhookId,
    _: AdminPrincipal,
    subscriptions: SubscriptionsDep,
    settings: SettingsDep,
    body: SecretRotate | None = None,
) -> SecretRotated:
    """A new signing secret, shown only now; deliveries carry a signature by the old one too
    for `grace_period_s` (default a day), so receivers can switch over without a gap."""
    secret = new_secret()
    sealed = await seal_secret(codec_for(settings), secret)
    grace_s = (body or SecretRotate()).grace_period_s
    rotated = await subscriptions.rotate_secret(webhook_id, sealed, grace_s)
    if rotated is None:
        raise Problem(404, f"no webhook subscription {webhook_id}")
    return SecretRotated(
        id=rotated.id, secret=secret, previous_secret_expires_at=rotated.previous_secret_expires_at
    )


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList)
async def list_deliveries(
    webhook_id: WebhookId,
    _: AdminPrincipal,
    subscriptions: SubscriptionsDep,
    pool: PoolDep,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Limit = 50,
    cursor: CursorQuery = None,
) -> DeliveryList:
    """Deliveries newest first: status, attempts, last response code and time."""
    await _existing(subscriptions, webhook_id)
    items, next_cursor = await WebhookDeliveries(pool).page(webhook_id, status, limit, cursor)
    return DeliveryList(items=[DeliveryPublic.of(d) for d in items], next_cursor=next_cursor)


@router.get("/{webhook_id}/deliveries/{delivery_id}", response_model=DeliveryDetail)
async def get_delivery(
    webhook_id: WebhookId, delivery_id: DeliveryId, _: AdminPrincipal, pool: PoolDep
) -> DeliveryDetail:
    """One delivery and every attempt made (each attempt is stored as it starts)."""
    found = await WebhookDeliveries(pool).get(webhook_id, delivery_id)
    if found is None:
        raise Problem(404, f"no delivery {delivery_id} of webhook {webhook_id}")
    view, attempts = found
    return DeliveryDetail(
        **DeliveryPublic.of(view).model_dump(), attempt_log=[AttemptPublic.of(a) for a in attempts]
    )


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=202)
async def redeliver(
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    _: AdminPrincipal,
    subscriptions: SubscriptionsDep,
    pool: PoolDep,
    settings: SettingsDep,
) -> DeliveryPublic:
    """Send the delivery again (same body, same `Webhook-Id`), with a new retry window; 409
    while the subscription is not active."""
    subscription = await _existing(subscriptions, webhook_id)
    if not subscription.active:
        raise Problem(409, f"webhook {webhook_id} is not active; activate it first (PATCH)")
    deliveries = WebhookDeliveries(pool)
    if not await deliveries.redeliver(webhook_id, delivery_id, _retry_window_s(settings)):
        raise Problem(404, f"no delivery {delivery_id} of webhook {webhook_id}")
    found = await deliveries.get(webhook_id, delivery_id)
    assert found is not None
    return DeliveryPublic.of(found[0])
