"""Opening storage: a backend from a database path or URL (:func:`open_backend`), an initialised
data directory's (:func:`init`, :func:`open_store`: database plus checkpoint key).

PostgreSQL (``postgresql://`` URLs, :mod:`.postgres`): one
:class:`~sealtrail.ledger.pg_db.PostgresDatabase` laid out with every domain's schema part; its
modules (and psycopg) are imported only when such a URL is given.

SQLite: one :class:`~sealtrail.ledger.sqlite_db.SQLiteDatabase` laid out with every domain's
schema part (:mod:`.sqlite`); MongoDB: one :class:`~sealtrail.ledger.mongo_base.MongoConnection`
laid out with every domain's collections and indexes (:mod:`.mongo`), created here, once per
process, never by a store. The MongoDB modules (and the driver) are imported only when a
``mongodb://`` URL is given.
"""

from __future__ import annotations

from pathlib import Path

from sealtrail.backend.sqlite import open_sqlite
from sealtrail.backend.stores import Stores
from sealtrail.core.errors import NotInitializedError
from sealtrail.core.note import NoteSigner
from sealtrail.ledger import datadir


def is_mongodb(db_url: str | None) -> bool:
    """True when ``db_url`` names a MongoDB database (``mongodb://``, ``mongodb+srv://``)."""
    return db_url is not None and db_url.startswith("mongodb")


def is_postgres(db_url: str | None) -> bool:
    """True when ``db_url`` names a PostgreSQL database (``postgresql://``, ``postgres://``)."""
    return db_url is not None and db_url.startswith(("postgresql://", "postgres://"))


def is_remote(db_url: str | None) -> bool:
    """True when ``db_url`` names a database server (MongoDB, PostgreSQL), not a SQLite file."""
    return is_mongodb(db_url) or is_postgres(db_url)


def open_postgres(url: str, *, busy_timeout: float = 10.0) -> Stores:
    """Every store on the PostgreSQL database at ``url`` (a libpq URL, e.g. several hosts with
    ``target_session_attrs=read-write``); tables created or upgraded on open.

    Raises DatabaseUnavailableError when no server answers, StorageError when the database
    holds a schema this version does not read.
    """
    from sealtrail.backend.postgres import open_postgres_stores  # psycopg only when used

    return open_postgres_stores(url, busy_timeout=busy_timeout)


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
    """Every store: on MongoDB when ``db_url`` is a ``mongodb://`` URL, on PostgreSQL when it is
    a ``postgresql://`` one, else on SQLite at ``db_path`` (created if missing)."""
    if db_url is not None and is_mongodb(db_url):
        return open_mongodb(db_url)
    if db_url is not None and is_postgres(db_url):
        return open_postgres(db_url, busy_timeout=busy_timeout)
    return open_sqlite(db_path, busy_timeout=busy_timeout)


def init(
    data_dir: Path,
    origin: str | None = None,
    db_path: Path | None = None,
    *,
    db_url: str | None = None,
) -> datadir.InitResult:
    """Create the data directory, key and database if missing; idempotent.

    ``db_path`` defaults to ``data_dir/ledger.db``; ``db_url`` (``mongodb://…``,
    ``postgresql://…``) puts the database in that server instead (the keys stay in the data
    directory).
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
    remote = is_remote(db_url)
    if not remote and not db_path.exists():
        raise NotInitializedError(f"no ledger database at {db_path}; run 'sealtrail init' first")
    stores = open_backend(db_path, db_url=db_url, busy_timeout=busy_timeout)
    try:
        datadir.check_bound(stores.ledger, signer, data_dir, unbound_is_uninitialised=remote)
    except BaseException:
        stores.close()
        raise
    return stores, signer
