"""The Temporal worker process: the order saga's workflow and activities, the projector, the
saga reconciler and the event dispatcher (webhooks, customer notifications) (`commerce worker`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import asyncpg
import redis.asyncio as redis
from prometheus_client import start_http_server
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Interceptor, UnsandboxedWorkflowRunner, Worker

from activities.after_sale import AfterSaleActivities
from activities.amendment import AmendmentActivities
from activities.compensation import CompensationActivities
from activities.fulfillment import FulfillmentActivities
from activities.in_doubt import InDoubtActivities
from activities.metrics import SagaStepMetrics
from activities.ports import RetryCarts, SagaPorts
from activities.refusals import DomainRefusalsAreFinal, StreamConflictsRetried
from activities.sandbox import SandboxNotifications, SandboxPayments, SandboxShipping
from activities.shipment import ShipmentActivities
from api.retry_carts import RedisRetryCarts
from commerce.connections import connect_temporal, create_pool, redis_options
from commerce.customer_keys import customer_search_key
from commerce.delivery_sweep import DeliverySweep
from commerce.event_dispatcher import EventDispatcher
from commerce.saga_reconciler import SagaReconciler
from commerce.settings import Settings, get_settings
from commerce.telemetry import configure_tracing
from eventstore.catalog import Catalog
from eventstore.delivery_deadlines import DeliveryDeadlines
from eventstore.inventory import Inventory
from eventstore.order_cache import OrderCache
from eventstore.orders import OrderRepository
from eventstore.projections import Projector
from eventstore.sandbox import SandboxLedger
from eventstore.spending import SpendingLimits
from eventstore.store import EventStore
from workflows.contract import STEPS, TASK_QUEUE
from workflows.order_cancellation import OrderCancellationWorkflow
from workflows.order_fulfillment import OrderFulfillmentWorkflow
from workflows.order_return import ReturnWorkflow
from workflows.refund import RefundWorkflow
from workflows.shipment_tracking import ShipmentTrackingWorkflow

log = logging.getLogger("commerce.worker")


def sandbox_ports(
    pool: asyncpg.Pool, carts: RetryCarts | None = None, order_cache_size: int | None = None
) -> SagaPorts:
    """The saga's ports on one pool, with the simulated providers (and `carts`, if given).

    One order cache for all the activities bound to them, `order_cache_size` orders (None:
    COMMERCE_ORDER_CACHE_SIZE): a step loads the order as the previous step stored it, plus the
    events appended since.
    """
    if order_cache_size is None:
        order_cache_size = get_settings().order_cache_size
    ledger = SandboxLedger(pool)
    return SagaPorts(
        orders=OrderRepository(EventStore(pool), OrderCache(order_cache_size)),
        inventory=Inventory(pool),
        spending=SpendingLimits(pool),
        payments=SandboxPayments(ledger),
        shipping=SandboxShipping(ledger),
        notifier=SandboxNotifications(ledger),
        carts=carts,
        deadlines=DeliveryDeadlines(pool),
    )


def ports_for(
    settings: Settings, pool: asyncpg.Pool, cart_store: redis.Redis | None = None
) -> SagaPorts:
    """The ports `COMMERCE_PAYMENT_PROVIDER` chooses; shipping and notifications are simulated;
    retry carts go to the Redis cart store (`COMMERCE_REDIS_URL`; `commerce worker` always has
    one, a test without it gives no cart back)."""
    carts = None if cart_store is None else RedisRetryCarts(cart_store, Catalog(pool), settings)
    ports = sandbox_ports(pool, carts, settings.order_cache_size)
    if settings.payment_provider == "stripe":
        from activities.stripe_payments import StripeGateway

        ports = dataclasses.replace(ports, payments=StripeGateway.from_settings(settings, pool))
    return ports


def saga_activities(ports: SagaPorts) -> list[Callable[..., Any]]:
    """Every activity of the saga and the post-sale workflows, bound to `ports`."""
    forward, undo = FulfillmentActivities(ports), CompensationActivities(ports)
    in_doubt = InDoubtActivities(ports)
    shipment = ShipmentActivities(ports)
    amendment = AmendmentActivities(ports)
    after_sale = AfterSaleActivities(ports)
    return [
        forward.authorize_payment,
        forward.check_payment_action,
        forward.expire_payment_action,
        forward.reserve_inventory,
        forward.create_shipment,
        forward.confirm_order,
        forward.capture_payment,
        forward.send_notifications,
        undo.void_payment,
        undo.release_inventory,
        undo.cancel_shipment,
        undo.refund_payment,
        in_doubt.undo_unrecorded_step,
        in_doubt.resolve_capture,
        undo.record_saga_event,
        shipment.record_carrier_event,
        shipment.record_delivery_overdue,
        amendment.propose_amendment,
        amendment.accept_amendment,
        amendment.expire_amendment,
        amendment.reauthorize_payment,
        amendment.adjust_payment_for_amendment,
        after_sale.request_cancellation_after_sale,
        after_sale.request_refund,
        after_sale.issue_refund,
        after_sale.request_return,
        after_sale.approve_return,
        after_sale.create_return_label,
        after_sale.reject_return,
        after_sale.receive_return,
        after_sale.close_return,
        after_sale.restock_return,
        after_sale.request_return_refund,
    ]


def build_worker(
    client: Client,
    pool: asyncpg.Pool,
    task_queue: str = TASK_QUEUE,
    interceptors: Sequence[Interceptor] = (),
    max_cached_workflows: int = 250,
    ports: SagaPorts | None = None,
) -> Worker:
    """The saga's worker. The client's tracing interceptor, if any, applies first (outermost).

    The workflow cache is bounded (an unbounded one grew the worker by ~77 KiB per order while
    every completed order left a shipment-tracking workflow behind). An evicted workflow is
    replayed from its history when its next event arrives.

    Workflows run outside the SDK's sandbox (`UnsandboxedWorkflowRunner`): the sandbox cost
    15 ms of the worker's 64 ms of CPU per order (docs/benchmarks.md, runs 9 and 10),
    re-importing the workflow's module for every run and exec'ing a code string for every payload
    it encodes. What it checked is checked where it costs no order anything: every recorded
    history replays under the sandbox (tests/integration/test_workflow_replay.py), and
    tests/unit/test_workflow_determinism.py reads every module the workflows load for a clock,
    random source, environment or I/O, and for state kept between runs.
    """
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[
            OrderFulfillmentWorkflow,
            ShipmentTrackingWorkflow,
            OrderCancellationWorkflow,
            RefundWorkflow,
            ReturnWorkflow,
        ],
        activities=saga_activities(ports or sandbox_ports(pool)),
        interceptors=[
            *interceptors,
            SagaStepMetrics(STEPS),
            DomainRefusalsAreFinal(),
            StreamConflictsRetried(),
        ],
        max_concurrent_activities=200,
        max_concurrent_workflow_tasks=200,
        max_cached_workflows=max_cached_workflows,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


def serve_metrics(settings: Settings) -> Runtime | None:
    """prometheus_client's registry (business and projector metrics) on the worker metrics
    port, and a Temporal runtime exposing the SDK's own metrics on the SDK metrics port.

    A port already taken (a second worker on one machine) costs that endpoint, not the worker.
    """
    host = settings.worker_metrics_host
    if settings.worker_metrics_port:
        try:
            start_http_server(settings.worker_metrics_port, host)
            log.info("metrics on http://%s:%d/metrics", host, settings.worker_metrics_port)
        except OSError as error:
            log.warning("COMMERCE_WORKER_METRICS_PORT: no metrics endpoint: %s", error)
    if not settings.worker_sdk_metrics_port:
        return None
    address = f"{host}:{settings.worker_sdk_metrics_port}"
    try:
        return Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(
                    bind_address=address,
                    counters_total_suffix=True,
                    unit_suffix=True,
                    durations_as_seconds=True,
                )
            )
        )
    except ValueError as error:  # how the SDK reports a port already in use
        log.warning("COMMERCE_WORKER_SDK_METRICS_PORT: no SDK metrics endpoint: %s", error)
        return None


# Seconds the background leaders get to end on their own after SIGTERM: a webhook attempt in
# flight is cut short after that and sent again later (same Webhook-Id). Kubernetes gives a pod
# 30 s by default before it kills it.
LEADERS_STOP_S = 10.0


async def run_worker(settings: Settings) -> int:
    if refusal := settings.sandbox_refusal():  # production runs real providers, or says so
        raise RuntimeError(refusal)
    tracing = configure_tracing("commerce-worker", settings)
    runtime = serve_metrics(settings)
    pool = await create_pool(settings)
    # Connects on first use: the worker starts, and orders end, while Redis is down.
    cart_store = redis.from_url(settings.redis_url, **redis_options(settings))
    ports = ports_for(settings, pool, cart_store)
    client = await connect_temporal(
        settings,
        interceptors=tracing.temporal_interceptors() if tracing else [],
        **({"runtime": runtime} if runtime else {}),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reconciler = SagaReconciler(
        pool, client, settings.saga_reconcile_s, partial(customer_search_key, settings)
    )
    dispatcher = EventDispatcher(pool, settings, SandboxNotifications(SandboxLedger(pool)))
    leaders = [
        asyncio.create_task(Projector(pool).run_forever(stop)),
        asyncio.create_task(reconciler.run_forever(stop)),
        asyncio.create_task(dispatcher.run_forever(stop)),
        asyncio.create_task(DeliverySweep(pool, settings.delivery_sweep_s).run_forever(stop)),
    ]
    try:
        async with build_worker(
            client, pool, max_cached_workflows=settings.worker_max_cached_workflows, ports=ports
        ):
            log.info("worker polling task queue %s (payments: %s)", TASK_QUEUE,
                     settings.payment_provider)  # fmt: skip
            await stop.wait()
    finally:
        stop.set()  # also when the worker itself failed
        # Each leader ends on its own once `stop` is set, giving up its lock and connection;
        # one still busy after LEADERS_STOP_S (a webhook attempt in flight) is cancelled, and
        # still hands its connection back (eventstore/leadership.py), so the pool can close.
        _, busy = await asyncio.wait(leaders, timeout=LEADERS_STOP_S)
        for task in busy:
            task.cancel()
        for task in leaders:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await pool.close()
        await cart_store.aclose()
        if tracing:
            tracing.shutdown()  # flushes the spans still batched
    return 0


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (not on Windows), else None: asyncio's own.

    The worker's time goes to sockets (Temporal's gRPC bridge, PostgreSQL, Redis), which is
    what uvloop serves faster; the Temporal SDK runs its workflows on a loop of its own either
    way (tests/integration/test_worker_loop.py runs a saga under it).
    """
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def serve(settings: Settings) -> int:
    """Run the worker process until SIGINT or SIGTERM (`commerce worker`, `python worker.py`)."""
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(run_worker(settings))


if __name__ == "__main__":
    from commerce.logs import configure_logging

    configure_logging()
    raise SystemExit(serve(get_settings()))
