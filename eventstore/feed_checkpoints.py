"""Checkpoints of the followers of the global feed: one row of `projection_checkpoints` per
follower (the projector, customer notifications), holding a FeedPosition.

The row's `position` column is the pair's global position and `transaction_id` its transaction
id (migration 0064); a lag is the store's head position minus `position`.
"""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from eventstore.store import FEED_START, FeedPosition

Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy | asyncpg.Pool


async def read_checkpoint(conn: Connection, name: str) -> FeedPosition | None:
    """The follower's place in the feed, or None if it has no row."""
    row = await conn.fetchrow(
        "SELECT transaction_id, position FROM projection_checkpoints WHERE name = $1", name
    )
    return None if row is None else FeedPosition(row["transaction_id"], row["position"])


async def start_checkpoint(conn: Connection, name: str, at: FeedPosition = FEED_START) -> None:
    """Give the follower a row at `at` unless it has one."""
    await conn.execute(
        "INSERT INTO projection_checkpoints (name, transaction_id, position) VALUES ($1, $2, $3)"
        " ON CONFLICT (name) DO NOTHING",
        name, at.transaction_id, at.global_position,
    )  # fmt: skip


async def reset_checkpoint(conn: Connection, name: str) -> None:
    """Send the follower back to the start of the feed (a rebuild)."""
    await conn.execute(
        "INSERT INTO projection_checkpoints (name, transaction_id, position) VALUES ($1, '0', 0)"
        " ON CONFLICT (name) DO UPDATE SET transaction_id = '0', position = 0",
        name,
    )


async def advance_checkpoint(
    conn: Connection, name: str, start: FeedPosition, end: FeedPosition
) -> bool:
    """Move the checkpoint from `start` to `end`; False (nothing changed) if it was no longer
    at `start`: another process moved it, or a rebuild reset it."""
    status = await conn.execute(
        "UPDATE projection_checkpoints SET transaction_id = $4, position = $5"
        " WHERE name = $1 AND transaction_id = $2 AND position = $3",
        name, start.transaction_id, start.global_position,
        end.transaction_id, end.global_position,
    )  # fmt: skip
    return bool(status == "UPDATE 1")
