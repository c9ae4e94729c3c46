"""The sandbox providers' shared state in PostgreSQL: their ledger, call counts, availability.

Effects are recorded once per idempotency key, so every worker process shares them and tests
can count authorizations and captures per order.
"""

from __future__ import annotations

import hashlib

import asyncpg

PROVIDERS = ("payment", "shipping", "notifications")


class IdempotencyKeyReused(Exception):
    """An idempotency key came back with another operation or amount: like a real gateway, the
    sandbox refuses rather than answer with the first effect."""


class SandboxLedger:
    """Shared state of the sandbox providers: their ledger, call counts and availability."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

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
        """The effect's reference; a repeated key returns the first effect's reference, and one
        with another operation, order or amount raises IdempotencyKeyReused."""
        reference = f"{operation[:4]}_{hashlib.sha256(key.encode()).hexdigest()[:20]}"
        stored = await self._pool.fetchrow(
            "INSERT INTO sandbox_ledger"
            " (idempotency_key, provider, operation, order_id, amount, reference, detail)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key"
            " RETURNING reference, operation, order_id, amount",
            key, provider, operation, order_id, amount, reference, detail,
        )  # fmt: skip
        assert stored is not None
        if (stored["operation"], stored["order_id"], stored["amount"]) != (
            operation,
            order_id,
            amount,
        ):
            raise IdempotencyKeyReused(
                f"key {key} was used for {stored['operation']} of {stored['amount']}"
                f" on order {stored['order_id']}, not {operation} of {amount}"
            )
        return str(stored["reference"])

    async def reference_of(self, key: str) -> str | None:
        """The effect recorded under an idempotency key, if there is one."""
        value = await self._pool.fetchval(
            "SELECT reference FROM sandbox_ledger WHERE idempotency_key = $1", key
        )
        return None if value is None else str(value)

    async def effect_of(self, key: str) -> tuple[str, int | None] | None:
        """The reference and amount of the effect recorded under an idempotency key, if any."""
        row = await self._pool.fetchrow(
            "SELECT reference, amount FROM sandbox_ledger WHERE idempotency_key = $1", key
        )
        return None if row is None else (str(row["reference"]), row["amount"])

    async def left_of_capture(self, capture_id: str) -> int:
        """Minor units of a capture not refunded yet (0 for an unknown capture)."""
        value = await self._pool.fetchval(
            "SELECT coalesce(sum(CASE WHEN operation = 'capture' THEN amount ELSE -amount END), 0)"
            " FROM sandbox_ledger WHERE (operation = 'capture' AND reference = $1)"
            " OR (operation = 'refund' AND detail = $1)",
            capture_id,
        )
        return int(value)

    async def detail_of(self, order_id: str, operation: str) -> str | None:
        value = await self._pool.fetchval(
            "SELECT detail FROM sandbox_ledger WHERE order_id = $1 AND operation = $2",
            order_id,
            operation,
        )
        return None if value is None else str(value)

    async def payment_action(self, authorization_id: str, order_id: str) -> tuple[str, str]:
        """The (status, reason) of a payment that needs the customer; a new one requires action."""
        row = await self._pool.fetchrow(
            "INSERT INTO sandbox_payment_actions (authorization_id, order_id, status)"
            " VALUES ($1, $2, 'requires_action') ON CONFLICT (authorization_id)"
            " DO UPDATE SET authorization_id = EXCLUDED.authorization_id RETURNING status, reason",
            authorization_id,
            order_id,
        )
        assert row is not None
        return str(row["status"]), str(row["reason"])

    async def payment_action_of(self, authorization_id: str) -> tuple[str, str, int] | None:
        """(status, reason, authorized amount) of a payment that needed the customer, if it did."""
        row = await self._pool.fetchrow(
            "SELECT a.status, a.reason, l.amount FROM sandbox_payment_actions a"
            " JOIN sandbox_ledger l ON l.reference = a.authorization_id"
            " WHERE a.authorization_id = $1",
            authorization_id,
        )
        return None if row is None else (str(row["status"]), str(row["reason"]), row["amount"] or 0)

    async def settle_payment_action(self, order_id: str, authenticated: bool) -> bool:
        """The customer completed (or failed) the order's payment action; False when none waits."""
        status = await self._pool.execute(
            "UPDATE sandbox_payment_actions SET status = $2, reason = $3, updated_at = now()"
            " WHERE order_id = $1 AND status = 'requires_action'",
            order_id,
            "authorized" if authenticated else "failed",
            "" if authenticated else "the customer failed the 3-D Secure check",
        )
        return status != "UPDATE 0"

    async def operations(self, order_id: str) -> list[str]:
        rows = await self._pool.fetch(
            "SELECT operation FROM sandbox_ledger WHERE order_id = $1 ORDER BY created_at", order_id
        )
        return [r["operation"] for r in rows]
