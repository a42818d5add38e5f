"""The callbacks' SQLite tables (schema version 8) and :class:`SQLiteWebhookStore`.

``webhook`` holds subscriptions, ``webhook_delivery`` the outbox and the delivery log (one row
per delivery, updated after each attempt), ``webhook_cursor`` how far checkpoint notices went.
A version-7 database gets these tables on open.

The SQL is shared with PostgreSQL (:mod:`.pg_store` subclasses the store); where SQLite's
file-wide write lock stands in for a row lock, the statement appends
:attr:`SQLiteWebhookStore.dialect`'s ``for_update`` (empty on SQLite): a secret rotation reads
the subscription it rotates, and a cursor-driven enqueue reads its cursor, holding the row until
the transaction ends — so two processes rotating one secret, or notifying from one cursor, at
once do not both act on the same old value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from sealtrail.core.errors import ConflictError
from sealtrail.ledger.sql_dialect import SQLITE, Dialect, SqlConnection
from sealtrail.ledger.sqlite_db import SchemaPart, SQLiteDatabase
from sealtrail.webhooks.store import (
    CANCELLED,
    PENDING,
    Attempt,
    Delivery,
    NewDelivery,
    Subscription,
)

_DDL = """
CREATE TABLE IF NOT EXISTS webhook (
    id              TEXT PRIMARY KEY,
    tenant          TEXT NOT NULL,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,        -- JSON array of event types, or ["*"]
    receipts        INTEGER NOT NULL,     -- 1: append a callback_receipt event per delivery
    secret          TEXT NOT NULL,        -- enc1:… (encrypted by the service), or whsec_…
    previous_secret TEXT,                 -- still signing until previous_until (rotation)
    previous_until  REAL,
    created_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_by_tenant ON webhook (tenant);
CREATE TABLE IF NOT EXISTS webhook_delivery (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE, -- the webhook-id header (msg_…)
    webhook_id      TEXT NOT NULL,
    tenant          TEXT NOT NULL,
    ordering        TEXT NOT NULL,        -- delivered in order within (webhook_id, ordering)
    type            TEXT NOT NULL,
    event_index     INTEGER,
    data            BLOB NOT NULL,        -- the payload's data member, JSON, without proof
    created_at      REAL NOT NULL,
    status          TEXT NOT NULL,        -- pending, delivered, dead, cancelled
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_attempt_at REAL,
    last_status     INTEGER,
    last_error      TEXT,
    latency_ms      INTEGER,
    replay_of       TEXT
);
CREATE INDEX IF NOT EXISTS webhook_delivery_pending
    ON webhook_delivery (webhook_id, ordering, seq) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_delivery_by_hook ON webhook_delivery (webhook_id, seq);
CREATE INDEX IF NOT EXISTS webhook_delivery_by_time ON webhook_delivery (webhook_id, created_at);
CREATE TABLE IF NOT EXISTS webhook_cursor (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

#: callbacks (schema version 8)
WEBHOOKS_PART = SchemaPart("webhooks", 8, _DDL)

_SUB_COLS = "id, tenant, url, events, receipts, secret, created_at, previous_secret, previous_until"
_DEL_COLS = (
    "seq, id, webhook_id, tenant, ordering, type, event_index, data, created_at, status, "
    "attempts, next_attempt_at, last_attempt_at, last_status, last_error, latency_ms, replay_of"
)


def _sub(row: Any) -> Subscription:
    return Subscription(
        row[0], row[1], row[2], tuple(orjson.loads(row[3])), bool(row[4]), row[5], row[6],
        row[7], row[8],
    )  # fmt: skip


def _delivery(row: Any) -> Delivery:
    return Delivery(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], bytes(row[7]), row[8], row[9],
        row[10], row[11], row[12], row[13], row[14], row[15], row[16],
    )  # fmt: skip


def _insert(con: SqlConnection, items: Sequence[NewDelivery]) -> None:
    con.executemany(
        "INSERT INTO webhook_delivery (id, webhook_id, tenant, ordering, type, event_index, "
        "data, created_at, status, next_attempt_at, replay_of) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (d.id, d.webhook_id, d.tenant, d.ordering, d.type, d.event_index, d.data,
             d.created_at, PENDING, d.created_at, d.replay_of)
            for d in items
        ],
    )  # fmt: skip


class SQLiteWebhookStore:
    """The callbacks' tables in the shared :class:`SQLiteDatabase` (see ``WebhookStore``).

    :meth:`enqueue_in_transaction` uses the calling thread's connection: inside
    ``LedgerStore.write`` it is the one holding the write transaction, so the deliveries commit
    with the events that cause them, or not at all.
    """

    #: the SQL dialect's peculiarities (row locks, the integrity error)
    dialect: Dialect = SQLITE

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    def add(self, sub: Subscription) -> None:
        def txn(con: SqlConnection) -> None:
            try:
                con.execute(
                    f"INSERT INTO webhook ({_SUB_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (sub.id, sub.tenant, sub.url, orjson.dumps(list(sub.events)).decode(),
                     int(sub.receipts), sub.secret, sub.created_at, sub.previous_secret,
                     sub.previous_until),
                )  # fmt: skip
            except self.dialect.integrity_error as e:
                raise ConflictError(f"webhook {sub.id!r} exists") from e

        self.db.write(txn)

    def get(self, webhook_id: str) -> Subscription | None:
        row = (
            self.db.read()
            .execute(f"SELECT {_SUB_COLS} FROM webhook WHERE id = ?", (webhook_id,))
            .fetchone()
        )
        return None if row is None else _sub(row)

    def for_tenant(self, tenant: str) -> list[Subscription]:
        q = f"SELECT {_SUB_COLS} FROM webhook WHERE tenant = ? ORDER BY created_at, id"
        return [_sub(r) for r in self.db.read().execute(q, (tenant,))]

    def all_active(self) -> list[Subscription]:
        return [_sub(r) for r in self.db.read().execute(f"SELECT {_SUB_COLS} FROM webhook")]

    def delete(self, webhook_id: str, at: str) -> bool:
        def txn(con: SqlConnection) -> bool:
            if con.execute("DELETE FROM webhook WHERE id = ?", (webhook_id,)).rowcount == 0:
                return False
            con.execute(
                "UPDATE webhook_delivery SET status = ?, last_error = ? "
                "WHERE webhook_id = ? AND status = ?",
                (CANCELLED, f"subscription deleted at {at}", webhook_id, PENDING),
            )
            return True

        return self.db.write(txn)

    def rotate(
        self,
        webhook_id: str,
        secret: str,
        previous_until: float,
        reseal: Callable[[str], str] | None = None,
    ) -> Subscription | None:
        def txn(con: SqlConnection) -> Subscription | None:
            old = con.execute(
                "SELECT secret FROM webhook WHERE id = ?" + self.dialect.for_update, (webhook_id,)
            ).fetchone()
            if old is None:
                return None
            previous = old[0] if reseal is None else reseal(old[0])
            con.execute(
                "UPDATE webhook SET previous_secret = ?, previous_until = ?, secret = ? "
                "WHERE id = ?",
                (previous, previous_until, secret, webhook_id),
            )
            row = con.execute(
                f"SELECT {_SUB_COLS} FROM webhook WHERE id = ?", (webhook_id,)
            ).fetchone()
            return None if row is None else _sub(row)

        return self.db.write(txn)

    def enqueue_in_transaction(self, items: Sequence[NewDelivery]) -> None:
        con = self.db.read()
        if not con.in_transaction:
            raise RuntimeError("enqueue_in_transaction must run inside LedgerStore.write")
        _insert(con, items)

    def enqueue(
        self,
        build: Callable[[int | None], tuple[Sequence[NewDelivery], int | None]],
        cursor: str | None = None,
    ) -> int:
        def txn(con: SqlConnection) -> int:
            value = None
            if cursor is not None:
                row = con.execute(
                    "SELECT value FROM webhook_cursor WHERE name = ?" + self.dialect.for_update,
                    (cursor,),
                ).fetchone()
                value = None if row is None else int(row[0])
            items, nxt = build(value)
            _insert(con, items)
            if cursor is not None and nxt is not None:
                con.execute(
                    "INSERT INTO webhook_cursor (name, value) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    (cursor, nxt),
                )
            return len(items)

        return self.db.write(txn)

    def cursor(self, name: str) -> int | None:
        row = (
            self.db.read()
            .execute("SELECT value FROM webhook_cursor WHERE name = ?", (name,))
            .fetchone()
        )
        return None if row is None else int(row[0])

    def due(self, now: float, sealed: int, seal_cutoff: float, limit: int) -> list[Delivery]:
        # the head (lowest seq) of each pending (webhook, ordering) sequence, if it is due
        q = (
            f"SELECT {_DEL_COLS} FROM webhook_delivery AS d WHERE d.status = 'pending' "
            "AND d.seq = (SELECT MIN(e.seq) FROM webhook_delivery AS e WHERE e.status = "
            "'pending' AND e.webhook_id = d.webhook_id AND e.ordering = d.ordering) "
            "AND d.next_attempt_at <= ? "
            "AND (d.event_index IS NULL OR d.event_index < ? OR d.created_at <= ?) "
            "ORDER BY d.next_attempt_at, d.seq LIMIT ?"
        )
        rows = self.db.read().execute(q, (now, sealed, seal_cutoff, limit))
        return [_delivery(r) for r in rows]

    def record(self, delivery_id: str, attempt: Attempt) -> None:
        def txn(con: SqlConnection) -> None:
            con.execute(
                "UPDATE webhook_delivery SET attempts = attempts + 1, status = ?, "
                "next_attempt_at = ?, last_attempt_at = ?, last_status = ?, last_error = ?, "
                "latency_ms = ? WHERE id = ? AND status = 'pending'",
                (attempt.status, attempt.next_attempt_at, attempt.at, attempt.response_status,
                 attempt.error, attempt.latency_ms, delivery_id),
            )  # fmt: skip

        self.db.write(txn)

    def delivery(self, delivery_id: str) -> Delivery | None:
        row = (
            self.db.read()
            .execute(f"SELECT {_DEL_COLS} FROM webhook_delivery WHERE id = ?", (delivery_id,))
            .fetchone()
        )
        return None if row is None else _delivery(row)

    def deliveries(self, webhook_id: str, *, after: int, limit: int) -> list[Delivery]:
        q = (
            f"SELECT {_DEL_COLS} FROM webhook_delivery WHERE webhook_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?"
        )
        return [_delivery(r) for r in self.db.read().execute(q, (webhook_id, after, limit))]

    def replay(
        self,
        webhook_id: str,
        *,
        delivery_id: str | None,
        since: float | None,
        until: float | None,
        now: float,
        new_id: Callable[[], str],
        limit: int,
    ) -> list[str]:
        def txn(con: SqlConnection) -> list[str]:
            base = f"SELECT {_DEL_COLS} FROM webhook_delivery WHERE webhook_id = ? "
            if delivery_id is not None:
                rows = con.execute(base + "AND id = ?", (webhook_id, delivery_id)).fetchall()
            else:
                rows = con.execute(
                    base + "AND created_at >= ? AND created_at < ? AND replay_of IS NULL "
                    "ORDER BY seq LIMIT ?",
                    (webhook_id, since, until, limit),
                ).fetchall()
            items = [
                NewDelivery(
                    new_id(),
                    d.webhook_id,
                    d.tenant,
                    d.ordering,
                    d.type,
                    d.event_index,
                    d.data,
                    now,
                    replay_of=d.id,
                )
                for d in map(_delivery, rows)
            ]
            _insert(con, items)
            return [d.id for d in items]

        return self.db.write(txn)

    def pending_count(self) -> int:
        row = (
            self.db.read()
            .execute("SELECT COUNT(*) FROM webhook_delivery WHERE status = 'pending'")
            .fetchone()
        )
        return int(row[0])
