"""The PostgreSQL database every domain's PostgreSQL store shares: one database, a pool of
psycopg 3 connections, the same shape as :class:`~sealtrail.ledger.sqlite_db.SQLiteDatabase`.

:class:`PostgresDatabase` gives

* :meth:`PostgresDatabase.read` — a connection for reads (:class:`PgConnection`'s shape: each
  ``execute`` takes a pooled connection in autocommit mode, runs the statement, returns the
  rows and hands the connection back, so each read sees the latest commit, as in SQLite).
  Inside :meth:`PostgresDatabase.write` on the same thread it is the write transaction's
  connection, so reads made while writing (and a map store's ``put``) join that transaction;
* :meth:`PostgresDatabase.write` — ``fn(connection)`` in one ``BEGIN`` … ``COMMIT`` (READ
  COMMITTED) on a pooled connection. A ``write`` called inside another on the same thread joins
  it (no second transaction, no commit of its own);
* the schema: the same :class:`~sealtrail.ledger.sqlite_db.SchemaPart` values as SQLite, with
  the PostgreSQL DDL (usually the SQLite DDL through :meth:`Dialect.ddl`), created or upgraded
  on open (below).

Connections take SQLite's ``?`` placeholders (translated once per statement text,
:func:`~sealtrail.ledger.sql_dialect.pg_placeholders`), return rows as tuples (``BYTEA`` as
``bytes``), pass ``bool`` parameters as integers, and have ``rowcount`` — so the domains' SQL
is shared with SQLite where the dialects agree; :data:`POSTGRES` holds where they do not
(:mod:`.sql_dialect`).

**Durability.** ``synchronous_commit`` is the server's setting, ``on`` by default, never less:
a server (or role, or database) configured with ``off``, ``local`` or ``remote_write`` gets
``on`` for Sealtrail's sessions, with a warning in the log (``remote_apply`` is kept). So a
``COMMIT`` returns once its WAL record is flushed — and, when the server names synchronous
standbys (``synchronous_standby_names``), once one of them has flushed it too: acknowledged =
committed, on the standby as well when one is configured. Crash states:

* killed (client or server) before ``COMMIT`` is sent: the server rolls the transaction back;
  nothing of it is visible or was acknowledged;
* the connection lost *while* ``COMMIT`` is in flight: the outcome is unknown to us —
  :class:`~sealtrail.core.errors.DatabaseUnavailableError` says so; an append's retry with the
  same client event id finds the original if it committed (idempotent appends);
* after ``COMMIT`` returned: everything of it is durable.

**Errors** (all in the project's hierarchy, psycopg's never escape): a lock not had within
``busy_timeout`` (``lock_timeout``, SQLSTATE 55P03) → LedgerBusyError; a serialization failure
or deadlock (40001, 40P01) → ``fn`` re-runs on a fresh transaction, up to
:data:`WRITE_ATTEMPTS` times, then LedgerBusyError; the server unreachable, restarting, shut
down, read-only (a standby) or no pooled connection within ``busy_timeout`` →
DatabaseUnavailableError (a LedgerBusyError: HTTP 503 with Retry-After). A connection found
broken *before* ``COMMIT`` was sent is replaced and ``fn`` re-runs (nothing was committed) until
``busy_timeout`` has passed — this is how a worker rides through a failover to a promoted
standby named in a multi-host URL with ``target_session_attrs=read-write``. Every other
database error → StorageError. So ``fn`` must be re-runnable: only its database effects count.

Sessions run with ``lock_timeout = busy_timeout`` and ``idle_in_transaction_session_timeout``
(default 60 s): a worker paused inside a write transaction (SIGSTOP, a hung thread) loses its
session — and the row locks it held, e.g. the log's head — instead of stalling every other
writer; its ``COMMIT`` then fails and nothing of it is kept.

**Schema versions.** One version sequence with SQLite (:data:`SCHEMA_VERSION`, 10): the table
``sealtrail_schema (part, version)`` holds a row per schema part applied (its name and the
version that introduced it) and the row ``('*', version)``, the database's version. On open,
parts not yet applied are created (their DDL is ``CREATE … IF NOT EXISTS``) and the version set,
in one transaction under an advisory lock (:data:`SCHEMA_LOCK`), so several workers starting at
once lay the schema out exactly once. A database whose version is newer than this Sealtrail's,
or not a version at all, is refused with StorageError. (PostgreSQL arrived at version 9: a
future version's parts join the same way, named in the table.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import psycopg
import psycopg.errors
from psycopg import conninfo

from sealtrail.core.errors import (
    DatabaseUnavailableError,
    LedgerBusyError,
    StorageError,
)
from sealtrail.ledger.pg_pool import PgPool, PoolTimeout
from sealtrail.ledger.sql_dialect import PG_TYPE_MAP, Dialect, pg_placeholders
from sealtrail.ledger.sqlite_db import SCHEMA_VERSION, SchemaPart

T = TypeVar("T")
log = logging.getLogger("sealtrail.ledger")

__all__ = [
    "POSTGRES",
    "SCHEMA_VERSION",
    "PgConnection",
    "PostgresDatabase",
    "SchemaPart",
    "is_postgres_url",
    "where_of",
]

#: PostgreSQL's peculiarities (sql_dialect): row locks, integrity errors, types
POSTGRES = Dialect(
    "postgresql", " FOR UPDATE", " FOR SHARE", (psycopg.IntegrityError,), PG_TYPE_MAP
)

#: how many times a write's ``fn`` runs at most after serialization failures / deadlocks
WRITE_ATTEMPTS = 5
#: the advisory lock key held while the schema is laid out (any constant; 'sealtrl' in ASCII)
SCHEMA_LOCK = 0x7365616C74726C
#: the schema table (see the module docstring)
SCHEMA_TABLE = "sealtrail_schema"

#: commit settings weaker than "flushed (and on the synchronous standby)": replaced by "on"
_WEAK_COMMITS = {"off", "local", "remote_write"}
_RETRY_STATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected
_BUSY_STATES = {"55P03"}  # lock_not_available (lock_timeout)
# connection/availability: 08* connection exceptions, 57P01-57P03 admin shutdown, crash
# shutdown, cannot connect now; 25006 read-only transaction (connected to a standby); 25P03/25P04
# the session ended by idle_in_transaction_session_timeout / transaction_timeout
_UNAVAILABLE_PREFIXES = ("08", "57P")
_UNAVAILABLE_STATES = {"25006", "25P03", "25P04"}


def is_postgres_url(url: str | None) -> bool:
    """True when ``url`` is a PostgreSQL URL (``postgresql://``, ``postgres://``)."""
    return url is not None and url.startswith(("postgresql://", "postgres://"))


def where_of(url: str) -> str:
    """``url`` for messages: hosts, ports and database, never a user or password."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    hosts = str(params.get("host") or "localhost").split(",")
    ports = str(params.get("port") or "5432").split(",")
    if len(ports) == 1:
        ports = ports * len(hosts)
    hp = ",".join(f"{h}:{p}" for h, p in zip(hosts, ports, strict=False))
    return f"postgresql://{hp}/{params.get('dbname') or ''}"


#: connection failures that waiting will not cure (libpq gives no SQLSTATE when connecting)
_PERMANENT_CONNECT_FAILURES = (
    "does not exist",  # database or role
    "authentication failed",
    "no pg_hba.conf entry",
    "password",
    "SSL",
)


def _unavailable(e: BaseException) -> bool:
    if isinstance(e, psycopg.Error):
        state = e.sqlstate or ""
        if state.startswith(_UNAVAILABLE_PREFIXES) or state in _UNAVAILABLE_STATES:
            return True
        # connection-level failures carry no SQLSTATE (refused, reset, closed, timed out,
        # starting up, too many clients) — unless the server refused us for good
        return (
            isinstance(e, psycopg.OperationalError)
            and not state
            and not any(m in str(e) for m in _PERMANENT_CONNECT_FAILURES)
        )
    return False


def _adapt(params: Sequence[Any]) -> Sequence[Any]:
    """bool → int (both dialects store booleans as 0/1; PostgreSQL will not cast)."""
    if any(type(p) is bool for p in params):
        return [int(p) if type(p) is bool else p for p in params]
    return params


class _Rows:
    """The buffered result of one read statement (a SqlCursor)."""

    __slots__ = ("_pos", "_rows", "rowcount")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows, self._pos, self.rowcount = rows, 0, rowcount

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._pos >= len(self._rows):
            return None
        self._pos += 1
        return self._rows[self._pos - 1]

    def fetchall(self) -> list[tuple[Any, ...]]:
        rest, self._pos = self._rows[self._pos :], len(self._rows)
        return rest

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


class PgConnection:
    """A write transaction's connection, in SQLite's shape (``?`` placeholders, tuples)."""

    in_transaction = True

    def __init__(self, con: psycopg.Connection[Any]) -> None:
        #: the psycopg connection (for what only PostgreSQL has, e.g. COPY)
        self.raw = con

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        """Run one statement; the cursor (fetchone, fetchall, iteration, rowcount)."""
        return self.raw.execute(pg_placeholders(sql), _adapt(parameters))

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> psycopg.Cursor[Any]:
        """Run one statement per parameter row (pipelined); ``rowcount`` is their sum."""
        cur = self.raw.cursor()
        cur.executemany(pg_placeholders(sql), [_adapt(p) for p in seq_of_parameters])
        # psycopg runs executemany in pipeline mode, after which (PostgreSQL 15, psycopg 3.3)
        # the server did not arm idle_in_transaction_session_timeout until the next plain
        # statement: a writer paused right after it kept its row locks (the log's head) for
        # good. One plain statement re-arms it.
        self.raw.execute("SELECT 1")
        return cur

    def insert_rows(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        rows: Sequence[Sequence[Any]],
        on_conflict: str = "",
    ) -> int:
        """Insert ``rows`` into ``table`` in ONE statement — ``INSERT … SELECT * FROM
        unnest(?::type[], …)``, one array per column ``(name, PostgreSQL type)`` — with an
        optional ``ON CONFLICT …`` clause; return how many rows were inserted (or updated).

        PostgreSQL only: ``executemany`` (pipelined) costs tens of µs of Python per row, this
        a few; keys must be distinct within ``rows`` when ``on_conflict`` updates."""
        if not rows:
            return 0
        names = ", ".join(c for c, _ in columns)
        arrays = ", ".join(f"%s::{t}[]" for _, t in columns)
        values = [list(col) for col in zip(*rows, strict=True)]
        sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {on_conflict}"
        return self.raw.execute(sql, values).rowcount


class _Reader:
    """Reads outside a write: each statement on a pooled autocommit connection."""

    in_transaction = False

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> _Rows:
        q, params = pg_placeholders(sql), _adapt(parameters)

        def run(con: psycopg.Connection[Any]) -> _Rows:
            cur = con.execute(q, params)
            rows = cur.fetchall() if cur.description is not None else []
            return _Rows(rows, cur.rowcount)

        return self._db._with_connection(run)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _Rows:
        raise StorageError("executemany outside a write transaction")


class PostgresDatabase:
    """One PostgreSQL database at ``url`` (a libpq URL: several hosts and
    ``target_session_attrs=read-write`` for failover), opened with the given schema parts.
    Safe to share between threads; several processes may open the same database.

    ``busy_timeout`` bounds how long a lock, a pooled connection or a lost server is waited
    for (seconds); ``pool_size`` is the most connections this handle opens. Raises
    DatabaseUnavailableError when the server cannot be reached within ``connect_timeout``,
    StorageError when it holds a schema this Sealtrail does not read.
    """

    dialect = POSTGRES

    def __init__(
        self,
        url: str,
        parts: Sequence[SchemaPart],
        *,
        busy_timeout: float = 10.0,
        pool_size: int = 10,
        connect_timeout: float = 10.0,
        idle_in_transaction_timeout: float = 60.0,
    ) -> None:
        for part in parts:
            if not 1 <= part.version <= SCHEMA_VERSION:
                raise ValueError(f"schema part {part.name}: version {part.version} out of range")
        if not is_postgres_url(url):
            raise ValueError("a PostgreSQL URL starts with postgresql:// or postgres://")
        #: where the database is, for messages (never a password)
        self.where = where_of(url)
        self.parts = tuple(parts)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._closed = False
        try:
            given = conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as e:
            raise StorageError(f"{self.where}: bad PostgreSQL URL: {e}") from None
        options = " ".join(
            o
            for o in (
                str(given.get("options") or ""),
                f"-c lock_timeout={int(busy_timeout * 1000)}",
                f"-c idle_in_transaction_session_timeout={int(idle_in_transaction_timeout * 1000)}",
            )
            if o
        )
        kwargs: dict[str, Any] = {"autocommit": True, "options": options}
        if "connect_timeout" not in given:
            kwargs["connect_timeout"] = max(1, int(connect_timeout))
        if "application_name" not in given:
            kwargs["application_name"] = "sealtrail"
        self._pool = PgPool(url, kwargs, max(1, pool_size), busy_timeout)
        try:
            probe = self._pool.getconn()  # fail now if no server answers
            try:
                self._require_durable_commits(probe, kwargs)
            finally:
                self._pool.putconn(probe)
        except psycopg.Error as e:
            self._pool.close()
            cls = DatabaseUnavailableError if _unavailable(e) else StorageError
            raise cls(f"{self.where}: cannot connect: {_first_line(e)}") from e
        except PoolTimeout as e:
            self._pool.close()
            raise self._no_connection() from e
        try:
            self._lay_out_schema()
        except BaseException:
            self.close()
            raise

    def _require_durable_commits(
        self, con: psycopg.Connection[Any], kwargs: dict[str, Any]
    ) -> None:
        """Give this handle's sessions ``synchronous_commit = on`` when the server's is weaker
        (acknowledged must mean flushed, and on the synchronous standby when there is one)."""
        row = con.execute("SHOW synchronous_commit").fetchone()
        got = str(row[0]) if row else ""
        if got in _WEAK_COMMITS:
            log.warning(
                "%s: synchronous_commit is %r; Sealtrail's sessions use 'on' (an acknowledged "
                "event must be flushed, and on the synchronous standby if one is configured)",
                self.where,
                got,
            )
            kwargs["options"] = f"{kwargs['options']} -c synchronous_commit=on"
            con.execute("SET synchronous_commit = on")

    # -- schema -----------------------------------------------------------------------------

    def _lay_out_schema(self) -> None:
        def state(con: PgConnection) -> tuple[int | None, set[str]]:
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} ("
                'part TEXT COLLATE "C" PRIMARY KEY, version INTEGER NOT NULL)'
            )
            rows = con.execute(f"SELECT part, version FROM {SCHEMA_TABLE}").fetchall()
            found = {str(p): int(v) for p, v in rows}
            return found.pop("*", None), set(found)

        def check(version: int | None, applied: set[str]) -> bool:
            """True when nothing is to be done."""
            if version is not None and not 1 <= version <= SCHEMA_VERSION:
                raise StorageError(
                    f"{self.where}: schema version {version}, this Sealtrail reads {SCHEMA_VERSION}"
                )
            return version == SCHEMA_VERSION and all(p.name in applied for p in self.parts)

        # fast path: a laid-out database needs no lock (the schema table exists once created)
        try:
            version, applied = self._with_connection(self._peek_schema)
        except StorageError:
            version, applied = None, set()
        if version is not None and check(version, applied):
            return

        def lay_out(con: PgConnection) -> None:
            con.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
            version, applied = state(con)
            if check(version, applied):
                return  # another process laid it out meanwhile
            for part in sorted(self.parts, key=lambda p: p.version):
                if part.name not in applied:
                    con.raw.execute(part.ddl)  # no parameters: several statements
                    con.execute(
                        f"INSERT INTO {SCHEMA_TABLE} (part, version) VALUES (?, ?)",
                        (part.name, part.version),
                    )
                    log.info("%s: created schema part %s", self.where, part.name)
            con.execute(
                f"INSERT INTO {SCHEMA_TABLE} (part, version) VALUES ('*', ?) "
                "ON CONFLICT (part) DO UPDATE SET version = excluded.version",
                (SCHEMA_VERSION,),
            )

        self.write(lay_out)

    @staticmethod
    def _peek_schema(con: psycopg.Connection[Any]) -> tuple[int | None, set[str]]:
        exists = con.execute("SELECT to_regclass(%s)", (SCHEMA_TABLE,)).fetchone()
        if exists is None or exists[0] is None:
            return None, set()
        rows = con.execute(f"SELECT part, version FROM {SCHEMA_TABLE}").fetchall()
        found = {str(p): int(v) for p, v in rows}
        return found.pop("*", None), set(found)

    # -- connections ------------------------------------------------------------------------

    def _with_connection(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``fn`` on a pooled autocommit connection; a connection found broken is replaced and
        ``fn`` re-run (reads only: ``fn`` must be idempotent) until ``busy_timeout``."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            self._check_open()
            try:
                con = self._getconn()
                try:
                    return fn(con)
                finally:
                    self._pool.putconn(con)
            except _Retry as r:
                e = r.error
                if time.monotonic() < deadline:
                    self._after_connection_error(e)
                    continue
                raise self._translate(e) from e
            except psycopg.Error as e:
                if _unavailable(e) and time.monotonic() < deadline:
                    self._after_connection_error(e)
                    continue
                raise self._translate(e) from e

    def read(self) -> PgConnection | _Reader:
        """A connection for reads: this thread's write transaction if it is inside one, else
        one that runs each statement on a pooled autocommit connection.

        Raises StorageError once the database is closed."""
        self._check_open()
        current: PgConnection | None = getattr(self._local, "txn", None)
        return current if current is not None else _Reader(self)

    def in_write(self) -> bool:
        """True when the calling thread is inside :meth:`write`."""
        return getattr(self._local, "txn", None) is not None

    def write(self, fn: Callable[[PgConnection], T]) -> T:
        """Run ``fn`` in one transaction and commit durably before returning (see the module
        docstring for retries and errors). Inside another ``write`` on this thread: joins it.

        If ``fn`` raises, nothing it wrote is kept (its own exception is re-raised unchanged,
        unless it is a database error, which is translated)."""
        current: PgConnection | None = getattr(self._local, "txn", None)
        if current is not None:
            return fn(current)
        deadline = time.monotonic() + self.busy_timeout
        attempt = 0
        while True:
            attempt += 1
            self._check_open()
            try:
                return self._write_once(fn)
            except _Retry as r:
                e = r.error
                if _unavailable(e):
                    if time.monotonic() >= deadline:
                        raise self._translate(e) from e
                    self._after_connection_error(e)
                    continue
                if attempt >= WRITE_ATTEMPTS:
                    raise LedgerBusyError(
                        f"{self.where}: write conflicted {attempt} times ({e.sqlstate}: "
                        f"{_first_line(e)})"
                    ) from e
                time.sleep(min(0.2, 0.002 * 2**attempt))

    def _write_once(self, fn: Callable[[PgConnection], T]) -> T:
        con = self._getconn()
        try:
            adapter = PgConnection(con)
            try:
                con.execute("BEGIN")
                self._local.txn = adapter
                try:
                    result = fn(adapter)
                finally:
                    self._local.txn = None
            except BaseException as e:
                self._rollback(con)
                if isinstance(e, psycopg.Error):
                    if e.sqlstate in _RETRY_STATES or _unavailable(e):
                        raise _Retry(e) from e  # nothing was committed: safe to re-run
                    raise self._translate(e) from e
                raise
            try:
                con.execute("COMMIT")
            except psycopg.Error as e:
                if e.sqlstate in _RETRY_STATES:  # refused at commit (serializable): rolled back
                    raise _Retry(e) from e
                if _unavailable(e):
                    raise DatabaseUnavailableError(
                        f"{self.where}: connection lost while committing; the outcome is "
                        "unknown (a retried append with the same client_event_id finds it if "
                        f"it was committed): {_first_line(e)}"
                    ) from e
                raise self._translate(e) from e
            return result
        finally:
            self._pool.putconn(con)

    def _getconn(self) -> psycopg.Connection[Any]:
        try:
            return self._pool.getconn()
        except PoolTimeout as e:
            raise self._no_connection() from e
        except psycopg.Error as e:
            raise (_Retry(e) if _unavailable(e) else self._translate(e)) from e

    @staticmethod
    def _rollback(con: psycopg.Connection[Any]) -> None:
        if con.broken or con.closed:
            return
        try:
            con.execute("ROLLBACK")
        except psycopg.Error:
            log.debug("rollback failed on a connection that is going away", exc_info=True)

    def _after_connection_error(self, e: psycopg.Error) -> None:
        log.warning("%s: connection lost (%s); reconnecting", self.where, _first_line(e))
        self._pool.discard_idle()  # the other idle connections are likely dead too
        time.sleep(0.05)

    def _no_connection(self) -> DatabaseUnavailableError:
        return DatabaseUnavailableError(
            f"{self.where}: no database connection within {self.busy_timeout:g} s (the server "
            "is unreachable, or every pooled connection is busy)"
        )

    def _translate(self, e: psycopg.Error) -> StorageError:
        state = e.sqlstate or ""
        if state in _BUSY_STATES:
            return LedgerBusyError(
                f"ledger {self.where} is busy: a lock was not had within "
                f"{self.busy_timeout:g} s ({_first_line(e)})"
            )
        if state in _RETRY_STATES:
            return LedgerBusyError(f"{self.where}: write conflict ({_first_line(e)})")
        if _unavailable(e):
            return DatabaseUnavailableError(f"{self.where}: database unavailable: {_first_line(e)}")
        return StorageError(f"{self.where}: {_first_line(e)}")

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("ledger store is closed")

    def close(self) -> None:
        """Close the pool (idempotent); later use raises StorageError."""
        if self._closed:
            return
        self._closed = True
        self._pool.close()


class _Retry(Exception):
    """A write attempt that committed nothing and may run again."""

    def __init__(self, error: psycopg.Error) -> None:
        super().__init__(str(error))
        self.error = error


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
