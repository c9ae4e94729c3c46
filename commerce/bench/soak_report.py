"""A soak held to the issue's rule, nothing may grow per order except the data itself: result
rows of section "soak" (every sample kept, for `--json`), each with its target and whether it is
met; `commerce.bench.soak_text` prints them.

The targets hold our orders only. The bare workflows run beside each slice are the yardstick:
their figures sit in a `bare` field of the orders, latency and Temporal bytes rows, and the rows
of kind "cpu" (CPU milliseconds per order by process, per slice, ours and the bare workflow's)
carry no target.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from typing import Any

from commerce.bench.cpu import ROLES
from commerce.bench.measure import Measurement, Row
from commerce.bench.soak import Soak

# Issue 16's soak targets. An order must cost the same at order 5,000 as at order 500: latency,
# memory and bytes that climb with the orders already placed are a leak or a scan that will
# end the service, however fast it looks in a short run.
MAX_P50_RATIO = 1.15  # last 10%'s p50 within 15% of the first 10%'s (two slices minutes apart
#                       on a shared machine move by about that much with nothing growing)
MAX_RSS_GROWTH = 0.05  # RSS growth below 5% from the warm sample to the end ...
RSS_WARM_ORDERS = 1_000  # ... the sample at order 1,000 (half way in a soak under 2,000): by
#                          then the worker's workflow cache (250 by default) and the pools are
#                          full, so what still grows is kept per order
MAX_BYTES_RATIO = 1.10  # bytes stored per order in the last 10% within 10% of the first's:
#                         every order writes the same events and rows; pages fill unevenly
LATENCY = "latency (checkout → completed)"
BARE_LATENCY = "bare workflow latency (start → result)"
ALL = "all"  # the CPU row summing every process
STORES = {  # sample field: (row name, column in the samples table)
    "event_store_bytes": ("event store (events, indexes, TOAST)", "events B/order"),
    "database_bytes": ("PostgreSQL database (pg_database_size)", "database B/order"),
    "temporal_db_bytes": ("Temporal dev server SQLite (pages in use)", "Temporal B/order"),
}


def soak_rows(soak: Soak) -> list[Row]:
    """The orders, latency, per-process RSS and per-store bytes rows, each with its target;
    then the CPU rows, one per process and one for all of them, without one."""
    return [_orders(soak), _latency(soak), *_rss(soak), *_bytes(soak), *_cpu(soak)]


def _row(kind: str, name: str, target: str, met: bool | None, **figures: Any) -> Row:
    row: Row = {"section": "soak", "kind": kind, "name": name, **figures, "target": target}
    if met is not None:
        row["target_met"] = met
    return row


def _orders(soak: Soak) -> Row:
    ours = _totals(soak.slices)
    return _row(
        "orders", "orders completed", "every order completed", ours["errors"] == 0, **ours,
        concurrency=soak.concurrency, warm_up=soak.warm_up,
        samples=[dataclasses.asdict(s) for s in soak.samples],
        bare=_totals([b.measured for b in soak.bare]),
    )  # fmt: skip


def _totals(slices: Sequence[Measurement]) -> dict[str, Any]:
    done, elapsed = sum(s.ops for s in slices), sum(s.elapsed_s for s in slices)
    return {"count": done, "errors": sum(s.errors for s in slices),
            "rate": round(done / elapsed, 2) if elapsed else 0.0, "elapsed_s": round(elapsed, 1),
            "first_error": next((s.first_error for s in slices if s.first_error), None)}  # fmt: skip


def _slice(orders: int, measured: Measurement) -> dict[str, Any]:
    return {"orders": orders, "count": measured.ops, "errors": measured.errors,
            "rate": round(measured.rate(), 2), "p50_ms": round(measured.percentile_ms(50), 1),
            "p99_ms": round(measured.percentile_ms(99), 1),
            "latencies_ms": [round(1000 * s, 1) for s in measured.latencies_s]}  # fmt: skip


def _ratio(last: float | None, first: float | None) -> float | None:
    return round(last / first, 3) if last is not None and first else None


def _latency(soak: Soak) -> Row:
    """Our latency held to the target; the bare workflows' beside it, figured the same way
    (each slice's at the orders placed before it ran, so both sides share an x-axis)."""
    ours = _latencies(soak, soak.slices)
    bare = {"name": BARE_LATENCY, **_latencies(soak, [b.measured for b in soak.bare])}
    p50_ratio = ours["p50_ratio"]
    return _row(
        "latency", LATENCY, f"last-10% p50 <= {MAX_P50_RATIO:g}x first-10%",
        p50_ratio is not None and p50_ratio <= MAX_P50_RATIO, **ours, bare=bare,
        p50_ratio_beyond_bare=_ratio(p50_ratio, bare["p50_ratio"]),
    )  # fmt: skip


def _latencies(soak: Soak, measured: Sequence[Measurement]) -> dict[str, Any]:
    slices = [_slice(s.orders, m) for s, m in zip(soak.samples[1:], measured, strict=True)]
    first, last = slices[0], slices[-1]
    return {
        "slices": slices,
        "first": {"p50_ms": first["p50_ms"], "p99_ms": first["p99_ms"]},
        "last": {"p50_ms": last["p50_ms"], "p99_ms": last["p99_ms"]},
        "p50_ratio": _ratio(last["p50_ms"], first["p50_ms"]),
        "p99_ratio": _ratio(last["p99_ms"], first["p99_ms"]),
        "p50_trend_ms_per_1000": _trend([(s["orders"], s["p50_ms"]) for s in slices]),
    }


def _trend(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of p50 against orders placed, per 1,000 orders: every slice weighs,
    where the first-to-last ratio rests on two slices and so on the machine's noise in each."""
    if len({orders for orders, _ in points}) < 2:
        return None
    xs, ys = zip(*points, strict=True)
    return round(1000 * statistics.linear_regression(xs, ys).slope, 1)


def _rss(soak: Soak) -> list[Row]:
    total = soak.samples[-1].orders
    warm = next(s for s in soak.samples if s.orders >= min(RSS_WARM_ORDERS, total // 2))
    end = soak.samples[-1]
    rows = []
    for name, pid in soak.pids.items():
        growth = end.rss_mib[name] / warm.rss_mib[name] - 1 if warm.rss_mib[name] else None
        rows.append(_row(
            "rss", f"{name} RSS (VmRSS)",
            f"growth < {MAX_RSS_GROWTH:.0%} from order {warm.orders} to {end.orders}",
            growth is not None and growth < MAX_RSS_GROWTH, process=name, pid=pid,
            samples=[{"orders": s.orders, "rss_mib": s.rss_mib[name]} for s in soak.samples],
            from_orders=warm.orders, from_mib=warm.rss_mib[name], end_mib=end.rss_mib[name],
            growth=None if growth is None else round(growth, 4),
        ))  # fmt: skip
    return rows


def _bytes(soak: Soak) -> list[Row]:
    """Bytes per order of each store, slice by slice. The bare workflows write to the Temporal
    dev server's file only: its growth over a slice of ours counts from the reading after the
    bare slice before it, and the bare slices' own growth is kept beside it (`bare`)."""
    rows = []
    for key, (name, column) in STORES.items():
        after = [getattr(s, key) for s in soak.samples[1:]]
        if key == "temporal_db_bytes":
            before = soak.temporal_bytes_before()
        else:
            before = [getattr(s, key) for s in soak.samples[:-1]]
        if None in after or None in before:  # a dev server without a file: nothing to weigh
            continue
        windows = _windows(soak, before, after, soak.slices)
        first, last = windows[0]["bytes_per_order"], windows[-1]["bytes_per_order"]
        ratio = _ratio(last, first)
        met = ratio <= MAX_BYTES_RATIO if ratio is not None else last <= first
        extra: dict[str, Any] = {}
        if key == "temporal_db_bytes":
            bare = [b.measured for b in soak.bare]
            bare_windows = _windows(soak, after, [b.temporal_db_bytes for b in soak.bare], bare)
            bare_first, bare_last = (bare_windows[i]["bytes_per_order"] if bare_windows else None
                                     for i in (0, -1))  # fmt: skip
            extra["bare"] = {"windows": bare_windows, "first": bare_first, "last": bare_last,
                             "ratio": _ratio(bare_last, bare_first)}  # fmt: skip
        rows.append(_row(
            "bytes", f"{name} bytes per order",
            f"last-10% <= {MAX_BYTES_RATIO:g}x first-10%", met, column=column, windows=windows,
            first=first, last=last, ratio=ratio, **extra,
        ))  # fmt: skip
    return rows


def _windows(
    soak: Soak, before: Sequence[int | None], after: Sequence[int | None],
    measured: Sequence[Measurement],
) -> list[dict[str, Any]]:  # fmt: skip
    """Bytes grown per slice (`after - before`) and per operation, labelled by the sample's
    orders; slices with no completed operation left out."""
    return [
        {"orders": sample.orders, "bytes": b - a, "bytes_per_order": round((b - a) / m.ops, 1)}
        for sample, m, a, b in zip(soak.samples[1:], measured, before, after, strict=True)
        if m.ops and a is not None and b is not None
    ]


def _cpu(soak: Soak) -> list[Row]:
    """CPU milliseconds per order by process (`commerce.bench.cpu.ROLES`) and in all, per
    slice: ours per order, the bare slice's per bare workflow (the API idle meanwhile)."""
    ours = [_per_order(used, m.ops) for used, m in zip(soak.cpu_s, soak.slices, strict=True)]
    bare = [_per_order(b.cpu_s, b.measured.ops) for b in soak.bare]
    rows = []
    for role, label in (*ROLES.items(), (ALL, "all of them")):
        slices = [{"orders": s.orders, "ours_ms": o[role], "bare_ms": b[role]}
                  for s, o, b in zip(soak.samples[1:], ours, bare, strict=True)]  # fmt: skip
        first, last = slices[0], slices[-1]
        rows.append({
            "section": "soak", "kind": "cpu", "name": f"CPU ms per order: {label}",
            "role": role, "slices": slices,
            "first": {"ours_ms": first["ours_ms"], "bare_ms": first["bare_ms"]},
            "last": {"ours_ms": last["ours_ms"], "bare_ms": last["bare_ms"]},
            "ours_ratio": _ratio(last["ours_ms"], first["ours_ms"]),
            "bare_ratio": _ratio(last["bare_ms"], first["bare_ms"]),
        })  # fmt: skip
    return rows


def _per_order(seconds: dict[str, float], count: int) -> dict[str, float | None]:
    used = {role: seconds.get(role, 0.0) for role in ROLES} | {ALL: sum(seconds.values())}
    return {role: round(1000 * s / count, 1) if count else None for role, s in used.items()}
