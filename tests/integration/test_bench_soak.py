"""`commerce bench --soak N` as a user runs it: N orders on the bench's own servers, sampled at
every 10%, and a verdict on whether anything grew per order but the data.

The soak's targets are reported by the bench, never asserted here: a test must not fail on a busy
box. What is checked is that every sample, row and verdict line is there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ORDERS, CONCURRENCY = 40, 4


def _run_soak(json_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMERCE_", "TEMPORAL_"))}
    env["COMMERCE_LOG_JSON"] = "false"
    return subprocess.run(
        [sys.executable, "-m", "commerce.cli", "bench", "--soak", str(ORDERS),
         "--soak-concurrency", str(CONCURRENCY), "--json", str(json_path)],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_soak_samples_every_tenth_of_the_orders_and_gives_a_verdict(tmp_path: Path) -> None:
    json_path = tmp_path / "soak.json"

    done = _run_soak(json_path)

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(json_path.read_text())
    assert report["soak"] == ORDERS and len(report["machine"]["loadavg_start"]) == 3
    rows = {(row["kind"], row.get("process") or row["name"]): row for row in report["rows"]}
    assert {row["section"] for row in report["rows"]} == {"soak"}
    orders = rows["orders", "orders completed"]
    assert (orders["count"], orders["errors"], orders["concurrency"]) == (ORDERS, 0, CONCURRENCY)
    tenths = [ORDERS * n // 10 for n in range(11)]
    assert [s["orders"] for s in orders["samples"]] == tenths
    latency = rows["latency", "latency (checkout → completed)"]
    assert [s["orders"] for s in latency["slices"]] == tenths[1:]
    assert all(len(s["latencies_ms"]) == ORDERS // 10 for s in latency["slices"])
    assert 0 < latency["first"]["p50_ms"] <= latency["first"]["p99_ms"]
    assert latency["p50_ratio"] > 0 and latency["p99_ratio"] > 0
    for process in ("api", "worker"):
        rss = rows["rss", process]
        assert [s["orders"] for s in rss["samples"]] == tenths
        assert all(s["rss_mib"] > 0 for s in rss["samples"]), rss
        assert rss["from_orders"] == ORDERS // 2 and isinstance(rss["growth"], float)
    stores = [row for (kind, _), row in rows.items() if kind == "bytes"]
    assert [row["name"].split(" (")[0] for row in stores] == [
        "event store", "PostgreSQL database", "Temporal dev server SQLite",
    ]  # fmt: skip
    for row in stores:
        assert [w["orders"] for w in row["windows"]] == tenths[1:], row
        assert sum(w["bytes"] for w in row["windows"]) > 0, row
    for row in report["rows"]:
        assert isinstance(row["target_met"], bool), row
    text = done.stdout
    assert f"# soak: {ORDERS} orders completed, 0 failed, at concurrency {CONCURRENCY}" in text
    for row in report["rows"]:
        verdict = "ok" if row["target_met"] else "MISSED"
        assert any(line.startswith(row["name"]) and line.endswith(verdict)
                   for line in text.splitlines()), row["name"]  # fmt: skip
    assert [line for line in text.splitlines() if line.startswith("soak verdict: ")] == [
        "soak verdict: ok, nothing grew per order but the data"
        if all(row["target_met"] for row in report["rows"])
        else "soak verdict: MISSED: "
        + "; ".join(row["name"] for row in report["rows"] if not row["target_met"])
    ]
