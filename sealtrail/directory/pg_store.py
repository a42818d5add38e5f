"""The directory on PostgreSQL: the SQLite store (:mod:`.sqlite_store`) on the shared
:class:`~sealtrail.ledger.pg_db.PostgresDatabase`, whose connections take the same SQL.

The tables are SQLite's (:data:`DIRECTORY_PART` through
:meth:`~sealtrail.ledger.sql_dialect.Dialect.ddl`: byte-order text, so tenants and keys list in
the same order on both; no foreign keys, as SQLite enforces none). The recursive query of a
tenant's group (``WITH RECURSIVE … UNION``) is the same statement. The one difference is the
integrity error a tenant added twice at once raises (:data:`~sealtrail.ledger.pg_db.POSTGRES`):
the store answers ConflictError for it, as for the tenant it finds already there.
"""

from __future__ import annotations

from typing import Any, cast

from sealtrail.directory.sqlite_store import DIRECTORY_PART as SQLITE_DIRECTORY_PART
from sealtrail.directory.sqlite_store import SQLiteDirectoryStore
from sealtrail.ledger.pg_db import POSTGRES, PostgresDatabase, SchemaPart

#: tenants and API keys (schema version 1)
DIRECTORY_PART = SchemaPart(
    SQLITE_DIRECTORY_PART.name,
    SQLITE_DIRECTORY_PART.version,
    POSTGRES.ddl(SQLITE_DIRECTORY_PART.ddl),
)


class PgDirectoryStore(SQLiteDirectoryStore):
    """Tenants and API key records on PostgreSQL."""

    dialect = POSTGRES

    def __init__(self, db: PostgresDatabase) -> None:
        super().__init__(cast(Any, db))  # the SQLite store's SQL runs on db's connections
