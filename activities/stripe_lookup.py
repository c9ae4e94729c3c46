"""Finding at Stripe what a call under one of our idempotency keys made, by its metadata.

Stripe itself answers a metadata query through its Search API; a server without it (localstripe)
is listed instead, page by page. Both only serve a call whose answer was lost: every answered
PaymentIntent is noted in `stripe_payment_intents` and read from there.
"""

from __future__ import annotations

import asyncio

import stripe

from activities.providers import ProviderUnavailable
from activities.stripe_errors import translated
from activities.stripe_listing import pages
from activities.stripe_state import OUR_KEY

MAX_LISTED = 20_000  # beyond this a listing gives up (ProviderUnavailable) instead of guessing
_NO_SEARCH_API = object()


class PaymentIntentFinder:
    """PaymentIntents and refunds found by the idempotency key in their metadata."""

    def __init__(self, client: stripe.StripeClient, timeout_s: float) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self._can_search = True

    async def by_key(self, key: str) -> str | None:
        """The PaymentIntent made under `key`, or None. Raises ProviderUnavailable."""
        if self._can_search:
            found = await self._search(key)
            if found is not _NO_SEARCH_API:
                return found if isinstance(found, str) else None
            self._can_search = False
        return await self._list(key)

    async def refund_by_key(self, charge_id: str, key: str) -> tuple[str, int] | None:
        """(id, amount) of the refund of `charge_id` made under `key`, or None. Raises
        ProviderUnavailable."""
        listing = self._client.v1.refunds.list_async
        async for refund in pages(listing, {"charge": charge_id}, self._timeout_s):
            if (refund.get("metadata") or {}).get(OUR_KEY) == key:
                return str(refund["id"]), int(refund["amount"])
        return None  # every page read: a charge may carry more than a page of partial refunds

    async def _search(self, key: str) -> str | object | None:
        """Stripe's Search API; _NO_SEARCH_API when the server has none (it answers 404)."""
        query = f"metadata['{OUR_KEY}']:'{_quoted(key)}'"
        try:
            async with asyncio.timeout(self._timeout_s):
                found = await self._client.v1.payment_intents.search_async({"query": query})
        except TimeoutError as late:
            raise ProviderUnavailable("Stripe's search did not answer in time") from late
        except stripe.StripeError as error:
            if isinstance(error, stripe.InvalidRequestError) and error.http_status == 404:
                return _NO_SEARCH_API
            raise translated(error, None) from error
        return str(found.data[0].id) if found.data else None

    async def _list(self, key: str) -> str | None:
        listing, listed = self._client.v1.payment_intents.list_async, 0
        async for intent in pages(listing, {}, self._timeout_s):
            if (intent.get("metadata") or {}).get(OUR_KEY) == key:
                return str(intent["id"])
            listed += 1
            if listed >= MAX_LISTED:
                raise ProviderUnavailable(
                    f"more than {MAX_LISTED} PaymentIntents to list for {key}"
                )
        return None


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
