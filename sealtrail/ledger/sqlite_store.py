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
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConflictError, LedgerBusyError, NotFoundError, StorageError
from .event import Event
from .merkle import HASH_SIZE, NodeId
from .store import (
    ApiKey,
    Entry,
    EventQuery,
    StoredAnchor,
    StoredCheckpoint,
    Tenant,
    TimestampRecord,
    subtree_location,
)

T = TypeVar("T")
SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    idx             INTEGER PRIMARY KEY,  -- dense 0..N-1, the global log index
    tenant          TEXT NOT NULL,
    stream          TEXT NOT NULL,
    client_event_id TEXT,                 -- NULL when the client sent none
    type            TEXT NOT NULL,
    actor_id        TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,        -- fixed-width RFC 3339: sorts as text
    leaf_hash       BLOB NOT NULL,        -- SHA-256(0x00 || body)
    subtrees        BLOB NOT NULL,        -- perfect subtrees this append completed, level 1 up
    body            BLOB NOT NULL         -- RFC 8785 bytes, exactly as hashed
);
CREATE UNIQUE INDEX IF NOT EXISTS events_client_id
    ON events (tenant, client_event_id) WHERE client_event_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_stream ON events (tenant, stream, idx);
CREATE TABLE IF NOT EXISTS documents (
    fp  INTEGER NOT NULL,                 -- first 8 bytes of a named document's SHA-256, signed
    idx INTEGER NOT NULL,                 -- (small keys keep this random-order index cheap;
    PRIMARY KEY (fp, idx)                 --  look-ups re-check the full hash in the event)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS timestamps (
    size       INTEGER PRIMARY KEY REFERENCES checkpoints (size),
    token      BLOB,                      -- RFC 3161 TimeStampToken (DER); NULL: still pending
    gen_time   TEXT,
    serial     TEXT,                      -- the token's serial number (decimal)
    tsa        TEXT,                      -- which TSA answered
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,                      -- why the last attempt failed
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    parent     TEXT REFERENCES tenants (id),
    created_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_keys (
    id          TEXT PRIMARY KEY,         -- public key id
    tenant      TEXT NOT NULL REFERENCES tenants (id),
    role        TEXT NOT NULL,
    secret_hash BLOB NOT NULL,            -- SHA-256 of the secret part; the key is never stored
    label       TEXT,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    size       INTEGER PRIMARY KEY,
    root       BLOB NOT NULL,
    note       TEXT NOT NULL,             -- the signed note, verbatim
    created_at TEXT NOT NULL
);
"""

_ANCHORS = """
CREATE TABLE IF NOT EXISTS anchors (
    size        INTEGER PRIMARY KEY REFERENCES checkpoints (size),
    status      TEXT NOT NULL,            -- pending, sent, confirmed, final, retry, failed
    chain_id    INTEGER NOT NULL,
    contract    TEXT NOT NULL,            -- checksummed address
    log_id      BLOB NOT NULL,            -- SHA-256 of the origin
    root        BLOB NOT NULL,
    tx_hash     BLOB,                     -- the latest transaction sent
    tx_hashes   BLOB NOT NULL,            -- every transaction sent, 32 bytes each, oldest first
    nonce       INTEGER,
    raw         BLOB,                     -- the signed latest transaction, stored before sending
    max_fee     TEXT,                     -- wei per gas, decimal (may exceed 2^63)
    priority_fee TEXT,
    gas_limit   INTEGER,
    sent_at     TEXT,
    block_number INTEGER,
    block_hash  BLOB,
    log_index   INTEGER,
    gas_used    INTEGER,
    effective_gas_price TEXT,
    confirmations INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    final_at    TEXT
);
"""

# -- electronic seals (issue 6; sealtrail.signing.registry, approvals, envelopes) ------------
_SEALS = """
CREATE TABLE IF NOT EXISTS seal_cas (
    tenant      TEXT PRIMARY KEY,         -- one internal CA per tenant
    certificate BLOB NOT NULL,            -- DER
    key_blob    BLOB NOT NULL,            -- KeyProtector blob, associated data 'ca:' + tenant
    created_at  TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seals (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    kind        TEXT NOT NULL,            -- organization, contract, legal-person, personal
    name        TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    code        TEXT NOT NULL,
    remarks     TEXT NOT NULL,
    status      TEXT NOT NULL,            -- active, suspended, revoked
    status_reason TEXT,
    status_at   TEXT,
    source      TEXT NOT NULL,            -- internal-ca, pkcs12
    appearance  BLOB NOT NULL,            -- PNG
    appearance_source TEXT NOT NULL,      -- generated, uploaded
    certificate BLOB NOT NULL,            -- DER
    chain       BLOB NOT NULL,            -- DER certificates, each preceded by 4-byte length
    key_blob    BLOB NOT NULL,            -- KeyProtector blob, associated data = seal id
    created_at  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seals_tenant ON seals (tenant, created_at);
CREATE TABLE IF NOT EXISTS seal_outbox (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    event  BLOB NOT NULL                  -- event input JSON with its client_event_id
);
CREATE TABLE IF NOT EXISTS seal_policies (
    tenant     TEXT PRIMARY KEY,
    controlled TEXT NOT NULL,             -- JSON array of seal ids, or ["*"]
    approvers  TEXT NOT NULL,             -- JSON array of API key ids
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seal_requests (
    id            TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL,
    seal_id       TEXT NOT NULL,
    document      BLOB NOT NULL,          -- SHA-256 of the PDF to be sealed
    purpose       TEXT NOT NULL,
    requester_key TEXT NOT NULL,
    status        TEXT NOT NULL,          -- pending, approved, rejected, used
    decided_by    TEXT,
    decision_reason TEXT,
    created_at    TEXT NOT NULL,
    decided_at    TEXT,
    used_at       TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seal_requests_tenant ON seal_requests (tenant, created_at);
CREATE TABLE IF NOT EXISTS seal_uses (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    seal_id     TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    request_id  TEXT,
    envelope_id TEXT,
    before      BLOB NOT NULL,            -- SHA-256 of the PDF before the signature
    after       BLOB NOT NULL,            -- and after
    at          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS seal_uses_tenant ON seal_uses (tenant, id);
CREATE TABLE IF NOT EXISTS envelopes (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    title       TEXT NOT NULL,
    ordered     INTEGER NOT NULL,         -- 1: signers in order, 0: in any order
    status      TEXT NOT NULL,            -- open, completed
    document    BLOB NOT NULL,            -- the current PDF (every signature appended)
    original    BLOB NOT NULL,            -- SHA-256 of the uploaded PDF
    version     INTEGER NOT NULL,         -- signatures applied (compare-and-swap on update)
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    completed_at TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS envelope_signers (
    envelope_id TEXT NOT NULL,
    position    INTEGER NOT NULL,
    seal_id     TEXT NOT NULL,
    key_id      TEXT,                     -- NULL: any integrator key of the seal's tenant
    status      TEXT NOT NULL,            -- pending, signed
    signed_by   TEXT,
    signed_at   TEXT,
    before      BLOB,
    after       BLOB,
    PRIMARY KEY (envelope_id, position)
) WITHOUT ROWID;
"""
#: schema changes from each older version to the next, applied in one transaction on open
_MIGRATIONS = {1: _ANCHORS, 2: _SEALS}

_ANCHOR_COLS = (
    "size, status, chain_id, contract, log_id, root, tx_hash, tx_hashes, nonce, raw, max_fee, "
    "priority_fee, gas_limit, sent_at, block_number, block_hash, log_index, gas_used, "
    "effective_gas_price, confirmations, attempts, last_error, created_at, updated_at, final_at"
)


def _int_or_none(v: Any) -> int | None:
    return None if v is None else int(v)


def _bytes_or_none(v: Any) -> bytes | None:
    return None if v is None else bytes(v)


def _anchor(r: tuple[Any, ...]) -> StoredAnchor:
    hashes = bytes(r[7])
    return StoredAnchor(
        size=r[0],
        status=r[1],
        chain_id=r[2],
        contract=r[3],
        log_id=bytes(r[4]),
        root=bytes(r[5]),
        tx_hash=_bytes_or_none(r[6]),
        tx_hashes=tuple(hashes[i : i + 32] for i in range(0, len(hashes), 32)),
        nonce=r[8],
        raw=_bytes_or_none(r[9]),
        max_fee=_int_or_none(r[10]),
        priority_fee=_int_or_none(r[11]),
        gas_limit=r[12],
        sent_at=r[13],
        block_number=r[14],
        block_hash=_bytes_or_none(r[15]),
        log_index=r[16],
        gas_used=r[17],
        effective_gas_price=_int_or_none(r[18]),
        confirmations=r[19],
        attempts=r[20],
        last_error=r[21],
        created_at=r[22],
        updated_at=r[23],
        final_at=r[24],
    )


def _anchor_row(a: StoredAnchor) -> tuple[Any, ...]:
    def text(v: int | None) -> str | None:
        return None if v is None else str(v)

    return (
        a.size, a.status, a.chain_id, a.contract, a.log_id, a.root, a.tx_hash,
        b"".join(a.tx_hashes), a.nonce, a.raw, text(a.max_fee), text(a.priority_fee),
        a.gas_limit, a.sent_at, a.block_number, a.block_hash, a.log_index, a.gas_used,
        text(a.effective_gas_price), a.confirmations, a.attempts, a.last_error, a.created_at,
        a.updated_at, a.final_at,
    )  # fmt: skip


_EVENT_COLS = "idx, tenant, stream, client_event_id, body, leaf_hash, type, actor_id, recorded_at"
_N_EVENT_COLS = 9


def _event(row: tuple[Any, ...]) -> Event:
    return Event(
        row[0], row[1], row[2], row[3], bytes(row[4]), bytes(row[5]), row[6], row[7], row[8]
    )


_TS_COLS = "size, token, gen_time, serial, tsa, attempts, last_error, updated_at"


def _ts(row: tuple[Any, ...]) -> TimestampRecord:
    token = None if row[1] is None else bytes(row[1])
    return TimestampRecord(row[0], token, row[2], row[3], row[4], row[5], row[6], row[7])


_KEY_COLS = "id, tenant, role, secret_hash, label, created_at, revoked_at"


def _key(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(row[0], row[1], row[2], bytes(row[3]), row[4], row[5], row[6])


def _fp(sha256: bytes) -> int:
    return int.from_bytes(sha256[:8], "big", signed=True)


def _names(event: Event, sha256: bytes) -> bool:
    """True when the event really names this document (the index keys only a prefix)."""
    hexdigest = sha256.hex()
    return any(d["sha256"] == hexdigest for d in event.body()["documents"])


def _checkpoint(row: tuple[int, bytes, str, str]) -> StoredCheckpoint:
    return StoredCheckpoint(row[0], bytes(row[1]), row[2], row[3])


def _fetch_subtrees(con: sqlite3.Connection, nodes: Iterable[NodeId]) -> dict[NodeId, bytes]:
    want = {n: subtree_location(n) for n in nodes}
    if not want:
        return {}
    rows: dict[int, tuple[bytes, bytes]] = {}
    indices = sorted({loc[0] for loc in want.values()})
    for i in range(0, len(indices), 500):
        chunk = indices[i : i + 500]
        marks = ",".join("?" * len(chunk))
        q = f"SELECT idx, leaf_hash, subtrees FROM events WHERE idx IN ({marks})"
        for idx, leaf, subs in con.execute(q, chunk):
            rows[idx] = (leaf, subs)
    out: dict[NodeId, bytes] = {}
    for node, (idx, offset) in want.items():
        row = rows.get(idx)
        if row is None:
            raise StorageError(f"subtree {node} lies beyond the stored log (entry {idx} missing)")
        h = row[0] if offset is None else row[1][offset : offset + HASH_SIZE]
        if len(h) != HASH_SIZE:
            raise StorageError(f"entry {idx} does not hold subtree {node}")
        out[node] = bytes(h)
    return out


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


class SQLiteStore:
    """A ledger in one SQLite file. Safe to share between threads and processes."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
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
                        f"BEGIN IMMEDIATE;{_SCHEMA}{_ANCHORS}{_SEALS}"
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
        self, size: int, token: bytes, gen_time: str, serial: int, tsa: str, at: str
    ) -> None:
        def put(view: _View) -> None:
            view._con.execute(
                "INSERT INTO timestamps (size, token, gen_time, serial, tsa, attempts, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 1, ?) ON CONFLICT (size) DO UPDATE SET "
                "token = excluded.token, gen_time = excluded.gen_time, serial = excluded.serial, "
                "tsa = excluded.tsa, attempts = timestamps.attempts + 1, last_error = NULL, "
                "updated_at = excluded.updated_at WHERE timestamps.token IS NULL",
                (size, token, gen_time, str(serial), tsa, at),
            )

        self.write(put)

    def timestamp_failed(self, size: int, error: str, at: str) -> None:
        def put(view: _View) -> None:
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

    def put_anchor(self, anchor: StoredAnchor) -> None:
        """Insert or replace the anchoring state of one checkpoint, durably."""

        def put(view: _View) -> None:
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
