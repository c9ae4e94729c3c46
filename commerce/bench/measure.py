"""Bounded, measured loops of operations, ours beside a baseline, as result rows."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

Row = dict[str, Any]


@dataclass(frozen=True)
class Measurement:
    """What one bounded loop did: successful operations, wall time, each operation's latency."""

    ops: int
    errors: int
    elapsed_s: float
    latencies_s: list[float]
    first_error: str | None = None

    def rate(self, units_per_op: int = 1) -> float:
        return self.ops * units_per_op / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def percentile_ms(self, p: float) -> float:
        """Linear interpolation between the closest ranks."""
        ordered = sorted(self.latencies_s)
        if not ordered:
            return 0.0
        rank = (len(ordered) - 1) * p / 100
        low = int(rank)
        high = min(low + 1, len(ordered) - 1)
        return 1000 * (ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


Operation = Callable[[int], Awaitable[float | None]]


def merged(first: Measurement, second: Measurement) -> Measurement:
    return Measurement(
        first.ops + second.ops,
        first.errors + second.errors,
        first.elapsed_s + second.elapsed_s,
        first.latencies_s + second.latencies_s,
        first.first_error or second.first_error,
    )


def _from(start: int, operation: Operation) -> Operation:
    async def shifted(index: int) -> float | None:
        return await operation(start + index)

    return shifted


async def abba(
    count: int, concurrency: int, timeout_s: float, ours: tuple[str, Operation],
    baseline: tuple[str, Operation],
) -> tuple[Measurement, Measurement]:  # fmt: skip
    """Measure ours and the baseline in halves, in the order ours, baseline, baseline, ours, so
    a drift in the machine's load (other processes, a growing table) weighs on both alike."""
    half = count // 2
    (ours_label, ours_op), (base_label, base_op) = ours, baseline
    ours_1 = await drive(ours_label, half, concurrency, ours_op, timeout_s)
    base_1 = await drive(base_label, half, concurrency, base_op, timeout_s)
    base_2 = await drive(base_label, count - half, concurrency, _from(half, base_op), timeout_s)
    ours_2 = await drive(ours_label, count - half, concurrency, _from(half, ours_op), timeout_s)
    return merged(ours_1, ours_2), merged(base_1, base_2)


async def drive(
    label: str, count: int, concurrency: int, operation: Operation, timeout_s: float
) -> Measurement:
    """Run `operation(i)` for i in range(count) on `concurrency` lanes, with a progress bar.

    An operation's latency is what it returns, or its whole duration when it returns None.
    Failures are counted, not retried; the loop as a whole is cut off after `timeout_s`.
    """
    indices = itertools.count()
    latencies: list[float] = []
    errors: list[str] = []
    bar = tqdm(total=count, desc=label, unit="op", leave=False, disable=None, dynamic_ncols=True)

    async def lane() -> None:
        while (index := next(indices)) < count:
            started = time.perf_counter()
            try:
                latency = await operation(index)
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}")
            else:
                latencies.append(time.perf_counter() - started if latency is None else latency)
            bar.update()

    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*(lane() for _ in range(concurrency)))
    except TimeoutError:
        raise RuntimeError(f"bench {label!r} did not finish within {timeout_s:.0f}s") from None
    finally:
        bar.close()
    elapsed = time.perf_counter() - started
    return Measurement(len(latencies), len(errors), elapsed, latencies, next(iter(errors), None))


def _figures(measured: Measurement, units_per_op: int) -> Row:
    return {
        "count": measured.ops * units_per_op,
        "errors": measured.errors,
        "rate": round(measured.rate(units_per_op), 2),
        "p50_ms": round(measured.percentile_ms(50), 2),
        "p95_ms": round(measured.percentile_ms(95), 2),
        "p99_ms": round(measured.percentile_ms(99), 2),
    }


def comparison(
    section: str,
    name: str,
    unit: str,
    concurrency: int,
    ours: Measurement,
    baseline_name: str,
    baseline: Measurement,
    min_ratio: float,
    max_p50_ratio: float | None = None,
    units_per_op: int = 1,
    baseline_unit: str | None = None,
) -> Row:
    """One result row: our figures, the baseline's figures beside them, the ratios and whether
    they meet the target (rate at least `min_ratio` of the baseline's, p50 at most
    `max_p50_ratio` times the baseline's)."""
    row: Row = {"section": section, "name": name, "unit": unit, "concurrency": concurrency}
    row |= _figures(ours, units_per_op)
    base = {"name": baseline_name, "unit": baseline_unit or unit}
    base |= _figures(baseline, units_per_op)
    row["baseline"] = base
    row["ratio"] = round(row["rate"] / base["rate"], 3) if base["rate"] else 0.0
    row["p50_ratio"] = round(row["p50_ms"] / base["p50_ms"], 3) if base["p50_ms"] else 0.0
    row["target"] = f"rate >= {min_ratio:.0%}"
    met = row["ratio"] >= min_ratio
    if max_p50_ratio is not None:
        row["target"] += f", p50 <= {max_p50_ratio:g}x"
        met = met and row["p50_ratio"] <= max_p50_ratio
    row["target_met"] = met and not ours.errors
    if ours.first_error or baseline.first_error:
        row["first_error"] = ours.first_error or baseline.first_error
    return row
