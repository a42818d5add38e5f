"""The verifiable map's SQLite tables (schema version 6) and :class:`SQLiteMapStore`.

``map_node`` holds the map's content-addressed nodes (write-once: insert or ignore),
``map_value`` each key's current value, ``map_root`` the map root each checkpoint commits to
(checkpoints sealed before the map have no row). A version-5 database gets these tables on open.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence

from sealtrail.core.errors import ConflictError
from sealtrail.ledger.sqlite_db import SchemaPart, SQLiteDatabase
from sealtrail.ledger.store import WriteView

_MAP_DDL = """
CREATE TABLE IF NOT EXISTS map_node (
    hash BLOB PRIMARY KEY,                -- the node's hash (docs/MAP.md §3)
    node BLOB NOT NULL                    -- 'I' || left || right, or 'L' || key_hash || value_hash
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS map_value (
    key_hash BLOB PRIMARY KEY,            -- key_hash(key)
    key      BLOB NOT NULL,               -- the encoded key (docs/MAP.md §1)
    value    BLOB NOT NULL                -- its current encoded value (docs/MAP.md §2)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS map_root (
    size INTEGER PRIMARY KEY,             -- the checkpoint's size
    root BLOB NOT NULL                    -- the map root its note's sealtrail-map/v1 line names
);
"""

#: the verifiable map (schema version 6)
MAP_PART = SchemaPart("map", 6, _MAP_DDL)

_CHUNK = 500


class SQLiteMapStore:
    """The map's tables in the shared :class:`SQLiteDatabase` (see ``MapStore``).

    Reads use the calling thread's connection; inside ``LedgerStore.write`` that connection is
    the one holding the write transaction, so :meth:`put` (and reads made while sealing) join it.
    """

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    def nodes(self, hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        con, out = self.db.read(), {}
        hs = list(dict.fromkeys(hashes))
        for i in range(0, len(hs), _CHUNK):
            chunk = hs[i : i + _CHUNK]
            q = f"SELECT hash, node FROM map_node WHERE hash IN ({','.join('?' * len(chunk))})"
            for h, node in con.execute(q, chunk):
                out[bytes(h)] = bytes(node)
        return out

    def values(self, key_hashes: Collection[bytes]) -> dict[bytes, bytes]:
        con, out = self.db.read(), {}
        ks = list(key_hashes)
        for i in range(0, len(ks), _CHUNK):
            chunk = ks[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            q = f"SELECT key_hash, value FROM map_value WHERE key_hash IN ({marks})"
            for k, v in con.execute(q, chunk):
                out[bytes(k)] = bytes(v)
        return out

    def root(self, size: int) -> bytes | None:
        row = self.db.read().execute("SELECT root FROM map_root WHERE size = ?", (size,)).fetchone()
        return None if row is None else bytes(row[0])

    def latest_root(self) -> tuple[int, bytes] | None:
        row = (
            self.db.read()
            .execute("SELECT size, root FROM map_root ORDER BY size DESC LIMIT 1")
            .fetchone()
        )
        return None if row is None else (row[0], bytes(row[1]))

    def put(
        self,
        view: WriteView,
        nodes: Mapping[bytes, bytes],
        values: Mapping[bytes, tuple[bytes, bytes]],
        roots: Mapping[int, bytes],
    ) -> None:
        con = self.db.read()
        if not con.in_transaction:
            raise RuntimeError("SQLiteMapStore.put must run inside LedgerStore.write")
        con.executemany(
            "INSERT OR IGNORE INTO map_node (hash, node) VALUES (?, ?)", list(nodes.items())
        )
        con.executemany(
            "INSERT OR REPLACE INTO map_value (key_hash, key, value) VALUES (?, ?, ?)",
            [(kh, k, v) for kh, (k, v) in values.items()],
        )
        try:
            con.executemany("INSERT INTO map_root (size, root) VALUES (?, ?)", list(roots.items()))
        except sqlite3.IntegrityError as e:
            raise ConflictError(f"a map root is stored for one of sizes {sorted(roots)}") from e

    def all_nodes(self) -> Iterator[tuple[bytes, bytes]]:
        for h, node in self.db.read().execute("SELECT hash, node FROM map_node ORDER BY hash"):
            yield bytes(h), bytes(node)

    def all_values(self) -> Iterator[tuple[bytes, bytes, bytes]]:
        q = "SELECT key_hash, key, value FROM map_value ORDER BY key_hash"
        for kh, k, v in self.db.read().execute(q):
            yield bytes(kh), bytes(k), bytes(v)

    def roots(self) -> list[tuple[int, bytes]]:
        rows = self.db.read().execute("SELECT size, root FROM map_root ORDER BY size").fetchall()
        return [(r[0], bytes(r[1])) for r in rows]
