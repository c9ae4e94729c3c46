"""`commerce bench --soak N`: what an order costs as the orders pile up.

N orders through the HTTP API (new cart, one line, checkout, then the saga's `completed` seen
with `handle.result()`, as the orders section places them), all of one product, on the bench's
servers, one `commerce worker` and one `commerce api`, in ten slices of N/10 at one concurrency
after a warm-up of one order per lane. Each slice runs to its last order, then, once the read
models have caught up, one sample: the API's and worker's RSS, the size of the event store and
of the database, the bytes the Temporal dev server's SQLite file uses. A sample so holds whole
orders only, and the bytes between two samples are exactly one slice's orders'.

`commerce.bench.soak_report` holds the result to the issue's rule (nothing may grow per order
except the data itself) and prints it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from temporalio.client import Client

from commerce.bench.app import App
from commerce.bench.counters import PostgresCounters, feed_caught_up, sqlite_used_bytes
from commerce.bench.measure import Measurement, drive
from commerce.bench.memory import rss_mib
from commerce.bench.orders import placing_orders
from commerce.settings import Settings

SLICES = 10  # samples at every 10% of the orders; the first and last slice are compared
SLICE_TIMEOUT_S = 1800.0  # one slice (500 orders in the default soak) far slower than ~10/s
CATCH_UP_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Sample:
    """The processes and the stores after `orders` soak orders (0: after the warm-up)."""

    orders: int
    elapsed_s: float
    rss_mib: dict[str, float]  # by process: "api", "worker"
    event_store_bytes: int  # `events` with its indexes and TOAST
    database_bytes: int  # pg_database_size: the event store and every other table
    temporal_db_bytes: int | None  # pages in use in the dev server's SQLite file (None: none)


@dataclass(frozen=True)
class Soak:
    """A soak's slices (each one's orders measured as one loop) and the samples around them."""

    concurrency: int
    warm_up: int  # orders placed before the first sample, not counted
    slices: list[Measurement]
    samples: list[Sample]  # one more than the slices: before the first, then after each
    pids: dict[str, int]  # the processes whose RSS is sampled


def slice_sizes(count: int) -> list[int]:
    """`count` orders in `SLICES` slices as equal as can be, the larger ones first."""
    return [count // SLICES + (1 if i < count % SLICES else 0) for i in range(SLICES)]


async def bench_soak(
    settings: Settings, temporal: Client, app: App, count: int, concurrency: int
) -> Soak:
    """Place `count` orders (at least `SLICES`) at `concurrency`, sampling at every 10%.

    Raises ValueError for fewer than `SLICES` orders, RuntimeError when a slice or the read
    models' catching up outlasts its timeout (the soak ends on its own either way)."""
    if count < SLICES:
        raise ValueError(f"a soak needs at least {SLICES} orders (one per 10%), not {count}")
    counters = await PostgresCounters.connect(settings.database_url)
    temporal_db = settings.data_dir.resolve() / "temporal" / "temporal.db"
    pids = app.pids()
    try:
        async with placing_orders(settings, temporal, concurrency) as stocked:
            order = await stocked(count + concurrency + 10)
            await drive("soak warm-up", concurrency, concurrency, order, SLICE_TIMEOUT_S)
            started = time.perf_counter()

            async def sample(orders: int) -> Sample:
                await feed_caught_up(counters, CATCH_UP_TIMEOUT_S)
                reading = await counters.read()
                used = await asyncio.to_thread(sqlite_used_bytes, temporal_db)
                return Sample(
                    orders, round(time.perf_counter() - started, 1),
                    {name: round(rss_mib(pid), 1) for name, pid in pids.items()},
                    reading.event_store_bytes, reading.database_bytes, used,
                )  # fmt: skip

            samples, slices, placed = [await sample(0)], [], 0
            for n, size in enumerate(slice_sizes(count), start=1):
                label = f"soak {n * 10}% (orders {placed + 1}-{placed + size})"
                slices.append(await drive(label, size, concurrency, order, SLICE_TIMEOUT_S))
                placed += size
                samples.append(await sample(placed))
                _progress(label, slices[-1], samples[-1])
    finally:
        await counters.close()
    return Soak(concurrency, concurrency, slices, samples, pids)


def _progress(label: str, measured: Measurement, sample: Sample) -> None:
    rss = ", ".join(f"{name} {mib:,.1f} MiB" for name, mib in sample.rss_mib.items())
    print(f"# {label}: {measured.rate():.1f} orders/s, p50 {measured.percentile_ms(50):,.0f} ms, "
          f"{measured.errors} failed; RSS {rss}", flush=True)  # fmt: skip
