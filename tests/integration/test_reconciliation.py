"""Reconciliation on the real stack: a shop of real orders (completed, declined, failed, cancelled,
cancelled after its capture and refunded, amended, 3-D Secure) reconciles clean in process, from
the shell and over HTTP; each kind of mismatch injected into the provider's ledger or our events
is reported, with the exit status, the JSON and the metric saying so."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from activities.sandbox_records import SandboxPaymentRecords
from api.app import create_app
from commerce import reconcile
from commerce.reconcile import Reconciler
from commerce.settings import Settings
from commerce.tokens import mint_token
from domain.events import RefundIssued
from domain.provider_payments import ProviderPayments
from domain.reconciliation import MismatchKind
from eventstore.orders import OrderRepository, order_stream
from eventstore.sandbox import SandboxLedger
from eventstore.store import EventStore, NewEvent
from tests.integration.shop_support import fresh_database, running_shop
from tests.ledgers import ledger_violations

KINDS = ("unrecorded", "no_provider_effect", "amount_differs", "open_authorization")


async def _reconcile_cli(database_url: str, data_dir: Path, *args: str) -> tuple[int, str, str]:
    """`commerce reconcile` as an operator runs it, against `database_url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMERCE_", "TEMPORAL_"))}
    env |= {
        "COMMERCE_DATABASE_URL": database_url,
        "COMMERCE_DATA_DIR": str(data_dir),
        "COMMERCE_LOG_JSON": "false",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "reconcile", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@asynccontextmanager
async def _api(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API on the shop's database."""
    app = create_app(settings.model_copy(update={"database_url": database_url}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
            yield client


def _headers(settings: Settings, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, 'ops', list(roles))}"}


async def _status(pool: asyncpg.Pool, order_id: str) -> str:
    order = await OrderRepository(EventStore(pool)).load(order_id)
    assert order is not None
    return str(order.status)


async def test_a_shop_of_real_orders_reconciles_clean_in_process_from_the_shell_and_over_http(
    temporal_client: Client, postgres_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with fresh_database(postgres_url) as (url, pool):
        async with running_shop(temporal_client, pool) as shop:
            ids = await asyncio.gather(
                shop.completed(),
                shop.declined(),
                shop.failed_after_authorization(),
                shop.cancelled_awaiting_payment(),
                shop.authenticated(),
                shop.amended(),
                shop.cancelled_after_capture(),
            )
        statuses = [await _status(pool, i) for i in ids]
        assert statuses == [
            "completed", "failed", "failed", "cancelled", "completed", "completed", "cancelled",
        ]  # fmt: skip
        refunded = ids[-1]
        assert await pool.fetchval(
            "SELECT count(*) FROM sandbox_ledger WHERE order_id = $1 AND operation IN"
            " ('capture', 'refund')",
            refunded,
        ) == 2  # fmt: skip
        assert await ledger_violations(pool, ids) == []

        report = await Reconciler(pool, SandboxPaymentRecords(pool)).reconcile()
        assert report.clean, report.mismatches
        assert (report.orders_checked, report.orders_in_flight) == (7, 0)
        assert report.counts == dict.fromkeys(KINDS, 0)

        code, out, err = await _reconcile_cli(url, tmp_path, "--json")
        assert code == 0, err
        answer = json.loads(out)
        assert answer["clean"] is True and answer["orders_checked"] == 7, answer
        assert answer["mismatches"] == []
        code, out, _ = await _reconcile_cli(url, tmp_path)
        assert code == 0 and "7 order(s) reconciled (all orders), 0 still in flight" in out, out

        async with _api(settings, url) as http:
            answer = await http.get(
                "/api/v1/admin/reconciliation", headers=_headers(settings, "admin")
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["clean"] is True and answer.json()["orders_checked"] == 7


async def _inject_unrecorded_capture(pool: asyncpg.Pool, order_id: str) -> None:
    await pool.execute(
        "INSERT INTO sandbox_ledger (idempotency_key, provider, operation, order_id, amount,"
        " reference) VALUES ($1, 'payment', 'capture', $2, 700, 'capt_nobody_recorded')",
        f"order-{order_id}:capture-again", order_id,
    )  # fmt: skip


async def _inject_refund_the_provider_lacks(pool: asyncpg.Pool, order_id: str) -> None:
    store = EventStore(pool)
    version = len(await store.read_stream(order_stream(order_id)))
    refund = RefundIssued(order_id=order_id, refund_id="refu_never_made", amount=500, reason="x")
    await store.append(
        order_stream(order_id), [NewEvent(uuid.uuid4(), refund.type, refund.to_data())], version
    )


async def test_each_kind_of_mismatch_is_reported_when_injected(
    temporal_client: Client, postgres_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with fresh_database(postgres_url) as (url, pool):
        async with running_shop(temporal_client, pool) as shop:
            extra, lacking, differs, failed = await asyncio.gather(
                shop.completed(), shop.completed(), shop.completed(),
                shop.failed_after_authorization(),
            )  # fmt: skip
        reconciler = Reconciler(pool, SandboxPaymentRecords(pool))
        assert (await reconciler.reconcile()).clean  # as the sagas left them

        await _inject_unrecorded_capture(pool, extra)
        await _inject_refund_the_provider_lacks(pool, lacking)
        await pool.execute(
            "UPDATE sandbox_ledger SET amount = amount - 1"
            " WHERE order_id = $1 AND operation = 'capture'",
            differs,
        )
        await pool.execute(
            "DELETE FROM sandbox_ledger WHERE order_id = $1 AND operation = 'void'", failed
        )

        expected = {
            (extra, "unrecorded", "capture", "capt_nobody_recorded", None, 700),
            (lacking, "no_provider_effect", "refund", "refu_never_made", 500, None),
            (differs, "amount_differs", "capture", 3000, 2999),
            (failed, "open_authorization", "authorization", 1500, 1500),
        }
        report = await reconciler.reconcile()
        assert _found(report.mismatches) == expected
        assert report.counts == dict.fromkeys(KINDS, 1) and not report.clean

        code, out, err = await _reconcile_cli(url, tmp_path, "--json")
        assert code == 1, err
        assert _found(json.loads(out)["mismatches"]) == expected
        code, out, _ = await _reconcile_cli(url, tmp_path)
        assert code == 1 and all(kind in out for kind in KINDS), out
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        code, out, _ = await _reconcile_cli(url, tmp_path, "--since", tomorrow, "--json")
        assert code == 0 and json.loads(out)["orders_checked"] == 0, out

        async with _api(settings, url) as http:
            admin = _headers(settings, "admin")
            answer = await http.get("/api/v1/admin/reconciliation", headers=admin)
            assert answer.status_code == 200, answer.text
            assert _found(answer.json()["mismatches"]) == expected
            metrics = (await http.get("/metrics")).text
            for kind in KINDS:  # the API's own run is the latest stored
                assert f'commerce_reconciliation_mismatches{{kind="{kind}"}} 1.0' in metrics
            since = await http.get(
                "/api/v1/admin/reconciliation", params={"since": tomorrow}, headers=admin
            )
            assert since.status_code == 200 and since.json()["orders_checked"] == 0
            metrics = (await http.get("/metrics")).text
            assert 'commerce_reconciliation_mismatches{kind="unrecorded"} 0.0' in metrics
            bad = await http.get(
                "/api/v1/admin/reconciliation", params={"since": "soon"}, headers=admin
            )
            assert bad.status_code == 422, bad.text
            customer = await http.get(
                "/api/v1/admin/reconciliation", headers=_headers(settings, "customer")
            )
            assert customer.status_code == 403


def _found(mismatches: list[Any]) -> set[tuple[Any, ...]]:
    """(order, kind, operation, [reference when it is not the saga's own], ours, provider)."""
    found = set()
    for m in mismatches:
        m = m if isinstance(m, dict) else _as_dict(m)
        named = m["reference"] in ("capt_nobody_recorded", "refu_never_made")
        reference = (m["reference"],) if named else ()
        found.add(
            (m["order_id"], str(m["kind"]), m["operation"], *reference, m["recorded_amount"],
             m["provider_amount"])
        )  # fmt: skip
    return found


def _as_dict(mismatch: Any) -> dict[str, Any]:
    return {name: getattr(mismatch, name) for name in mismatch.__slots__}


async def test_the_ledger_checker_reconciles_references_not_only_totals(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    async with running_shop(temporal_client, pool) as shop:
        order_id = await shop.completed()
    assert await ledger_violations(pool, [order_id]) == []
    await pool.execute(
        "UPDATE sandbox_ledger SET reference = 'capt_someone_elses'"
        " WHERE order_id = $1 AND operation = 'capture'",
        order_id,
    )

    problems = await ledger_violations(pool, [order_id])
    assert any("unrecorded" in p and "capt_someone_elses" in p for p in problems), problems
    assert any("no_provider_effect" in p for p in problems), problems


class RefundedWhileRead(SandboxPaymentRecords):
    """An operator's refund lands between our read of the orders and the provider's: requested
    on the order's stream, then made at the gateway."""

    def __init__(self, pool: asyncpg.Pool, order_id: str) -> None:
        super().__init__(pool)
        self._pool, self._order_id, self._refunded = pool, order_id, False

    async def payments_of(self, order_ids: Sequence[str]) -> Mapping[str, ProviderPayments]:
        if not self._refunded:
            self._refunded = True
            orders = OrderRepository(EventStore(self._pool))
            order = await orders.load(self._order_id)
            assert order is not None and order.capture_id is not None
            order.request_refund("goodwill-1", 500, "goodwill")
            await orders.save(order)
            await self._pool.execute(
                "INSERT INTO sandbox_ledger (idempotency_key, provider, operation, order_id,"
                " amount, reference, detail) VALUES ($1, 'payment', 'refund', $2, 500,"
                " 'refu_while_read', $3)",
                f"order-{self._order_id}:refund-goodwill-1", self._order_id, order.capture_id,
            )  # fmt: skip
        return await super().payments_of(order_ids)


async def test_an_order_whose_money_moves_while_it_is_reconciled_is_judged_again(
    temporal_client: Client, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_shop(temporal_client, pool) as shop:
        judged_again, judged_once = await asyncio.gather(shop.completed(), shop.completed())

    report = await Reconciler(pool, RefundedWhileRead(pool, judged_again)).reconcile_orders(
        [judged_again]
    )
    assert report.clean, report.mismatches  # the refund under way is in flight, not unrecorded
    assert report.orders_in_flight == 1

    monkeypatch.setattr(reconcile, "REJUDGE_ROUNDS", 0)  # what a single reading would say
    report = await Reconciler(pool, RefundedWhileRead(pool, judged_once)).reconcile_orders(
        [judged_once]
    )
    assert [(m.kind, m.reference) for m in report.mismatches] == [
        (MismatchKind.UNRECORDED, "refu_while_read")
    ]


async def test_a_provider_that_does_not_answer_is_a_503_and_exit_status_2(
    postgres_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with fresh_database(postgres_url) as (url, pool):
        await SandboxLedger(pool).set_available("payment", False)
        code, _, err = await _reconcile_cli(url, tmp_path)
        assert code == 2 and "payment provider did not answer" in err, err
        async with _api(settings, url) as http:
            answer = await http.get(
                "/api/v1/admin/reconciliation", headers=_headers(settings, "admin")
            )
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert await pool.fetchval("SELECT count(*) FROM reconciliation_runs") == 0
