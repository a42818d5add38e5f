"""Leases and the append queue on SQLite (:class:`~sealtrail.ledger.store.CoordinationStore`),
on the shared :class:`~sealtrail.ledger.sqlite_db.SQLiteDatabase` (tables ``leases`` and
``append_queue``, schema part ``coordination``).

Every change is one ``BEGIN IMMEDIATE`` transaction: it holds SQLite's write lock, so a lease
read and written in it cannot change hands meanwhile. :func:`check_fence` is the fencing check
the other domains' fenced writes run inside their own transaction.
"""

from __future__ import annotations

import sqlite3

from sealtrail.core.errors import ConflictError, LeaseLostError, NotFoundError
from sealtrail.ledger.sqlite_db import SQLiteDatabase
from sealtrail.ledger.store import Lease, QueuedAppend


def check_fence(con: sqlite3.Connection, lease: Lease) -> None:
    """Raise LeaseLostError unless ``lease`` is still the one stored.

    Requires ``con`` to be in a ``BEGIN IMMEDIATE`` transaction: the write lock is held, so no
    takeover can commit until that transaction ends.
    """
    row = con.execute("SELECT holder, epoch FROM leases WHERE name = ?", (lease.name,)).fetchone()
    if row is None or (str(row[0]), int(row[1])) != (lease.holder, lease.epoch):
        raise LeaseLostError(
            f"lease {lease.name!r} epoch {lease.epoch} is no longer held by this process"
        )


class SQLiteCoordinationStore:
    """Leases and the append queue shared by the service processes on one SQLite file."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    def lease(self, name: str) -> Lease | None:
        row = (
            self.db.read()
            .execute("SELECT holder, epoch, expires_at FROM leases WHERE name = ?", (name,))
            .fetchone()
        )
        return None if row is None else Lease(name, str(row[0]), int(row[1]), float(row[2]))

    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> Lease | None:
        def take(con: sqlite3.Connection) -> Lease | None:
            row = con.execute(
                "SELECT holder, epoch, expires_at FROM leases WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                epoch = 1
            elif str(row[0]) == holder:
                epoch = int(row[1])
            elif float(row[2]) <= now:
                epoch = int(row[1]) + 1
            else:
                return None
            con.execute(
                "INSERT INTO leases (name, holder, epoch, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "epoch = excluded.epoch, expires_at = excluded.expires_at",
                (name, holder, epoch, now + ttl),
            )
            return Lease(name, holder, epoch, now + ttl)

        return self.db.write(take)

    def release_lease(self, lease: Lease) -> None:
        self.db.write(
            lambda con: con.execute(
                "UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ? AND epoch = ?",
                (lease.name, lease.holder, lease.epoch),
            )
        )

    def enqueue_append(self, item: QueuedAppend) -> None:
        def put(con: sqlite3.Connection) -> None:
            try:
                con.execute(
                    "INSERT INTO append_queue (ticket, tenant, body, queued_at) "
                    "VALUES (?, ?, ?, ?)",
                    (item.ticket, item.tenant, item.body, item.queued_at),
                )
            except sqlite3.IntegrityError as e:
                raise ConflictError(f"queued append {item.ticket!r} exists") from e

        self.db.write(put)

    def queued_appends(self, limit: int = 100) -> list[QueuedAppend]:
        rows = self.db.read().execute(
            "SELECT ticket, tenant, body, queued_at FROM append_queue WHERE result IS NULL "
            "ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [QueuedAppend(str(t), str(n), bytes(b), str(q)) for t, n, b, q in rows]

    def queued_result(self, ticket: str) -> bytes | None:
        row = (
            self.db.read()
            .execute("SELECT result FROM append_queue WHERE ticket = ?", (ticket,))
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"no queued append {ticket!r}")
        return None if row[0] is None else bytes(row[0])

    def prune_queue(self, before: str) -> int:
        return int(
            self.db.write(
                lambda con: (
                    con.execute(
                        "DELETE FROM append_queue WHERE result IS NOT NULL AND done_at < ?",
                        (before,),
                    ).rowcount
                )
            )
        )
