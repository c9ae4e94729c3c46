"""`commerce bench --quick` as a user runs it: every section measured beside its baseline.

Speed targets are reported by the bench, never asserted here: a test must not fail on a busy box.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _run_quick_bench(json_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMERCE_", "TEMPORAL_"))}
    env["COMMERCE_LOG_JSON"] = "false"
    return subprocess.run(
        [sys.executable, "-m", "commerce.cli", "bench", "--quick", "--json", str(json_path)],
        env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip


def test_quick_bench_reports_every_section_beside_its_baseline(tmp_path: Path) -> None:
    json_path = tmp_path / "bench.json"

    done = _run_quick_bench(json_path)

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(json_path.read_text())
    assert report["machine"]["cores"] > 0 and report["machine"]["python"]
    rows = report["rows"]
    sections = {row["section"] for row in rows}
    expected = {"eventstore", "orders"}
    if importlib.util.find_spec("commerce.bench_cart") is not None:
        expected.add("cart")
    assert expected <= sections
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
    orders = next(r for r in rows if r["section"] == "orders")
    assert orders["errors"] == 0 and orders["baseline"]["errors"] == 0
    assert "Temporal handle.result()" in done.stdout
