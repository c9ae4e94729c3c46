"""Reconciliation against Stripe (COMMERCE_PAYMENT_PROVIDER=stripe, localstripe): a shop of
real orders paid at Stripe, with every post-sale path, reconciles clean in process, from the
shell and over HTTP; money moved at Stripe behind the service's back, and records of ours Stripe
lacks, are reported by kind; an unreachable Stripe is exit status 2 and a 503.

localstripe serves the whole test session, so each shop reconciles from a moment after every
earlier test's PaymentIntents (`_fresh_moment`)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from activities.stripe_records import StripePaymentRecords
from api.app import create_app
from commerce.embedded import free_port
from commerce.reconcile import Reconciler, payment_records
from commerce.settings import Settings
from commerce.tokens import mint_token
from domain.events import RefundIssued
from eventstore.orders import order_stream
from eventstore.store import EventStore, NewEvent
from tests.integration.shop_support import fresh_database
from tests.integration.stripe_after_sale_support import (
    charge_of,
    issued_refunds,
    load,
    refund_at_stripe,
    stripe_mismatches,
)
from tests.integration.stripe_shop import payment_intent_at_stripe, running_stripe_shop
from tests.integration.stripe_support import on_localstripe

KINDS = ("unrecorded", "no_provider_effect", "amount_differs", "open_authorization")


@pytest.fixture
def stripe_settings(settings: Settings, localstripe: str) -> Settings:
    return on_localstripe(settings, localstripe)


async def _fresh_moment() -> datetime:
    """A moment no earlier PaymentIntent or refund at localstripe counts as made at or after
    (Stripe counts `created` in whole seconds)."""
    await asyncio.sleep(1.1)
    return datetime.now(UTC)


async def _reconcile_cli(
    database_url: str, data_dir: Path, api_base: str, *args: str
) -> tuple[int, str, str]:
    """`commerce reconcile` as an operator runs it with Stripe chosen."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMERCE_", "TEMPORAL_"))}
    env |= {
        "COMMERCE_DATABASE_URL": database_url,
        "COMMERCE_DATA_DIR": str(data_dir),
        "COMMERCE_LOG_JSON": "false",
        "COMMERCE_PAYMENT_PROVIDER": "stripe",
        "COMMERCE_STRIPE_API_BASE": api_base,
        "COMMERCE_STRIPE_TIMEOUT_S": "2",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "reconcile", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@asynccontextmanager
async def _api(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"database_url": database_url}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
            yield client


def _admin(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, 'ops', ['admin'])}"}


def _found(mismatches: list[Any]) -> set[tuple[Any, ...]]:
    """(order, kind, operation, reference, ours, Stripe's) of each mismatch."""
    found = set()
    for m in mismatches:
        m = m if isinstance(m, dict) else {k: getattr(m, k) for k in m.__slots__}
        found.add(
            (m["order_id"], str(m["kind"]), m["operation"], m["reference"], m["recorded_amount"],
             m["provider_amount"])
        )  # fmt: skip
    return found


def test_stripe_chosen_reconciles_against_stripes_records(
    stripe_settings: Settings, pool: asyncpg.Pool
) -> None:
    assert isinstance(payment_records(stripe_settings, pool), StripePaymentRecords)


async def test_a_shop_paid_at_stripe_with_every_post_sale_path_reconciles_clean(
    temporal_client: Client,
    postgres_url: str,
    stripe_settings: Settings,
    localstripe: str,
    tmp_path: Path,
) -> None:
    since = await _fresh_moment()
    async with fresh_database(postgres_url) as (url, pool):
        async with running_stripe_shop(temporal_client, pool, stripe_settings, localstripe) as shop:
            ids = await asyncio.gather(
                shop.completed(),
                shop.declined(),
                shop.failed_after_authorization(),
                shop.cancelled_awaiting_payment(),
                shop.authenticated(),
                shop.amended(),
                shop.cancelled_after_capture(),
                shop.cancelled_after_sale(),
                shop.returned(),
                shop.refunded(),
            )
        statuses = [(await load(pool, i)).status for i in ids]
        assert statuses == [
            "completed", "failed", "failed", "cancelled", "completed", "completed", "cancelled",
            "cancelled", "completed", "completed",
        ]  # fmt: skip
        amended = await charge_of(localstripe, ids[5])
        assert amended["amount_refunded"] > 0  # the released rest, booked as a refund
        assert await stripe_mismatches(pool, stripe_settings, list(ids)) == []

        report = await Reconciler(pool, payment_records(stripe_settings, pool)).reconcile(since)
        assert report.clean, report.mismatches
        assert (report.orders_checked, report.orders_in_flight) == (10, 0)
        assert report.counts == dict.fromkeys(KINDS, 0)

        code, out, err = await _reconcile_cli(
            url, tmp_path, localstripe, "--since", since.isoformat(), "--json"
        )
        assert code == 0, (out, err)
        assert json.loads(out)["clean"] is True and json.loads(out)["orders_checked"] == 10

        async with _api(stripe_settings, url) as http:
            answer = await http.get(
                "/api/v1/admin/reconciliation",
                params={"since": since.isoformat()},
                headers=_admin(stripe_settings),
            )
        assert answer.status_code == 200, answer.text
        assert answer.json()["clean"] is True and answer.json()["orders_checked"] == 10


async def _record_refund(pool: asyncpg.Pool, order_id: str, refund_id: str, amount: int) -> None:
    """A RefundIssued in our events (as if we had recorded a refund), whatever Stripe did."""
    store = EventStore(pool)
    version = len(await store.read_stream(order_stream(order_id)))
    refund = RefundIssued(order_id=order_id, refund_id=refund_id, amount=amount, reason="x")
    await store.append(
        order_stream(order_id), [NewEvent(uuid.uuid4(), refund.type, refund.to_data())], version
    )


async def test_money_moved_at_stripe_behind_our_back_is_reported_by_kind(
    temporal_client: Client,
    postgres_url: str,
    stripe_settings: Settings,
    localstripe: str,
    tmp_path: Path,
) -> None:
    since = await _fresh_moment()
    async with fresh_database(postgres_url) as (url, pool):
        async with running_stripe_shop(temporal_client, pool, stripe_settings, localstripe) as shop:
            refunded, captured, recorded, outside, failed = await asyncio.gather(
                shop.completed(), shop.completed(), shop.completed(), shop.completed(),
                shop.failed_after_authorization(),
            )  # fmt: skip
        reconciler = Reconciler(pool, payment_records(stripe_settings, pool))
        assert (await reconciler.reconcile(since)).clean  # as the sagas left them
        later = await _fresh_moment()  # every order was placed before this

        # A refund made at Stripe with our key's shape, that no event of ours names.
        charge = (await charge_of(localstripe, refunded))["id"]
        key = f"order-{refunded}:refund-{uuid.uuid4()}"
        stray_refund = await refund_at_stripe(
            localstripe, charge, 300, {"order_id": refunded, "idempotency_key": key}
        )
        # A capture we never recorded: a second PaymentIntent of the order, captured at Stripe.
        stray_intent, stray_charge = await payment_intent_at_stripe(
            localstripe, captured, 1000, capture=True
        )
        # A refund we recorded that Stripe lacks; one we recorded with another amount.
        await _record_refund(pool, recorded, "re_never_made", 500)
        made = await refund_at_stripe(
            localstripe, (await charge_of(localstripe, recorded))["id"], 300,
            {"order_id": recorded, "idempotency_key": f"order-{recorded}:refund-{uuid.uuid4()}"},
        )  # fmt: skip
        await _record_refund(pool, recorded, made, 250)
        # A refund in the dashboard (no metadata): localstripe books it like the released rest
        # of a partial capture, so the capture looks smaller than ours.
        outside_charge = (await charge_of(localstripe, outside))["id"]
        await refund_at_stripe(localstripe, outside_charge, 200)
        # An authorization held for an order that failed, and money taken for one never placed.
        held, _ = await payment_intent_at_stripe(localstripe, failed, 1500, capture=False)
        stranger = str(uuid.uuid4())
        stranger_intent, stranger_charge = await payment_intent_at_stripe(
            localstripe, stranger, 800, capture=True
        )

        expected = {
            (refunded, "unrecorded", "refund", stray_refund, None, 300),
            (captured, "unrecorded", "authorization", stray_intent, None, 1000),
            (captured, "unrecorded", "capture", stray_charge, None, 1000),
            (recorded, "no_provider_effect", "refund", "re_never_made", 500, None),
            (recorded, "amount_differs", "refund", made, 250, 300),
            (outside, "amount_differs", "capture", outside_charge, 3000, 2800),
            (failed, "open_authorization", "authorization", held, None, 1500),
            (stranger, "unrecorded", "authorization", stranger_intent, None, 800),
            (stranger, "unrecorded", "capture", stranger_charge, None, 800),
        }
        report = await reconciler.reconcile(since)
        assert _found(report.mismatches) == expected
        assert report.counts == {
            "unrecorded": 5, "no_provider_effect": 1, "amount_differs": 2, "open_authorization": 1,
        }  # fmt: skip
        # Orders placed before `later` are found by what Stripe did since: new PaymentIntents
        # and refunds (the event-only mismatch rides along with its order's refund).
        fresh = Reconciler(pool, payment_records(stripe_settings, pool))
        assert _found((await fresh.reconcile(later)).mismatches) == expected

        code, out, err = await _reconcile_cli(
            url, tmp_path, localstripe, "--since", since.isoformat(), "--json"
        )
        assert code == 1, err
        assert _found(json.loads(out)["mismatches"]) == expected
        assert await issued_refunds(pool, refunded) == []  # nothing of ours was touched


async def test_an_unreachable_stripe_is_exit_status_2_and_a_503(
    postgres_url: str, stripe_settings: Settings, tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with fresh_database(postgres_url) as (url, pool):
        code, _, err = await _reconcile_cli(url, tmp_path, nowhere)
        assert code == 2 and "payment provider did not answer" in err, err
        unreachable = on_localstripe(stripe_settings, nowhere, stripe_timeout_s=2)
        async with _api(unreachable, url) as http:
            answer = await http.get("/api/v1/admin/reconciliation", headers=_admin(unreachable))
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert await pool.fetchval("SELECT count(*) FROM reconciliation_runs") == 0
