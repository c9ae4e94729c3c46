"""Simulated providers that behave by their inputs (see the sandbox table in the README).

Their effects go to `sandbox_ledger` once per idempotency key, in PostgreSQL, so every worker
process shares them and tests can count authorizations and captures per order.
"""

from __future__ import annotations

import hashlib

import asyncpg

from activities.providers import ProviderUnavailable, Shipment
from domain.errors import AddressRejected, CaptureDeclined, PaymentDeclined
from domain.events import OrderLine, ShippingAddress

PROVIDERS = ("payment", "shipping", "notifications")
FLAKY_FAILURES = 2


class SandboxLedger:
    """Shared state of the sandbox providers: their ledger, call counts and availability."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def ensure_available(self, provider: str) -> None:
        available = await self._pool.fetchval(
            "SELECT available FROM sandbox_providers WHERE name = $1", provider
        )
        if available is False:
            raise ProviderUnavailable(f"sandbox {provider} provider is down")

    async def set_available(self, provider: str, available: bool) -> None:
        await self._pool.execute(
            "INSERT INTO sandbox_providers (name, available) VALUES ($1, $2)"
            " ON CONFLICT (name) DO UPDATE SET available = EXCLUDED.available",
            provider,
            available,
        )

    async def is_available(self, provider: str) -> bool:
        value = await self._pool.fetchval(
            "SELECT available FROM sandbox_providers WHERE name = $1", provider
        )
        return value is not False

    async def count_call(self, call_key: str) -> int:
        value = await self._pool.fetchval(
            "INSERT INTO sandbox_calls (call_key, calls) VALUES ($1, 1) ON CONFLICT (call_key)"
            " DO UPDATE SET calls = sandbox_calls.calls + 1 RETURNING calls",
            call_key,
        )
        return int(value)

    async def record(
        self,
        key: str,
        provider: str,
        operation: str,
        order_id: str,
        amount: int | None = None,
        detail: str | None = None,
    ) -> str:
        """The effect's reference; a repeated key returns the first effect's reference."""
        reference = f"{operation[:4]}_{hashlib.sha256(key.encode()).hexdigest()[:20]}"
        stored = await self._pool.fetchval(
            "INSERT INTO sandbox_ledger"
            " (idempotency_key, provider, operation, order_id, amount, reference, detail)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key"
            " RETURNING reference",
            key, provider, operation, order_id, amount, reference, detail,
        )  # fmt: skip
        return str(stored)

    async def detail_of(self, order_id: str, operation: str) -> str | None:
        value = await self._pool.fetchval(
            "SELECT detail FROM sandbox_ledger WHERE order_id = $1 AND operation = $2",
            order_id,
            operation,
        )
        return None if value is None else str(value)

    async def operations(self, order_id: str) -> list[str]:
        rows = await self._pool.fetch(
            "SELECT operation FROM sandbox_ledger WHERE order_id = $1 ORDER BY created_at", order_id
        )
        return [r["operation"] for r in rows]


class SandboxPayments:
    """`tok_decline` declines, `tok_capture_decline` declines at capture, `tok_flaky` fails
    transiently twice before authorizing; any other `tok_` value succeeds."""

    def __init__(self, ledger: SandboxLedger) -> None:
        self._ledger = ledger

    async def authorize(
        self, key: str, order_id: str, amount: int, currency: str, payment_token: str
    ) -> str:
        await self._ledger.ensure_available("payment")
        if not payment_token.startswith("tok_") or payment_token == "tok_decline":
            raise PaymentDeclined("the card was declined")
        if payment_token == "tok_flaky" and await self._ledger.count_call(key) <= FLAKY_FAILURES:
            raise ProviderUnavailable("payment gateway timed out")
        return await self._ledger.record(
            key, "payment", "authorize", order_id, amount, detail=payment_token
        )

    async def capture(self, key: str, order_id: str, authorization_id: str, amount: int) -> str:
        await self._ledger.ensure_available("payment")
        # The sandbox remembers the token it authorized, as a real gateway does.
        if await self._ledger.detail_of(order_id, "authorize") == "tok_capture_decline":
            raise CaptureDeclined("the capture was declined")
        return await self._ledger.record(key, "payment", "capture", order_id, amount)

    async def void(self, key: str, order_id: str, authorization_id: str) -> None:
        await self._ledger.ensure_available("payment")
        await self._ledger.record(key, "payment", "void", order_id, detail=authorization_id)


class SandboxShipping:
    """Postal code `00000` is undeliverable; anything else gets a shipment and tracking number."""

    def __init__(self, ledger: SandboxLedger) -> None:
        self._ledger = ledger

    async def create_shipment(
        self, key: str, order_id: str, address: ShippingAddress, lines: tuple[OrderLine, ...]
    ) -> Shipment:
        await self._ledger.ensure_available("shipping")
        if address.postal_code.strip() == "00000":
            raise AddressRejected(
                f"the carrier cannot deliver to postal code {address.postal_code}"
            )
        reference = await self._ledger.record(key, "shipping", "ship", order_id)
        return Shipment(shipment_id=reference, tracking_number=f"TRK{reference[-12:].upper()}")

    async def cancel_shipment(self, key: str, order_id: str, shipment_id: str) -> None:
        await self._ledger.ensure_available("shipping")
        await self._ledger.record(key, "shipping", "cancel_shipment", order_id, detail=shipment_id)


class SandboxNotifications:
    """Tells the customer by e-mail; the message is only written to the ledger."""

    def __init__(self, ledger: SandboxLedger) -> None:
        self._ledger = ledger

    async def order_completed(self, key: str, order_id: str, customer_id: str) -> list[str]:
        await self._ledger.ensure_available("notifications")
        await self._ledger.record(key, "notifications", "notify", order_id, detail=customer_id)
        return ["email"]
