"""One leader among the worker processes for a background task (the projector, the saga
reconciler): a PostgreSQL session advisory lock, held on one pooled connection while it leads.

A leader that dies or loses its connection loses the lock with it, so another process takes over
on its next try; nothing has to expire.
"""

from __future__ import annotations

import contextlib

import asyncpg
from asyncpg.pool import PoolConnectionProxy


class Leadership:
    """Leadership of the task `name` in the lock namespace `lock_class` (an int per kind of task)."""

    LOCK = "SELECT pg_try_advisory_lock($1, hashtext($2))"
    UNLOCK = "SELECT pg_advisory_unlock($1, hashtext($2))"

    def __init__(self, pool: asyncpg.Pool, lock_class: int, name: str) -> None:
        self._pool = pool
        self._lock_class = lock_class
        self._name = name
        self._connection: PoolConnectionProxy | None = None

    @property
    def connection(self) -> PoolConnectionProxy | None:
        """The connection holding the lock while this process leads, else None."""
        return self._connection

    async def acquire(self) -> bool:
        """Lead if no other process does; True while this process leads."""
        if self._connection is not None:
            return True
        conn = await self._pool.acquire()
        try:
            locked = await conn.fetchval(self.LOCK, self._lock_class, self._name)
        except BaseException:
            await self._pool.release(conn)
            raise
        if not locked:
            await self._pool.release(conn)
            return False
        self._connection = conn
        return True

    async def release(self) -> None:
        """Give up leadership (the lock) and the connection that holds it."""
        conn, self._connection = self._connection, None
        if conn is None:
            return
        try:
            await conn.execute(self.UNLOCK, self._lock_class, self._name)
        except BaseException as error:
            # The pool keeps sessions as they are (commerce/connections.py): a lock it could not
            # give up (a failed statement, or a stop that cancelled it midway) goes with its
            # connection, which is closed rather than handed out again. A connection already
            # lost has been taken back by the pool, its lock gone with it.
            with contextlib.suppress(Exception):
                conn.terminate()
            if not isinstance(error, Exception):
                raise
        finally:
            await self._pool.release(conn)  # always: the pool closes only once all are back
