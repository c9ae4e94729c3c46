"""`PaymentRecords` on the sandbox gateway: its ledger read back as a provider's answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import asyncpg

from activities.providers import ProviderUnavailable
from domain.provider_payments import (
    AuthorizationStatus,
    ProviderAuthorization,
    ProviderMovement,
    ProviderPayments,
)
from eventstore.sandbox import SandboxLedger
from eventstore.sandbox_records import PaymentEffect, SandboxPaymentLedger

# Where an authorization that needed the customer stands, when nothing else happened to it.
_ACTION_STATUS = {
    "requires_action": AuthorizationStatus.REQUIRES_ACTION,
    "failed": AuthorizationStatus.FAILED,
}


class SandboxPaymentRecords:
    """The sandbox gateway's records: an authorization is voided when a void names it; the
    order's capture (one per order: its key is the order's) took the latest authorization not
    voided; refunds are listed as recorded. Answers like the gateway: not while it is down."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._switch = SandboxLedger(pool)
        self._ledger = SandboxPaymentLedger(pool)

    async def payments_of(self, order_ids: Sequence[str]) -> Mapping[str, ProviderPayments]:
        await self._ensure_up()
        effects: dict[str, list[PaymentEffect]] = {order_id: [] for order_id in order_ids}
        for effect in await self._ledger.effects_of(order_ids):
            effects[effect.order_id].append(effect)
        return {order_id: _payments(order_id, found) for order_id, found in effects.items()}

    async def orders_since(self, since: datetime | None) -> set[str]:
        await self._ensure_up()
        return await self._ledger.orders_since(since)

    async def _ensure_up(self) -> None:
        if not await self._switch.is_available("payment"):
            raise ProviderUnavailable("sandbox payment provider is down")


def _payments(order_id: str, effects: list[PaymentEffect]) -> ProviderPayments:
    def of(operation: str) -> list[PaymentEffect]:
        return [e for e in effects if e.operation == operation]

    voided = {e.detail for e in of("void")}
    captures = tuple(ProviderMovement(e.reference, e.amount or 0) for e in of("capture"))
    held = [e.reference for e in of("authorize") if e.reference not in voided]
    captured = held[-1] if captures and held else None

    def status(authorization: PaymentEffect) -> AuthorizationStatus:
        if authorization.reference in voided:
            return AuthorizationStatus.VOIDED
        if authorization.reference == captured:
            return AuthorizationStatus.CAPTURED
        return _ACTION_STATUS.get(authorization.action_status or "", AuthorizationStatus.OPEN)

    return ProviderPayments(
        order_id=order_id,
        authorizations=tuple(
            ProviderAuthorization(e.reference, e.amount or 0, status(e)) for e in of("authorize")
        ),
        captures=captures,
        refunds=tuple(ProviderMovement(e.reference, e.amount or 0) for e in of("refund")),
    )
