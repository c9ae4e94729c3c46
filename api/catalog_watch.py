"""Keeps one process's `CatalogCache` fresh: LISTEN for catalog changes, check the version.

On its own PostgreSQL connection (not one of the pool's), the watch:

1. LISTENs on `catalog_changed` (eventstore/catalog_version.py), then drops the whole cache,
   since anything may have changed while nobody was listening, and reads the catalog version;
2. drops the whole cache on every notification (a product written by any process);
3. reads the version every half of `max_stale_s`: a version it has not heard of (a notification
   lost) drops the cache; a check that succeeds confirms freshness as of when it was sent;
4. on any failure (connection lost, a check not answered within `max_stale_s`) stops the cache
   serving and drops it, then connects again, backing off up to `MAX_BACKOFF_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg

from api.catalog_cache import CatalogCache
from commerce.redaction import redacted
from eventstore.catalog_version import CHANNEL, catalog_version

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 10.0
Connect = Callable[[], Awaitable[asyncpg.Connection]]


class CatalogWatch:
    """The listener and version checks of one `CatalogCache`; `run` until cancelled."""

    def __init__(
        self, cache: CatalogCache, connect: Connect, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cache = cache
        self._connect = connect
        self._clock = clock
        self._conn: asyncpg.Connection | None = None
        self._version: int | None = None

    @property
    def check_every_s(self) -> float:
        return self._cache.max_stale_s / 2

    async def open(self) -> None:
        """Listen, drop the cache, read the version: from now on the cache may serve."""
        await self.close()
        self._conn = conn = await self._connect()
        conn.add_termination_listener(self._lost)
        try:
            await conn.add_listener(CHANNEL, self._notified)
            self._cache.dropped()
            self._version = None
            await self.check()
        except BaseException:
            await self.close()
            raise

    async def check(self) -> None:
        """Read the catalog version; a version not heard of drops the cache. Raises what the
        connection raises, and TimeoutError after `max_stale_s`."""
        if self._conn is None:
            raise ConnectionError("the catalog watch is not connected")
        sent = self._clock()
        async with asyncio.timeout(self._cache.max_stale_s):
            version = await catalog_version(self._conn)
        if version != self._version:
            self._version = version
            self._cache.dropped()
        self._cache.confirmed(sent)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.remove_termination_listener(self._lost)  # closed on purpose: nothing was lost
            with contextlib.suppress(Exception):
                await conn.close(timeout=1)

    async def run(self) -> None:
        """Open, then check every `check_every_s` seconds; after a failure, the cache stops
        serving until the watch is open again. Closes its connection when cancelled."""
        backoff = self.check_every_s
        try:
            while True:
                try:
                    if self._conn is None:
                        await self.open()
                        backoff = self.check_every_s
                    await asyncio.sleep(self.check_every_s)
                    await self.check()
                except Exception as error:  # the loop outlives any failure
                    self._cache.unconfirmed()
                    await self.close()
                    log.warning(
                        "catalog price cache not serving, reconnecting: %s",
                        redacted(str(error) or type(error).__name__),
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
        finally:
            self._cache.unconfirmed()
            await self.close()

    def _lost(self, _conn: object) -> None:
        self._cache.unconfirmed()  # at once; `run` connects again at its next check

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self._version = max(self._version or 0, int(payload))
        self._cache.dropped()
