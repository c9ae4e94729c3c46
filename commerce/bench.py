"""`commerce bench` (= `make bench`): throughput and latency beside baselines measured in the same run.

The bench starts its own embedded servers in a fresh temporary data dir on free loopback ports,
whatever the settings name, and stops them however it ends. Sections:

- event store appends (`EventStore.append`) beside raw asyncpg INSERTs into the same table;
- orders through the HTTP API and the saga beside a bare six-activity Temporal workflow;
- add-to-cart, from `commerce.bench_cart` when that module is present.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from commerce.bench_eventstore import bench_event_store
from commerce.bench_orders import bench_orders, running_app
from commerce.bench_report import Row
from commerce.bench_table import machine, machine_line, table, write_json
from commerce.connections import connect_temporal, migrate
from commerce.embedded import free_port
from commerce.infra import running_infrastructure
from commerce.settings import Settings

CART_TIMEOUT_S = 600.0


def bench_settings(data_dir: Path, settings: Settings) -> Settings:
    """Embedded servers only, on free loopback ports: the bench never reaches another server."""
    return Settings(
        data_dir=data_dir,
        database_url="",
        redis_url="",
        temporal_address="",
        temporal_namespace="default",
        embedded_postgres_port=free_port(),
        embedded_redis_port=free_port(),
        embedded_temporal_port=free_port(),
        temporal_ui_port=free_port(),
        api_host="127.0.0.1",
        api_port=free_port(),
        jwt_secret=secrets.token_urlsafe(32),
        jwt_jwks_url=None,
        jwt_issuer=None,
        jwt_audience=None,
        environment="development",
        log_level=settings.log_level,
        log_json=settings.log_json,
    )


def say(line: str) -> None:
    print(line, flush=True)


async def _cart_rows(settings: Settings, quick: bool) -> list[Row]:
    try:
        module = importlib.import_module("commerce.bench_cart")
        bench_add_to_cart = module.bench_add_to_cart
    except (ImportError, AttributeError) as missing:
        say(f"# add-to-cart: skipped (commerce.bench_cart not available: {missing})")
        return []
    async with asyncio.timeout(CART_TIMEOUT_S):
        return cart_comparisons(await bench_add_to_cart(settings, quick))


def cart_comparisons(rows: list[dict[str, Any]]) -> list[Row]:
    """`bench_add_to_cart` reports flat rows, the API's and its baselines' alike: pair each API
    row with the baselines at its concurrency (the first one gives the ratio)."""
    if all("baseline" in row for row in rows):
        return [{"section": "cart", **row} for row in rows]

    def figures(row: dict[str, Any]) -> Row:
        return {
            "name": row.get("name"),
            "count": row.get("count", row.get("requests")),
            "rate": row.get("rate", row.get("rps")),
            **{key: row.get(key) for key in ("p50_ms", "p95_ms", "p99_ms")},
        }

    ours = [row for row in rows if str(row.get("name", "")).startswith("api")]
    paired: list[Row] = []
    for row in ours:
        baselines = [
            figures(other)
            for other in rows
            if other not in ours and other.get("concurrency") == row.get("concurrency")
        ]
        result: Row = {"section": "cart", "unit": "req/s", "concurrency": row.get("concurrency")}
        result |= figures(row)
        result["baseline"] = baselines[0] if baselines else None
        result["other_baselines"] = baselines[1:]
        base_rate = baselines[0]["rate"] if baselines else None
        result["ratio"] = round(result["rate"] / base_rate, 3) if base_rate else None
        result["target"] = ""
        paired.append(result)
    return paired


async def _sections(settings: Settings, quick: bool) -> list[Row]:
    rows: list[Row] = []
    async with running_infrastructure(settings):
        await migrate(settings)
        say("# servers up; event store appends ...")
        rows += await bench_event_store(settings.database_url, quick)
        temporal = await connect_temporal(settings)
        async with running_app(settings):
            say("# worker and API up; orders (completion seen via Temporal handle.result()) ...")
            rows += await bench_orders(settings, temporal, quick)
        say("# add-to-cart ...")
        rows += await _cart_rows(settings, quick)
    return rows


async def run_bench(settings: Settings, args: argparse.Namespace) -> int:
    for chatty in ("httpx", "temporalio"):  # a line per request or worker stop drowns the report
        logging.getLogger(chatty).setLevel(logging.WARNING)
    info = machine()
    quick = bool(args.quick)
    say(f"# commerce bench{' --quick' if quick else ''} on {machine_line(info)}")
    data_dir = Path(tempfile.mkdtemp(prefix="commerce-bench-"))
    started = time.perf_counter()
    kept = True
    try:
        rows = await _sections(bench_settings(data_dir, settings), quick)
        kept = False
    finally:
        if kept:
            print(f"commerce bench: stopped early; server logs kept in {data_dir}", file=sys.stderr)
        else:
            with contextlib.suppress(OSError):
                shutil.rmtree(data_dir)
    duration = time.perf_counter() - started
    say(f"\n# {machine_line(info)}; {duration:.0f}s")
    say(table(rows))
    if args.json_path:
        write_json(Path(args.json_path), info, rows, quick=quick, duration_s=round(duration, 1))
        say(f"# rows written to {args.json_path}")
    return 0
