"""Anchoring's stores on PostgreSQL: the SQLite stores (:mod:`.sqlite_store`) on the shared
:class:`~sealtrail.ledger.pg_db.PostgresDatabase`, whose connections take the same SQL.

The tables are SQLite's (:data:`ANCHORING_PARTS`, through
:meth:`~sealtrail.ledger.sql_dialect.Dialect.ddl`: ``BYTEA``, ``BIGINT``, byte-order text, no
foreign keys). What differs is two attributes, nothing else:

* :attr:`~.sqlite_store.SQLiteTimestampStore.dialect` — a renewal reads its checkpoint's
  stamped row ``FOR UPDATE`` (SQLite's write lock already excludes every other writer), so two
  processes renewing one checkpoint at once are serialised and the second is refused; a
  duplicate renewal that slips past is PostgreSQL's integrity error, turned into ConflictError;
* ``check_fence`` — :func:`~sealtrail.ledger.pg_coordination.check_fence` reads the lease row
  ``FOR SHARE``, so a takeover waits for the fenced write in flight and one that committed
  first fails it.

Upserts (``ON CONFLICT … DO UPDATE``), the joins with ``checkpoints`` and the aggregates are the
same statements as on SQLite.
"""

from __future__ import annotations

from typing import Any, cast

from sealtrail.anchoring.sqlite_store import (
    ANCHORS_PART,
    ANCHORS_V7_PART,
    RENEWALS_V9_PART,
    TIMESTAMPS_PART,
    SQLiteAnchorStore,
    SQLiteTimestampStore,
)
from sealtrail.ledger.pg_coordination import check_fence
from sealtrail.ledger.pg_db import POSTGRES, PostgresDatabase, SchemaPart
from sealtrail.ledger.sql_dialect import SqlConnection
from sealtrail.ledger.store import Lease


def _pg(part: SchemaPart) -> SchemaPart:
    return SchemaPart(part.name, part.version, POSTGRES.ddl(part.ddl))


#: anchoring's PostgreSQL tables (timestamps, anchors and their version-7 columns, renewals)
ANCHORING_PARTS: tuple[SchemaPart, ...] = tuple(
    _pg(p) for p in (TIMESTAMPS_PART, ANCHORS_PART, ANCHORS_V7_PART, RENEWALS_V9_PART)
)


class PgTimestampStore(SQLiteTimestampStore):
    """The timestamps of checkpoints (and their renewals) on PostgreSQL."""

    dialect = POSTGRES

    def __init__(self, db: PostgresDatabase) -> None:
        super().__init__(cast(Any, db))  # the SQLite store's SQL runs on db's connections

    def check_fence(self, con: SqlConnection, lease: Lease) -> None:
        check_fence(con, lease)


class PgAnchorStore(SQLiteAnchorStore):
    """The anchoring states of checkpoints on PostgreSQL."""

    def __init__(self, db: PostgresDatabase) -> None:
        super().__init__(cast(Any, db))

    def check_fence(self, con: SqlConnection, lease: Lease) -> None:
        check_fence(con, lease)
