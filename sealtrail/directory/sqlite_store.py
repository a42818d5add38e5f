"""The directory on SQLite: tenants and API key records (tables ``tenants`` and ``api_keys``,
schema version 1) on the shared :class:`~sealtrail.ledger.sqlite_db.SQLiteDatabase`.

The SQL is shared with PostgreSQL (:mod:`.pg_store` subclasses the store): a second tenant with
one id is the dialect's integrity error (:attr:`SQLiteDirectoryStore.dialect`) when it slips
past the check (two processes adding it at once), and a look-up of no tenants answers nothing
without asking (PostgreSQL refuses ``IN ()``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sealtrail.core.errors import ConflictError, NotFoundError
from sealtrail.directory.store import ApiKey, Tenant
from sealtrail.ledger.sql_dialect import SQLITE, Dialect, SqlConnection
from sealtrail.ledger.sqlite_db import SchemaPart, SQLiteDatabase

_DIRECTORY_DDL = """
CREATE TABLE IF NOT EXISTS tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    parent     TEXT REFERENCES tenants (id),
    created_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_keys (
    id          TEXT PRIMARY KEY,         -- public key id
    tenant      TEXT NOT NULL REFERENCES tenants (id),
    role        TEXT NOT NULL,
    secret_hash BLOB NOT NULL,            -- SHA-256 of the secret part; the key is never stored
    label       TEXT,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
) WITHOUT ROWID;
"""
#: tenants and API keys (schema version 1)
DIRECTORY_PART = SchemaPart("directory", 1, _DIRECTORY_DDL)

_KEY_COLS = "id, tenant, role, secret_hash, label, created_at, revoked_at"


def _key(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(row[0], row[1], row[2], bytes(row[3]), row[4], row[5], row[6])


class SQLiteDirectoryStore:
    """Tenants and API key records in the shared SQLite database."""

    #: the SQL dialect's peculiarities (the integrity error)
    dialect: Dialect = SQLITE

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    def add_tenant(self, tenant: Tenant) -> None:
        def put(con: SqlConnection) -> None:
            if con.execute("SELECT 1 FROM tenants WHERE id = ?", (tenant.id,)).fetchone():
                raise ConflictError(f"tenant {tenant.id!r} already exists")
            if (
                tenant.parent is not None
                and not con.execute(
                    "SELECT 1 FROM tenants WHERE id = ?", (tenant.parent,)
                ).fetchone()
            ):
                raise NotFoundError(f"no tenant {tenant.parent!r}")
            try:
                con.execute(
                    "INSERT INTO tenants (id, name, parent, created_at) VALUES (?, ?, ?, ?)",
                    (tenant.id, tenant.name, tenant.parent, tenant.created_at),
                )
            except self.dialect.integrity_error as e:  # added meanwhile by another process
                raise ConflictError(f"tenant {tenant.id!r} already exists") from e

        self.db.write(put)

    def tenant(self, tenant_id: str) -> Tenant | None:
        row = (
            self.db.read()
            .execute("SELECT id, name, parent, created_at FROM tenants WHERE id = ?", (tenant_id,))
            .fetchone()
        )
        return None if row is None else Tenant(*row)

    def tenants(self) -> list[Tenant]:
        rows = self.db.read().execute(
            "SELECT id, name, parent, created_at FROM tenants ORDER BY id"
        )
        return [Tenant(*r) for r in rows]

    def subtree_tenants(self, tenant_id: str) -> list[str]:
        rows = self.db.read().execute(
            "WITH RECURSIVE t(id) AS (SELECT id FROM tenants WHERE id = ? "
            "UNION SELECT tenants.id FROM tenants JOIN t ON tenants.parent = t.id) "
            "SELECT id FROM t ORDER BY id",
            (tenant_id,),
        )
        return [r[0] for r in rows]

    def add_key(self, key: ApiKey) -> None:
        def put(con: SqlConnection) -> None:
            con.execute(
                f"INSERT INTO api_keys ({_KEY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key.id, key.tenant, key.role, key.secret_hash, key.label, key.created_at, None),
            )

        self.db.write(put)

    def key(self, key_id: str) -> ApiKey | None:
        row = (
            self.db.read()
            .execute(f"SELECT {_KEY_COLS} FROM api_keys WHERE id = ?", (key_id,))
            .fetchone()
        )
        return None if row is None else _key(row)

    def keys(self, tenants: Collection[str]) -> list[ApiKey]:
        ids = list(tenants)
        if not ids:  # SQLite reads "IN ()" as false; PostgreSQL refuses it
            return []
        rows = self.db.read().execute(
            f"SELECT {_KEY_COLS} FROM api_keys WHERE tenant IN ({','.join('?' * len(ids))}) "
            "ORDER BY created_at, id",
            ids,
        )
        return [_key(r) for r in rows]

    def revoke_key(self, key_id: str, at: str) -> ApiKey:
        def put(con: SqlConnection) -> ApiKey:
            con.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (at, key_id),
            )
            row = con.execute(
                f"SELECT {_KEY_COLS} FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no API key {key_id!r}")
            return _key(row)

        return self.db.write(put)
