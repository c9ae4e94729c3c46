"""A database of a test's own, migrated up to a given migration, to test a migration on data
written by the schema before it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg

from eventstore.migrations import _migration_files


@contextlib.asynccontextmanager
async def database_before(postgres_url: str, migration: str) -> AsyncIterator[str]:
    """The URL of a new database with every migration whose name sorts before `migration`
    (e.g. "0064") applied; dropped when the block ends."""
    name = f"migration_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        try:
            url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
            conn = await asyncpg.connect(url)
            try:
                await apply_migrations_named(conn, lambda file_name: file_name < migration)
            finally:
                await conn.close()
            yield url
        finally:
            await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        await admin.close()


async def apply_migrations_named(conn: asyncpg.Connection, chosen: Callable[[str], bool]) -> None:
    """Apply, in order, the migration files whose name `chosen(name)` accepts."""
    for file_name, sql in _migration_files():
        if chosen(file_name):
            await conn.execute(sql)
