"""`PaymentRecords` on Stripe: each order's PaymentIntents with their charges and refunds, as
Stripe holds them now (the provider's side of reconciliation; read as movements by
`activities/stripe_movements.py`, judged by `domain/reconciliation.py`).

An order's PaymentIntents are the ones our gateway noted (`stripe_payment_intents`, exact at
once) and the ones Stripe finds by `metadata.order_id`: its Search API (which may lag behind
writes), or on a server without one (localstripe) one listing of every PaymentIntent per run.
Each is then read afresh with its charge, and the charge's refunds are listed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import stripe

from activities.stripe_errors import within
from activities.stripe_listing import has_search_api, pages, quoted, searched
from activities.stripe_movements import ChargedIntent, order_payments
from commerce.settings import Settings
from commerce.stripe_keys import stripe_client
from domain.provider_payments import ProviderPayments
from eventstore.stripe_intents import PaymentIntentNotes

SEARCH_CLAUSES = 10  # Stripe's Search API joins at most 10 clauses with OR
CONCURRENCY = 4  # Stripe calls at once in one run: well under test mode's 25 a second
RETRIES = 2  # a read cut off or failed at Stripe (5xx, 409) is tried again by the SDK
T = TypeVar("T")


class StripePaymentRecords:
    """Stripe's record of our orders, read only; every failure to read is ProviderUnavailable.
    One instance serves one reconciliation run: it remembers the PaymentIntents it listed and
    whether the server has a Search API."""

    def __init__(self, settings: Settings, notes: PaymentIntentNotes) -> None:
        self._settings = settings
        self._notes = notes
        self._timeout_s = settings.stripe_timeout_s
        self._searchable: bool | None = None
        self._listed: dict[str, set[str]] = {}  # order id -> PaymentIntents listed
        self._listed_all = False

    @classmethod
    def from_settings(cls, settings: Settings, pool: asyncpg.Pool) -> StripePaymentRecords:
        return cls(settings, PaymentIntentNotes(pool))

    async def payments_of(self, order_ids: Sequence[str]) -> Mapping[str, ProviderPayments]:
        ids = list(dict.fromkeys(order_ids))
        noted = await _all(self._notes.of_order(order_id) for order_id in ids)
        async with self._client() as client:
            found = {o: set(n) for o, n in zip(ids, noted, strict=True)}
            if await self._has_search(client):
                for order_id, intent_id in await self._search(client, ids):
                    found[order_id].add(intent_id)
            elif not self._listed_all:
                await self._list_intents(client, None)
            for order_id in ids:
                found[order_id] |= self._listed.get(order_id, set())
            limit = asyncio.Semaphore(CONCURRENCY)
            pairs = [(o, i) for o in ids for i in sorted(found[o])]
            charged = await _all(self._charged(client, limit, i) for _, i in pairs)
        by_order: dict[str, list[ChargedIntent]] = {order_id: [] for order_id in ids}
        for (order_id, _), intent in zip(pairs, charged, strict=True):
            by_order[order_id].append(intent)
        return {order_id: order_payments(order_id, by_order[order_id]) for order_id in ids}

    async def orders_since(self, since: datetime | None) -> set[str]:
        """Orders with a PaymentIntent or a refund created at or after `since` (in whole
        seconds, as Stripe counts `created`): a refund after the sale names an order placed
        before."""
        after = None if since is None else int(since.timestamp())
        async with self._client() as client:
            # Only a server with the Search API (Stripe) filters its lists by `created`.
            filtered = after is not None and await self._has_search(client)
            created: dict[str, Any] = {"created": {"gte": after}} if filtered else {}
            intents = await self._list_intents(client, created if filtered else None)
            orders = {o for o, made in intents if after is None or made >= after}
            if after is None:
                return orders  # every PaymentIntent was listed
            owners = {i: o for o, ids in self._listed.items() for i in ids}
            async for refund in pages(client.v1.refunds.list_async, created, self._timeout_s):
                if int(refund["created"]) >= after:
                    order_id = await self._order_refunded(client, refund, owners)
                    if order_id:
                        orders.add(order_id)
        return orders

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[stripe.StripeClient]:
        """A client whose connections are closed at the end of the call (every call only
        reads, so the SDK may retry it)."""
        http = stripe.HTTPXClient(timeout=self._timeout_s)
        try:
            yield stripe_client(self._settings, http, retries=RETRIES)
        finally:
            await http.close_async()

    async def _has_search(self, client: stripe.StripeClient) -> bool:
        if self._searchable is None:
            self._searchable = await has_search_api(client, self._timeout_s)
        return self._searchable

    async def _search(
        self, client: stripe.StripeClient, order_ids: Sequence[str]
    ) -> list[tuple[str, str]]:
        """(order id, PaymentIntent id) of each PaymentIntent Stripe's search finds for them."""
        found = []
        for start in range(0, len(order_ids), SEARCH_CLAUSES):
            chunk = order_ids[start : start + SEARCH_CLAUSES]
            query = " OR ".join(f"metadata['order_id']:'{quoted(o)}'" for o in chunk)
            search = client.v1.payment_intents.search_async
            async for intent in searched(search, query, self._timeout_s):
                order_id = (intent.get("metadata") or {}).get("order_id")
                if order_id in chunk:
                    found.append((str(order_id), str(intent["id"])))
        return found

    async def _list_intents(
        self, client: stripe.StripeClient, params: dict[str, Any] | None
    ) -> list[tuple[str, int]]:
        """(order id, created) of every PaymentIntent listed (`params`: the list's filters; None
        lists all), each remembered for `payments_of`."""
        listed = []
        listing = client.v1.payment_intents.list_async
        async for intent in pages(listing, params or {}, self._timeout_s):
            order_id = (intent.get("metadata") or {}).get("order_id")
            if order_id:
                self._listed.setdefault(str(order_id), set()).add(str(intent["id"]))
                listed.append((str(order_id), int(intent["created"])))
        self._listed_all = self._listed_all or params is None
        return listed

    async def _order_refunded(
        self, client: stripe.StripeClient, refund: dict[str, Any], owners: dict[str, str]
    ) -> str | None:
        """The order a refund gave money back for: ours name it; another is traced through its
        charge to its PaymentIntent (`owners`: PaymentIntent id -> order id, filled as found)."""
        order_id = (refund.get("metadata") or {}).get("order_id")
        if order_id:
            return str(order_id)
        intent_id = refund.get("payment_intent")
        if not intent_id and refund.get("charge"):
            charge = await within(
                self._timeout_s, client.v1.charges.retrieve_async(str(refund["charge"]))
            )
            intent_id = charge.to_dict().get("payment_intent")
        if not intent_id:
            return None
        if str(intent_id) not in owners:
            intent = await within(
                self._timeout_s, client.v1.payment_intents.retrieve_async(str(intent_id))
            )
            owners[str(intent_id)] = (intent.to_dict().get("metadata") or {}).get("order_id", "")
        return owners[str(intent_id)] or None

    async def _charged(
        self, client: stripe.StripeClient, limit: asyncio.Semaphore, intent_id: str
    ) -> ChargedIntent:
        """The PaymentIntent now, its charge expanded, with every refund of a captured charge."""
        async with limit:
            expanded = client.v1.payment_intents.retrieve_async(
                intent_id, {"expand": ["latest_charge"]}
            )
            intent = (await within(self._timeout_s, expanded)).to_dict()
            charge = intent.get("latest_charge")
            if not isinstance(charge, dict) or not charge.get("captured"):
                return ChargedIntent(intent)
            listing = client.v1.refunds.list_async
            refunds = pages(listing, {"charge": charge["id"]}, self._timeout_s)
            return ChargedIntent(intent, tuple([r async for r in refunds]))


async def _all(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Await the calls together; the first failure cancels the others and is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_awaited(call)) for call in calls]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def _awaited(call: Awaitable[T]) -> T:
    return await call
