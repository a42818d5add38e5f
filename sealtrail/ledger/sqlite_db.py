"""The SQLite database every domain's SQLite store shares: one file, WAL, synchronous=FULL.

:class:`SQLiteDatabase` is the public handle the domains' stores are built on (the ledger's, the
coordination's, the directory's, anchoring's, the seals'); none of them reaches into another's
connection. It gives

* :meth:`SQLiteDatabase.read` — the calling thread's connection, for reads (readers never block
  writers under WAL);
* :meth:`SQLiteDatabase.write` — ``fn(connection)`` in one ``BEGIN IMMEDIATE`` … ``COMMIT``;
* the schema: each domain contributes a :class:`SchemaPart` (its tables, and the schema version
  that introduced them); the database creates or upgrades them on open.

Crash consistency: every write goes through one ``BEGIN IMMEDIATE`` … ``COMMIT``. With WAL and
``synchronous=FULL`` the commit record is fsynced before ``COMMIT`` returns, so

* killed before ``COMMIT`` returns: the transaction is rolled back on the next open, nothing of
  it is visible, and nothing of it was acknowledged;
* killed after: everything of it is durable; if the caller had not yet acknowledged it, the
  client's retry (same client event id) finds it and gets the original back.

Several processes may open one database: ``BEGIN IMMEDIATE`` takes SQLite's write lock and
waits up to ``busy_timeout`` for another writer, then raises LedgerBusyError. Each thread gets
its own connection.

**Schema versions.** One version sequence for the whole file (``PRAGMA user_version``), as
databases written before the stores were split by domain have it: 1 the ledger, its timestamps
and directory; 2 anchors; 3 seals; 4 leases and the append queue; 5 envelope invitations and
slot-bound seal requests; 6 the verifiable map; 7 anchors' contract version and map root;
8 webhooks; 9 renewals of checkpoint timestamps; 10 envelope terms and signer links. A
part names the version
that introduced it; a new database gets every part and :data:`SCHEMA_VERSION`, an older one
gets, in one transaction, the parts introduced after its version (every statement is
``CREATE … IF NOT EXISTS``). So the file format is that of the single-store schema, table for
table.

**File modes.** The database holds every tenant's events: it is created 0600 before SQLite
opens it, and SQLite gives its ``-wal`` and ``-shm`` files the database's mode. A database (or
those files) found readable by others — as Sealtrail before 0600 left them — is tightened to
0600 on open, with a warning in the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sealtrail.core.errors import LedgerBusyError, StorageError

T = TypeVar("T")
log = logging.getLogger("sealtrail.ledger")

#: mode of the database file and its -wal/-shm companions
DB_FILE_MODE = 0o600

#: the schema version this Sealtrail writes (PRAGMA user_version)
SCHEMA_VERSION = 10


@dataclass(frozen=True, slots=True)
class SchemaPart:
    """The tables of one domain: ``ddl`` (``CREATE … IF NOT EXISTS`` statements), first part of
    the schema at ``version`` (1 ≤ version ≤ :data:`SCHEMA_VERSION`)."""

    name: str
    version: int
    ddl: str


def migrations(parts: Sequence[SchemaPart]) -> dict[int, str]:
    """from-version → the statements that bring a database of that version to the next one."""
    out: dict[int, str] = {}
    for part in parts:
        if part.version > 1:
            out[part.version - 1] = out.get(part.version - 1, "") + part.ddl
    return out


def create_private(path: Path) -> None:
    """Create the database file ``path`` empty with mode 0600 unless it exists (an empty file is
    a valid SQLite database); tighten an existing one and its -wal/-shm files to 0600, logging
    each change. Raises StorageError when that is not possible."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, DB_FILE_MODE)
    except FileExistsError:
        pass
    except OSError as e:
        raise StorageError(f"{path}: cannot create ledger database: {e.strerror or e}") from e
    else:
        os.close(fd)
    for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = f.stat().st_mode & 0o777
            if mode & 0o077:
                os.chmod(f, DB_FILE_MODE)
                log.warning("%s was mode %o, readable by others: tightened to 0600", f, mode)
        except FileNotFoundError:
            continue
        except PermissionError as e:  # not our file: SQLite will say what it can or cannot do
            log.warning("%s is readable by others and cannot be tightened: %s", f, e.strerror)


class SQLiteDatabase:
    """One SQLite file, opened with the given schema parts. Safe to share between threads and
    processes. Raises StorageError when the file is not a database, or holds a schema version
    this Sealtrail does not read."""

    def __init__(
        self, path: str | Path, parts: Sequence[SchemaPart], *, busy_timeout: float = 10.0
    ) -> None:
        for part in parts:
            if not 1 <= part.version <= SCHEMA_VERSION:
                raise ValueError(f"schema part {part.name}: version {part.version} out of range")
        self.path = Path(path)
        #: where the database is, for messages
        self.where = str(self.path)
        self.busy_timeout = busy_timeout
        self.parts = tuple(parts)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        try:
            create_private(self.path)
            con = self.read()
            version = con.execute("PRAGMA user_version").fetchone()[0]
            steps = migrations(self.parts)
            if version == 0:  # a new database: create the schema (needs the write lock once)
                ddl = "".join(p.ddl for p in sorted(self.parts, key=lambda p: p.version))
                with self._busy():
                    con.executescript(
                        f"BEGIN IMMEDIATE;{ddl}PRAGMA user_version = {SCHEMA_VERSION};COMMIT;"
                    )
            elif version in steps:  # an older database: upgrade it in one transaction
                self._migrate(con, steps)
            elif version != SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path}: schema version {version}, this Sealtrail reads {SCHEMA_VERSION}"
                )
        except sqlite3.DatabaseError as e:
            self.close()
            raise StorageError(f"{self.path}: cannot open ledger database: {e}") from e
        except BaseException:
            self.close()
            raise

    def _migrate(self, con: sqlite3.Connection, steps: dict[int, str]) -> None:
        with self._busy():
            con.execute("BEGIN IMMEDIATE")
            try:
                version = con.execute("PRAGMA user_version").fetchone()[0]
                while version in steps:  # another process may have upgraded it meanwhile
                    for statement in steps[version].split(";"):
                        if statement.strip():
                            con.execute(statement)
                    version += 1
                    con.execute(f"PRAGMA user_version = {version}")
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise

    def read(self) -> sqlite3.Connection:
        """The calling thread's connection (autocommit: each read sees the latest commit).

        Raises StorageError once the database is closed."""
        if self._closed:
            raise StorageError("ledger store is closed")
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(
                    self.path,
                    timeout=self.busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
                con.execute("PRAGMA journal_mode = WAL")
                con.execute("PRAGMA synchronous = FULL")
                con.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            except sqlite3.DatabaseError as e:
                raise StorageError(f"{self.path}: cannot open ledger database: {e}") from e
            self._local.con = con
            with self._lock:
                self._all.append(con)
        return con

    def _busy(self) -> _Busy:
        return _Busy(self.path, self.busy_timeout)

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one ``BEGIN IMMEDIATE`` transaction and commit durably before returning.

        If ``fn`` raises, nothing it wrote is kept. Raises LedgerBusyError when the write lock
        cannot be had within ``busy_timeout``, StorageError for other database errors.
        """
        con = self.read()
        with self._busy():
            con.execute("BEGIN IMMEDIATE")
            try:
                result = fn(con)
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
        return result

    def close(self) -> None:
        """Close every thread's connection (idempotent); later use raises StorageError."""
        with self._lock:
            self._closed = True
            cons, self._all = self._all, []
        for con in cons:
            with contextlib.suppress(sqlite3.Error):
                con.close()


class _Busy:
    """Turns SQLite's 'database is locked' into LedgerBusyError; other errors into StorageError."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path, self.timeout = path, timeout

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: object) -> None:
        if isinstance(e, sqlite3.OperationalError) and "locked" in str(e).lower():
            raise LedgerBusyError(
                f"ledger {self.path} is busy: another process holds its write lock "
                f"(waited {self.timeout:g} s)"
            ) from e
        if isinstance(e, sqlite3.DatabaseError):
            raise StorageError(f"{self.path}: {e}") from e
