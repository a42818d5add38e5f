"""The ledger's store on PostgreSQL: the log, checkpoints, settings and log statistics, on the
shared :class:`~sealtrail.ledger.pg_db.PostgresDatabase`.

The SQL is SQLite's: :class:`PgLedgerStore` is the SQLite store
(:class:`~sealtrail.ledger.sqlite_store.SQLiteLedgerStore`) running on PostgreSQL connections
of the same shape (``?`` placeholders, tuples, ``rowcount``). What differs is here, and only
this:

* **inserts** of entries, document rows and map nodes: one ``INSERT … SELECT … unnest`` of
  arrays per table (``PgConnection.insert_rows``) where SQLite runs one per row;
* **the log's head** (:mod:`.pg_schema`): :meth:`PgLedgerStore.write` first locks the
  ``log_head`` row (``SELECT size … FOR UPDATE``), so writers are serialised as SQLite's
  ``BEGIN IMMEDIATE`` serialises them, and the view's :meth:`_PgView.size` is the size read
  under that lock. :meth:`_PgView.append` checks the entries continue the log densely at that
  size, inserts them and sets the head's new size in the same transaction. A writer paused
  between reading the head and committing holds the lock: every other writer waits (up to
  ``busy_timeout``, then LedgerBusyError), and if the paused one is cut off (its session ends,
  e.g. ``idle_in_transaction_session_timeout``) nothing of it commits and the next writer reads
  the unchanged head — so no two writers ever both write at one index (no fork);
* **fencing** (:func:`~sealtrail.ledger.pg_coordination.check_fence`): the lease row is read
  ``FOR SHARE``, so a takeover waits for the fenced transaction and one that committed first
  fails it;
* **the map** (:class:`~sealtrail.ledger.pg_map.PgMapStore`);
* **look-ups by client event id** probe the unique index once per wanted id (a ``LATERAL``
  subquery over ``unnest`` of one array parameter): SQLite's ``IN (…)`` list let PostgreSQL,
  before a new table's first ``ANALYZE``, plan a scan of every event of the tenant — O(N) per
  append;
* an empty ``IN ()`` list, which SQLite reads as false and PostgreSQL refuses: a query for no
  tenants answers nothing without asking.

Durability is the shared database's (:mod:`.pg_db`): ``COMMIT`` returns once the WAL is flushed
(and on the synchronous standby, when one is configured).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar, cast

from sealtrail.core.errors import StorageError
from sealtrail.core.event import Event
from sealtrail.ledger.pg_coordination import check_fence
from sealtrail.ledger.pg_db import PgConnection, PostgresDatabase
from sealtrail.ledger.pg_map import PgMapStore
from sealtrail.ledger.pg_schema import MAP_PART
from sealtrail.ledger.sqlite_schema import _EVENT_COLS, _event, _fp
from sealtrail.ledger.sqlite_store import SQLiteLedgerStore, _View
from sealtrail.ledger.store import Entry, EventQuery, Lease, MapStore

T = TypeVar("T")

#: the events table's columns as :meth:`_PgView.append` inserts them, with their types
_EVENT_TYPES = (
    ("idx", "bigint"), ("tenant", "text"), ("stream", "text"), ("client_event_id", "text"),
    ("type", "text"), ("actor_id", "text"), ("recorded_at", "text"), ("leaf_hash", "bytea"),
    ("subtrees", "bytea"), ("body", "bytea"),
)  # fmt: skip
#: one append: events, document rows, and the head moved if the events ended where it said
_APPEND = (
    "WITH inserted AS (INSERT INTO events ("
    + ", ".join(c for c, _ in _EVENT_TYPES)
    + ") SELECT * FROM unnest("
    + ", ".join(f"?::{t}[]" for _, t in _EVENT_TYPES)
    + ")), indexed AS (INSERT INTO documents (fp, idx) SELECT * FROM unnest(?::bigint[], "
    "?::bigint[])) UPDATE log_head SET size = ? WHERE id = 1 "
    "AND (SELECT COALESCE(MAX(idx) + 1, 0) FROM events) = ?"
)

#: the head row, locked by every write of the log
_LOCK_HEAD = "SELECT size FROM log_head WHERE id = 1 FOR UPDATE"


class _PgView(_View):
    """The WriteView of one PostgreSQL transaction that holds the log's head row."""

    def __init__(self, con: PgConnection, size: int) -> None:
        super().__init__(cast(Any, con))
        self._pg = con
        self._size = size

    def size(self) -> int:
        return self._size

    def append(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        size = self._size
        if any(e.event.index != size + i for i, e in enumerate(entries)):
            raise StorageError(f"entries must continue the log at index {size}, densely")
        # One statement (one round trip): the entries and their document rows inserted, one
        # array per column (SQLite inserts a row each), and the head moved to ``end`` — but only
        # if the stored events end where the head says. A head row edited behind the log's back
        # would otherwise leave a gap (head ahead); behind, the primary key refuses the insert.
        # Every part of the statement reads one snapshot, taken when it starts: after this
        # transaction got the head's lock (an earlier statement), so it holds every event the
        # previous holder committed, and none of those inserted here.
        end = size + len(entries)
        rows = [
            (e.event.index, e.event.tenant, e.event.stream, e.event.client_event_id, e.event.type,
             e.event.actor_id, e.event.recorded_at, e.event.leaf_hash, e.subtrees,
             e.event.canonical)
            for e in entries
        ]  # fmt: skip
        docs = sorted({(_fp(fp), e.event.index) for e in entries for fp in e.fingerprints})
        moved = self._con.execute(
            _APPEND,
            [
                *(list(col) for col in zip(*rows, strict=True)),
                [d[0] for d in docs],
                [d[1] for d in docs],
                end,
                size,
            ],
        ).rowcount
        if moved != 1:
            row = self._con.execute(  # where they end, leaving out this statement's own
                "SELECT COALESCE(MAX(idx) + 1, 0) FROM events WHERE idx < ?", (size,)
            ).fetchone()
            raise StorageError(f"the log's head says {size} entries, the events end at {row[0]}")
        self._size = end

    def events_by_client_id(self, tenant: str, client_ids: Collection[str]) -> dict[str, Event]:
        # One index probe per id, whatever the planner knows: with SQLite's "client_event_id IN
        # (…)" (or a plain join), PostgreSQL, before the table's first ANALYZE, scanned every
        # event of the tenant; a LATERAL probe per id can only use the unique index
        ids = list(client_ids)
        if not ids:
            return {}
        rows = self._con.execute(
            f"SELECT e.* FROM unnest(?::text[]) AS wanted (id) CROSS JOIN LATERAL "
            f"(SELECT {_EVENT_COLS} FROM events WHERE tenant = ? "
            'AND client_event_id = wanted.id COLLATE "C" LIMIT 1) AS e',
            (ids, tenant),
        )
        out: dict[str, Event] = {}
        for row in rows:
            e = _event(row)
            out[e.client_event_id] = e  # type: ignore[index]
        return out

    def check_fence(self, lease: Lease) -> None:
        check_fence(self._con, lease)


class PgLedgerStore(SQLiteLedgerStore):
    """The log, its checkpoints and settings, and statistics over them, in the shared
    :class:`PostgresDatabase` (its ``ledger`` schema part). Safe to share between threads and
    processes. ``close()`` closes the shared database."""

    def __init__(self, db: PostgresDatabase) -> None:
        # the SQLite store's queries run unchanged on db's connections (same shape)
        self.db = cast(Any, db)
        self.pg = db
        #: where the database is, for messages
        self.where = db.where
        #: the verifiable map's tables, when the database was opened with their schema part
        self.maps: MapStore | None = (
            PgMapStore(db) if any(p.name == MAP_PART.name for p in db.parts) else None
        )

    def write(self, fn: Callable[[_PgView], T]) -> T:
        """Run ``fn`` in one transaction holding the log's head (see LedgerStore.write).

        ``fn`` may run more than once (after a deadlock or a connection lost before the
        commit): only its database effects count."""

        def txn(con: PgConnection) -> T:
            row = con.execute(_LOCK_HEAD).fetchone()
            if row is None:
                raise StorageError(f"{self.where}: the log's head row is missing")
            return fn(_PgView(con, int(row[0])))

        return self.pg.write(txn)

    def query(self, q: EventQuery, *, after: int = -1, limit: int = 100) -> list[Event]:
        if not q.tenants:  # SQLite reads "tenant IN ()" as false; PostgreSQL refuses it
            return []
        return super().query(q, after=after, limit=limit)

    def size(self) -> int:
        row = self.pg.read().execute("SELECT size FROM log_head WHERE id = 1").fetchone()
        if row is None:
            raise StorageError(f"{self.where}: the log's head row is missing")
        return int(row[0])
