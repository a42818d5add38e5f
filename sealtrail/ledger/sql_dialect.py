"""What the SQL backends (SQLite, PostgreSQL) share, and the few places where they differ.

The domains' SQLite stores are written against :class:`sqlite3.Connection`: ``execute(sql,
params)`` with ``?`` placeholders, rows as tuples, ``rowcount``, ``executemany``,
``in_transaction``. The PostgreSQL database (:mod:`.pg_db`) hands out connections of the same
shape (:class:`SqlConnection`), so most statements run unchanged on both:

* **placeholders** — ``?`` everywhere; :func:`pg_placeholders` translates a statement once
  (cached) into psycopg's ``%s``, leaving ``?`` inside string literals, quoted identifiers and
  comments alone and doubling a literal ``%``;
* **upserts** — ``INSERT … ON CONFLICT (key) DO UPDATE SET c = excluded.c`` and ``INSERT …
  ON CONFLICT DO NOTHING`` mean the same in both (SQLite ≥ 3.24): :func:`upsert` and
  :func:`insert_or_ignore` write them. SQLite's ``INSERT OR IGNORE`` / ``INSERT OR REPLACE``
  are SQLite only: do not use them in shared SQL;
* ``RETURNING`` (SQLite ≥ 3.35), row values ``(a, b) > (?, ?)``, ``substr``, ``COALESCE``,
  ``COUNT``/``MAX``/``MIN``, partial indexes, ``CREATE … IF NOT EXISTS``: the same.

Where they differ, each peculiarity has one named place, a field of :class:`Dialect`
(``SQLITE`` here, ``POSTGRES`` in :mod:`.pg_db`):

* **column types** — :meth:`Dialect.ddl` turns a SQLite schema into the dialect's: ``BLOB`` →
  ``BYTEA``, ``INTEGER`` → ``BIGINT`` (SQLite's integers are 64-bit, PostgreSQL's ``INTEGER``
  is 32), ``REAL`` → ``DOUBLE PRECISION``, ``TEXT`` → ``TEXT COLLATE "C"`` (byte order, as
  SQLite compares text, whatever the database's locale), ``INTEGER PRIMARY KEY
  AUTOINCREMENT`` → an identity column, ``WITHOUT ROWID`` dropped, ``REFERENCES`` dropped
  (SQLite does not enforce foreign keys; neither table layout may refuse a row the other takes);
* **row locking** — :attr:`Dialect.for_update` / :attr:`Dialect.for_share`, appended to a
  ``SELECT`` whose rows the transaction must hold until it ends. Empty in SQLite, whose write
  transaction (``BEGIN IMMEDIATE``) already excludes every other writer;
* **integrity errors** — :attr:`Dialect.integrity_error`, the exception a unique or check
  constraint raises (``sqlite3.IntegrityError`` / ``psycopg.IntegrityError``). In PostgreSQL
  it also aborts the transaction: a store must turn it into its own error and let the write
  end (as every store does today), never go on writing after catching it;
* **booleans** — stored as integers 0/1 by both; PostgreSQL is strict about types, so
  :mod:`.pg_db` passes a Python ``bool`` parameter as an integer;
* **aggregates** — ``SUM`` of integers is ``numeric`` in PostgreSQL (a ``Decimal`` in Python):
  wrap it in ``int()`` as the stores already do for ``COUNT``.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class SqlCursor(Protocol):
    """The result of a statement: rows as tuples."""

    @property
    def rowcount(self) -> int:
        """Rows changed by an INSERT/UPDATE/DELETE."""

    def fetchone(self) -> Any:
        """The next row, or None."""

    def fetchall(self) -> list[Any]:
        """The remaining rows."""

    def __iter__(self) -> Iterator[Any]:
        """The remaining rows."""


class SqlConnection(Protocol):
    """What the stores use of a connection (``sqlite3.Connection`` has it; so has pg_db's)."""

    @property
    def in_transaction(self) -> bool:
        """True inside a write transaction."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any:
        """Run one statement with ``?`` placeholders; a :class:`SqlCursor`."""

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Any:
        """Run one statement once per parameter row."""


@dataclass(frozen=True, slots=True)
class Dialect:
    """One SQL backend's peculiarities (see the module docstring)."""

    name: str
    #: appended to a SELECT to hold its rows, exclusively, until the transaction ends
    for_update: str
    #: appended to a SELECT to keep its rows from changing until the transaction ends
    for_share: str
    #: what a violated unique/check constraint raises
    integrity_error: tuple[type[Exception], ...]
    #: (pattern, replacement) applied in order by :meth:`ddl`
    type_map: tuple[tuple[str, str], ...] = ()

    def ddl(self, sqlite_ddl: str) -> str:
        """``sqlite_ddl`` (``CREATE … IF NOT EXISTS`` statements written for SQLite) in this
        dialect; comments kept."""
        out = []
        for line in sqlite_ddl.splitlines(keepends=True):
            code, dash, comment = line.partition("--")
            for pattern, repl in self.type_map:
                code = re.sub(pattern, repl, code)
            out.append(code + dash + comment)
        return "".join(out)


#: SQLite: the file's write lock stands for every row lock
SQLITE = Dialect("sqlite", "", "", (sqlite3.IntegrityError,))

#: SQLite types → PostgreSQL types, applied to the code of each DDL line (not its comment)
PG_TYPE_MAP: tuple[tuple[str, str], ...] = (
    (r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b",
     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (r"\bINTEGER\b", "BIGINT"),
    (r"\bBLOB\b", "BYTEA"),
    (r"\bREAL\b", "DOUBLE PRECISION"),
    (r"\bTEXT\b", 'TEXT COLLATE "C"'),
    # SQLite leaves foreign keys unenforced (PRAGMA foreign_keys is off) and the stores rely on
    # it — an anchor or a timestamp may be stored before its checkpoint (an import, a repair):
    # PostgreSQL gets no REFERENCES clause, so both accept the same rows
    (r"\s+REFERENCES\s+\w+\s*\([^)]*\)", ""),
    (r"\)\s*WITHOUT\s+ROWID\s*;", ");"),
)  # fmt: skip


def insert_or_ignore(table: str, cols: Sequence[str]) -> str:
    """``INSERT … ON CONFLICT DO NOTHING`` (both dialects): rows whose key exists are skipped."""
    marks = ", ".join("?" * len(cols))
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks}) ON CONFLICT DO NOTHING"


def upsert(table: str, cols: Sequence[str], key: Sequence[str]) -> str:
    """``INSERT … ON CONFLICT (key) DO UPDATE`` (both dialects): insert, or overwrite the
    non-key columns of the row with that key."""
    marks = ", ".join("?" * len(cols))
    rest = [c for c in cols if c not in key]
    action = (
        "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in rest) if rest else "DO NOTHING"
    )
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(key)}) {action}"
    )


_TOKENS = re.compile(
    r"""('(?:[^']|'')*')        # a string literal
      | ("(?:[^"]|"")*")        # a quoted identifier
      | (--[^\n]*)              # a line comment
      | (/\*.*?\*/)             # a block comment
      | (\?)                    # a placeholder
      | (%)                     # a literal percent sign
    """,
    re.VERBOSE | re.DOTALL,
)


@functools.lru_cache(maxsize=4096)
def pg_placeholders(sql: str) -> str:
    """``sql`` with SQLite's ``?`` placeholders as psycopg's ``%s`` and ``%`` as ``%%``;
    literals, quoted identifiers and comments unchanged. Cached: each statement text is
    translated once."""

    def sub(m: re.Match[str]) -> str:
        if m.group(5):
            return "%s"
        if m.group(6):
            return "%%"
        return m.group(0)

    return _TOKENS.sub(sub, sql)
