"""`commerce bench --soak N` as a user runs it: N orders on the bench's own servers, sampled at
every 10%, each tenth followed by as many bare workflows, and a verdict on whether anything grew
per order but the data, with the bare workflow's growth beside ours.

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
    targets = [row for row in report["rows"] if row["kind"] != "cpu"]
    for row in targets:
        assert isinstance(row["target_met"], bool), row
    _check_bare(rows, tenths)
    text = done.stdout
    assert f"# soak: {ORDERS} orders completed, 0 failed, at concurrency {CONCURRENCY}" in text
    assert f"same servers: {ORDERS} completed, 0 failed" in text
    for row in targets:
        verdict = "ok" if row["target_met"] else "MISSED"
        assert any(line.startswith(row["name"]) and line.endswith(verdict)
                   for line in text.splitlines()), row["name"]  # fmt: skip
    lines = text.splitlines()
    verdicts = [n for n, line in enumerate(lines) if line.startswith("soak verdict: ")]
    assert [lines[n] for n in verdicts] == [
        "soak verdict: ok, nothing grew per order but the data"
        if all(row["target_met"] for row in targets)
        else "soak verdict: MISSED: "
        + "; ".join(row["name"] for row in targets if not row["target_met"])
    ]
    assert lines[verdicts[0] + 1].startswith("beside it, the bare workflow on the same servers: ")
    assert any(line.startswith("Temporal dev server") for line in lines)


def _check_bare(rows: dict[tuple[str, str], dict], tenths: list[int]) -> None:
    """Every bare workflow completed, timed and weighed like our orders; CPU per order by
    process on both sides, each slice's."""
    bare = rows["orders", "orders completed"]["bare"]
    assert (bare["count"], bare["errors"]) == (ORDERS, 0) and bare["rate"] > 0
    latency = rows["latency", "latency (checkout → completed)"]["bare"]
    assert [s["orders"] for s in latency["slices"]] == tenths[1:]
    assert all(len(s["latencies_ms"]) == ORDERS // 10 for s in latency["slices"])
    assert 0 < latency["first"]["p50_ms"] <= latency["first"]["p99_ms"]
    assert latency["p50_ratio"] > 0
    temporal_bytes = rows["bytes", "Temporal dev server SQLite (pages in use) bytes per order"]
    assert sum(w["bytes"] for w in temporal_bytes["bare"]["windows"]) > 0
    cpu = {row["role"]: row for (kind, _), row in rows.items() if kind == "cpu"}
    assert set(cpu) == {"temporal", "worker", "api", "postgres", "redis", "driver", "all"}
    for row in cpu.values():
        assert [s["orders"] for s in row["slices"]] == tenths[1:], row
    for end in ("first", "last"):
        # Processes that work on every order; the idle API's share of a bare slice may read 0.
        for role in ("temporal", "worker", "api", "postgres", "all"):
            assert cpu[role][end]["ours_ms"] > 0, (role, cpu[role])
        for role in ("temporal", "driver", "all"):
            assert cpu[role][end]["bare_ms"] > 0, (role, cpu[role])
        assert cpu["all"][end]["ours_ms"] >= cpu["temporal"][end]["ours_ms"]
