"""The PostgreSQL schema is SQLite's, table for table: the same tables, columns in the same
order, the same nullability and keys, the same indexes — in PostgreSQL's types (``BYTEA``,
``BIGINT``, ``DOUBLE PRECISION``, byte-order ``TEXT``), with no foreign key that SQLite would not
enforce. Both databases are laid out by the composition root (sealtrail.backend), the PostgreSQL
one on a real server the tests start (tests/pg.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from sealtrail.backend import open_postgres, open_sqlite

#: SQLite's declared type → PostgreSQL's (information_schema.columns.data_type)
PG_TYPE = {
    "INTEGER": "bigint",
    "BLOB": "bytea",
    "REAL": "double precision",
    "TEXT": "text",
}
#: tables only one backend has, and why
ONLY_POSTGRES = {"log_head", "sealtrail_schema"}  # the head row lock; the schema's versions


def _sqlite_tables(path: Path) -> dict[str, list[tuple[str, str, bool, bool]]]:
    con = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        out = {}
        for name in names:
            cols = con.execute(f"PRAGMA table_info({name})").fetchall()
            # (name, declared type, not null, part of the primary key)
            out[name] = [(c[1], c[2].upper(), bool(c[3]) or c[5] > 0, c[5] > 0) for c in cols]
        return out
    finally:
        con.close()


def _sqlite_indexes(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        rows = con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).fetchall()
        return {r[0] for r in rows}
    finally:
        con.close()


@pytest.fixture
def layouts(tmp_path: Path, pg_db_url: str) -> tuple[Path, str]:
    open_sqlite(tmp_path / "ledger.db").close()
    open_postgres(pg_db_url).close()
    return tmp_path / "ledger.db", pg_db_url


def test_every_sqlite_table_is_in_postgresql_column_for_column(layouts: tuple[Path, str]) -> None:
    path, url = layouts
    lite = _sqlite_tables(path)
    with psycopg.connect(url, connect_timeout=10) as con:
        tables = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
        assert tables - ONLY_POSTGRES == set(lite)
        for table, cols in lite.items():
            got = con.execute(
                "SELECT column_name, data_type, is_nullable, collation_name, is_identity "
                "FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
                (table,),
            ).fetchall()
            assert [g[0] for g in got] == [c[0] for c in cols], table
            for (name, decl, not_null, _pk), (_, pg_type, nullable, collation, _ident) in zip(
                cols, got, strict=True
            ):
                assert pg_type == PG_TYPE[decl], (table, name, decl, pg_type)
                assert (nullable == "NO") == not_null, (table, name)
                if pg_type == "text":  # compared and sorted byte by byte, as SQLite does
                    assert collation == "C", (table, name, collation)
            pk = con.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "WHERE i.indrelid = %s::regclass AND i.indisprimary",
                (table,),
            ).fetchall()
            assert {r[0] for r in pk} == {c[0] for c in cols if c[3]}, table


def test_the_same_indexes_and_no_foreign_keys(layouts: tuple[Path, str]) -> None:
    path, url = layouts
    with psycopg.connect(url, connect_timeout=10) as con:
        indexes = {
            r[0]
            for r in con.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
        }
        fks = con.execute(
            "SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f'"
        ).fetchall()
    assert _sqlite_indexes(path) <= indexes
    # SQLite leaves foreign keys unenforced; PostgreSQL must accept the same rows
    assert fks == []


def test_identity_columns_are_sqlites_autoincrement_ones(layouts: tuple[Path, str]) -> None:
    path, url = layouts
    con = sqlite3.connect(path)
    try:
        auto = {
            r[0]
            for r in con.execute("SELECT name FROM sqlite_master WHERE sql LIKE '%AUTOINCREMENT%'")
        }
    finally:
        con.close()
    with psycopg.connect(url, connect_timeout=10) as pg:
        identity = {
            r[0]
            for r in pg.execute(
                "SELECT table_name FROM information_schema.columns WHERE is_identity = 'YES'"
            )
        }
    assert auto == identity == {"append_queue", "seal_outbox", "seal_uses", "webhook_delivery"}
