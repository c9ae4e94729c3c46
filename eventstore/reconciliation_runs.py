"""Whole-shop reconciliation runs as stored: what each found, by kind of mismatch."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class ReconciliationRun:
    """One run: when, over which orders (placed since `since`; all when None), how many were
    judged and how many were still in flight, and its mismatches by kind."""

    started_at: datetime
    finished_at: datetime
    since: datetime | None
    orders_checked: int
    orders_in_flight: int
    mismatches: Mapping[str, int]


class ReconciliationRuns:
    """Table `reconciliation_runs`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, run: ReconciliationRun) -> None:
        await self._pool.execute(
            "INSERT INTO reconciliation_runs (started_at, finished_at, since, orders_checked,"
            " orders_in_flight, mismatches) VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
            run.started_at, run.finished_at, run.since, run.orders_checked,
            run.orders_in_flight, json.dumps(dict(run.mismatches)),
        )  # fmt: skip

    async def latest(self) -> ReconciliationRun | None:
        """The run that finished last, if any."""
        row = await self._pool.fetchrow(
            "SELECT started_at, finished_at, since, orders_checked, orders_in_flight,"
            " mismatches::text AS mismatches FROM reconciliation_runs"
            " ORDER BY finished_at DESC, run_id DESC LIMIT 1"
        )
        if row is None:
            return None
        return ReconciliationRun(**{**dict(row), "mismatches": json.loads(row["mismatches"])})
