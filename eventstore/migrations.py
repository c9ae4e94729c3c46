"""Schema migrations: numbered SQL files applied once each, under an advisory lock."""

from __future__ import annotations

from importlib import resources

import asyncpg

_LOCK_KEY = 0x636F6D6D  # any constant; serialises concurrent `commerce migrate` runs


def _migration_files() -> list[tuple[str, str]]:
    folder = resources.files("eventstore") / "migrations"
    files = sorted((p for p in folder.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
    return [(p.name, p.read_text()) for p in files]


async def apply_migrations(conn: asyncpg.Connection) -> list[str]:
    """Apply every migration not yet recorded; returns the names applied now."""
    applied_now: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for name, sql in _migration_files():
            if name in done:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            applied_now.append(name)
    return applied_now
