"""Reading many objects from Stripe: lists page by page, the Search API, and whether the
server has one (localstripe does not, nor the list filters such as `created`). Every error is
ProviderUnavailable: a reader refuses nothing, it could not read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import stripe

from activities.providers import ProviderUnavailable
from activities.stripe_errors import translated, within

PAGE = 100  # the most Stripe gives in one page


async def pages(
    listing: Callable[[Any], Awaitable[Any]], params: dict[str, Any], timeout_s: float
) -> AsyncIterator[dict[str, Any]]:
    """Every object of a Stripe list (`listing`, e.g. `client.v1.refunds.list_async`, called
    with `params`), page by page, each call within `timeout_s` seconds."""
    after: str | None = None
    while True:
        page_params = {**params, "limit": PAGE} | ({"starting_after": after} if after else {})
        page = await within(timeout_s, listing(page_params))
        for item in page.data:
            yield item.to_dict()
        if not page.has_more or not page.data:
            return
        after = str(page.data[-1].id)


async def searched(
    search: Callable[[Any], Awaitable[Any]], query: str, timeout_s: float
) -> AsyncIterator[dict[str, Any]]:
    """Every object Stripe's Search API (`search`, e.g. `payment_intents.search_async`) finds
    for `query`, page by page. Its index may lag behind writes by a minute or more."""
    next_page: str | None = None
    while True:
        params: dict[str, Any] = {"query": query, "limit": PAGE}
        params |= {"page": next_page} if next_page else {}
        result = await within(timeout_s, search(params))
        for item in result.data:
            yield item.to_dict()
        if not result.has_more or not result.next_page:
            return
        next_page = str(result.next_page)


async def has_search_api(client: stripe.StripeClient, timeout_s: float) -> bool:
    """Whether the server has Stripe's Search API (localstripe answers 404)."""
    try:
        async with asyncio.timeout(timeout_s):
            await client.v1.payment_intents.search_async({"query": "created>0", "limit": 1})
    except TimeoutError as late:
        raise ProviderUnavailable("Stripe's search did not answer in time") from late
    except stripe.StripeError as error:
        if isinstance(error, stripe.InvalidRequestError) and error.http_status == 404:
            return False
        raise translated(error, None) from error
    return True


def quoted(value: str) -> str:
    """A value inside a search query's single quotes."""
    return value.replace("\\", "\\\\").replace("'", "\\'")
