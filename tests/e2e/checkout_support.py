"""Checkout tests leave no saga running behind them: later tests count completed sagas."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.e2e.conftest import Caller
from tests.e2e.orders_support import wait_for_status


@pytest.fixture
async def sagas_settle(
    http: httpx.AsyncClient, customer: Caller, saga_worker: None
) -> AsyncIterator[None]:
    """After the test, wait until every order of `customer` has ended."""
    yield
    listed = await http.get("/api/v1/orders/", params={"limit": 200}, headers=customer.headers)
    for order in listed.json()["items"]:
        await wait_for_status(http, customer, order["id"], timeout_s=120)
