"""Every domain's store on one SQLite file: the schema parts each domain registers, in the order
a new database creates them, and the stores built on the shared
:class:`~sealtrail.ledger.sqlite_db.SQLiteDatabase`."""

from __future__ import annotations

from pathlib import Path

from sealtrail.anchoring.sqlite_store import (
    ANCHORS_PART,
    ANCHORS_V7_PART,
    RENEWALS_V9_PART,
    TIMESTAMPS_PART,
    SQLiteAnchorStore,
    SQLiteTimestampStore,
)
from sealtrail.backend.stores import Stores
from sealtrail.directory.sqlite_store import DIRECTORY_PART, SQLiteDirectoryStore
from sealtrail.ledger.sqlite_coordination import SQLiteCoordinationStore
from sealtrail.ledger.sqlite_db import SchemaPart, SQLiteDatabase
from sealtrail.ledger.sqlite_map import MAP_PART
from sealtrail.ledger.sqlite_schema import COORDINATION_PART, LEDGER_PART
from sealtrail.ledger.sqlite_store import SQLiteLedgerStore
from sealtrail.seals.sqlite_store import (
    SEALS_PART,
    SEALS_V5_PART,
    SEALS_V10_PART,
    SQLiteSealStore,
)
from sealtrail.webhooks.sqlite_store import WEBHOOKS_PART, SQLiteWebhookStore

#: every domain's SQLite tables, in the order a new database creates them
SQLITE_PARTS: tuple[SchemaPart, ...] = (
    LEDGER_PART,
    TIMESTAMPS_PART,
    DIRECTORY_PART,
    ANCHORS_PART,
    SEALS_PART,
    COORDINATION_PART,
    SEALS_V5_PART,
    MAP_PART,
    ANCHORS_V7_PART,
    WEBHOOKS_PART,
    RENEWALS_V9_PART,
    SEALS_V10_PART,
)


def open_sqlite(path: str | Path, *, busy_timeout: float = 10.0) -> Stores:
    """Every store on the SQLite file at ``path`` (created, or upgraded, if needed)."""
    return sqlite_stores(SQLiteDatabase(path, SQLITE_PARTS, busy_timeout=busy_timeout))


def sqlite_stores(db: SQLiteDatabase) -> Stores:
    """Every store on ``db``, a handle opened with :data:`SQLITE_PARTS`."""
    ledger = SQLiteLedgerStore(db)
    return Stores(
        where=db.where,
        ledger=ledger,
        stats=ledger,
        coordination=SQLiteCoordinationStore(db),
        timestamps=SQLiteTimestampStore(db),
        anchors=SQLiteAnchorStore(db),
        directory=SQLiteDirectoryStore(db),
        seals=SQLiteSealStore(db),
        _close=db.close,
        webhooks=SQLiteWebhookStore(db),
    )
