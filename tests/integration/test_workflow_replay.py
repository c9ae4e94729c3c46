"""Recorded histories of real sagas replay against today's workflow code.

A change to the workflow that would break orders in flight fails here. To record the histories
anew (only after a deliberate, versioned change): COMMERCE_RECORD_HISTORIES=1 pytest this file.
"""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.integration.reordered_saga import ReservesBeforeAuthorizing
from tests.integration.saga_support import add_product, place_order, running_worker, start_saga
from workflows.order_fulfillment import OrderFulfillmentWorkflow

HISTORIES = Path(__file__).parent.parent / "histories"
CASES = {"completed": "tok_ok", "capture_declined": "tok_capture_decline"}


@pytest.mark.skipif(not os.environ.get("COMMERCE_RECORD_HISTORIES"), reason="recording on demand")
@pytest.mark.parametrize("case", CASES)
async def test_record_history(temporal_client: Client, pool: asyncpg.Pool, case: str) -> None:
    sku = await add_product(pool, on_hand=10)
    order_id = await place_order(pool, [(sku, 1)])
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id, CASES[case])
        await handle.result()
    history = await handle.fetch_history()
    (HISTORIES / f"{case}.json").write_text(history.to_json())


def _history(case: str) -> WorkflowHistory:
    path = HISTORIES / f"{case}.json"
    return WorkflowHistory.from_json(f"order-{case}", path.read_text())


@pytest.mark.parametrize("case", CASES)
async def test_recorded_saga_replays_without_nondeterminism(case: str) -> None:
    replayer = Replayer(workflows=[OrderFulfillmentWorkflow])
    result = await replayer.replay_workflow(_history(case))
    assert result.replay_failure is None


async def test_a_reordered_saga_fails_the_replay() -> None:
    replayer = Replayer(workflows=[ReservesBeforeAuthorizing])
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(_history("completed"))
