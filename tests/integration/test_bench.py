"""`commerce bench --quick` as a user runs it: every section measured beside its baseline.

Speed targets are reported by the bench, never asserted here: a test must not fail on a busy box.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _run_quick_bench(json_path: Path, plot_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMERCE_", "TEMPORAL_"))}
    env["COMMERCE_LOG_JSON"] = "false"
    return subprocess.run(
        [sys.executable, "-m", "commerce.cli", "bench", "--quick", "--json", str(json_path),
         "--plot", str(plot_path)],
        env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip


def test_quick_bench_reports_every_section_beside_its_baseline(tmp_path: Path) -> None:
    json_path, plot_path = tmp_path / "bench.json", tmp_path / "throughput.png"

    done = _run_quick_bench(json_path, plot_path)

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(json_path.read_text())
    assert report["machine"]["cores"] > 0 and report["machine"]["python"]
    assert len(report["machine"]["loadavg_start"]) == 3
    rows = [row for row in report["rows"] if row["section"] not in ("memory", "work")]
    memory = [row for row in report["rows"] if row["section"] == "memory"]
    work = {row["name"]: row for row in report["rows"] if row["section"] == "work"}
    sections = {row["section"] for row in rows}
    assert {"eventstore", "orders", "scaling", "cart"} <= sections
    assert {(r["name"], r["concurrency"]) for r in rows if r["section"] == "eventstore"} == {
        (f"EventStore.append, {size} event(s)/append", concurrency)
        for size in (1, 6)
        for concurrency in (1, 16)
    }
    for row in rows:
        assert row["rate"] > 0 and row["count"] > 0, row
        assert row["baseline"]["rate"] > 0, row
        assert row["ratio"] > 0, row
        assert {"p50_ms", "p99_ms"} <= row.keys() and {"p50_ms", "p99_ms"} <= row["baseline"].keys()
    orders = [r for r in rows if r["section"] == "orders"]
    assert [r["concurrency"] for r in orders] == [10]
    for row in orders:
        assert row["errors"] == 0 and row["baseline"]["errors"] == 0
        assert row["p50_ratio"] > 0 and "target_met" in row
    scaling = [r for r in rows if r["section"] == "scaling"]
    assert [r["workers"] for r in scaling] == [1, 2]
    assert all(r["speedup"] > 0 and r["errors"] == 0 for r in scaling)
    assert {r["process"] for r in memory} == {"api", "worker"}
    for row in memory:
        assert [s["orders"] for s in row["samples"]] == [20, 40], row
        assert all(s["rss_mib"] > 0 for s in row["samples"]), row
        assert isinstance(row["target_met"], bool)
    assert work["activity tasks scheduled"]["bare"] == 6
    local = work["local activities (a marker each, no task)"]
    assert work["activity tasks scheduled"]["ours"] + local["ours"] >= 6 and local["bare"] == 0
    assert work["workflow executions started"]["bare"] == 1
    assert work["history events"]["ours"] > 0 and work["history events"]["bare"] > 0
    assert work["statements (cart to read models caught up)"]["ours"] > 0
    assert work["round trips per add-to-cart"]["ours"] >= 1
    assert work["event store bytes (events, indexes, TOAST)"]["ours"] > 0
    cpu = {row["name"]: row for row in report["rows"] if row.get("group") == "CPU ms"}
    for process in ("Temporal dev server", "commerce worker", "commerce api", "all of them"):
        assert cpu[process]["ours"] > 0, cpu[process]
    bare_worker = "bench process (HTTP client; the bare workflow's own worker)"
    assert cpu["Temporal dev server"]["bare"] > 0 and cpu[bare_worker]["bare"] > 0
    assert cpu["all of them"]["ours"] >= cpu["commerce worker"]["ours"]
    assert "work per order" in done.stdout
    assert plot_path.read_bytes().startswith(b"\x89PNG")
    assert "Temporal handle.result()" in done.stdout
    assert "after 20:" in done.stdout
