"""Older databases are upgraded in place, in one transaction, when opened; newer ones refused."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from sealtrail.anchoring.store import StoredAnchor
from sealtrail.backend import SQLITE_PARTS
from sealtrail.backend import open_sqlite as SQLiteStore  # every domain's stores
from sealtrail.core.errors import StorageError
from sealtrail.ledger.sqlite_db import SCHEMA_VERSION, migrations

#: from-version → statements, as every domain registered them
_MIGRATIONS = migrations(SQLITE_PARTS)


def _tables(sql: str) -> list[str]:
    return re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", sql)


def _downgrade_to_v1(db: Path) -> None:
    """Make ``db`` look like a version-1 database: drop what later versions added."""
    con = sqlite3.connect(db)
    for version in sorted(_MIGRATIONS):
        for table in _tables(_MIGRATIONS[version]):
            con.execute(f"DROP TABLE {table}")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()


def test_version_1_database_is_upgraded_with_its_data(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    store = SQLiteStore(db)
    store.ledger.set_meta("origin", "example.org/log")
    store.close()
    _downgrade_to_v1(db)

    store = SQLiteStore(db)
    try:
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        con.close()
        for version in _MIGRATIONS:
            assert set(_tables(_MIGRATIONS[version])) <= names
        assert store.ledger.meta("origin") == "example.org/log"  # nothing lost
        a = StoredAnchor(1, "pending", 1337, "0x" + "00" * 20, b"\x01" * 32, b"\x02" * 32,
                         created_at="t", updated_at="t")  # fmt: skip
        store.anchors.put_anchor(a)
        assert store.anchors.anchor(1) == a
    finally:
        store.close()


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    SQLiteStore(db).close()
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(StorageError, match=f"schema version {SCHEMA_VERSION + 1}"):
        SQLiteStore(db)
