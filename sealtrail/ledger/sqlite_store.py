"""The embedded SQLite backend (WAL, synchronous=FULL).

Crash consistency: every write goes through one ``BEGIN IMMEDIATE`` … ``COMMIT``. With WAL and
``synchronous=FULL`` the commit record is fsynced before ``COMMIT`` returns, so

* killed before ``COMMIT`` returns: the transaction is rolled back on the next open, nothing of
  it is visible, and nothing of it was acknowledged;
* killed after: everything of it is durable; if the caller had not yet acknowledged it, the
  client's retry (same client event id) finds it and gets the original back.

Several processes may open one database: ``BEGIN IMMEDIATE`` takes SQLite's write lock and
waits up to ``busy_timeout`` for another writer, then raises LedgerBusyError. Readers never
block writers (WAL). Each thread gets its own connection.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sealtrail.core.errors import (
    ConflictError,
    LeaseLostError,
    LedgerBusyError,
    NotFoundError,
    StorageError,
)
from sealtrail.core.event import Event
from sealtrail.core.merkle import NodeId
from sealtrail.ledger.sqlite_schema import (
    _ANCHOR_COLS,
    _ANCHORS,
    _COORDINATION,
    _EVENT_COLS,
    _KEY_COLS,
    _MIGRATIONS,
    _N_EVENT_COLS,
    _SCHEMA,
    _SEALS,
    _TS_COLS,
    SCHEMA_VERSION,
    _anchor,
    _anchor_row,
    _checkpoint,
    _event,
    _fetch_subtrees,
    _fp,
    _key,
    _names,
    _ts,
)
from sealtrail.ledger.store import (
    ApiKey,
    Entry,
    EventQuery,
    Lease,
    QueuedAppend,
    StoredAnchor,
    StoredCheckpoint,
    Tenant,
    TimestampRecord,
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
        # The write lock is held: no takeover can commit until this transaction ends.
        row = self._con.execute(
            "SELECT holder, epoch FROM leases WHERE name = ?", (lease.name,)
        ).fetchone()
        if row is None or (str(row[0]), int(row[1])) != (lease.holder, lease.epoch):
            raise LeaseLostError(
                f"lease {lease.name!r} epoch {lease.epoch} is no longer held by this process"
            )

    def finish_queued(self, results: Mapping[str, bytes], at: str) -> None:
        for ticket, result in results.items():
            cur = self._con.execute(
                "UPDATE append_queue SET result = ?, done_at = ? "
                "WHERE ticket = ? AND result IS NULL",
                (result, at, ticket),
            )
            if cur.rowcount != 1:
                raise ConflictError(f"queued append {ticket!r} is unknown or already finished")


class SQLiteStore:
    """A ledger in one SQLite file. Safe to share between threads and processes."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        try:
            con = self._con()
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:  # a new database: create the schema (needs the write lock once)
                with self._write_lock():
                    con.executescript(
                        f"BEGIN IMMEDIATE;{_SCHEMA}{_ANCHORS}{_SEALS}{_COORDINATION}"
                        f"PRAGMA user_version = {SCHEMA_VERSION};COMMIT;"
                    )
            elif version in _MIGRATIONS:  # an older database: upgrade it in one transaction
                self._migrate(con)
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

    def _migrate(self, con: sqlite3.Connection) -> None:
        with self._write_lock():
            con.execute("BEGIN IMMEDIATE")
            try:
                version = con.execute("PRAGMA user_version").fetchone()[0]
                while version in _MIGRATIONS:  # another process may have upgraded it meanwhile
                    for statement in _MIGRATIONS[version].split(";"):
                        if statement.strip():
                            con.execute(statement)
                    version += 1
                    con.execute(f"PRAGMA user_version = {version}")
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise

    def _con(self) -> sqlite3.Connection:
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

    def _write_lock(self) -> _Busy:
        return _Busy(self.path, self.busy_timeout)

    def write(self, fn: Callable[[_View], T]) -> T:
        con = self._con()
        with self._write_lock():
            con.execute("BEGIN IMMEDIATE")
            try:
                result = fn(_View(con))
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
        return result

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

    # -- trusted timestamps ---------------------------------------------------------------

    def timestamp(self, size: int) -> TimestampRecord | None:
        row = (
            self._con()
            .execute(f"SELECT {_TS_COLS} FROM timestamps WHERE size = ?", (size,))
            .fetchone()
        )
        return None if row is None else _ts(row)

    def untimestamped(self, limit: int = 100) -> list[StoredCheckpoint]:
        rows = self._con().execute(
            "SELECT c.size, c.root, c.note, c.created_at FROM checkpoints c "
            "LEFT JOIN timestamps t ON t.size = c.size WHERE t.token IS NULL "
            "ORDER BY c.size LIMIT ?",
            (limit,),
        )
        return [_checkpoint(r) for r in rows]

    def put_timestamp(
        self,
        size: int,
        token: bytes,
        gen_time: str,
        serial: int,
        tsa: str,
        at: str,
        *,
        fence: Lease | None = None,
    ) -> None:
        def put(view: _View) -> None:
            if fence is not None:
                view.check_fence(fence)
            view._con.execute(
                "INSERT INTO timestamps (size, token, gen_time, serial, tsa, attempts, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 1, ?) ON CONFLICT (size) DO UPDATE SET "
                "token = excluded.token, gen_time = excluded.gen_time, serial = excluded.serial, "
                "tsa = excluded.tsa, attempts = timestamps.attempts + 1, last_error = NULL, "
                "updated_at = excluded.updated_at WHERE timestamps.token IS NULL",
                (size, token, gen_time, str(serial), tsa, at),
            )

        self.write(put)

    def timestamp_failed(
        self, size: int, error: str, at: str, *, fence: Lease | None = None
    ) -> None:
        def put(view: _View) -> None:
            if fence is not None:
                view.check_fence(fence)
            view._con.execute(
                "INSERT INTO timestamps (size, attempts, last_error, updated_at) "
                "VALUES (?, 1, ?, ?) ON CONFLICT (size) DO UPDATE SET "
                "attempts = timestamps.attempts + 1, last_error = excluded.last_error, "
                "updated_at = excluded.updated_at WHERE timestamps.token IS NULL",
                (size, error[:1000], at),
            )

        self.write(put)

    def timestamps(self) -> list[TimestampRecord]:
        rows = self._con().execute(f"SELECT {_TS_COLS} FROM timestamps ORDER BY size")
        return [_ts(r) for r in rows]

    # -- anchoring ------------------------------------------------------------------------

    def anchor(self, size: int) -> StoredAnchor | None:
        """The anchoring state of checkpoint ``size``, or None if anchoring never began."""
        row = (
            self._con()
            .execute(f"SELECT {_ANCHOR_COLS} FROM anchors WHERE size = ?", (size,))
            .fetchone()
        )
        return None if row is None else _anchor(row)

    def anchors(self, statuses: Collection[str] | None = None) -> list[StoredAnchor]:
        """Anchoring states (of these statuses, default all), by size."""
        if statuses is None:
            rows = self._con().execute(f"SELECT {_ANCHOR_COLS} FROM anchors ORDER BY size")
        else:
            marks = ", ".join("?" * len(statuses))
            rows = self._con().execute(
                f"SELECT {_ANCHOR_COLS} FROM anchors WHERE status IN ({marks}) ORDER BY size",
                tuple(statuses),
            )
        return [_anchor(r) for r in rows]

    def anchored_size(self, statuses: Collection[str] = ("final",)) -> int:
        """The largest checkpoint size with an anchor in one of ``statuses`` (0 if none)."""
        marks = ", ".join("?" * len(statuses))
        row = (
            self._con()
            .execute(f"SELECT max(size) FROM anchors WHERE status IN ({marks})", tuple(statuses))
            .fetchone()
        )
        return 0 if row[0] is None else int(row[0])

    def put_anchor(self, anchor: StoredAnchor, *, fence: Lease | None = None) -> None:
        """Insert or replace the anchoring state of one checkpoint, durably (with ``fence``:
        only while that sequencer lease is held, else LeaseLostError)."""

        def put(view: _View) -> None:
            if fence is not None:
                view.check_fence(fence)
            view._con.execute(
                f"INSERT OR REPLACE INTO anchors ({_ANCHOR_COLS}) VALUES ({', '.join('?' * 25)})",
                _anchor_row(anchor),
            )

        self.write(put)

    def unanchored(self, after: int = 0, limit: int = 100) -> list[StoredCheckpoint]:
        """Checkpoints larger than ``after`` that are not on their way to the chain (no anchor
        row, or one in ``pending``, ``retry`` or ``failed``), by size."""
        rows = self._con().execute(
            "SELECT c.size, c.root, c.note, c.created_at FROM checkpoints c "
            "LEFT JOIN anchors a ON a.size = c.size WHERE c.size > ? AND "
            "(a.status IS NULL OR a.status IN ('pending', 'retry', 'failed')) "
            "ORDER BY c.size LIMIT ?",
            (after, limit),
        )
        return [_checkpoint(r) for r in rows]

    def oldest_unfinal(self) -> tuple[int, StoredCheckpoint | None]:
        """How many checkpoints are not anchored ``final`` yet, and the oldest of them."""
        con = self._con()
        where = (
            "FROM checkpoints c LEFT JOIN anchors a ON a.size = c.size "
            "WHERE a.status IS NULL OR a.status != 'final'"
        )
        count = con.execute(f"SELECT count(*) {where}").fetchone()[0]
        row = con.execute(
            f"SELECT c.size, c.root, c.note, c.created_at {where} ORDER BY c.size LIMIT 1"
        ).fetchone()
        return int(count), None if row is None else _checkpoint(row)

    # -- tenants and API keys -------------------------------------------------------------

    def add_tenant(self, tenant: Tenant) -> None:
        def put(view: _View) -> None:
            con = view._con
            if con.execute("SELECT 1 FROM tenants WHERE id = ?", (tenant.id,)).fetchone():
                raise ConflictError(f"tenant {tenant.id!r} already exists")
            if (
                tenant.parent is not None
                and not con.execute(
                    "SELECT 1 FROM tenants WHERE id = ?", (tenant.parent,)
                ).fetchone()
            ):
                raise NotFoundError(f"no tenant {tenant.parent!r}")
            con.execute(
                "INSERT INTO tenants (id, name, parent, created_at) VALUES (?, ?, ?, ?)",
                (tenant.id, tenant.name, tenant.parent, tenant.created_at),
            )

        self.write(put)

    def tenant(self, tenant_id: str) -> Tenant | None:
        row = (
            self._con()
            .execute("SELECT id, name, parent, created_at FROM tenants WHERE id = ?", (tenant_id,))
            .fetchone()
        )
        return None if row is None else Tenant(*row)

    def tenants(self) -> list[Tenant]:
        rows = self._con().execute("SELECT id, name, parent, created_at FROM tenants ORDER BY id")
        return [Tenant(*r) for r in rows]

    def subtree_tenants(self, tenant_id: str) -> list[str]:
        rows = self._con().execute(
            "WITH RECURSIVE t(id) AS (SELECT id FROM tenants WHERE id = ? "
            "UNION SELECT tenants.id FROM tenants JOIN t ON tenants.parent = t.id) "
            "SELECT id FROM t ORDER BY id",
            (tenant_id,),
        )
        return [r[0] for r in rows]

    def add_key(self, key: ApiKey) -> None:
        def put(view: _View) -> None:
            view._con.execute(
                f"INSERT INTO api_keys ({_KEY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key.id, key.tenant, key.role, key.secret_hash, key.label, key.created_at, None),
            )

        self.write(put)

    def key(self, key_id: str) -> ApiKey | None:
        row = (
            self._con()
            .execute(f"SELECT {_KEY_COLS} FROM api_keys WHERE id = ?", (key_id,))
            .fetchone()
        )
        return None if row is None else _key(row)

    def keys(self, tenants: Collection[str]) -> list[ApiKey]:
        ids = list(tenants)
        rows = self._con().execute(
            f"SELECT {_KEY_COLS} FROM api_keys WHERE tenant IN ({','.join('?' * len(ids))}) "
            "ORDER BY created_at, id",
            ids,
        )
        return [_key(r) for r in rows]

    def revoke_key(self, key_id: str, at: str) -> ApiKey:
        def put(view: _View) -> ApiKey:
            con = view._con
            con.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (at, key_id),
            )
            row = con.execute(
                f"SELECT {_KEY_COLS} FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no API key {key_id!r}")
            return _key(row)

        return self.write(put)

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
        def put(view: _View) -> None:
            view._con.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

        self.write(put)

    # -- console reads ---------------------------------------------------------------------

    def event_counts(
        self, tenants: Collection[str], start: str, end: str
    ) -> list[tuple[str, str, int]]:
        """(UTC day, type, events) for these tenants' events with start <= recorded_at < end,
        by day then type (``recorded_at`` is fixed-width RFC 3339, so its first 10 characters
        are the day and text order is time order)."""
        if not tenants:
            return []
        marks = ",".join("?" * len(tenants))
        rows = self._con().execute(
            "SELECT substr(recorded_at, 1, 10) AS day, type, COUNT(*) FROM events "
            f"WHERE tenant IN ({marks}) AND recorded_at >= ? AND recorded_at < ? "
            "GROUP BY day, type ORDER BY day, type",
            [*tenants, start, end],
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

    # -- leases and the append queue (CoordinationStore) -----------------------------------

    def lease(self, name: str) -> Lease | None:
        row = (
            self._con()
            .execute("SELECT holder, epoch, expires_at FROM leases WHERE name = ?", (name,))
            .fetchone()
        )
        return None if row is None else Lease(name, str(row[0]), int(row[1]), float(row[2]))

    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> Lease | None:
        def take(view: _View) -> Lease | None:
            con = view._con
            row = con.execute(
                "SELECT holder, epoch, expires_at FROM leases WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                epoch = 1
            elif str(row[0]) == holder:
                epoch = int(row[1])
            elif float(row[2]) <= now:
                epoch = int(row[1]) + 1
            else:
                return None
            con.execute(
                "INSERT INTO leases (name, holder, epoch, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "epoch = excluded.epoch, expires_at = excluded.expires_at",
                (name, holder, epoch, now + ttl),
            )
            return Lease(name, holder, epoch, now + ttl)

        return self.write(take)

    def release_lease(self, lease: Lease) -> None:
        self.write(
            lambda view: view._con.execute(
                "UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ? AND epoch = ?",
                (lease.name, lease.holder, lease.epoch),
            )
        )

    def enqueue_append(self, item: QueuedAppend) -> None:
        def put(view: _View) -> None:
            try:
                view._con.execute(
                    "INSERT INTO append_queue (ticket, tenant, body, queued_at) "
                    "VALUES (?, ?, ?, ?)",
                    (item.ticket, item.tenant, item.body, item.queued_at),
                )
            except sqlite3.IntegrityError as e:
                raise ConflictError(f"queued append {item.ticket!r} exists") from e

        self.write(put)

    def queued_appends(self, limit: int = 100) -> list[QueuedAppend]:
        rows = self._con().execute(
            "SELECT ticket, tenant, body, queued_at FROM append_queue WHERE result IS NULL "
            "ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [QueuedAppend(str(t), str(n), bytes(b), str(q)) for t, n, b, q in rows]

    def queued_result(self, ticket: str) -> bytes | None:
        row = (
            self._con()
            .execute("SELECT result FROM append_queue WHERE ticket = ?", (ticket,))
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"no queued append {ticket!r}")
        return None if row[0] is None else bytes(row[0])

    def prune_queue(self, before: str) -> int:
        return int(
            self.write(
                lambda view: (
                    view._con.execute(
                        "DELETE FROM append_queue WHERE result IS NOT NULL AND done_at < ?",
                        (before,),
                    ).rowcount
                )
            )
        )

    def close(self) -> None:
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
