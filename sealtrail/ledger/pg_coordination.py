"""Leases and the append queue on PostgreSQL (:class:`~sealtrail.ledger.store.CoordinationStore`),
on the shared :class:`~sealtrail.ledger.pg_db.PostgresDatabase` (the SQLite tables ``leases``
and ``append_queue``, :mod:`.pg_schema`).

The SQL is SQLite's (:class:`~sealtrail.ledger.sqlite_coordination.SQLiteCoordinationStore`)
except where SQLite relies on its file-wide write lock, which PostgreSQL replaces by row locks:

* :meth:`PgCoordinationStore.acquire_lease` reads the lease row ``FOR UPDATE`` (two processes
  taking an expired lease at once: the second waits, then reads the first's epoch and is
  refused); the very first take inserts the row with ``ON CONFLICT DO NOTHING`` and, when
  another process inserted it first, runs again against that row;
* :func:`check_fence` reads the lease row ``FOR SHARE``: a takeover's ``UPDATE`` waits until the
  fenced transaction ends, and a takeover committed first makes the fence fail;
* a duplicate ticket is PostgreSQL's integrity error (:data:`POSTGRES`).
"""

from __future__ import annotations

from typing import Any, cast

from sealtrail.core.errors import ConflictError, LeaseLostError
from sealtrail.ledger.pg_db import POSTGRES, PgConnection, PostgresDatabase
from sealtrail.ledger.sqlite_coordination import SQLiteCoordinationStore
from sealtrail.ledger.store import Lease, QueuedAppend

#: how often a first take that lost the insert race runs again (then it reads the row)
_TAKE_ATTEMPTS = 3


def check_fence(con: Any, lease: Lease) -> None:
    """Raise LeaseLostError unless ``lease`` is still the one stored.

    Requires ``con`` to be in a write transaction: the row stays share-locked until it ends, so
    no takeover can commit meanwhile."""
    row = con.execute(
        "SELECT holder, epoch FROM leases WHERE name = ?" + POSTGRES.for_share, (lease.name,)
    ).fetchone()
    if row is None or (str(row[0]), int(row[1])) != (lease.holder, lease.epoch):
        raise LeaseLostError(
            f"lease {lease.name!r} epoch {lease.epoch} is no longer held by this process"
        )


class _Raced(Exception):
    """Another process inserted the lease row first."""


class PgCoordinationStore(SQLiteCoordinationStore):
    """Leases and the append queue shared by the service processes on one PostgreSQL database."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = cast(Any, db)  # the SQLite store's queries run unchanged on db's connections
        self.pg = db

    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> Lease | None:
        def take(con: PgConnection) -> Lease | None:
            row = con.execute(
                "SELECT holder, epoch, expires_at FROM leases WHERE name = ?" + POSTGRES.for_update,
                (name,),
            ).fetchone()
            if row is None:
                cur = con.execute(
                    "INSERT INTO leases (name, holder, epoch, expires_at) VALUES (?, ?, 1, ?) "
                    "ON CONFLICT DO NOTHING",
                    (name, holder, now + ttl),
                )
                if cur.rowcount != 1:
                    raise _Raced
                return Lease(name, holder, 1, now + ttl)
            if str(row[0]) == holder:
                epoch = int(row[1])
            elif float(row[2]) <= now:
                epoch = int(row[1]) + 1
            else:
                return None
            con.execute(
                "UPDATE leases SET holder = ?, epoch = ?, expires_at = ? WHERE name = ?",
                (holder, epoch, now + ttl, name),
            )
            return Lease(name, holder, epoch, now + ttl)

        for attempt in range(_TAKE_ATTEMPTS):
            try:
                return self.pg.write(take)
            except _Raced:
                if attempt + 1 == _TAKE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def enqueue_append(self, item: QueuedAppend) -> None:
        def put(con: PgConnection) -> None:
            cur = con.execute(
                "INSERT INTO append_queue (ticket, tenant, body, queued_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (item.ticket, item.tenant, item.body, item.queued_at),
            )
            if cur.rowcount != 1:
                raise ConflictError(f"queued append {item.ticket!r} exists")

        self.pg.write(put)
