"""The machine a bench ran on, the results table and the JSON report."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from commerce.bench.measure import Row


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count() or 0,
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (other processes share these cores)."""
    try:
        return [round(load, 2) for load in os.getloadavg()]
    except OSError:
        return []


def machine_line(info: dict[str, Any]) -> str:
    line = f"{info['cores']} cores, {info['cpu']}, Python {info['python']}, {info['platform']}"
    for when in ("start", "end"):
        if info.get(f"loadavg_{when}"):
            line += f"; load {when} " + " ".join(f"{x:.2f}" for x in info[f"loadavg_{when}"])
    return line


_P50 = ("orders", "scaling")
_HEADER = (
    "measurement",
    "conc",
    "count",
    "rate",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "ours/base",
    "target",
)


def _cells(name: str, row: Row, unit: str, ratio: str, target: str) -> tuple[str, ...]:
    def number(key: str) -> str:
        value = row.get(key)
        return f"{value:,.1f}" if isinstance(value, int | float) else "-"

    rate = f"{row['rate']:,.1f} {unit}" if isinstance(row.get("rate"), int | float) else "-"
    return (name, str(row.get("concurrency", "-")), str(row.get("count", "-")), rate,
            number("p50_ms"), number("p95_ms"), number("p99_ms"), ratio, target)  # fmt: skip


def table(rows: Sequence[Row]) -> str:
    """Each measurement on one line and its baseline on the next, ratios on ours; then the
    memory samples."""
    lines: list[tuple[str, ...]] = [_HEADER]
    failures: list[str] = []
    for row in rows:
        if row.get("section") in ("memory", "work"):
            continue
        unit = str(row.get("unit", "/s"))
        ratio = f"{row['ratio']:.0%}" if isinstance(row.get("ratio"), int | float) else "-"
        if isinstance(row.get("p50_ratio"), int | float) and row.get("section") in _P50:
            ratio += f", p50 {row['p50_ratio']:.2f}x"
        target = str(row.get("target", ""))
        if "target_met" in row:
            target += "  ok" if row["target_met"] else "  MISSED"
        lines.append(_cells(str(row.get("name", "?")), row, unit, ratio, target))
        if row.get("first_error"):  # failures are part of the result: say what they were
            failures.append(f"! {row.get('name')}, concurrency {row.get('concurrency')}: "
                            f"{row.get('errors', '?')} failed; first: {row['first_error']}")  # fmt: skip
        for base in [row.get("baseline"), *row.get("other_baselines", [])]:
            if isinstance(base, dict):
                base_row = {"concurrency": row.get("concurrency"), **base}
                name = f"  vs {base.get('name', 'baseline')}"
                lines.append(_cells(name, base_row, str(base.get("unit", unit)), "", ""))
    widths = [max(len(line[i]) for line in lines) for i in range(len(_HEADER))]
    text = []
    for n, line in enumerate(lines):
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        text.append("  ".join(cells).rstrip())
        if n == 0:
            text.append("  ".join("-" * w for w in widths))
    return "\n".join(text + failures + memory_lines(rows) + work_lines(rows))


def memory_lines(rows: Sequence[Row]) -> list[str]:
    """`worker RSS (VmRSS)  after 200: 95.1 MiB  after 1000: 97.0 MiB  +2.0%  target  ok`."""
    lines = []
    for row in rows:
        if row.get("section") != "memory":
            continue
        samples = "  ".join(f"after {s['orders']}: {s['rss_mib']:,.1f} MiB" for s in row["samples"])
        verdict = "ok" if row["target_met"] else "MISSED"
        lines.append(
            f"{row['name']:<20}  {samples}  {row['growth']:+.1%}  {row['target']}  {verdict}"
        )
    return ["", *lines] if lines else []


def work_lines(rows: Sequence[Row]) -> list[str]:
    """The "work per order" table (ours beside the bare workflow), then the statements an order
    runs most and the Redis commands of an add-to-cart."""
    work = [row for row in rows if row.get("section") == "work"]
    if not work:
        return []
    lines = [("work per order", "ours", "bare workflow", "ours/bare")]
    for row in work:
        ours, bare = row["ours"], row["bare"]
        ratio = f"{ours / bare:.2f}x" if bare else "-"
        bare_cell = "-" if bare is None else f"{bare:,.2f}"
        lines.append((f"{row['group']}: {row['name']}", f"{ours:,.2f}", bare_cell, ratio))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    text = ["", *("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                           for i, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip()
                  for line in lines)]  # fmt: skip
    for row in work:
        if row.get("top"):
            text.append(f"# statements per order, most run first (at rest: "
                        f"{row['at_rest_per_s']:.1f}/s):")  # fmt: skip
            text += [f"#   {calls:6.2f}  {query}" for query, calls in row["top"]]
        if row.get("by_command"):
            used = ", ".join(f"{name} {calls:g}" for name, calls in row["by_command"].items())
            text.append(f"# Redis {row['name'].removeprefix('commands ')}: {used}")
    return text


def write_json(path: Path, info: dict[str, Any], rows: Sequence[Row], **extra: Any) -> None:
    document = {"machine": info, **extra, "rows": list(rows)}
    path.write_text(json.dumps(document, indent=2) + "\n")
