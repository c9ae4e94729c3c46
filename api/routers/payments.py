"""Stripe's webhook: signed events about PaymentIntents, kept once each in an inbox."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import stripe
from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field, ValidationError
from temporalio.client import Client
from temporalio.service import RPCError

from api.deps import PoolDep, SettingsDep, TemporalDep
from api.problems import Problem
from api.validation import StorableText
from commerce.settings import Settings
from commerce.stripe_keys import WEBHOOK_PATH, webhook_secret
from eventstore.stripe_inbox import StripeInbox, WebhookEvent
from workflows.contract import SIGNAL_PAYMENT_UPDATED, order_workflow_id

log = logging.getLogger(__name__)

router = APIRouter(tags=["payments"])
TOLERANCE_S = 300  # Stripe's own default: a signature older than this is a replay
LATEST_TIME = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime holds


class StripeEventCreate(BaseModel):
    """What Stripe sends: the event's id and type, when it was made (unix seconds) and
    `data.object`, the object it is about (a PaymentIntent for `payment_intent.*`)."""

    id: StorableText = Field(min_length=1, max_length=255)
    type: StorableText = Field(min_length=1, max_length=255)
    created: int = Field(ge=0, le=LATEST_TIME)
    data: dict[str, dict[str, Any]]

    @property
    def subject(self) -> dict[str, Any]:
        return self.data.get("object") or {}


class StripeEventPublic(BaseModel):
    event_id: str
    type: str
    outcome: Literal["recorded", "duplicate"]  # duplicate: delivered before, no second effect


def _verified(raw: bytes, signature: str | None, settings: Settings) -> WebhookEvent:
    secret = webhook_secret(settings)
    if secret is None:
        raise Problem(503, "the Stripe webhook has no COMMERCE_STRIPE_WEBHOOK_SECRET")
    try:
        text = raw.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature or "", secret, TOLERANCE_S)
        envelope = StripeEventCreate.model_validate_json(raw)
    except (UnicodeDecodeError, stripe.SignatureVerificationError) as bad:
        raise Problem(400, "missing, wrong or expired Stripe-Signature") from bad
    except ValidationError as bad:
        raise Problem(400, f"not a Stripe event: {bad.errors()[0]['msg']}") from bad
    payload = json.loads(raw)  # all Stripe sent, kept as jsonb
    if not _storable(payload):
        raise Problem(400, "not a Stripe event: it holds NUL or lone surrogate characters")
    subject = envelope.subject
    intent = subject.get("id") if subject.get("object") == "payment_intent" else None
    intent = intent or subject.get("payment_intent")
    return WebhookEvent(
        event_id=envelope.id,
        event_type=envelope.type,
        created=datetime.fromtimestamp(envelope.created, UTC),
        body_sha256=hashlib.sha256(raw).hexdigest(),
        payment_intent_id=intent if isinstance(intent, str) else None,
        order_id=str((subject.get("metadata") or {}).get("order_id") or "") or None,
        payload=payload,
    )


def _storable(value: Any) -> bool:
    """PostgreSQL's jsonb holds neither NUL nor lone surrogates (JSON escapes can carry both)."""
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    return True


@router.post(
    WEBHOOK_PATH,
    response_model=StripeEventPublic,
    responses={
        400: {"description": "missing, wrong or expired signature, or not a Stripe event"},
        409: {"description": "this event id came before with another body"},
        503: {"description": "no webhook secret is configured"},
    },
    # The body is read raw (the signature covers its bytes); this documents its shape.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": StripeEventCreate.model_json_schema()}},
        }
    },
)
async def stripe_webhook(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> StripeEventPublic:
    """A Stripe event, signed `Stripe-Signature` (checked by the Stripe SDK against
    COMMERCE_STRIPE_WEBHOOK_SECRET, within 300 s). Kept once per event id and body: the same
    delivery again answers `duplicate` and has no second effect."""
    event = _verified(await request.body(), stripe_signature, settings)
    outcome = await StripeInbox(pool).take(event)
    if outcome == "conflict":
        raise Problem(409, f"Stripe event {event.event_id} came before with another body")
    if event.order_id and event.event_type.startswith("payment_intent."):
        await _tell_the_saga(temporal, event.order_id)
    return StripeEventPublic(event_id=event.event_id, type=event.event_type, outcome=outcome)


async def _tell_the_saga(temporal: Client, order_id: str) -> None:
    """The order's saga re-reads the PaymentIntent (whatever the event's type or order: it acts
    on the PaymentIntent's status); it also re-checks on its own timer, so a saga that is not
    waiting, or a Temporal that does not answer now, loses nothing."""
    try:
        await temporal.get_workflow_handle(order_workflow_id(order_id)).signal(
            SIGNAL_PAYMENT_UPDATED
        )
    except RPCError as error:
        log.info("payment event for order %s not signalled: %s", order_id, error.message)
