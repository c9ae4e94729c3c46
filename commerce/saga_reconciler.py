"""The saga reconciler: starts the saga of every placed order whose checkout could not (Temporal
was unreachable), so that no order waits for its client to repeat the request.

It runs in the worker, one leader among the worker processes (a PostgreSQL advisory lock, as the
projector). Its work list is the saga-start outbox (eventstore/saga_starts.py) and its checkpoint
is the outbox's marks: each start request is marked once its saga is known to be started, so a
new leader resumes exactly where the last one stopped. A request becomes due half of
COMMERCE_SAGA_RECONCILE_S after checkout recorded it (its checkout gave up long before) and the
reconciler looks every half of it, so a placed order has its saga within COMMERCE_SAGA_RECONCILE_S
once Temporal answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
from prometheus_client import Counter
from temporalio.client import Client
from temporalio.service import RPCError

from commerce.payload_codec import UnknownPayloadKey
from commerce.saga_start import SagaStart, start_saga, unseal
from eventstore.leadership import Leadership
from eventstore.saga_starts import PendingStart, SagaStarts

log = logging.getLogger("commerce.saga_reconciler")

SAGAS_STARTED_BY_RECONCILER = Counter(
    "commerce_sagas_started_by_reconciler_total",
    "Sagas of placed orders started by the reconciler because their checkout could not",
)
_LOCK_CLASS = 0x73616761  # advisory lock namespace of reconciler leadership
_NAME = "saga-reconciler"


@dataclass
class Reconciled:
    """What one pass did, by order id: sagas it started; sagas found already run (marked without
    a start); orders never placed (forgotten once abandoned); start requests it cannot unseal."""

    started: list[str] = field(default_factory=list)
    earlier: list[str] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


class SagaReconciler:
    """Starts the sagas whose start requests the outbox has held unmarked for `reconcile_s` / 2
    seconds; a pass goes through all of them, `page_size` at a time, started concurrently."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        client: Client,
        reconcile_s: float,
        customer_key: Callable[[str], str],
        page_size: int = 100,
    ) -> None:
        self._client = client
        self._customer_key = customer_key  # the CustomerId search attribute of a customer id
        self._leadership = Leadership(pool, _LOCK_CLASS, _NAME)
        self._due_after_s = reconcile_s / 2
        self._interval_s = reconcile_s / 2
        self._page_size = page_size

    @property
    def is_leader(self) -> bool:
        return self._leadership.connection is not None

    async def run_once(self) -> Reconciled:
        """One pass over every due start request, if this process leads. Raises what the Temporal
        client raises when Temporal cannot be reached, once the starts made are marked."""
        done = Reconciled()
        if not await self._leadership.acquire():
            return done
        leader = self._leadership.connection
        assert leader is not None
        starts = SagaStarts(leader)
        page = await starts.due(self._due_after_s, self._page_size)
        while page:
            await self._reconcile_page(starts, page, done)
            if len(page) < self._page_size:
                break
            page = await starts.due(self._due_after_s, self._page_size, after=page[-1])
        return done

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Reconcile every `reconcile_s` / 2 seconds until `stop` is set; a non-leader keeps
        trying to lead."""
        try:
            while not stop.is_set():
                try:
                    await self.run_once()
                except Exception as error:  # Temporal or PostgreSQL unreachable: retry later
                    log.warning(
                        "saga reconciliation failed; retrying in %.0f s: %s",
                        self._interval_s, error or type(error).__name__,
                        exc_info=not isinstance(error, RPCError),  # an outage needs no trace
                    )  # fmt: skip
                    await self.close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval_s)
        finally:
            await self.close()

    async def close(self) -> None:
        """Give up leadership."""
        await self._leadership.release()

    async def _reconcile_page(
        self, starts: SagaStarts, page: list[PendingStart], done: Reconciled
    ) -> None:
        this = Reconciled()
        try:
            outcomes = await asyncio.gather(
                *(self._reconcile(pending, this) for pending in page), return_exceptions=True
            )
        finally:
            await starts.mark_started(this.started, "reconciler")
            await starts.mark_started(this.earlier, "earlier")
            await starts.forget(this.unplaced)
            SAGAS_STARTED_BY_RECONCILER.inc(len(this.started))
            for name, order_ids in vars(this).items():
                getattr(done, name).extend(order_ids)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _reconcile(self, pending: PendingStart, done: Reconciled) -> None:
        order_id = pending.order_id
        if pending.stream_version == 0:
            done.unplaced.append(order_id)
            return
        if pending.stream_version > 1:
            # A saga has recorded a step: it ran, whatever Temporal still remembers of it.
            done.earlier.append(order_id)
            return
        try:
            saga_input = await unseal(self._client, pending.sealed_input)
        except (UnknownPayloadKey, ValueError) as error:
            log.error(
                "the saga of order %s cannot start: its start request cannot be unsealed (%s);"
                " configure the payload key it was sealed with",
                order_id, error, extra={"order_id": order_id},
            )  # fmt: skip
            done.unreadable.append(order_id)
            return
        start = SagaStart(saga_input, pending.total, self._customer_key(saga_input.customer_id))
        if await start_saga(self._client, start):
            log.info("started the saga of order %s", order_id, extra={"order_id": order_id})
            done.started.append(order_id)
        else:
            done.earlier.append(order_id)  # its workflow had already run to its end
