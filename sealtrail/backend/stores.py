"""Every domain's store, built once on one database handle (:class:`Stores`), and the functions
that open it: :func:`open_backend` (a database path or URL), :func:`init` and :func:`open_store`
(an initialised data directory: database plus checkpoint key).

SQLite: one :class:`~sealtrail.ledger.sqlite_db.SQLiteDatabase` laid out with
:data:`SQLITE_PARTS`; MongoDB: one :class:`~sealtrail.ledger.mongo_base.MongoConnection` laid out
with :data:`MONGO_PARTS` (collections and indexes created here, once per process, never by a
store). The MongoDB modules (and the driver) are imported only when a ``mongodb://`` URL is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sealtrail.anchoring.sqlite_store import (
    ANCHORS_PART,
    TIMESTAMPS_PART,
    SQLiteAnchorStore,
    SQLiteTimestampStore,
)
from sealtrail.anchoring.store import AnchorStore, TimestampStore
from sealtrail.core.errors import NotInitializedError
from sealtrail.core.note import NoteSigner
from sealtrail.directory.sqlite_store import DIRECTORY_PART, SQLiteDirectoryStore
from sealtrail.directory.store import DirectoryStore
from sealtrail.ledger import datadir
from sealtrail.ledger.sqlite_coordination import SQLiteCoordinationStore
from sealtrail.ledger.sqlite_db import SchemaPart, SQLiteDatabase
from sealtrail.ledger.sqlite_schema import COORDINATION_PART, LEDGER_PART
from sealtrail.ledger.sqlite_store import SQLiteLedgerStore
from sealtrail.ledger.store import CoordinationStore, LedgerStore, LogStatistics
from sealtrail.seals.sqlite_store import SEALS_PART, SQLiteSealStore
from sealtrail.seals.store import SealStore

#: every domain's SQLite tables, in the order a new database creates them
SQLITE_PARTS: tuple[SchemaPart, ...] = (
    LEDGER_PART,
    TIMESTAMPS_PART,
    DIRECTORY_PART,
    ANCHORS_PART,
    SEALS_PART,
    COORDINATION_PART,
)


@dataclass(frozen=True)
class Stores:
    """Every domain's store on one database, built once per process (:func:`open_backend`).

    ``ledger`` and ``stats`` are one object (the log's statistics are read-only queries over
    the log's own tables). ``close()`` closes the shared database handle (idempotent).
    """

    #: where the database is, for messages (never a password)
    where: str
    ledger: LedgerStore
    stats: LogStatistics
    coordination: CoordinationStore
    timestamps: TimestampStore
    anchors: AnchorStore
    directory: DirectoryStore
    seals: SealStore
    _close: Callable[[], None] = field(repr=False)

    def close(self) -> None:
        """Close the shared database handle (idempotent); every store is unusable after."""
        self._close()


def is_mongodb(db_url: str | None) -> bool:
    """True when ``db_url`` names a MongoDB database (``mongodb://``, ``mongodb+srv://``)."""
    return db_url is not None and db_url.startswith("mongodb")


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
    )


def open_mongodb(url: str, *, server_timeout: float = 10.0) -> Stores:
    """Every store on the MongoDB replica set at ``url`` (collections and indexes created once).

    Raises ConfigError for a bad URL or a server without transactions, StorageError when the
    server cannot be reached or holds a schema this version does not read.
    """
    from sealtrail.backend.mongo import open_mongodb_stores  # the driver only when used

    return open_mongodb_stores(url, server_timeout=server_timeout)


def open_backend(
    db_path: str | Path,
    *,
    db_url: str | None = None,
    busy_timeout: float = 10.0,
) -> Stores:
    """Every store: on MongoDB when ``db_url`` is a ``mongodb://`` URL, else on SQLite at
    ``db_path`` (created if missing)."""
    if db_url is not None and is_mongodb(db_url):
        return open_mongodb(db_url)
    return open_sqlite(db_path, busy_timeout=busy_timeout)


def init(
    data_dir: Path,
    origin: str | None = None,
    db_path: Path | None = None,
    *,
    db_url: str | None = None,
) -> datadir.InitResult:
    """Create the data directory, key and database if missing; idempotent.

    ``db_path`` defaults to ``data_dir/ledger.db``; ``db_url`` (``mongodb://…``) puts the
    database in MongoDB instead (the keys stay in the data directory).
    """
    signer, created = datadir.prepare(data_dir, origin)
    stores = open_backend(db_path or data_dir / datadir.DB_FILE, db_url=db_url)
    try:
        datadir.bind(stores.ledger, signer, data_dir)
    finally:
        stores.close()
    return datadir.InitResult(data_dir, signer.name, signer.verifier().vkey, created)


def open_store(
    data_dir: Path,
    *,
    db_path: Path | None = None,
    busy_timeout: float = 10.0,
    db_url: str | None = None,
) -> tuple[Stores, NoteSigner]:
    """Open an initialised ledger's stores; check the key belongs to the database."""
    db_path = db_path or data_dir / datadir.DB_FILE
    signer = datadir.load_signer(data_dir)
    mongo = is_mongodb(db_url)
    if not mongo and not db_path.exists():
        raise NotInitializedError(f"no ledger database at {db_path}; run 'sealtrail init' first")
    stores = open_backend(db_path, db_url=db_url, busy_timeout=busy_timeout)
    try:
        datadir.check_bound(stores.ledger, signer, data_dir, unbound_is_uninitialised=mongo)
    except BaseException:
        stores.close()
        raise
    return stores, signer
