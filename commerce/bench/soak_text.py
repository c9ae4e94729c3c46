"""The text `commerce bench --soak` prints from the rows of `commerce.bench.soak_report`: the
samples, one line per 10% of the orders, with the bare workflow's rate and p50 beside ours; CPU
per order by process in the first and last 10%, ours and the bare workflow's; each target with
"ok" or "MISSED", one verdict line, and one line reading our latency's growth beside the bare
workflow's on the same servers (whose growth it is).
"""

from __future__ import annotations

from collections.abc import Sequence

from commerce.bench.measure import Row
from commerce.bench.soak_report import LATENCY, MAX_P50_RATIO


def soak_lines(rows: Sequence[Row]) -> str:
    """The samples, one line per 10% of the orders; CPU per order by process in the first and
    last 10%, ours and the bare workflow's; each target with ok or MISSED; the verdict; what our
    latency's growth means beside the bare workflow's."""
    soak = {(row["kind"], row.get("process") or row["name"]): row
            for row in rows if row.get("section") == "soak"}  # fmt: skip
    orders, latency = soak["orders", "orders completed"], soak["latency", LATENCY]
    head = (f"# soak: {orders['count']:,} orders completed, {orders['errors']} failed, at "
            f"concurrency {orders['concurrency']} after {orders['warm_up']} warm-up orders; "
            f"{orders['elapsed_s']:,.0f} s, {orders['rate']:,.1f} orders/s")  # fmt: skip
    lines = [head]
    if bare := orders.get("bare"):
        lines.append(f"# beside each slice, as many bare workflows at the same concurrency on the "
                     f"same servers: {bare['count']:,} completed, {bare['errors']} failed; "
                     f"{bare['elapsed_s']:,.0f} s, {bare['rate']:,.1f} workflows/s")  # fmt: skip
    lines += _samples(orders, latency, soak)
    for who, figures in (("", latency), ("the bare workflow's ", latency.get("bare") or {})):
        if (trend := figures.get("p50_trend_ms_per_1000")) is not None:
            lines.append(f"# {who}p50 trend over the slices: {trend:+,.0f} ms per 1,000 orders")
    cpu = [row for (kind, _), row in soak.items() if kind == "cpu"]
    if cpu:
        lines += ["", *_cpu_lines(cpu)]
    lines += ["", *_targets([row for row in soak.values() if row["kind"] != "cpu"])]
    if "bare" in latency:
        lines.append(bare_reading(latency["p50_ratio"], latency["bare"]["p50_ratio"]))
    return "\n".join(lines)


def bare_reading(ours: float | None, bare: float | None) -> str:
    """One line: our last-10% p50 ratio beside the bare workflow's on the same servers, and
    whose growth it is. Ours is the bare workflow's growth (the servers', the store's, the
    machine's) times our own beyond it; each factor is held to the soak's tolerance."""
    if not ours or not bare:  # a side with no completed slice at one end
        return "beside it, the bare workflow: no p50 ratio to compare"
    beyond = ours / bare
    figures = (f"beside it, the bare workflow on the same servers: p50 {bare:.2f}x "
               f"(ours {ours:.2f}x, {beyond:.2f}x beyond the bare workflow's)")  # fmt: skip
    servers, own = bare > MAX_P50_RATIO, beyond > MAX_P50_RATIO
    if ours <= MAX_P50_RATIO:
        meaning = "ours held"
    elif servers and not own:
        meaning = "the growth is the servers' (or the machine's), not ours"
    elif own and not servers:
        meaning = "the growth is ours: the bare workflow held on the same servers"
    elif own and servers:
        meaning = "both grew: the servers' share and ours each past the tolerance"
    else:
        meaning = "neither alone past the tolerance: the servers' share and ours together"
    return f"{figures}: {meaning}"


def _samples(orders: Row, latency: Row, soak: dict[tuple[str, str], Row]) -> list[str]:
    processes = [row for (kind, _), row in soak.items() if kind == "rss"]
    stores = [row for (kind, _), row in soak.items() if kind == "bytes"]
    bare = (latency.get("bare") or {}).get("slices")
    header = ("orders", "s", "orders/s", "p50 ms", "p99 ms",
              *(("bare/s", "bare p50 ms") if bare else ()),
              *(f"{row['process']} MiB" for row in processes),
              *(row["column"] for row in stores))  # fmt: skip
    lines = [header]
    for n, sample in enumerate(orders["samples"]):
        timed = latency["slices"][n - 1] if n else {}
        beside = bare[n - 1] if bare and n else {}
        stored = [next((w for w in row["windows"] if w["orders"] == sample["orders"]), None)
                  for row in stores]  # fmt: skip
        lines.append((
            f"{sample['orders']:,}", f"{sample['elapsed_s']:,.0f}", _num(timed.get("rate")),
            _num(timed.get("p50_ms"), 0), _num(timed.get("p99_ms"), 0),
            *((_num(beside.get("rate")), _num(beside.get("p50_ms"), 0)) if bare else ()),
            *(_num(mib, 1) for mib in sample["rss_mib"].values()),
            *(_num(w["bytes_per_order"], 0) if w else "-" for w in stored),
        ))  # fmt: skip
    return _aligned(lines)


def _cpu_lines(rows: Sequence[Row]) -> list[str]:
    """CPU ms per order of each process, first and last 10%, ours and per bare workflow."""
    lines = [("CPU ms per order (bare: per workflow)", "ours first", "ours last", "change",
              "bare first", "bare last", "change")]  # fmt: skip
    for row in rows:
        first, last = row["first"], row["last"]
        lines.append((
            row["name"].removeprefix("CPU ms per order: "),
            _num(first["ours_ms"]), _num(last["ours_ms"]), _x(row["ours_ratio"]),
            _num(first["bare_ms"]), _num(last["bare_ms"]), _x(row["bare_ratio"]),
        ))  # fmt: skip
    return _aligned(lines)


def _targets(rows: Sequence[Row]) -> list[str]:
    lines = [("measurement", "from", "to", "change", "target", "")]
    for row in rows:
        if row["kind"] == "orders":
            figures = ("", f"{row['count']:,} of {row['count'] + row['errors']:,}",
                       f"{row['errors']} failed")  # fmt: skip
        elif row["kind"] == "latency":
            figures = _p50_p99(row)
        elif row["kind"] == "rss":
            growth = "-" if row["growth"] is None else f"{row['growth']:+.1%}"
            figures = (f"{row['from_mib']:,.1f} MiB", f"{row['end_mib']:,.1f} MiB", growth)
        else:
            figures = (f"{row['first']:,.0f} B", f"{row['last']:,.0f} B", _x(row["ratio"]))
        verdict = ("ok" if row["target_met"] else "MISSED") if "target_met" in row else ""
        lines.append((row["name"], *figures, row["target"], verdict))
        if row["kind"] == "latency" and "bare" in row:
            lines.append((row["bare"]["name"], *_p50_p99(row["bare"]), "(beside ours)", ""))
    missed = [row["name"] for row in rows if row.get("target_met") is False]
    verdict = (
        "MISSED: " + "; ".join(missed) if missed else "ok, nothing grew per order but the data"
    )
    return [*_aligned(lines), f"soak verdict: {verdict}"]


def _p50_p99(figures: Row) -> tuple[str, str, str]:
    first, last = figures["first"], figures["last"]
    return (f"p50 {first['p50_ms']:,.0f} / p99 {first['p99_ms']:,.0f} ms",
            f"p50 {last['p50_ms']:,.0f} / p99 {last['p99_ms']:,.0f} ms",
            f"p50 {_x(figures['p50_ratio'])}, p99 {_x(figures['p99_ratio'])}")  # fmt: skip


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _x(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def _aligned(lines: Sequence[tuple[str, ...]]) -> list[str]:
    """Columns padded to their widest cell: text left, figures right, a rule under the header."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                      for i, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip()
            for line in lines]  # fmt: skip
    return [text[0], "  ".join("-" * w for w in widths), *text[1:]]
