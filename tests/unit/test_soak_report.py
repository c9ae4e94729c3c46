"""The soak's verdict (`commerce.bench.soak_report`, printed by `commerce.bench.soak_text`) on soaks built by hand: what grows per order
is MISSED, what stays flat is ok, and the first and last 10% are the ones compared; the bare
workflow run beside each slice says whose growth it is, and its bytes are never counted as ours."""

from __future__ import annotations

from commerce.bench.measure import Measurement
from commerce.bench.soak import BareSlice, Sample, Soak, slice_sizes
from commerce.bench.soak_report import LATENCY, soak_rows
from commerce.bench.soak_text import soak_lines

ORDERS_PER_SLICE = 100
TEMPORAL_BYTES, BARE_TEMPORAL_BYTES = 34_000, 30_000  # SQLite bytes per order / bare workflow
OURS_CPU_S = {"worker": 5.0, "api": 2.0, "postgres": 1.3, "redis": 0.1, "driver": 1.0}
BARE_CPU_S = {"worker": 0.2, "api": 0.0, "postgres": 0.1, "redis": 0.0, "driver": 4.0}


def _soak(
    *, p50_s: tuple[float, float] = (1.0, 1.0), bare_p50_s: tuple[float, float] = (0.5, 0.5),
    worker_mib: tuple[float, float] = (100.0, 100.0),
    event_bytes: tuple[int, int] = (4_000, 4_000), errors: int = 0, bare_errors: int = 0,
    temporal_cpu_s: tuple[float, float] = (7.3, 7.3),
    bare_temporal_cpu_s: tuple[float, float] = (8.0, 8.0),
) -> Soak:  # fmt: skip
    """Ten slices of 100 orders, each followed by 100 bare workflows: the first slice's latency,
    RSS, bytes per order and Temporal CPU seconds are the first values, every later one's the
    second. The Temporal dev server's file grows by both sides' bytes, as in a real soak."""
    slices, samples = [], [Sample(0, 0.0, {"api": 100.0, "worker": worker_mib[0]}, 0, 0, 0)]
    cpu, bare = [], []
    stored = temporal = 0
    for n in range(10):
        pick = 0 if n == 0 else 1
        slices.append(Measurement(ORDERS_PER_SLICE, errors if n == 5 else 0, 10.0,
                                  [p50_s[pick]] * ORDERS_PER_SLICE))  # fmt: skip
        stored += ORDERS_PER_SLICE * event_bytes[pick]
        temporal += ORDERS_PER_SLICE * TEMPORAL_BYTES
        orders = (n + 1) * ORDERS_PER_SLICE
        rss = {"api": 100.0, "worker": worker_mib[0] if orders <= 500 else worker_mib[1]}
        samples.append(Sample(orders, 18.0 * (n + 1), rss, stored, 2 * stored, temporal))
        cpu.append(OURS_CPU_S | {"temporal": temporal_cpu_s[pick]})
        temporal += ORDERS_PER_SLICE * BARE_TEMPORAL_BYTES
        failed = bare_errors if n == 5 else 0
        measured = Measurement(ORDERS_PER_SLICE - failed, failed, 8.0,
                               [bare_p50_s[pick]] * (ORDERS_PER_SLICE - failed))  # fmt: skip
        bare.append(BareSlice(measured, BARE_CPU_S | {"temporal": bare_temporal_cpu_s[pick]},
                              temporal))  # fmt: skip
    return Soak(50, 50, slices, samples, {"api": 1, "worker": 2}, cpu, bare)


def _met(soak: Soak) -> dict[str, bool]:
    return {row["name"]: row["target_met"] for row in soak_rows(soak) if "target_met" in row}


def _rows(soak: Soak) -> dict[str, dict]:
    return {row["name"]: row for row in soak_rows(soak)}


def test_a_flat_soak_meets_every_target_and_says_so() -> None:
    rows = soak_rows(_soak())

    assert all(row["target_met"] for row in rows if row["kind"] != "cpu"), rows
    assert rows[1]["p50_trend_ms_per_1000"] == 0.0
    assert rows[1]["bare"]["p50_trend_ms_per_1000"] == 0.0
    lines = soak_lines(rows).splitlines()
    assert lines[-2] == "soak verdict: ok, nothing grew per order but the data"
    assert lines[-1].endswith("p50 1.00x (ours 1.00x, 1.00x beyond the bare workflow's): ours held")


def test_latency_growing_past_the_tolerance_is_missed() -> None:
    assert _met(_soak(p50_s=(1.0, 1.1)))[LATENCY]
    met = _met(_soak(p50_s=(1.0, 1.2)))
    assert soak_rows(_soak(p50_s=(1.0, 1.2)))[1]["p50_trend_ms_per_1000"] > 0

    assert not met[LATENCY]
    assert [name for name, ok in met.items() if not ok] == [LATENCY]


def test_the_bare_workflows_latency_sits_beside_ours_without_a_target() -> None:
    latency = _rows(_soak(p50_s=(1.0, 1.3), bare_p50_s=(0.4, 0.5)))[LATENCY]

    assert (latency["first"]["p50_ms"], latency["last"]["p50_ms"]) == (1000.0, 1300.0)
    bare = latency["bare"]
    assert (bare["first"]["p50_ms"], bare["last"]["p50_ms"], bare["p50_ratio"]) == (
        400.0, 500.0, 1.25,
    )  # fmt: skip
    assert [s["orders"] for s in bare["slices"]] == [s["orders"] for s in latency["slices"]]
    assert latency["p50_ratio_beyond_bare"] == 1.04
    assert latency["target_met"] is False  # the target stays on ours
    text = soak_lines(soak_rows(_soak(p50_s=(1.0, 1.3), bare_p50_s=(0.4, 0.5))))
    bare_line = next(line for line in text.splitlines() if line.startswith(bare["name"]))
    assert "p50 400 / p99 400 ms" in bare_line and "p50 1.25x" in bare_line
    assert not bare_line.endswith(("ok", "MISSED"))


def _reading(ours: tuple[float, float], bare: tuple[float, float]) -> str:
    return soak_lines(soak_rows(_soak(p50_s=ours, bare_p50_s=bare))).splitlines()[-1]


def test_growth_the_bare_workflow_shares_is_the_servers() -> None:
    reading = _reading(ours=(1.0, 1.3), bare=(0.4, 0.5))

    assert reading == (
        "beside it, the bare workflow on the same servers: p50 1.25x (ours 1.30x, 1.04x beyond "
        "the bare workflow's): the growth is the servers' (or the machine's), not ours"
    )


def test_growth_the_bare_workflow_does_not_share_is_ours() -> None:
    assert _reading(ours=(1.0, 1.3), bare=(0.5, 0.5)).endswith(
        "p50 1.00x (ours 1.30x, 1.30x beyond the bare workflow's): the growth is ours: "
        "the bare workflow held on the same servers"
    )


def test_growth_past_the_bare_workflows_and_its_own_is_both() -> None:
    assert _reading(ours=(1.0, 1.6), bare=(0.4, 0.5)).endswith(
        "(ours 1.60x, 1.28x beyond the bare workflow's): both grew: the servers' share and ours "
        "each past the tolerance"
    )
    assert _reading(ours=(1.0, 1.2), bare=(0.5, 0.55)).endswith(
        "neither alone past the tolerance: the servers' share and ours together"
    )


def test_ours_holding_while_the_bare_workflow_grows_is_ok() -> None:
    rows = soak_rows(_soak(p50_s=(1.0, 1.1), bare_p50_s=(0.4, 0.6)))

    lines = soak_lines(rows).splitlines()
    assert lines[-2] == "soak verdict: ok, nothing grew per order but the data"
    assert lines[-1].endswith("p50 1.50x (ours 1.10x, 0.73x beyond the bare workflow's): ours held")


def test_cpu_per_order_by_process_for_the_first_and_last_slice_on_both_sides() -> None:
    rows = _rows(_soak(temporal_cpu_s=(7.3, 8.53), bare_temporal_cpu_s=(8.0, 9.2)))

    temporal = rows["CPU ms per order: Temporal dev server"]
    assert "target_met" not in temporal
    assert (temporal["first"], temporal["last"]) == (
        {"ours_ms": 73.0, "bare_ms": 80.0}, {"ours_ms": 85.3, "bare_ms": 92.0},
    )  # fmt: skip
    assert (temporal["ours_ratio"], temporal["bare_ratio"]) == (1.168, 1.15)
    assert len(temporal["slices"]) == 10 and temporal["slices"][4]["orders"] == 500
    api = rows["CPU ms per order: commerce api"]
    assert (api["last"]["ours_ms"], api["last"]["bare_ms"], api["bare_ratio"]) == (20.0, 0.0, None)
    every = rows["CPU ms per order: all of them"]
    assert every["last"] == {"ours_ms": 179.3, "bare_ms": 135.0}  # the processes' sum
    text = soak_lines(list(rows.values())).splitlines()
    assert any(line.split() == ["Temporal", "dev", "server", "73.0", "85.3", "1.17x", "80.0",
                                "92.0", "1.15x"] for line in text), text  # fmt: skip


def test_rss_is_measured_from_order_1000_or_half_way() -> None:
    """The worker grows by a third before order 500 (its cache filling) and not after: ok.
    Growing 6% after the half-way sample of a 1,000-order soak is missed."""
    rows = _rows(_soak(worker_mib=(100.0, 106.0)))

    worker = rows["worker RSS (VmRSS)"]
    assert (worker["from_orders"], worker["growth"], worker["target_met"]) == (500, 0.06, False)
    assert "soak verdict: MISSED: worker RSS (VmRSS)" in soak_lines(list(rows.values()))


def test_bytes_per_order_compare_the_last_slice_with_the_first() -> None:
    grown = _rows(_soak(event_bytes=(4_000, 4_500)))
    flat = _rows(_soak(event_bytes=(4_000, 4_200)))

    name = "event store (events, indexes, TOAST) bytes per order"
    assert (grown[name]["first"], grown[name]["last"], grown[name]["ratio"]) == (4000, 4500, 1.125)
    assert not grown[name]["target_met"] and flat[name]["target_met"]
    assert len(grown[name]["windows"]) == 10


def test_the_bare_workflows_temporal_bytes_are_never_counted_as_ours() -> None:
    """The dev server's file grows by both sides' histories; a slice of ours counts from the
    reading after the bare slice before it, so ours stay flat and met."""
    row = _rows(_soak())["Temporal dev server SQLite (pages in use) bytes per order"]

    assert [w["bytes_per_order"] for w in row["windows"]] == [TEMPORAL_BYTES] * 10
    assert row["target_met"] and row["ratio"] == 1.0
    assert (row["bare"]["first"], row["bare"]["last"]) == (BARE_TEMPORAL_BYTES,) * 2
    assert len(row["bare"]["windows"]) == 10


def test_a_failed_order_is_missed_a_failed_bare_workflow_is_reported() -> None:
    assert not _met(_soak(errors=1))["orders completed"]

    rows = soak_rows(_soak(bare_errors=2))

    orders = rows[0]
    assert orders["target_met"] and (orders["bare"]["count"], orders["bare"]["errors"]) == (998, 2)
    assert ("as many bare workflows at the same concurrency on the same servers: 998 completed, "
            "2 failed") in soak_lines(rows)  # fmt: skip


def test_slices_cover_every_order_the_larger_first() -> None:
    assert slice_sizes(5_000) == [500] * 10
    assert slice_sizes(43) == [5, 5, 5, 4, 4, 4, 4, 4, 4, 4]
