"""The verifiable map on PostgreSQL (:class:`PgMapStore`): SQLite's tables and queries
(:mod:`.sqlite_map`) on the shared :class:`~sealtrail.ledger.pg_db.PostgresDatabase`, except the
writes, which use the upserts both dialects share instead of SQLite's ``INSERT OR IGNORE`` /
``INSERT OR REPLACE``, and PostgreSQL's integrity error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sealtrail.core.errors import ConflictError
from sealtrail.ledger.pg_db import POSTGRES, PostgresDatabase
from sealtrail.ledger.sql_dialect import insert_or_ignore, upsert
from sealtrail.ledger.sqlite_map import SQLiteMapStore
from sealtrail.ledger.store import WriteView

_PUT_NODE = insert_or_ignore("map_node", ("hash", "node"))
_PUT_VALUE = upsert("map_value", ("key_hash", "key", "value"), ("key_hash",))


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
        if not con.in_transaction:
            raise RuntimeError("PgMapStore.put must run inside LedgerStore.write")
        # sorted: concurrent writers (none today: the log's head serialises them) would lock
        # index entries in one order
        if nodes:
            con.executemany(_PUT_NODE, sorted(nodes.items()))
        if values:
            con.executemany(_PUT_VALUE, sorted((kh, k, v) for kh, (k, v) in values.items()))
        if roots:
            try:
                con.executemany(
                    "INSERT INTO map_root (size, root) VALUES (?, ?)", sorted(roots.items())
                )
            except POSTGRES.integrity_error as e:
                raise ConflictError(f"a map root is stored for one of sizes {sorted(roots)}") from e
