"""The worker process runs on uvloop where it is installed, and the saga runs under it."""

from __future__ import annotations

import argparse
import asyncio
import sys

import asyncpg
import pytest
import uvloop

import worker
from commerce.cli import _cmd_worker
from commerce.connections import connect_temporal
from commerce.settings import Settings
from tests.integration.saga_support import add_product, place_order, running_worker, start_saga

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uvloop has no Windows build")


def test_commerce_worker_runs_the_worker_on_uvloop(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def run_worker(given: Settings) -> int:
        assert given is settings
        loops.append(asyncio.get_running_loop())
        return 0

    monkeypatch.setattr(worker, "run_worker", run_worker)
    assert _cmd_worker(settings, argparse.Namespace(command="worker")) == 0
    assert [type(loop) for loop in loops] == [uvloop.Loop]


def test_without_uvloop_the_worker_runs_on_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as on Windows: the import fails
    assert worker.event_loop_factory() is None


def _saga_on_the_worker_loop(settings: Settings, order_id: str) -> tuple[type, str]:
    """Connect, serve the saga's task queue and run one order's saga, all on the loop
    `commerce worker` runs on; its type and the saga's outcome."""

    async def run() -> tuple[type, str]:
        client = await connect_temporal(settings)
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=10)
        assert pool is not None
        try:
            async with running_worker(client, pool) as queue:
                handle = await start_saga(client, queue, order_id)
                outcome = await handle.result()
        finally:
            await pool.close()
        return type(asyncio.get_running_loop()), outcome.status

    with asyncio.Runner(loop_factory=worker.event_loop_factory()) as runner:
        return runner.run(run())


async def test_a_saga_completes_on_a_worker_running_on_uvloop(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])

    # A thread of its own: the test's loop is pytest's, and a thread runs one loop at a time.
    loop_type, status = await asyncio.to_thread(_saga_on_the_worker_loop, settings, order_id)

    assert (loop_type, status) == (uvloop.Loop, "completed")
