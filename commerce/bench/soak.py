"""`commerce bench --soak N`: what an order costs as the orders pile up, beside the bare workflow.

N orders through the HTTP API (new cart, one line, checkout, then the saga's `completed` seen
with `handle.result()`, as the orders section places them), all of one product, on the bench's
servers, one `commerce worker` and one `commerce api`, in ten slices of N/10 at one concurrency
after a warm-up of one order per lane. Each slice runs to its last order, then, once the read
models have caught up, one sample: the API's and worker's RSS, the size of the event store and
of the database, the bytes the Temporal dev server's SQLite file uses. A sample so holds whole
orders only.

After each sample, as many bare six-activity workflows (`commerce.bench.bare_workflow`, the
baseline of the orders section) at the same concurrency, on the same servers: interleaved slice
by slice, both sides meet the same store and the same moment of the machine, so a cost that
grows with the store grows on both, and one that grows with our code on ours only. The bare
workflows write to the Temporal dev server's SQLite file only, never to PostgreSQL: their bytes
are read once more after their slice, and a slice of ours counts the Temporal bytes from that
reading, not from the sample before it (`Soak.temporal_bytes_before`); the event store and
database bytes between two samples are exactly one slice's orders'.

CPU seconds by process (`commerce.bench.cpu`) are read around each slice on both sides: ours
from the slice's first order until the read models caught up, the bare workflows' from the first
start to the last result (the API idles then, the worker's feed followers poll, and the bench
process runs the bare workflows' own worker).

`commerce.bench.soak_report` holds the result to the issue's rule (nothing may grow per order
except the data itself), `commerce.bench.soak_text` prints it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from temporalio.client import Client

from commerce.bench.app import App
from commerce.bench.counters import PostgresCounters, feed_caught_up, sqlite_used_bytes
from commerce.bench.cpu import cpu_seconds, spent
from commerce.bench.measure import Measurement, drive
from commerce.bench.memory import rss_mib
from commerce.bench.orders import placing_orders, running_bare
from commerce.settings import Settings

SLICES = 10  # samples at every 10% of the orders; the first and last slice are compared
SLICE_TIMEOUT_S = 1800.0  # one slice (500 orders in the default soak) far slower than ~10/s
CATCH_UP_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Sample:
    """The processes and the stores after `orders` soak orders (0: after the warm-up)."""

    orders: int
    elapsed_s: float  # since the first slice began, the bare slices before it included
    rss_mib: dict[str, float]  # by process: "api", "worker"
    event_store_bytes: int  # `events` with its indexes and TOAST
    database_bytes: int  # pg_database_size: the event store and every other table
    temporal_db_bytes: int | None  # pages in use in the dev server's SQLite file (None: none)


@dataclass(frozen=True)
class BareSlice:
    """The bare workflows run right after one slice of ours and its sample."""

    measured: Measurement  # as many as the slice's orders, at the same concurrency
    cpu_s: dict[str, float]  # CPU seconds by role (`commerce.bench.cpu.ROLES`)
    temporal_db_bytes: int | None  # the dev server's SQLite pages in use after them


@dataclass(frozen=True)
class Soak:
    """A soak's slices (each one's orders measured as one loop), the samples around them, and
    the bare workflows run beside each slice."""

    concurrency: int
    warm_up: int  # orders placed before the first sample, not counted (as many bare workflows)
    slices: list[Measurement]
    samples: list[Sample]  # one more than the slices: before the first, then after each
    pids: dict[str, int]  # the processes whose RSS is sampled
    cpu_s: list[dict[str, float]]  # per slice of ours: CPU seconds by role
    bare: list[BareSlice]  # one per slice, run after its sample

    def temporal_bytes_before(self) -> list[int | None]:
        """Per slice of ours, the SQLite bytes its growth counts from: the sample before it for
        the first slice, else the reading after the bare slice that ran just before it."""
        return [self.samples[0].temporal_db_bytes, *(b.temporal_db_bytes for b in self.bare[:-1])]


def slice_sizes(count: int) -> list[int]:
    """`count` orders in `SLICES` slices as equal as can be, the larger ones first."""
    return [count // SLICES + (1 if i < count % SLICES else 0) for i in range(SLICES)]


async def bench_soak(
    settings: Settings, temporal: Client, app: App, count: int, concurrency: int
) -> Soak:
    """Place `count` orders (at least `SLICES`) at `concurrency`, sampling at every 10%, each
    slice followed by as many bare workflows.

    Raises ValueError for fewer than `SLICES` orders, RuntimeError when a slice or the read
    models' catching up outlasts its timeout (the soak ends on its own either way)."""
    if count < SLICES:
        raise ValueError(f"a soak needs at least {SLICES} orders (one per 10%), not {count}")
    counters = await PostgresCounters.connect(settings.database_url)
    temporal_db = settings.data_dir.resolve() / "temporal" / "temporal.db"
    pids = app.pids()
    try:
        async with (
            placing_orders(settings, temporal, concurrency) as stocked,
            running_bare(temporal) as bare,
        ):
            order = await stocked(count + concurrency + 10)
            await drive("soak warm-up", concurrency, concurrency, order, SLICE_TIMEOUT_S)
            await drive("soak bare warm-up", concurrency, concurrency, bare, SLICE_TIMEOUT_S)
            started = time.perf_counter()

            async def sample(orders: int) -> Sample:
                reading = await counters.read()
                used = await asyncio.to_thread(sqlite_used_bytes, temporal_db)
                return Sample(
                    orders, round(time.perf_counter() - started, 1),
                    {name: round(rss_mib(pid), 1) for name, pid in pids.items()},
                    reading.event_store_bytes, reading.database_bytes, used,
                )  # fmt: skip

            async def bare_slice(label: str, size: int) -> BareSlice:
                before = cpu_seconds(pids)
                measured = await drive(label, size, concurrency, bare, SLICE_TIMEOUT_S)
                used = spent(before, cpu_seconds(pids))
                grown = await asyncio.to_thread(sqlite_used_bytes, temporal_db)
                return BareSlice(measured, used, grown)

            await feed_caught_up(counters, CATCH_UP_TIMEOUT_S)
            samples, slices, cpu, bares, placed = [await sample(0)], [], [], [], 0
            for n, size in enumerate(slice_sizes(count), start=1):
                label = f"soak {n * 10}% (orders {placed + 1}-{placed + size})"
                before = cpu_seconds(pids)
                slices.append(await drive(label, size, concurrency, order, SLICE_TIMEOUT_S))
                await feed_caught_up(counters, CATCH_UP_TIMEOUT_S)
                cpu.append(spent(before, cpu_seconds(pids)))
                placed += size
                samples.append(await sample(placed))
                bares.append(await bare_slice(f"soak {n * 10}%, bare workflows", size))
                _progress(label, slices[-1], samples[-1], bares[-1].measured)
    finally:
        await counters.close()
    return Soak(concurrency, concurrency, slices, samples, pids, cpu, bares)


def _progress(label: str, measured: Measurement, sample: Sample, bare: Measurement) -> None:
    rss = ", ".join(f"{name} {mib:,.1f} MiB" for name, mib in sample.rss_mib.items())
    print(f"# {label}: {measured.rate():.1f} orders/s, p50 {measured.percentile_ms(50):,.0f} ms, "
          f"{measured.errors} failed; RSS {rss}; bare {bare.rate():.1f} workflows/s, "
          f"p50 {bare.percentile_ms(50):,.0f} ms, {bare.errors} failed", flush=True)  # fmt: skip
