"""The catalog's version and its change notifications (migration 0063_catalog_version.sql).

Every transaction that writes `products` moves the version by one at commit and notifies
`CHANNEL` with the new version as text; the version is read as committed, so a reader that sees
version N also sees every product write up to N.
"""

from __future__ import annotations

import asyncpg

CHANNEL = "catalog_changed"


async def catalog_version(conn: asyncpg.Connection) -> int:
    """The catalog's current version."""
    version: int = await conn.fetchval("SELECT version FROM catalog_version")
    return version
