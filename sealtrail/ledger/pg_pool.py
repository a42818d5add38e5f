"""The connections of one :class:`~sealtrail.ledger.pg_db.PostgresDatabase`: :class:`PgPool`.

At most ``size`` psycopg connections, opened on demand and kept while healthy. Not
psycopg_pool's ConnectionPool: that one opens connections from a background worker that, after
failures, retries with a growing delay (1, 2, 4, 8… s), so after a failover the first requests
could wait for its next attempt well past the moment the promoted standby accepts connections.
Here a request that finds no idle connection opens one itself, at once (bounded by libpq's
``connect_timeout``): a worker reconnects at its first request after the server is back, and a
broken connection is closed, never handed out again.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus


class PoolTimeout(Exception):
    """Every connection of the pool stayed in use for the whole wait."""


class PgPool:
    """At most ``size`` connections to ``url``, opened on demand (``psycopg.connect(url,
    **kwargs)``, the dict read at each connect) and kept while healthy and idle. Waits up to
    ``timeout`` seconds for a free slot (then :class:`PoolTimeout`). Thread-safe."""

    def __init__(self, url: str, kwargs: dict[str, Any], size: int, timeout: float) -> None:
        self._url, self._kwargs, self._timeout = url, kwargs, timeout
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self._closed = False

    def getconn(self) -> psycopg.Connection[Any]:
        """An idle connection, or a new one; PoolTimeout if every slot stays taken."""
        if not self._slots.acquire(timeout=self._timeout):
            raise PoolTimeout
        with self._lock:
            con = self._idle.pop() if self._idle else None
        if con is not None:
            return con
        try:
            return psycopg.connect(self._url, **self._kwargs)
        except BaseException:
            self._slots.release()
            raise

    def putconn(self, con: psycopg.Connection[Any]) -> None:
        """Give ``con`` back: kept if healthy and idle, closed otherwise."""
        try:
            healthy = (
                not con.closed
                and not con.broken
                and con.info.transaction_status == TransactionStatus.IDLE
            )
            with self._lock:
                if healthy and not self._closed:
                    self._idle.append(con)
                    return
            con.close()
        finally:
            self._slots.release()

    def discard_idle(self) -> None:
        """Close every idle connection (after one was found dead: so are they, likely)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for con in idle:
            con.close()

    def close(self) -> None:
        """Close the idle connections; those in use are closed when given back."""
        with self._lock:
            self._closed = True
        self.discard_idle()
