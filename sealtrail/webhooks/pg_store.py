"""The callbacks' store on PostgreSQL: the SQLite store (:mod:`.sqlite_store`) on the shared
:class:`~sealtrail.ledger.pg_db.PostgresDatabase`, whose connections take the same SQL.

The tables are SQLite's (:data:`WEBHOOKS_PART` through
:meth:`~sealtrail.ledger.sql_dialect.Dialect.ddl`: times as ``DOUBLE PRECISION``, payloads as
``BYTEA``, the outbox's ``seq`` an identity column). What differs is the dialect
(:data:`~sealtrail.ledger.pg_db.POSTGRES`): a rotation and a cursor-driven enqueue read their
row ``FOR UPDATE``, and a second subscription with one id is PostgreSQL's integrity error.

Order of deliveries: the sender takes, per (subscription, ordering), the pending delivery with
the lowest ``seq``. On SQLite ``seq`` follows commit order (one writer at a time). On PostgreSQL
an identity value is drawn when the row is inserted, so two transactions could commit out of
``seq`` order — but the deliveries of events are queued inside the ledger's write
(:meth:`enqueue_in_transaction`), which holds the log's head row: they are drawn and committed
one writer at a time, in log order, as on SQLite. Checkpoint notices are queued by the holder
of the sequencer lease, one kind after the other, each under its cursor's row lock (so a process
that held the lease a moment ago cannot queue the same notices again).
"""

from __future__ import annotations

from typing import Any, cast

from sealtrail.ledger.pg_db import POSTGRES, PostgresDatabase, SchemaPart
from sealtrail.webhooks.sqlite_store import WEBHOOKS_PART as SQLITE_WEBHOOKS_PART
from sealtrail.webhooks.sqlite_store import SQLiteWebhookStore

#: callbacks (schema version 8)
WEBHOOKS_PART = SchemaPart(
    SQLITE_WEBHOOKS_PART.name, SQLITE_WEBHOOKS_PART.version, POSTGRES.ddl(SQLITE_WEBHOOKS_PART.ddl)
)


class PgWebhookStore(SQLiteWebhookStore):
    """Subscriptions, the delivery outbox and log, and notice cursors on PostgreSQL."""

    dialect = POSTGRES

    def __init__(self, db: PostgresDatabase) -> None:
        super().__init__(cast(Any, db))  # the SQLite store's SQL runs on db's connections
