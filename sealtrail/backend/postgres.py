"""Every domain's store on one PostgreSQL database (imported only when PostgreSQL is used).

The ledger's stores (log, statistics, coordination, map) are built here on one
:class:`~sealtrail.ledger.pg_db.PostgresDatabase`. The other domains' PostgreSQL stores
(anchoring's timestamps and anchors, the directory, seals, webhooks) join in ONE place:
:data:`DOMAIN_PARTS` (their schema parts) and :func:`domain_stores` (their stores on the shared
handle). Each is its SQLite store running the same SQL on PostgreSQL connections, with the
domain's few peculiarities in its ``pg_store`` module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sealtrail.anchoring.pg_store import ANCHORING_PARTS, PgAnchorStore, PgTimestampStore
from sealtrail.anchoring.store import AnchorStore, TimestampStore
from sealtrail.backend.stores import Stores
from sealtrail.directory.pg_store import DIRECTORY_PART, PgDirectoryStore
from sealtrail.directory.store import DirectoryStore
from sealtrail.ledger.pg_coordination import PgCoordinationStore
from sealtrail.ledger.pg_db import PostgresDatabase, SchemaPart
from sealtrail.ledger.pg_schema import LEDGER_PARTS
from sealtrail.ledger.pg_store import PgLedgerStore
from sealtrail.seals.pg_store import SEALS_PARTS, PgSealStore
from sealtrail.seals.store import SealStore
from sealtrail.webhooks.pg_store import WEBHOOKS_PART, PgWebhookStore
from sealtrail.webhooks.store import WebhookStore

#: the other domains' PostgreSQL tables, laid out after the ledger's (by version, as SQLite's)
DOMAIN_PARTS: tuple[SchemaPart, ...] = (
    *ANCHORING_PARTS,
    DIRECTORY_PART,
    *SEALS_PARTS,
    WEBHOOKS_PART,
)

#: every domain's PostgreSQL tables, in the order a new database creates them
POSTGRES_PARTS: tuple[SchemaPart, ...] = (*LEDGER_PARTS, *DOMAIN_PARTS)


@dataclass(frozen=True)
class DomainStores:
    """The stores of the domains other than the ledger, on one database handle."""

    timestamps: TimestampStore
    anchors: AnchorStore
    directory: DirectoryStore
    seals: SealStore
    webhooks: WebhookStore | None


def domain_stores(db: PostgresDatabase) -> DomainStores:
    """The other domains' stores on ``db`` (a handle opened with :data:`POSTGRES_PARTS`)."""
    return DomainStores(
        timestamps=PgTimestampStore(db),
        anchors=PgAnchorStore(db),
        directory=PgDirectoryStore(db),
        seals=PgSealStore(db),
        webhooks=PgWebhookStore(db),
    )


def open_postgres_stores(url: str, *, busy_timeout: float = 10.0, **kw: Any) -> Stores:
    """Every store on the PostgreSQL database at ``url`` (a libpq URL; several hosts with
    ``target_session_attrs=read-write`` for failover). Tables created or upgraded on open.

    Raises DatabaseUnavailableError when no server answers, StorageError when the database
    holds a schema this version does not read."""
    return postgres_stores(PostgresDatabase(url, POSTGRES_PARTS, busy_timeout=busy_timeout, **kw))


def postgres_stores(db: PostgresDatabase) -> Stores:
    """Every store on ``db``, a handle opened with :data:`POSTGRES_PARTS`."""
    ledger = PgLedgerStore(db)
    d = domain_stores(db)
    return Stores(
        where=db.where,
        ledger=ledger,
        stats=ledger,
        coordination=PgCoordinationStore(db),
        timestamps=d.timestamps,
        anchors=d.anchors,
        directory=d.directory,
        seals=d.seals,
        _close=db.close,
        webhooks=d.webhooks,
    )
