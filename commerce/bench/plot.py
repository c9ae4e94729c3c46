"""`commerce bench --plot PATH`: orders/s and bare workflows/s against concurrency (and workers).

matplotlib is imported here only, when a plot is asked for: the API and worker never load it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from commerce.bench.measure import Row


def _series(rows: Sequence[Row], section: str, key: str) -> tuple[list[Any], ...]:
    chosen = sorted((r for r in rows if r.get("section") == section), key=lambda r: r[key])
    return (
        [r[key] for r in chosen],
        [r["rate"] for r in chosen],
        [r["baseline"]["rate"] for r in chosen],
        [r["p50_ms"] for r in chosen],
        [r["baseline"]["p50_ms"] for r in chosen],
    )


def write_plot(path: Path, rows: Sequence[Row], caption: str) -> None:
    """Throughput and p50 latency against concurrency, beside the bare workflow; worker scaling
    in a third panel when it was measured."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    conc, ours, bare, ours_p50, bare_p50 = _series(rows, "orders", "concurrency")
    workers, scaled, scaled_bare, _, _ = _series(rows, "scaling", "workers")
    panels = 3 if workers else 2
    figure, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.4))
    rate, latency = axes[0], axes[1]
    rate.plot(conc, bare, "s--", color="tab:gray", label="bare workflow (6 no-op activities)")
    rate.plot(conc, ours, "o-", color="tab:blue", label="orders (HTTP cart → checkout → saga)")
    rate.set(title="throughput", xlabel="concurrency", ylabel="per second")
    latency.plot(conc, bare_p50, "s--", color="tab:gray", label="bare workflow")
    latency.plot(conc, ours_p50, "o-", color="tab:blue", label="orders, checkout → completed")
    latency.set(title="p50 latency", xlabel="concurrency", ylabel="ms")
    for axis in (rate, latency):
        axis.set_xscale("log")
        axis.set_xticks(conc, [str(c) for c in conc])
        axis.minorticks_off()
    if workers:
        scale = axes[2]
        scale.plot(workers, scaled_bare, "s--", color="tab:gray", label="bare workflow (1 worker)")
        scale.plot(workers, scaled, "o-", color="tab:blue", label="orders")
        scale.set(title=f"worker processes (concurrency {rows_concurrency(rows)})",
                  xlabel="commerce worker processes", ylabel="per second")  # fmt: skip
        scale.set_xticks(workers, [str(w) for w in workers])
    for axis in axes:
        tops = [y for line in axis.get_lines() for y in line.get_ydata()]
        axis.set_ylim(0, 1.2 * max(tops, default=1.0))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(f"commerce bench — {caption}", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def rows_concurrency(rows: Sequence[Row]) -> Any:
    return next((r["concurrency"] for r in rows if r.get("section") == "scaling"), "?")
