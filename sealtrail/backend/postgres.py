"""Every domain's store on one PostgreSQL database (imported only when PostgreSQL is used).

The ledger's stores (log, statistics, coordination, map) are built here on one
:class:`~sealtrail.ledger.pg_db.PostgresDatabase`. The other domains' PostgreSQL stores
(anchoring's timestamps and anchors, the directory, seals, webhooks) join in ONE place:
:data:`DOMAIN_PARTS` (their schema parts) and :func:`domain_stores` (their stores on the shared
handle). Until a domain has its PostgreSQL store, :func:`domain_stores` gives a stand-in that
raises ConfigError naming the domain on first use, so the ledger runs on PostgreSQL (appends,
checkpoints, proofs, audit, migration of the log) while that domain's features say plainly that
they are not available there yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn, cast

from sealtrail.anchoring.store import AnchorStore, TimestampStore
from sealtrail.backend.stores import Stores
from sealtrail.core.errors import ConfigError
from sealtrail.directory.store import DirectoryStore
from sealtrail.ledger.pg_coordination import PgCoordinationStore
from sealtrail.ledger.pg_db import PostgresDatabase, SchemaPart
from sealtrail.ledger.pg_schema import LEDGER_PARTS
from sealtrail.ledger.pg_store import PgLedgerStore
from sealtrail.seals.store import SealStore
from sealtrail.webhooks.store import WebhookStore

# TODO(pgdomains): the other domains' PostgreSQL schema parts (anchoring, directory, seals,
# webhooks), e.g. SchemaPart(name, version, POSTGRES.ddl(<their SQLite DDL>)).
#: the other domains' PostgreSQL tables, laid out after the ledger's
DOMAIN_PARTS: tuple[SchemaPart, ...] = ()

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


class _NotOnPostgres:
    """Stands in for a domain's store that has no PostgreSQL implementation yet."""

    def __init__(self, domain: str) -> None:
        self._domain = domain

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__"):
            raise AttributeError(name)
        raise ConfigError(
            f"the {self._domain} store is not available on PostgreSQL yet "
            f"({self._domain}.{name}); use SQLite for this feature"
        )

    def __repr__(self) -> str:
        return f"<{self._domain}: not on PostgreSQL yet>"


def domain_stores(db: PostgresDatabase) -> DomainStores:
    """The other domains' stores on ``db`` (a handle opened with :data:`POSTGRES_PARTS`)."""
    # TODO(pgdomains): build the PostgreSQL stores here, on ``db``.
    del db
    return DomainStores(
        timestamps=cast(TimestampStore, _NotOnPostgres("timestamps")),
        anchors=cast(AnchorStore, _NotOnPostgres("anchors")),
        directory=cast(DirectoryStore, _NotOnPostgres("directory")),
        seals=cast(SealStore, _NotOnPostgres("seals")),
        webhooks=None,
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
