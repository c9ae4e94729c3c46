"""Stripe's webhook inbox: each event once, deduplicated by its id and the digest of its body."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

Outcome = Literal["recorded", "duplicate", "conflict"]


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One verified delivery: Stripe's event id and type, when Stripe made it, the SHA-256 (hex)
    of the raw body, and the PaymentIntent and order it concerns when it names them."""

    event_id: str
    event_type: str
    created: datetime
    body_sha256: str
    payment_intent_id: str | None
    order_id: str | None
    payload: dict[str, Any]


class StripeInbox:
    """Table `stripe_webhook_events`: the first delivery of an event id is recorded; the same id
    with the same body again is a duplicate (no second effect); with another body, a conflict."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def take(self, event: WebhookEvent) -> Outcome:
        recorded = await self._pool.fetchval(
            "INSERT INTO stripe_webhook_events (event_id, body_sha256, event_type,"
            " payment_intent_id, order_id, created_at_stripe, payload)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)"
            " ON CONFLICT (event_id) DO NOTHING RETURNING true",
            event.event_id, event.body_sha256, event.event_type, event.payment_intent_id,
            event.order_id, event.created, json.dumps(event.payload),
        )  # fmt: skip
        if recorded:
            return "recorded"
        kept = await self._pool.fetchval(
            "SELECT body_sha256 FROM stripe_webhook_events WHERE event_id = $1", event.event_id
        )
        return "duplicate" if kept == event.body_sha256 else "conflict"

    async def count(self, event_id: str) -> int:
        value = await self._pool.fetchval(
            "SELECT count(*) FROM stripe_webhook_events WHERE event_id = $1", event_id
        )
        return int(value)
