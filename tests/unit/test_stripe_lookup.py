"""Finding the refund or PaymentIntent a call with a lost answer made reads every page Stripe has,
not the first: a charge can carry more than a page (100) of partial refunds. A fake client, the
shape of `StripeClient.v1` lists (newest first, `has_more`, `starting_after`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import stripe

from activities.stripe_lookup import PaymentIntentFinder
from activities.stripe_state import OUR_KEY


@dataclass
class _Object:
    id: str
    amount: int
    metadata: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "amount": self.amount, "metadata": self.metadata}


@dataclass
class _Page:
    data: list[_Object]
    has_more: bool


class _Listing:
    """A Stripe list endpoint over `objects` (newest first), 100 at most per page."""

    def __init__(self, objects: list[_Object]) -> None:
        self.objects, self.calls = objects, 0

    async def list_async(self, params: dict[str, Any]) -> _Page:
        self.calls += 1
        start = 0
        if after := params.get("starting_after"):
            start = next(i for i, o in enumerate(self.objects) if o.id == after) + 1
        chunk = self.objects[start : start + min(int(params.get("limit", 10)), 100)]
        return _Page(chunk, start + len(chunk) < len(self.objects))


def _finder(refunds: _Listing, intents: _Listing) -> PaymentIntentFinder:
    v1 = type("V1", (), {"refunds": refunds, "payment_intents": intents})()
    finder = PaymentIntentFinder(cast(stripe.StripeClient, type("C", (), {"v1": v1})()), 5.0)
    finder._can_search = False  # localstripe's way: listing
    return finder


def _refunds(count: int, keyed_at: int) -> list[_Object]:
    return [
        _Object(f"re_{i}", 1, {OUR_KEY: "refund-key"} if i == keyed_at else {})
        for i in range(count)
    ]


async def test_a_refund_past_the_first_page_of_its_charge_is_found() -> None:
    refunds = _Listing(_refunds(150, keyed_at=120))  # 120th newest: on the second page
    finder = _finder(refunds, _Listing([]))

    assert await finder.refund_by_key("ch_1", "refund-key") == ("re_120", 1)
    assert refunds.calls == 2


async def test_a_refund_not_made_is_none_after_every_page() -> None:
    refunds = _Listing(_refunds(250, keyed_at=-1))
    finder = _finder(refunds, _Listing([]))

    assert await finder.refund_by_key("ch_1", "refund-key") is None
    assert refunds.calls == 3


async def test_a_payment_intent_past_the_first_page_is_found() -> None:
    intents = _Listing([_Object(f"pi_{i}", 100, {OUR_KEY: f"k{i}"}) for i in range(230)])
    finder = _finder(_Listing([]), intents)

    assert await finder.by_key("k201") == "pi_201"
    assert intents.calls == 3
