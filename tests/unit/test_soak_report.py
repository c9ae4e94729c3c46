"""The soak's verdict (`commerce.bench.soak_report`) on soaks built by hand: what grows per order
is MISSED, what stays flat is ok, and the first and last 10% are the ones compared."""

from __future__ import annotations

from commerce.bench.measure import Measurement
from commerce.bench.soak import Sample, Soak, slice_sizes
from commerce.bench.soak_report import soak_lines, soak_rows

ORDERS_PER_SLICE = 100


def _soak(
    *, p50_s: tuple[float, float] = (1.0, 1.0), worker_mib: tuple[float, float] = (100.0, 100.0),
    event_bytes: tuple[int, int] = (4_000, 4_000), errors: int = 0,
) -> Soak:  # fmt: skip
    """Ten slices of 100 orders: the first slice's latency, RSS and bytes per order are the
    first values, every later one's the second."""
    slices, samples = [], [Sample(0, 0.0, {"api": 100.0, "worker": worker_mib[0]}, 0, 0, 0)]
    stored = 0
    for n in range(10):
        latency = p50_s[0] if n == 0 else p50_s[1]
        slices.append(Measurement(ORDERS_PER_SLICE, errors if n == 5 else 0, 10.0,
                                  [latency] * ORDERS_PER_SLICE))  # fmt: skip
        stored += ORDERS_PER_SLICE * (event_bytes[0] if n == 0 else event_bytes[1])
        orders = (n + 1) * ORDERS_PER_SLICE
        rss = {"api": 100.0, "worker": worker_mib[0] if orders <= 500 else worker_mib[1]}
        samples.append(Sample(orders, 10.0 * (n + 1), rss, stored, 2 * stored, 3 * stored))
    return Soak(50, 50, slices, samples, {"api": 1, "worker": 2})


def _met(soak: Soak) -> dict[str, bool]:
    return {row["name"]: row["target_met"] for row in soak_rows(soak)}


def test_a_flat_soak_meets_every_target_and_says_so() -> None:
    rows = soak_rows(_soak())

    assert all(row["target_met"] for row in rows), rows
    assert rows[1]["p50_trend_ms_per_1000"] == 0.0
    assert soak_lines(rows).endswith("soak verdict: ok, nothing grew per order but the data")


def test_latency_growing_past_the_tolerance_is_missed() -> None:
    assert _met(_soak(p50_s=(1.0, 1.1)))["latency (checkout → completed)"]
    met = _met(_soak(p50_s=(1.0, 1.2)))
    assert soak_rows(_soak(p50_s=(1.0, 1.2)))[1]["p50_trend_ms_per_1000"] > 0

    assert not met["latency (checkout → completed)"]
    assert [name for name, ok in met.items() if not ok] == ["latency (checkout → completed)"]


def test_rss_is_measured_from_order_1000_or_half_way() -> None:
    """The worker grows by a third before order 500 (its cache filling) and not after: ok.
    Growing 6% after the half-way sample of a 1,000-order soak is missed."""
    rows = {row["name"]: row for row in soak_rows(_soak(worker_mib=(100.0, 106.0)))}

    worker = rows["worker RSS (VmRSS)"]
    assert (worker["from_orders"], worker["growth"], worker["target_met"]) == (500, 0.06, False)
    assert "soak verdict: MISSED: worker RSS (VmRSS)" in soak_lines(list(rows.values()))


def test_bytes_per_order_compare_the_last_slice_with_the_first() -> None:
    grown = {row["name"]: row for row in soak_rows(_soak(event_bytes=(4_000, 4_500)))}
    flat = {row["name"]: row for row in soak_rows(_soak(event_bytes=(4_000, 4_200)))}

    name = "event store (events, indexes, TOAST) bytes per order"
    assert (grown[name]["first"], grown[name]["last"], grown[name]["ratio"]) == (4000, 4500, 1.125)
    assert not grown[name]["target_met"] and flat[name]["target_met"]
    assert len(grown[name]["windows"]) == 10


def test_a_failed_order_is_missed() -> None:
    assert not _met(_soak(errors=1))["orders completed"]


def test_slices_cover_every_order_the_larger_first() -> None:
    assert slice_sizes(5_000) == [500] * 10
    assert slice_sizes(43) == [5, 5, 5, 4, 4, 4, 4, 4, 4, 4]
