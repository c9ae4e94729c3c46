"""`commerce bench` (= `make bench`): throughput and latency beside baselines measured in the same run.

The bench starts its own embedded servers in a fresh temporary data dir on free loopback ports,
whatever the settings name, and stops them however it ends. Sections:

- event store appends (`EventStore.append`) beside raw asyncpg INSERTs into the same table;
- orders through the HTTP API and the saga beside a bare six-activity Temporal workflow, at
  several concurrencies and with 1, 2, 4 worker processes; the API's and worker's RSS;
- webhooks: a live endpoint's lag with a dead endpoint subscribed beside it, and alone;
- add-to-cart through the API beside a bare FastAPI POST and a raw Redis pipeline;
- work per order, counted (Temporal history, PostgreSQL statements and transactions, Redis
  round trips, bytes stored) beside the bare workflow's, first, on the one worker.

`--soak N` runs none of these but N orders on the same servers, worker and API, sampled at every
10%, each tenth followed by as many bare workflows (`commerce.bench.soak`,
`commerce.bench.soak_report`, `commerce.bench.soak_text`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from commerce.bench.app import running_app
from commerce.bench.cart_rows import cart_rows
from commerce.bench.eventstore import bench_event_store
from commerce.bench.measure import Row
from commerce.bench.report import load_average, machine, machine_line, table, write_json
from commerce.bench.soak import bench_soak
from commerce.bench.soak_report import soak_rows
from commerce.bench.soak_text import soak_lines
from commerce.bench.sweep import bench_orders
from commerce.bench.webhooks import bench_webhooks
from commerce.bench.work_rows import bench_work
from commerce.connections import connect_temporal, migrate
from commerce.embedded import free_port
from commerce.infra import running_infrastructure, stopped_by_signals
from commerce.settings import Settings


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
        # One loopback client drives thousands of writes: limits far past that, still checked (and
        # so measured) on every write.
        rate_limit_per_ip="1000000000/minute",
        rate_limit_per_customer="1000000000/minute",
        api_metrics_port=0,
        log_level=settings.log_level,
        log_json=settings.log_json,
    )


def say(line: str) -> None:
    print(line, flush=True)


def _bytecode_cache(settings: Settings) -> None:
    """The bare workflow's sandbox re-imports its module per run too: same bytecode cache as the
    children get (commerce.bench.app), so neither side compiles source per workflow."""
    sys.dont_write_bytecode, sys.pycache_prefix = False, str(settings.data_dir / "pycache")


async def _sections(settings: Settings, quick: bool) -> list[Row]:
    rows: list[Row] = []
    _bytecode_cache(settings)
    async with running_infrastructure(settings, throwaway=True, statement_statistics=True):
        await migrate(settings)
        say("# servers up; event store appends ...")
        rows += await bench_event_store(settings.database_url, quick)
        temporal = await connect_temporal(settings)
        async with running_app(settings, temporal) as app:
            pids = ", ".join(f"{name} pid {pid}" for name, pid in app.pids().items())
            say(f"# worker and API up ({pids}); work per order, counted ...")
            rows += await bench_work(settings, temporal, quick, app.pids())
            say("# orders (completion seen via Temporal handle.result()), worker scaling, "
                "memory ...")  # fmt: skip
            rows += await bench_orders(settings, temporal, app, quick)
            say("# webhooks: a live endpoint's lag beside a dead one ...")
            rows += await bench_webhooks(settings, temporal, quick)
        say("# add-to-cart ...")
        rows += await cart_rows(settings, quick)
    return rows


async def _soak(settings: Settings, count: int, concurrency: int) -> list[Row]:
    _bytecode_cache(settings)
    async with running_infrastructure(settings, throwaway=True, statement_statistics=True):
        await migrate(settings)
        temporal = await connect_temporal(settings)
        async with running_app(settings, temporal) as app:
            pids = ", ".join(f"{name} pid {pid}" for name, pid in app.pids().items())
            say(f"# worker and API up ({pids}); {count:,} orders at concurrency {concurrency}, "
                "sampled at every 10%, each slice followed by as many bare workflows ...")  # fmt: skip
            return soak_rows(await bench_soak(settings, temporal, app, count, concurrency))


async def run_bench(settings: Settings, args: argparse.Namespace) -> int:
    for chatty in ("httpx", "temporalio"):  # a line per request or worker stop drowns the report
        logging.getLogger(chatty).setLevel(logging.WARNING)
    info = machine()
    info["loadavg_start"] = load_average()
    quick, soak = bool(args.quick), getattr(args, "soak", None)
    mode = f" --soak {soak}" if soak else " --quick" if quick else ""
    say(f"# commerce bench{mode} on {machine_line(info)}")
    data_dir = Path(tempfile.mkdtemp(prefix="commerce-bench-"))
    started = time.perf_counter()
    kept, rows = True, list[Row]()
    # A Ctrl-C or SIGTERM stops the servers and removes the throwaway cluster on its way out.
    async with stopped_by_signals() as stop:
        try:
            run_settings = bench_settings(data_dir, settings)
            if soak:
                rows = await _soak(run_settings, soak, args.soak_concurrency)
            else:
                rows = await _sections(run_settings, quick)
            kept = False
        finally:
            if kept:
                print(f"commerce bench: stopped early; server logs kept in {data_dir}",
                      file=sys.stderr)  # fmt: skip
            else:
                with contextlib.suppress(OSError):
                    shutil.rmtree(data_dir)
    if stop.signal is not None:
        return 128 + stop.signal  # the shell's code for a run ended by that signal
    duration = time.perf_counter() - started
    info["loadavg_end"] = load_average()
    say(f"\n# {machine_line(info)}; {duration:.0f}s")
    say(soak_lines(rows) if soak else table(rows))
    if args.json_path:
        extra = {"soak": soak} if soak else {"quick": quick}
        write_json(Path(args.json_path), info, rows, **extra, duration_s=round(duration, 1))
        say(f"# rows written to {args.json_path}")
    if getattr(args, "plot_path", None) and soak:
        say("# no plot: --plot draws the orders sections, which a soak does not run")
    elif getattr(args, "plot_path", None):
        from commerce.bench.plot import write_plot  # matplotlib only here, never in API or worker

        write_plot(Path(args.plot_path), rows, machine_line(info))
        say(f"# plot written to {args.plot_path}")
    return 0
