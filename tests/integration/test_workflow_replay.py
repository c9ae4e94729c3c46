"""Recorded histories of real sagas replay against today's workflow code.

A change to the workflow that would break orders in flight fails here. To record the histories
anew (only after a deliberate, versioned change): COMMERCE_RECORD_HISTORIES=1 pytest this file.
Histories are recorded with clear payloads (the session's keys are new each run); the replayer
still decodes with the session's codec, which passes clear payloads through, so either kind replays.

Each history replays twice: in the SDK's sandbox, whose restrictions fail a workflow that reads
the clock, a random source or the environment on any path a history took, and unsandboxed, as the
worker runs workflows (worker.build_worker).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle, WorkflowHistory
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from commerce.payload_codec import EncryptionCodec, encrypted_data_converter, parse_keys
from domain.status import ShipmentStatus
from eventstore.orders import OrderRepository
from eventstore.sandbox import SandboxLedger
from eventstore.store import EventStore
from tests.conftest import TEST_PAYLOAD_KEYS
from tests.integration.reordered_saga import ReservesBeforeAuthorizing
from tests.integration.saga_support import (
    add_product,
    event_types,
    place_order,
    running_worker,
    start_saga,
)
from tests.integration.unversioned_amendment import FailsWhereItOffered
from tests.integration.unversioned_local_steps import (
    RunsEveryStepRemotelyUnversioned,
    RunsLocalStepsUnversioned,
)
from tests.integration.unversioned_money_exact import (
    CompensatesAsBeforeTheMoneyExactPatch,
    ReauthorizesAsBeforeThePartialCapturePatch,
    TracksEveryDeliveryWithAWorkflow,
)
from tests.integration.unversioned_operator_statuses import (
    UpsertsEveryStatusUnversioned,
    UpsertsOperatorStatusesUnversioned,
)
from tests.integration.unversioned_return_label import LabelsEveryReturn
from worker import sandbox_ports
from workflows.after_sale_contract import (
    RETURN_WORKFLOW,
    SIGNAL_RETURN_DELIVERED,
    UPDATE_APPROVE_RETURN,
    UPDATE_RECEIVE_RETURN,
    UPDATE_REQUEST,
    Decision,
    ReturnItem,
    ReturnReceipt,
    ReturnRequest,
    StepTiming,
    return_workflow_id,
)
from workflows.contract import (
    UPDATE_ACCEPT_AMENDMENT,
    UPDATE_CANCEL,
    UPDATE_RETRY,
    CancelRequest,
)
from workflows.order_fulfillment import OrderFulfillmentWorkflow
from workflows.order_return import ReturnWorkflow
from workflows.shipment_tracking import ShipmentTrackingWorkflow

HISTORIES = Path(__file__).parent.parent / "histories"
CASES = {"completed": "tok_ok", "capture_declined": "tok_capture_decline"}
# Recorded after the shipment-lifecycle patch: the saga that starts its tracking workflow, and
# that workflow through label_created, an overdue delivery and a late delivered. Kept as they
# are: since the delivery-sweep patch no saga starts that workflow, so they cannot be recorded
# again.
LIFECYCLE_CASES = ("completed_with_tracking", "shipment_lifecycle")
# Recorded after the partial-availability patch: one line short, the amendment accepted.
AMENDMENT_CASES = ("amendment_accepted",)
# Recorded after the undo-unrecorded-step patch: an authorization whose answer was lost, the
# stall timing out, and the authorization found by its key and voided.
LOST_ANSWER_CASES = ("lost_authorization_voided",)
# Recorded after the delivery-sweep patch: a completed saga that starts no tracking workflow
# (its delivery deadline is kept for the worker's sweep).
DELIVERY_SWEEP_CASES = ("completed_with_delivery_deadline",)
# Recorded after the partial-capture patch: the amended total captured from the original
# authorization (no void, no second authorization).
PARTIAL_CAPTURE_CASES = ("amendment_partially_captured",)
# Recorded after the money-exact patch: a capture whose answer was lost, then the customer's
# cancel (resolved forward: recorded, refunded in full); and a cancel during a shipping outage
# (the order ends at once, the carrier is asked later: CleanupDeferred, CleanupCompleted).
MONEY_EXACT_CASES = ("lost_capture_refunded", "cancelled_cleanup_deferred")
# Recorded before the return-label patch: a return requested, approved, received by an operator,
# restocked and refunded (no label asked of the carrier); and after it: the label made at
# approval, the goods received by the carrier's report (the return_delivered signal).
RETURN_CASES = ("return_received", "return_delivered_by_carrier")
# Recorded after the operator-statuses patch: `OrderStatus` upserted only into and out of the
# statuses operators list by; a completed order, and one that stalled and was retried.
OPERATOR_STATUS_CASES = ("completed_operator_statuses", "stalled_retried_operator_statuses")
# Recorded after the local-steps patch: the steps on our own stores as local activities; a
# completed order whose reservation was retried once in the worker, one that stalled on the
# carrier and was retried, one line short with the amendment accepted, and a cancel during a
# carrier outage (the reservation released locally, the shipment lookup deferred).
LOCAL_STEPS_CASES = (
    "completed_local_steps", "stalled_retried_local_steps", "amendment_local_steps",
    "cancelled_local_steps",
)  # fmt: skip


async def _clear_client(temporal_client: Client) -> Client:
    """A client of the session's server without the payload codec: histories are kept in clear."""
    return await Client.connect(
        temporal_client.service_client.config.target_host, namespace=temporal_client.namespace
    )


async def _save(case: str, handle: WorkflowHandle[Any, Any]) -> None:
    (HISTORIES / f"{case}.json").write_text((await handle.fetch_history()).to_json())


async def _until_recorded(pool: asyncpg.Pool, order_id: str, event_type: str) -> None:
    while event_type not in await event_types(pool, order_id):
        await asyncio.sleep(0.1)


@pytest.mark.skipif(not os.environ.get("COMMERCE_RECORD_HISTORIES"), reason="recording on demand")
@pytest.mark.parametrize("case", CASES)
async def test_record_history(temporal_client: Client, pool: asyncpg.Pool, case: str) -> None:
    sku = await add_product(pool, on_hand=10)
    order_id = await place_order(pool, [(sku, 1)])
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id, CASES[case])
        await handle.result()
    await _save(case, handle)


@pytest.mark.skipif(not os.environ.get("COMMERCE_RECORD_HISTORIES"), reason="recording on demand")
async def test_record_amendment_history(temporal_client: Client, pool: asyncpg.Pool) -> None:
    clear = await _clear_client(temporal_client)
    kept, short = await add_product(pool, on_hand=10), await add_product(pool, on_hand=1)
    order_id = await place_order(pool, [(kept, 2), (short, 3)])
    async with running_worker(clear, pool) as queue:
        saga = await start_saga(clear, queue, order_id, "tok_ok")
        await _until_recorded(pool, order_id, "AmendmentProposed")
        await saga.execute_update(UPDATE_ACCEPT_AMENDMENT)
        await saga.result()
    await _save(AMENDMENT_CASES[0], saga)


@pytest.mark.skipif(not os.environ.get("COMMERCE_RECORD_HISTORIES"), reason="recording on demand")
async def test_record_delivery_sweep_history(temporal_client: Client, pool: asyncpg.Pool) -> None:
    clear = await _clear_client(temporal_client)
    order_id = await place_order(pool, [(await add_product(pool, on_hand=10), 1)])
    async with running_worker(clear, pool) as queue:
        saga = await start_saga(clear, queue, order_id, "tok_ok")
        await saga.result()
    await _save(DELIVERY_SWEEP_CASES[0], saga)


@pytest.mark.skipif(not os.environ.get("COMMERCE_RECORD_HISTORIES"), reason="recording on demand")
async def test_record_partial_capture_history(temporal_client: Client, pool: asyncpg.Pool) -> None:
    clear = await _clear_client(temporal_client)
    kept, short = await add_product(pool, on_hand=10), await add_product(pool, on_hand=1)
    order_id = await place_order(pool, [(kept, 2), (short, 3)])
    async with running_worker(clear, pool) as queue:
        saga = await start_saga(clear, queue, order_id, "tok_ok")
        await _until_recorded(pool, order_id, "AmendmentProposed")
        await saga.execute_update(UPDATE_ACCEPT_AMENDMENT)
        await saga.result()
    await _save(PARTIAL_CAPTURE_CASES[0], saga)


@pytest.mark.skipif(not os.environ.get("COMMERCE_RECORD_HISTORIES"), reason="recording on demand")
async def test_record_lost_answer_history(temporal_client: Client, pool: asyncpg.Pool) -> None:
    from tests.integration.test_lost_answers import GIVES_UP, AuthorizesButLosesTheAnswer

    clear = await _clear_client(temporal_client)
    order_id = await place_order(pool, [(await add_product(pool, on_hand=5), 1)])
    ports = dataclasses.replace(
        sandbox_ports(pool), payments=AuthorizesButLosesTheAnswer(SandboxLedger(pool))
    )
    async with running_worker(clear, pool, ports) as queue:
        saga = await start_saga(clear, queue, order_id, "tok_ok", GIVES_UP)
        await saga.result()
    await _save(LOST_ANSWER_CASES[0], saga)


@pytest.mark.skipif(not os.environ.get("COMMERCE_RECORD_HISTORIES"), reason="recording on demand")
async def test_record_money_exact_histories(temporal_client: Client, pool: asyncpg.Pool) -> None:
    from tests.integration.test_money_exact import CapturesButLosesTheAnswer

    clear = await _clear_client(temporal_client)
    ledger = SandboxLedger(pool)
    lost = await place_order(pool, [(await add_product(pool, on_hand=5), 1)])
    ports = dataclasses.replace(sandbox_ports(pool), payments=CapturesButLosesTheAnswer(ledger))
    async with running_worker(clear, pool, ports) as queue:
        saga = await start_saga(clear, queue, lost, "tok_ok")
        await _until_recorded(pool, lost, "SagaStalled")
        await saga.execute_update(UPDATE_CANCEL, CancelRequest("changed my mind"))
        await saga.result()
    deferred = await place_order(pool, [(await add_product(pool, on_hand=5), 1)])
    await ledger.set_available("shipping", False)
    try:
        async with running_worker(clear, pool) as queue:
            later = await start_saga(clear, queue, deferred, "tok_ok")
            await _until_recorded(pool, deferred, "SagaStalled")
            await later.execute_update(UPDATE_CANCEL, CancelRequest("changed my mind"))
            await _until_recorded(pool, deferred, "OrderCancelled")
            await ledger.set_available("shipping", True)
            await later.result()
    finally:
        await ledger.set_available("shipping", True)
    for case, handle in zip(MONEY_EXACT_CASES, (saga, later), strict=True):
        await _save(case, handle)


async def _approved_return(
    client: Client, pool: asyncpg.Pool, queue: str
) -> WorkflowHandle[Any, Any]:
    """A delivered order of two units and a return of one of them, approved."""
    sku = await add_product(pool, on_hand=10)
    order_id = await place_order(pool, [(sku, 2)])
    await (await start_saga(client, queue, order_id)).result()
    orders = OrderRepository(EventStore(pool))
    order = await orders.load(order_id)
    assert order is not None
    order.track_shipment(ShipmentStatus.DELIVERED, f"rec-{order_id}", datetime.now(UTC).isoformat())
    await orders.save(order)
    return_id = str(uuid.uuid4())
    request = ReturnRequest(order_id, return_id, [ReturnItem(sku, 1)], "too many",
                            timing=StepTiming(3, 50))  # fmt: skip
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        RETURN_WORKFLOW, request, id=return_workflow_id(return_id), task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )  # fmt: skip
    await client.execute_update_with_start_workflow(
        UPDATE_REQUEST, request, start_workflow_operation=start, result_type=Decision
    )
    handle = client.get_workflow_handle(return_workflow_id(return_id))
    await handle.execute_update(UPDATE_APPROVE_RETURN, result_type=Decision)
    return handle


@pytest.mark.skipif(not os.environ.get("COMMERCE_RECORD_HISTORIES"), reason="recording on demand")
async def test_record_return_history(temporal_client: Client, pool: asyncpg.Pool) -> None:
    clear = await _clear_client(temporal_client)
    async with running_worker(clear, pool) as queue:
        handle = await _approved_return(clear, pool, queue)
        await handle.execute_update(UPDATE_RECEIVE_RETURN, ReturnReceipt(), result_type=Decision)
        assert await handle.result() == "refunded"
    await _save(RETURN_CASES[0], handle)


@pytest.mark.skipif(not os.environ.get("COMMERCE_RECORD_HISTORIES"), reason="recording on demand")
async def test_record_carrier_return_history(temporal_client: Client, pool: asyncpg.Pool) -> None:
    clear = await _clear_client(temporal_client)
    async with running_worker(clear, pool) as queue:
        handle = await _approved_return(clear, pool, queue)
        while "ReturnLabelCreated" not in await _types_of_return(pool, handle.id):
            await asyncio.sleep(0.1)
        await handle.signal(SIGNAL_RETURN_DELIVERED)
        assert await handle.result() == "refunded"
    await _save(RETURN_CASES[1], handle)


async def _types_of_return(pool: asyncpg.Pool, workflow_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT event_type FROM events WHERE data ->> 'return_id' = $1",
        workflow_id.removeprefix(return_workflow_id("")),
    )
    return [r["event_type"] for r in rows]


@pytest.mark.skipif(not os.environ.get("COMMERCE_RECORD_HISTORIES"), reason="recording on demand")
async def test_record_operator_status_histories(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    clear = await _clear_client(temporal_client)
    ledger = SandboxLedger(pool)
    completed = await place_order(pool, [(await add_product(pool, on_hand=5), 1)])
    stalled = await place_order(pool, [(await add_product(pool, on_hand=5), 1)])
    try:
        async with running_worker(clear, pool) as queue:
            saga = await start_saga(clear, queue, completed, "tok_ok")
            await saga.result()
            await ledger.set_available("shipping", False)
            retried = await start_saga(clear, queue, stalled, "tok_ok")
            await _until_recorded(pool, stalled, "SagaStalled")
            await ledger.set_available("shipping", True)
            await retried.execute_update(UPDATE_RETRY)
            await retried.result()
    finally:
        await ledger.set_available("shipping", True)
    for case, handle in zip(OPERATOR_STATUS_CASES, (saga, retried), strict=True):
        await _save(case, handle)


@pytest.mark.skipif(not os.environ.get("COMMERCE_RECORD_HISTORIES"), reason="recording on demand")
async def test_record_local_steps_histories(temporal_client: Client, pool: asyncpg.Pool) -> None:
    from tests.integration.test_local_steps import ReserveFailsAtFirst

    clear = await _clear_client(temporal_client)
    ledger = SandboxLedger(pool)
    completed = await place_order(pool, [(await add_product(pool, on_hand=5), 1)])
    ports = dataclasses.replace(sandbox_ports(pool), inventory=ReserveFailsAtFirst(pool, 1))
    async with running_worker(clear, pool, ports) as queue:
        saga = await start_saga(clear, queue, completed, "tok_ok")
        await saga.result()
    stalled = await place_order(pool, [(await add_product(pool, on_hand=5), 1)])
    kept, short = await add_product(pool, on_hand=10), await add_product(pool, on_hand=1)
    amended = await place_order(pool, [(kept, 2), (short, 3)])
    cancelled = await place_order(pool, [(await add_product(pool, on_hand=5), 1)])
    try:
        async with running_worker(clear, pool) as queue:
            await ledger.set_available("shipping", False)
            retried = await start_saga(clear, queue, stalled, "tok_ok")
            await _until_recorded(pool, stalled, "SagaStalled")
            await ledger.set_available("shipping", True)
            await retried.execute_update(UPDATE_RETRY)
            await retried.result()
            accepted = await start_saga(clear, queue, amended, "tok_ok")
            await _until_recorded(pool, amended, "AmendmentProposed")
            await accepted.execute_update(UPDATE_ACCEPT_AMENDMENT)
            await accepted.result()
            await ledger.set_available("shipping", False)
            undone = await start_saga(clear, queue, cancelled, "tok_ok")
            await _until_recorded(pool, cancelled, "SagaStalled")
            await undone.execute_update(UPDATE_CANCEL, CancelRequest("changed my mind"))
            await _until_recorded(pool, cancelled, "OrderCancelled")
            await ledger.set_available("shipping", True)
            await undone.result()
    finally:
        await ledger.set_available("shipping", True)
    for case, handle in zip(LOCAL_STEPS_CASES, (saga, retried, accepted, undone), strict=True):
        await _save(case, handle)


def _history(case: str) -> WorkflowHistory:
    path = HISTORIES / f"{case}.json"
    return WorkflowHistory.from_json(f"order-{case}", path.read_text())


def _replayer(runner: WorkflowRunner) -> Replayer:
    codec = EncryptionCodec(parse_keys(TEST_PAYLOAD_KEYS), "test-1")
    return Replayer(
        workflows=[OrderFulfillmentWorkflow, ShipmentTrackingWorkflow, ReturnWorkflow],
        data_converter=encrypted_data_converter(codec),
        workflow_runner=runner,
    )


RUNNERS = {"sandboxed": SandboxedWorkflowRunner(), "unsandboxed": UnsandboxedWorkflowRunner()}


@pytest.mark.parametrize(
    "case",
    [
        *CASES, *LIFECYCLE_CASES, *AMENDMENT_CASES, *LOST_ANSWER_CASES, *MONEY_EXACT_CASES,
        *PARTIAL_CAPTURE_CASES, *RETURN_CASES, *DELIVERY_SWEEP_CASES, *OPERATOR_STATUS_CASES,
        *LOCAL_STEPS_CASES,
    ],
)  # fmt: skip
@pytest.mark.parametrize("runner", RUNNERS)
async def test_recorded_saga_replays_without_nondeterminism(case: str, runner: str) -> None:
    result = await _replayer(RUNNERS[runner]).replay_workflow(_history(case))
    assert result.replay_failure is None


async def test_a_reordered_saga_fails_the_replay() -> None:
    replayer = Replayer(workflows=[ReservesBeforeAuthorizing])
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(_history("completed"))


async def test_dropping_the_amendment_branch_unversioned_fails_the_replay() -> None:
    replayer = Replayer(workflows=[FailsWhereItOffered])
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(_history(AMENDMENT_CASES[0]))


async def test_refunding_a_capture_without_the_patch_fails_the_replay() -> None:
    replayer = Replayer(workflows=[CompensatesAsBeforeTheMoneyExactPatch])
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(_history(MONEY_EXACT_CASES[0]))


async def test_re_authorizing_an_amendment_without_the_patch_fails_the_replay() -> None:
    replayer = Replayer(workflows=[ReauthorizesAsBeforeThePartialCapturePatch])
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(_history(PARTIAL_CAPTURE_CASES[0]))


async def test_asking_for_a_return_label_without_the_patch_fails_the_replay() -> None:
    replayer = Replayer(workflows=[LabelsEveryReturn])
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(_history(RETURN_CASES[0]))


async def test_tracking_every_delivery_with_a_workflow_without_the_patch_fails_the_replay() -> None:
    replayer = Replayer(workflows=[TracksEveryDeliveryWithAWorkflow])
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(_history(DELIVERY_SWEEP_CASES[0]))


@pytest.mark.parametrize("case", OPERATOR_STATUS_CASES)
async def test_upserting_every_status_without_the_patch_fails_the_replay(case: str) -> None:
    replayer = Replayer(workflows=[UpsertsEveryStatusUnversioned])
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(_history(case))


async def test_upserting_operator_statuses_only_without_the_patch_fails_older_replays() -> None:
    replayer = Replayer(workflows=[UpsertsOperatorStatusesUnversioned])
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(_history("completed"))


async def test_running_local_steps_without_the_patch_fails_older_replays() -> None:
    replayer = Replayer(workflows=[RunsLocalStepsUnversioned])
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(_history("completed"))


@pytest.mark.parametrize("case", LOCAL_STEPS_CASES)
async def test_running_every_step_remotely_without_the_patch_fails_the_replay(case: str) -> None:
    replayer = Replayer(workflows=[RunsEveryStepRemotelyUnversioned])
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(_history(case))
