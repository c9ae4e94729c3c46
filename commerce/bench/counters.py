"""Counters of work the servers did, read before and after a stretch of orders: PostgreSQL
statements (`pg_stat_statements`), transactions and sizes; Redis commands and round trips
(`INFO`); the Temporal dev server's SQLite file.

Counts, unlike timings, do not move with the machine's load; `commerce.bench.work` divides them
by the orders between two readings, and tests/e2e/test_work_per_order.py holds them to ceilings.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import redis.asyncio as redis

# One statement, so that a reading is one transaction and no BEGIN/COMMIT of ours is counted;
# it names pg_stat_statements, which is how its own text is left out. Needs
# `shared_preload_libraries=pg_stat_statements` (EmbeddedPostgres(statement_statistics=True)).
_READING = """
SELECT (SELECT coalesce(json_object_agg(queryid, json_build_array(query, calls)), '{}')
        FROM pg_stat_statements
        WHERE dbid = d.datid AND toplevel AND query NOT LIKE '%pg_stat%') AS statements,
       d.xact_commit + d.xact_rollback AS transactions,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid,
       pg_total_relation_size('events') AS event_store_bytes,
       pg_database_size(d.datid) AS database_bytes,
       coalesce((SELECT max(global_position) FROM events), 0)
         - coalesce((SELECT min(position) FROM projection_checkpoints), 0) AS feed_lag
FROM pg_stat_database d WHERE d.datname = current_database()
"""
STATS_FLUSH_S = 11.0  # PostgreSQL's PGSTAT_IDLE_INTERVAL (10 s) and a margin


@dataclass(frozen=True)
class PostgresReading:
    """One reading of the database's counters.

    `transactions` (pg_stat_database `xact_commit + xact_rollback`) reaches the view only when
    each backend flushes its counters, up to about 10 s after it went idle: read it after a
    pause (`STATS_FLUSH_S`). `next_xid` moves at once: one per transaction or savepoint that
    wrote, cluster-wide. Statement counts (`pg_stat_statements`, BEGIN and COMMIT included)
    move at once too. `own`: the readings taken before this one (one transaction each).
    """

    statements: Counter[str]  # calls by statement text (normalised, cut at 160 characters)
    transactions: int
    next_xid: int
    event_store_bytes: int  # `events` with its indexes and TOAST
    database_bytes: int
    feed_lag: int  # events the slowest follower of the feed (projector, notifications) is behind
    own: int

    def __sub__(self, before: PostgresReading) -> PostgresWork:
        statements = self.statements.copy()
        statements.subtract(before.statements)
        return PostgresWork(
            statements=+statements,  # unary plus drops zero and negative counts
            # The view had seen none of `self`'s own transaction, all of the earlier ones'
            # once flushed.
            transactions=self.transactions - before.transactions - (self.own - before.own),
            write_transactions=self.next_xid - before.next_xid,
            event_store_bytes=self.event_store_bytes - before.event_store_bytes,
            database_bytes=self.database_bytes - before.database_bytes,
        )


@dataclass(frozen=True)
class PostgresWork:
    statements: Counter[str]
    transactions: int
    write_transactions: int
    event_store_bytes: int
    database_bytes: int

    @property
    def statement_count(self) -> int:
        return sum(self.statements.values())


class PostgresCounters:
    """Readings of one database over a connection of its own."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._readings = 0

    @classmethod
    async def connect(cls, dsn: str) -> PostgresCounters:
        conn = await asyncpg.connect(dsn)
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        return cls(conn)

    async def read(self) -> PostgresReading:
        row = await self._conn.fetchrow(_READING)
        assert row is not None
        own, self._readings = self._readings, self._readings + 1
        statements: Counter[str] = Counter()
        for query, calls in json.loads(row["statements"]).values():
            statements[" ".join(query.split())[:160]] += calls
        values = {key: row[key] for key in row.keys() if key != "statements"}
        return PostgresReading(statements, **values, own=own)

    async def close(self) -> None:
        await self._conn.close()


@dataclass(frozen=True)
class RedisWork:
    """Commands the server processed and its read events: a pipeline or a MULTI…EXEC sent at
    once is one read, so reads count round trips. Our own INFO is left out of both."""

    commands: int
    round_trips: int
    by_command: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class RedisReading:
    commands: int
    reads: int
    by_command: Counter[str]

    def __sub__(self, before: RedisReading) -> RedisWork:
        by_command = self.by_command.copy()
        by_command.subtract(before.by_command)
        by_command["info"] -= 1  # the earlier reading's own INFO
        return RedisWork(self.commands - before.commands - 1, self.reads - before.reads - 1,
                         +by_command)  # fmt: skip


async def read_redis(client: redis.Redis) -> RedisReading:
    """One INFO (stats and commandstats in one round trip)."""
    info = await client.info("everything")
    by_command = Counter(
        {name.removeprefix("cmdstat_"): int(stat["calls"])
         for name, stat in info.items() if name.startswith("cmdstat_")}
    )  # fmt: skip
    return RedisReading(
        int(info["total_commands_processed"]), int(info["total_reads_processed"]), by_command
    )


def sqlite_used_bytes(path: Path | None) -> int | None:
    """Bytes of the pages a SQLite database uses (its free pages left out), as a reader sees
    it with the write-ahead log: the file's own size moves only at checkpoints. None without
    a file (the test suite's dev server keeps its database in memory)."""
    if path is None or not path.exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    return int((pages - free) * size)


async def feed_caught_up(counters: PostgresCounters, timeout_s: float, poll_s: float = 0.1) -> None:
    """Until every follower of the event feed (projector, notifications) has reached its head;
    RuntimeError after `timeout_s` seconds. One reading per `poll_s` seconds."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                if (await counters.read()).feed_lag <= 0:
                    return
                await asyncio.sleep(poll_s)
    except TimeoutError:
        raise RuntimeError(f"read models not caught up within {timeout_s:.0f}s") from None
