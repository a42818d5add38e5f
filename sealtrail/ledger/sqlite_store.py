"""The ledger's store on SQLite: the log, checkpoints, settings and log statistics, on the shared
:class:`~sealtrail.ledger.sqlite_db.SQLiteDatabase` (WAL, synchronous=FULL).

Crash consistency, durability and locking are the shared database's (:mod:`.sqlite_db`): every
write is one ``BEGIN IMMEDIATE`` … ``COMMIT``, fsynced before it returns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sealtrail.core.errors import ConflictError, StorageError
from sealtrail.core.event import Event
from sealtrail.core.merkle import NodeId
from sealtrail.ledger.sqlite_coordination import check_fence
from sealtrail.ledger.sqlite_db import SQLiteDatabase
from sealtrail.ledger.sqlite_map import MAP_PART, SQLiteMapStore
from sealtrail.ledger.sqlite_schema import (
    _EVENT_COLS,
    _N_EVENT_COLS,
    _event,
    _fetch_subtrees,
    _fp,
    _names,
)
from sealtrail.ledger.sqlite_schema import checkpoint_from_row as _checkpoint
from sealtrail.ledger.store import (
    Entry,
    EventQuery,
    Lease,
    MapStore,
    StoredCheckpoint,
    check_count_prefix,
)

T = TypeVar("T")


class _View:
    """The WriteView of one SQLite transaction."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self._con = con

    def size(self) -> int:
        row = self._con.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM events").fetchone()
        return int(row[0])

    def events_by_client_id(self, tenant: str, client_ids: Collection[str]) -> dict[str, Event]:
        out: dict[str, Event] = {}
        ids = list(client_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = (
                f"SELECT {_EVENT_COLS} FROM events WHERE tenant = ? "
                f"AND client_event_id IN ({','.join('?' * len(chunk))})"
            )
            for row in self._con.execute(q, [tenant, *chunk]):
                e = _event(row)
                out[e.client_event_id] = e  # type: ignore[index]
        return out

    def stream_head(self, tenant: str, stream: str) -> bytes | None:
        row = self._con.execute(
            "SELECT leaf_hash FROM events WHERE tenant = ? AND stream = ? "
            "ORDER BY idx DESC LIMIT 1",
            (tenant, stream),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def subtrees(self, nodes: Iterable[NodeId]) -> dict[NodeId, bytes]:
        return _fetch_subtrees(self._con, nodes)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        row = self._con.execute(
            "SELECT size, root, note, created_at FROM checkpoints ORDER BY size DESC LIMIT 1"
        ).fetchone()
        return None if row is None else _checkpoint(row)

    def append(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        size = self.size()
        if any(e.event.index != size + i for i, e in enumerate(entries)):
            raise StorageError(f"entries must continue the log at index {size}, densely")
        self._con.executemany(
            "INSERT INTO events (idx, tenant, stream, client_event_id, type, actor_id,"
            " recorded_at, leaf_hash, subtrees, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    e.event.index,
                    e.event.tenant,
                    e.event.stream,
                    e.event.client_event_id,
                    e.event.type,
                    e.event.actor_id,
                    e.event.recorded_at,
                    e.event.leaf_hash,
                    e.subtrees,
                    e.event.canonical,
                )
                for e in entries
            ],
        )
        docs = {(_fp(fp), e.event.index) for e in entries for fp in e.fingerprints}
        if docs:
            self._con.executemany("INSERT INTO documents (fp, idx) VALUES (?, ?)", docs)

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        latest = self.latest_checkpoint()
        if latest is not None and checkpoint.size <= latest.size:
            raise StorageError(f"checkpoint sizes only grow: {checkpoint.size} after {latest.size}")
        if checkpoint.size > self.size():
            raise StorageError(f"checkpoint size {checkpoint.size} exceeds the log")
        self._con.execute(
            "INSERT INTO checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)",
            (checkpoint.size, checkpoint.root, checkpoint.note, checkpoint.created_at),
        )

    def check_fence(self, lease: Lease) -> None:
        check_fence(self._con, lease)

    def finish_queued(self, results: Mapping[str, bytes], at: str) -> None:
        for ticket, result in results.items():
            cur = self._con.execute(
                "UPDATE append_queue SET result = ?, done_at = ? "
                "WHERE ticket = ? AND result IS NULL",
                (result, at, ticket),
            )
            if cur.rowcount != 1:
                raise ConflictError(f"queued append {ticket!r} is unknown or already finished")


class SQLiteLedgerStore:
    """The log, its checkpoints and settings, and statistics over them, in the shared
    :class:`SQLiteDatabase` (its ``ledger`` schema part). Safe to share between threads and
    processes. ``close()`` closes the shared database."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db
        #: where the database is, for messages
        self.where = db.where
        #: the verifiable map's tables, when the database was opened with their schema part
        self.maps: MapStore | None = (
            SQLiteMapStore(db) if any(p.name == MAP_PART.name for p in db.parts) else None
        )

    def _con(self) -> sqlite3.Connection:
        return self.db.read()

    def write(self, fn: Callable[[_View], T]) -> T:
        """Run ``fn`` in one exclusive transaction (see LedgerStore.write)."""
        return self.db.write(lambda con: fn(_View(con)))

    def size(self) -> int:
        return _View(self._con()).size()

    def event(self, index: int) -> Event | None:
        row = (
            self._con()
            .execute(f"SELECT {_EVENT_COLS} FROM events WHERE idx = ?", (index,))
            .fetchone()
        )
        return None if row is None else _event(row)

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[Entry]:
        stop = self.size() if end is None else end
        con = self._con()
        pos = start
        while pos < stop:
            rows = con.execute(
                f"SELECT {_EVENT_COLS}, subtrees FROM events WHERE idx >= ? AND idx < ? "
                "ORDER BY idx LIMIT 5000",
                (pos, stop),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield Entry(_event(row[:_N_EVENT_COLS]), bytes(row[_N_EVENT_COLS]))
            pos = rows[-1][0] + 1

    def document_index(self) -> Iterator[tuple[bytes, int]]:
        con = self._con()
        rows = con.execute("SELECT fp, idx FROM documents ORDER BY fp, idx LIMIT 5000").fetchall()
        while True:
            if not rows:
                return
            for fp, idx in rows:
                yield fp.to_bytes(8, "big", signed=True), idx
            rows = con.execute(
                "SELECT fp, idx FROM documents WHERE (fp, idx) > (?, ?) "
                "ORDER BY fp, idx LIMIT 5000",
                rows[-1],
            ).fetchall()

    def stream(self, tenant: str, stream: str) -> list[Event]:
        rows = self._con().execute(
            f"SELECT {_EVENT_COLS} FROM events WHERE tenant = ? AND stream = ? ORDER BY idx",
            (tenant, stream),
        )
        return [_event(r) for r in rows]

    def subtrees(self, nodes: Iterable[NodeId]) -> dict[NodeId, bytes]:
        return _fetch_subtrees(self._con(), nodes)

    def query(self, q: EventQuery, *, after: int = -1, limit: int = 100) -> list[Event]:
        where = [f"tenant IN ({','.join('?' * len(q.tenants))})", "idx > ?"]
        args: list[Any] = [*q.tenants, after]
        for col, val in (("stream", q.stream), ("type", q.type), ("actor_id", q.actor_id)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        if q.recorded_from is not None:
            where.append("recorded_at >= ?")
            args.append(q.recorded_from)
        if q.recorded_to is not None:
            where.append("recorded_at < ?")
            args.append(q.recorded_to)
        if q.document is not None:
            where.append("idx IN (SELECT idx FROM documents WHERE fp = ?)")
            args.append(_fp(q.document))
        sql = f"SELECT {_EVENT_COLS} FROM events WHERE {' AND '.join(where)} ORDER BY idx LIMIT ?"
        con = self._con()
        if q.document is None:
            return [_event(r) for r in con.execute(sql, [*args, limit])]
        out: list[Event] = []
        while len(out) < limit:  # drop prefix collisions, keep pages full
            rows = [_event(r) for r in con.execute(sql, [*args, limit])]
            out += [e for e in rows if _names(e, q.document)]
            if len(rows) < limit:
                break
            args[len(q.tenants)] = rows[-1].index
        return out[:limit]

    def by_document(self, sha256: bytes, *, limit: int = 1000) -> list[Event]:
        rows = self._con().execute(
            f"SELECT {_EVENT_COLS} FROM events WHERE idx IN "
            "(SELECT idx FROM documents WHERE fp = ?) ORDER BY idx",
            (_fp(sha256),),
        )
        return [e for e in map(_event, rows) if _names(e, sha256)][:limit]

    def checkpoint(self, size: int) -> StoredCheckpoint | None:
        row = (
            self._con()
            .execute("SELECT size, root, note, created_at FROM checkpoints WHERE size = ?", (size,))
            .fetchone()
        )
        return None if row is None else _checkpoint(row)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return _View(self._con()).latest_checkpoint()

    def checkpoints(self) -> list[StoredCheckpoint]:
        rows = self._con().execute(
            "SELECT size, root, note, created_at FROM checkpoints ORDER BY size"
        )
        return [_checkpoint(r) for r in rows]

    def meta(self, key: str) -> str | None:
        row = self._con().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.write(
            lambda con: con.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        )

    # -- console reads ---------------------------------------------------------------------

    def event_counts(
        self, tenants: Collection[str], start: str, end: str, prefix: int = 10
    ) -> list[tuple[str, str, int]]:
        """(``recorded_at[:prefix]``, type, events) for these tenants' events with
        start <= recorded_at < end, by that key then type. ``prefix`` is one of
        :data:`~sealtrail.ledger.store.COUNT_PREFIXES` (10: the UTC day, 13: the UTC hour, 16:
        the minute, 19: the second): ``recorded_at`` is fixed-width RFC 3339, so a prefix is a
        time granule and text order is time order."""
        check_count_prefix(prefix)
        if not tenants:
            return []
        marks = ",".join("?" * len(tenants))
        rows = self._con().execute(
            "SELECT substr(recorded_at, 1, ?) AS k, type, COUNT(*) FROM events "
            f"WHERE tenant IN ({marks}) AND recorded_at >= ? AND recorded_at < ? "
            "GROUP BY k, type ORDER BY k, type",
            [prefix, *tenants, start, end],
        )
        return [(str(d), str(t), int(n)) for d, t, n in rows]

    def tenant_activity(self, tenants: Collection[str]) -> dict[str, tuple[int, str]]:
        """tenant → (events, latest recorded_at), for those of ``tenants`` that have events."""
        if not tenants:
            return {}
        marks = ",".join("?" * len(tenants))
        rows = self._con().execute(
            f"SELECT tenant, COUNT(*), MAX(recorded_at) FROM events WHERE tenant IN ({marks}) "
            "GROUP BY tenant",
            list(tenants),
        )
        return {str(t): (int(n), str(last)) for t, n, last in rows}

    def recent_checkpoints(self, limit: int) -> list[StoredCheckpoint]:
        """The latest ``limit`` checkpoints, newest first."""
        rows = self._con().execute(
            "SELECT size, root, note, created_at FROM checkpoints ORDER BY size DESC LIMIT ?",
            (limit,),
        )
        return [_checkpoint(r) for r in rows]

    def close(self) -> None:
        """Close the shared database (idempotent)."""
        self.db.close()
