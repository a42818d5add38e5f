"""The verifiable map on PostgreSQL (:class:`PgMapStore`): SQLite's tables and queries
(:mod:`.sqlite_map`) on the shared :class:`~sealtrail.ledger.pg_db.PostgresDatabase`, except the
writes: one ``INSERT … SELECT … unnest`` per table (``PgConnection.insert_rows``) with
``ON CONFLICT`` instead of SQLite's ``INSERT OR IGNORE`` / ``INSERT OR REPLACE`` per row, and
PostgreSQL's integrity error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sealtrail.core.errors import ConflictError
from sealtrail.ledger.pg_db import POSTGRES, PgConnection, PostgresDatabase
from sealtrail.ledger.sqlite_map import SQLiteMapStore
from sealtrail.ledger.store import WriteView


class PgMapStore(SQLiteMapStore):
    """The map's tables in the shared :class:`PostgresDatabase` (see ``MapStore``).

    Reads inside ``LedgerStore.write`` on the same thread join that transaction, so :meth:`put`
    (and reads made while sealing) see what it wrote."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = cast(Any, db)  # the SQLite store's queries run unchanged on db's connections
        self.pg = db

    def put(
        self,
        view: WriteView,
        nodes: Mapping[bytes, bytes],
        values: Mapping[bytes, tuple[bytes, bytes]],
        roots: Mapping[int, bytes],
    ) -> None:
        con = self.pg.read()
        if not isinstance(con, PgConnection):  # the reader outside a write transaction
            raise RuntimeError("PgMapStore.put must run inside LedgerStore.write")
        # one statement per table (PgConnection.insert_rows), sorted: concurrent writers (none
        # today: the log's head serialises them) would lock index entries in one order
        con.insert_rows(
            "map_node", (("hash", "bytea"), ("node", "bytea")), sorted(nodes.items()),
            "ON CONFLICT DO NOTHING",
        )  # fmt: skip
        con.insert_rows(
            "map_value",
            (("key_hash", "bytea"), ("key", "bytea"), ("value", "bytea")),
            sorted((kh, k, v) for kh, (k, v) in values.items()),
            "ON CONFLICT (key_hash) DO UPDATE SET key = excluded.key, value = excluded.value",
        )
        try:
            con.insert_rows(
                "map_root", (("size", "bigint"), ("root", "bytea")), sorted(roots.items())
            )
        except POSTGRES.integrity_error as e:
            raise ConflictError(f"a map root is stored for one of sizes {sorted(roots)}") from e
