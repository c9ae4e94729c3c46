"""Webhook subscription and delivery bodies (API.md, "Events and webhooks")."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from api.validation import StorableText
from domain.public_events import pattern_refusal
from eventstore.webhook_deliveries import AttemptView, DeliveryView
from eventstore.webhook_subscriptions import Subscription

_Url = Field(min_length=1, max_length=2000)
_Types = Field(min_length=1, max_length=50)


def _known_patterns(patterns: list[str]) -> list[str]:
    refusals = [r for r in map(pattern_refusal, patterns) if r]
    if refusals:
        raise ValueError("; ".join(refusals))
    return list(dict.fromkeys(patterns))


class WebhookCreate(BaseModel):
    """`event_types`: types of the catalogue, `family.*` (e.g. `shipment.*`) or `*`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: StorableText = _Url
    event_types: list[StorableText] = _Types
    active: StrictBool = True
    description: StorableText = Field(default="", max_length=500)

    _types = field_validator("event_types")(_known_patterns)


class WebhookUpdate(BaseModel):
    """The fields to change; activating a disabled subscription resumes its deliveries."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: StorableText | None = Field(default=None, min_length=1, max_length=2000)
    event_types: list[StorableText] | None = Field(default=None, min_length=1, max_length=50)
    active: StrictBool | None = None
    description: StorableText | None = Field(default=None, max_length=500)

    @field_validator("event_types")
    @classmethod
    def _types(cls, patterns: list[str] | None) -> list[str] | None:
        return None if patterns is None else _known_patterns(patterns)


class WebhookPublic(BaseModel):
    """A subscription; `disabled_reason` says why the service turned it off, `failing_since`
    since when its attempts have been failing (null while they succeed)."""

    id: UUID
    url: str
    event_types: list[str]
    active: bool
    description: str
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, subscription: Subscription) -> WebhookPublic:
        values = {name: getattr(subscription, name) for name in cls.model_fields}
        return cls(**values | {"event_types": list(subscription.event_types)})


class WebhookCreated(WebhookPublic):
    """The new subscription with its signing secret, shown this once."""

    secret: str


class WebhookList(BaseModel):
    items: list[WebhookPublic]
    next_cursor: str | None


class SecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_period_s: int = Field(default=86400, strict=True, ge=0, le=7 * 86400)


class SecretRotated(BaseModel):
    """The new secret, shown this once; the old one still signs until
    `previous_secret_expires_at`."""

    id: UUID
    secret: str
    previous_secret_expires_at: datetime | None


class DeliveryPublic(BaseModel):
    """One event for one subscription: `status` pending (being tried, or waiting for an earlier
    event of its order), delivered or failed; `event_id` is the `Webhook-Id`."""

    id: UUID
    event_id: UUID
    event_type: str
    order_id: str
    status: str
    attempts: int
    last_response_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, view: DeliveryView) -> DeliveryPublic:
        return cls(**{name: getattr(view, name) for name in cls.model_fields})


class AttemptPublic(BaseModel):
    """An attempt; `finished_at` null: cut short (its worker stopped) or still in flight."""

    attempt: int
    started_at: datetime
    finished_at: datetime | None
    response_code: int | None
    error: str | None

    @classmethod
    def of(cls, view: AttemptView) -> AttemptPublic:
        return cls(**{name: getattr(view, name) for name in cls.model_fields})


class DeliveryDetail(DeliveryPublic):
    attempt_log: list[AttemptPublic]


class DeliveryList(BaseModel):
    items: list[DeliveryPublic]
    next_cursor: str | None


class EventTypePublic(BaseModel):
    """A catalogue entry and the JSON Schema of its events."""

    model_config = ConfigDict(populate_by_name=True)

    type: str
    version: int
    audience: str
    description: str
    json_schema: dict[str, Any] = Field(serialization_alias="schema")
