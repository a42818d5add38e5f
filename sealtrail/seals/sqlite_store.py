"""The :class:`~.store.SealStore` on the shared SQLite database.

The seal tables are this module's schema parts (:data:`SEALS_PART`, schema version 3, and
:data:`SEALS_V5_PART`, version 5: invitations and approvals bound to envelope slots), in the
same file as the ledger's. Every change runs in one
:meth:`~sealtrail.ledger.sqlite_db.SQLiteDatabase.write` transaction (``BEGIN IMMEDIATE``, so
it serialises with ledger appends across processes), together with the outbox rows it queues;
reads use the calling thread's connection. Compare-and-swap is a conditional
``UPDATE … WHERE`` whose row count is checked inside that transaction.

The SQL is shared with PostgreSQL (:mod:`.pg_store` subclasses the store). Where SQLite's
file-wide write lock stands in for a row lock, the statement appends
:attr:`SQLiteSealStore.dialect`'s ``for_update`` (empty on SQLite): a renewal of an envelope's
archive reads the document it replaces, and an answer to an invitation reads its envelope,
holding the row until the transaction ends. A duplicate id is the dialect's integrity error
(ConflictError either way); uses restored with their ids move the id sequence past them
(:meth:`SQLiteSealStore._after_restoring_uses`, a no-op for SQLite's ``AUTOINCREMENT``).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

import orjson

from sealtrail.core.errors import ConflictError, NotFoundError
from sealtrail.ledger.sql_dialect import SQLITE, Dialect, SqlConnection, insert_or_ignore
from sealtrail.ledger.sqlite_db import SchemaPart, SQLiteDatabase
from sealtrail.seals.store import (
    PENDING_BATCH,
    InvitationAnswer,
    InvitationRef,
    OutboxEvent,
    QueuedEvent,
    RequestDecision,
    SealStatusChange,
    SealUse,
    SignatureCommit,
    StoredCa,
    StoredEnvelope,
    StoredKey,
    StoredLink,
    StoredPolicy,
    StoredRequest,
    StoredSeal,
    StoredSigner,
    StoredTerms,
    StoredUse,
)

T = TypeVar("T")

_SEALS_DDL = """
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
#: the seal registry, approvals, uses, envelopes and the outbox (schema version 3)
SEALS_PART = SchemaPart("seals", 3, _SEALS_DDL)

# Version 5: a signer slot names its party (the tenant that signs it) and may be an invitation
# (seal_id '' until the party accepts and chooses its seal); a seal request may be bound to an
# envelope's signer slot instead of a document hash. A new database runs this after the version
# 3 part (parts run in version order), an older one in its upgrade transaction: the same
# statements either way, each once. Slots of older envelopes get their seal's tenant as party.
_SEALS_V5_DDL = """
ALTER TABLE envelope_signers ADD COLUMN party TEXT NOT NULL DEFAULT '';
ALTER TABLE envelope_signers ADD COLUMN invitation TEXT;
ALTER TABLE envelope_signers ADD COLUMN answered_by TEXT;
ALTER TABLE envelope_signers ADD COLUMN answered_at TEXT;
UPDATE envelope_signers SET party = COALESCE(
    (SELECT tenant FROM seals WHERE seals.id = envelope_signers.seal_id), '');
CREATE INDEX IF NOT EXISTS envelope_signers_party ON envelope_signers (party, invitation);
ALTER TABLE seal_requests ADD COLUMN envelope_id TEXT;
ALTER TABLE seal_requests ADD COLUMN position INTEGER;
"""
#: invitations (signer parties) and seal requests bound to envelope slots (schema version 5)
SEALS_V5_PART = SchemaPart("seals-v5", 5, _SEALS_V5_DDL)
# Version 10: envelope terms (deadline, why it ended) and signers' links (individuals and
# enterprises signing from a link: the token's hash, the identity channel, the placement fields
# and the link's session — codes, tries, lock — as JSON, updated by compare-and-swap on rev).
_SEALS_V10_DDL = """
CREATE TABLE IF NOT EXISTS envelope_terms (
    envelope_id  TEXT PRIMARY KEY,
    expires_at   TEXT,                    -- the deadline (NULL: none)
    ended_reason TEXT,                    -- why it was voided or declined
    ended_at     TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS envelope_links (
    token_hash  BLOB PRIMARY KEY,         -- SHA-256 of the link's token (never the token)
    envelope_id TEXT NOT NULL,
    position    INTEGER NOT NULL,
    kind        TEXT NOT NULL,            -- individual, enterprise
    name        TEXT NOT NULL,
    email       TEXT,
    fields      TEXT NOT NULL,            -- JSON [{"page", "box"}]
    session     TEXT NOT NULL,            -- JSON: the link's codes, tries, lock, verification
    rev         INTEGER NOT NULL          -- compare-and-swap on update
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS envelope_links_slot ON envelope_links (envelope_id, position);
"""
#: envelope terms and signer links (schema version 10)
SEALS_V10_PART = SchemaPart("seals-v10", 10, _SEALS_V10_DDL)
#: at most this many "?" per statement (SQLite's limit is 32766 since 3.32, 999 before)
_CHUNK = 500

_SEAL_COLS = (
    "id, tenant, kind, name, purpose, code, remarks, status, status_reason, status_at, source, "
    "appearance_source, certificate, chain, created_at"
)
_REQ_COLS = (
    "id, tenant, seal_id, document, purpose, requester_key, status, decided_by, "
    "decision_reason, created_at, decided_at, used_at, envelope_id, position"
)


#: a tenant's CA, unless it has one already (the first one stays)
_ADD_CA = insert_or_ignore("seal_cas", ("tenant", "certificate", "key_blob", "created_at"))

_SIGNER_COLS = (
    "position, seal_id, key_id, status, signed_by, signed_at, before, after, party, invitation, "
    "answered_by, answered_at"
)


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _pack(certs: Sequence[bytes]) -> bytes:
    """DER certificates, each preceded by its 4-byte big-endian length (column ``chain``)."""
    return b"".join(struct.pack(">I", len(der)) + der for der in certs)


def _unpack(data: bytes) -> tuple[bytes, ...]:
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return tuple(out)


def _seal(r: tuple[Any, ...]) -> StoredSeal:
    return StoredSeal(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], bytes(r[12]),
        _unpack(bytes(r[13])), r[14],
    )  # fmt: skip


def _request(r: tuple[Any, ...]) -> StoredRequest:
    return StoredRequest(
        r[0], r[1], r[2], bytes(r[3]), r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
        None if r[13] is None else int(r[13]),
    )  # fmt: skip


def _bytes_or_none(v: Any) -> bytes | None:
    return None if v is None else bytes(v)


def _enqueue(con: SqlConnection, events: Sequence[OutboxEvent]) -> None:
    con.executemany(
        "INSERT INTO seal_outbox (tenant, event) VALUES (?, ?)",
        [(e.tenant, e.body) for e in events],
    )


def _record_use(con: SqlConnection, use: SealUse) -> None:
    if use.request_id is not None:  # a one-time authorisation: consumed by exactly one use
        cur = con.execute(
            "UPDATE seal_requests SET status = 'used', used_at = ? "
            "WHERE id = ? AND status = 'approved'",
            (use.at, use.request_id),
        )
        if cur.rowcount != 1:
            raise ConflictError(f"seal request {use.request_id} was already used")
    con.execute(
        "INSERT INTO seal_uses (tenant, seal_id, key_id, request_id, envelope_id, before, after, "
        "at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (use.tenant, use.seal_id, use.key_id, use.request_id, use.envelope_id, use.before,
         use.after, use.at),
    )  # fmt: skip


def _unique(e: Exception, what: str) -> ConflictError:
    return ConflictError(f"{what} exists already: {e}")


def _insert_envelope(
    con: SqlConnection, e: StoredEnvelope, document: bytes, dialect: Dialect
) -> None:
    try:
        con.execute(
            "INSERT INTO envelopes (id, tenant, title, ordered, status, document, "
            "original, version, created_by, created_at, completed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (e.id, e.tenant, e.title, int(e.ordered), e.status, document, e.original,
             e.version, e.created_by, e.created_at, e.completed_at),
        )  # fmt: skip
    except dialect.integrity_error as err:
        raise _unique(err, f"envelope {e.id}") from err
    con.executemany(
        f"INSERT INTO envelope_signers ({_SIGNER_COLS}, envelope_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(s.position, s.seal_id or "", s.key_id, s.status, s.signed_by, s.signed_at,
          s.before, s.after, s.party, s.invitation, s.answered_by, s.answered_at, e.id)
         for s in e.signers],
    )  # fmt: skip


_LINK_COLS = "token_hash, envelope_id, position, kind, name, email, fields, session, rev"


def _link(r: tuple[Any, ...]) -> StoredLink:
    return StoredLink(bytes(r[0]), r[1], int(r[2]), r[3], r[4], r[5], r[6], r[7], int(r[8]))


def _update_signed(con: SqlConnection, c: SignatureCommit) -> None:
    cur = con.execute(
        "UPDATE envelopes SET document = ?, version = version + 1, status = ?, "
        "completed_at = ? WHERE id = ? AND version = ? AND status = 'open'",
        (c.document, "completed" if c.completes else "open",
         c.at if c.completes else None, c.envelope_id, c.version),
    )  # fmt: skip
    if cur.rowcount != 1:
        raise ConflictError(f"envelope {c.envelope_id} changed while signing: sign again")
    con.execute(
        "UPDATE envelope_signers SET status = 'signed', signed_by = ?, signed_at = ?, "
        "before = ?, after = ? WHERE envelope_id = ? AND position = ?",
        (c.signed_by, c.at, c.before, c.after, c.envelope_id, c.position),
    )


class SQLiteSealStore:
    """Seal persistence in the shared SQLite database (module docstring)."""

    #: the SQL dialect's peculiarities (row locks, the integrity error)
    dialect: Dialect = SQLITE

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    def _write(self, fn: Callable[[SqlConnection], T]) -> T:
        """Run ``fn`` in one write transaction of the shared database (all or nothing)."""
        return self.db.write(fn)

    def _read(self) -> SqlConnection:
        return self.db.read()

    def _after_restoring_uses(self, con: SqlConnection) -> None:
        """After uses were inserted with their ids: make later uses get larger ids.
        (SQLite's ``AUTOINCREMENT`` already continues after the largest id stored.)"""

    # -- internal CAs ------------------------------------------------------------------------

    def ca(self, tenant: str) -> StoredCa | None:
        row = (
            self._read()
            .execute(
                "SELECT tenant, certificate, key_blob, created_at FROM seal_cas WHERE tenant = ?",
                (tenant,),
            )
            .fetchone()
        )
        return None if row is None else StoredCa(row[0], bytes(row[1]), bytes(row[2]), row[3])

    def add_ca(self, ca: StoredCa) -> StoredCa:
        self._write(
            lambda con: con.execute(
                _ADD_CA, (ca.tenant, ca.certificate, ca.key_blob, ca.created_at)
            )
        )
        stored = self.ca(ca.tenant)
        assert stored is not None
        return stored

    def cas(self, tenants: Collection[str] | None = None) -> list[StoredCa]:
        cols = "SELECT tenant, certificate, key_blob, created_at FROM seal_cas"
        con = self._read()
        if tenants is None:
            rows = con.execute(f"{cols} ORDER BY tenant").fetchall()
        else:
            ids, rows = list(tenants), []
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                sql = f"{cols} WHERE tenant IN ({_marks(len(chunk))})"
                rows += con.execute(sql, chunk).fetchall()
            rows.sort(key=lambda r: r[0])
        return [StoredCa(r[0], bytes(r[1]), bytes(r[2]), r[3]) for r in rows]

    def any_ca(self) -> StoredCa | None:
        row = (
            self._read()
            .execute("SELECT tenant, certificate, key_blob, created_at FROM seal_cas LIMIT 1")
            .fetchone()
        )
        return None if row is None else StoredCa(row[0], bytes(row[1]), bytes(row[2]), row[3])

    # -- seals -------------------------------------------------------------------------------

    def insert_seal(
        self,
        seal: StoredSeal,
        *,
        appearance: bytes,
        key_blob: bytes,
        events: Sequence[OutboxEvent],
    ) -> None:
        s = seal
        row = (
            s.id, s.tenant, s.kind, s.name, s.purpose, s.code, s.remarks, s.status,
            s.status_reason, s.status_at, s.source, appearance, s.appearance_source,
            s.certificate, _pack(s.chain), key_blob, s.created_at,
        )  # fmt: skip

        def put(con: SqlConnection) -> None:
            try:
                con.execute(
                    "INSERT INTO seals (id, tenant, kind, name, purpose, code, remarks, status, "
                    "status_reason, status_at, source, appearance, appearance_source, "
                    "certificate, chain, key_blob, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
            except self.dialect.integrity_error as e:
                raise _unique(e, f"seal {s.id}") from e
            _enqueue(con, events)

        self._write(put)

    def seal(self, seal_id: str) -> StoredSeal | None:
        sql = f"SELECT {_SEAL_COLS} FROM seals WHERE id = ?"
        r = self._read().execute(sql, (seal_id,)).fetchone()
        return None if r is None else _seal(r)

    def seals(
        self, tenants: Collection[str] | None = None, status: str | None = None
    ) -> list[StoredSeal]:
        where, args = [], []
        if tenants is not None:
            ids = list(tenants)
            if not ids:  # SQLite reads "IN ()" as false; PostgreSQL refuses it
                return []
            where.append(f"tenant IN ({_marks(len(ids))})")
            args += ids
        if status is not None:
            where.append("status = ?")
            args.append(status)
        sql = f"SELECT {_SEAL_COLS} FROM seals"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_seal(r) for r in self._read().execute(sql + " ORDER BY created_at, id", args)]

    def seal_appearance(self, seal_id: str) -> bytes | None:
        row = (
            self._read().execute("SELECT appearance FROM seals WHERE id = ?", (seal_id,)).fetchone()
        )
        return None if row is None else bytes(row[0])

    def seal_key(self, seal_id: str) -> StoredKey | None:
        row = (
            self._read()
            .execute("SELECT id, status, key_blob FROM seals WHERE id = ?", (seal_id,))
            .fetchone()
        )
        return None if row is None else StoredKey(row[0], row[1], bytes(row[2]))

    def any_seal_key(self) -> StoredKey | None:
        row = self._read().execute("SELECT id, status, key_blob FROM seals LIMIT 1").fetchone()
        return None if row is None else StoredKey(row[0], row[1], bytes(row[2]))

    def set_seal_status(self, change: SealStatusChange, events: Sequence[OutboxEvent]) -> None:
        c = change

        def put(con: SqlConnection) -> None:
            cur = con.execute(
                "UPDATE seals SET status = ?, status_reason = ?, status_at = ? "
                "WHERE id = ? AND status = ?",
                (c.status, c.reason, c.at, c.seal_id, c.expected),
            )
            if cur.rowcount != 1:
                row = con.execute("SELECT status FROM seals WHERE id = ?", (c.seal_id,)).fetchone()
                if row is None:
                    raise NotFoundError(f"no seal {c.seal_id!r}")
                raise ConflictError(f"seal {c.seal_id} is {row[0]}, want {c.expected}")
            _enqueue(con, events)

        self._write(put)

    # -- outbox ------------------------------------------------------------------------------

    def enqueue(self, events: Sequence[OutboxEvent]) -> None:
        self._write(lambda con: _enqueue(con, events))

    def pending_events(self, limit: int = PENDING_BATCH) -> list[QueuedEvent]:
        rows = self._read().execute(
            "SELECT id, tenant, event FROM seal_outbox ORDER BY id LIMIT ?", (limit,)
        )
        return [QueuedEvent(int(i), str(t), bytes(e)) for i, t, e in rows]

    def events_done(self, ids: Collection[int]) -> None:
        done = list(ids)

        def delete(con: SqlConnection) -> None:
            for i in range(0, len(done), _CHUNK):
                chunk = done[i : i + _CHUNK]
                sql = f"DELETE FROM seal_outbox WHERE id IN ({_marks(len(chunk))})"
                con.execute(sql, chunk)

        if done:
            self._write(delete)

    # -- seal-use policies ---------------------------------------------------------------------

    def policy(self, tenant: str) -> StoredPolicy | None:
        row = (
            self._read()
            .execute(
                "SELECT tenant, controlled, approvers, updated_at FROM seal_policies "
                "WHERE tenant = ?",
                (tenant,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return StoredPolicy(
            row[0], tuple(orjson.loads(row[1])), tuple(orjson.loads(row[2])), row[3]
        )

    def put_policy(self, policy: StoredPolicy, events: Sequence[OutboxEvent]) -> None:
        p = policy

        def put(con: SqlConnection) -> None:
            con.execute(
                "INSERT INTO seal_policies (tenant, controlled, approvers, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (tenant) DO UPDATE SET controlled = "
                "excluded.controlled, approvers = excluded.approvers, "
                "updated_at = excluded.updated_at",
                (p.tenant, orjson.dumps(list(p.controlled)).decode(),
                 orjson.dumps(list(p.approvers)).decode(), p.updated_at),
            )  # fmt: skip
            _enqueue(con, events)

        self._write(put)

    # -- seal-use requests ---------------------------------------------------------------------

    def insert_request(self, request: StoredRequest, events: Sequence[OutboxEvent]) -> None:
        r = request

        def put(con: SqlConnection) -> None:
            try:
                con.execute(
                    f"INSERT INTO seal_requests ({_REQ_COLS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (r.id, r.tenant, r.seal_id, r.document, r.purpose, r.requester_key, r.status,
                     r.decided_by, r.decision_reason, r.created_at, r.decided_at, r.used_at,
                     r.envelope_id, r.position),
                )  # fmt: skip
            except self.dialect.integrity_error as e:
                raise _unique(e, f"seal request {r.id}") from e
            _enqueue(con, events)

        self._write(put)

    def request(self, request_id: str) -> StoredRequest | None:
        sql = f"SELECT {_REQ_COLS} FROM seal_requests WHERE id = ?"
        row = self._read().execute(sql, (request_id,)).fetchone()
        return None if row is None else _request(row)

    def requests(
        self, tenants: Collection[str], status: str | None = None, limit: int = 1000
    ) -> list[StoredRequest]:
        ids = list(tenants)
        if not ids:
            return []
        sql = f"SELECT {_REQ_COLS} FROM seal_requests WHERE tenant IN ({_marks(len(ids))})"
        args: list[Any] = ids
        if status is not None:
            sql += " AND status = ?"
            args = [*ids, status]
        rows = self._read().execute(sql + " ORDER BY created_at DESC, id LIMIT ?", [*args, limit])
        return [_request(r) for r in rows]

    def decide_request(self, decision: RequestDecision, events: Sequence[OutboxEvent]) -> None:
        d = decision

        def put(con: SqlConnection) -> None:
            cur = con.execute(
                "UPDATE seal_requests SET status = ?, decided_by = ?, decision_reason = ?, "
                "decided_at = ? WHERE id = ? AND status = 'pending'",
                (d.status, d.decided_by, d.reason, d.at, d.request_id),
            )
            if cur.rowcount != 1:
                row = con.execute(
                    "SELECT status FROM seal_requests WHERE id = ?", (d.request_id,)
                ).fetchone()
                if row is None:
                    raise NotFoundError(f"no seal request {d.request_id[:80]!r}")
                raise ConflictError(f"seal request {d.request_id} is {row[0]}, want pending")
            _enqueue(con, events)

        self._write(put)

    # -- seal uses ---------------------------------------------------------------------------

    def record_use(self, use: SealUse, events: Sequence[OutboxEvent]) -> None:
        def put(con: SqlConnection) -> None:
            _record_use(con, use)
            _enqueue(con, events)

        self._write(put)

    def restore_uses(self, uses: Sequence[StoredUse]) -> None:
        def put(con: SqlConnection) -> None:
            con.executemany(
                "INSERT INTO seal_uses (id, tenant, seal_id, key_id, request_id, envelope_id, "
                "before, after, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (u.id, u.use.tenant, u.use.seal_id, u.use.key_id, u.use.request_id,
                     u.use.envelope_id, u.use.before, u.use.after, u.use.at)
                    for u in uses
                ],
            )  # fmt: skip
            self._after_restoring_uses(con)

        if uses:
            self._write(put)

    def uses(self, tenants: Collection[str], limit: int = 1000) -> list[StoredUse]:
        ids = list(tenants)
        if not ids:
            return []
        rows = self._read().execute(
            "SELECT id, tenant, seal_id, key_id, request_id, envelope_id, before, after, at "
            f"FROM seal_uses WHERE tenant IN ({_marks(len(ids))}) ORDER BY id DESC LIMIT ?",
            [*ids, limit],
        )
        return [
            StoredUse(int(r[0]), SealUse(r[1], r[2], r[3], r[4], r[5], bytes(r[6]), bytes(r[7]),
                                         r[8]))
            for r in rows
        ]  # fmt: skip

    def seal_use_counts(self, tenants: Collection[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(tenants))
        out = dict.fromkeys(ids, 0)
        con = self._read()
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            rows = con.execute(
                f"SELECT tenant, COUNT(*) FROM seal_uses WHERE tenant IN ({_marks(len(chunk))}) "
                "GROUP BY tenant",
                chunk,
            )
            out.update((str(t), int(n)) for t, n in rows)
        return out

    # -- envelopes ---------------------------------------------------------------------------

    def insert_envelope(
        self, envelope: StoredEnvelope, document: bytes, events: Sequence[OutboxEvent]
    ) -> None:
        def put(con: SqlConnection) -> None:
            _insert_envelope(con, envelope, document, self.dialect)
            _enqueue(con, events)

        self._write(put)

    def envelope(self, envelope_id: str) -> StoredEnvelope | None:
        con = self._read()
        row = con.execute(
            "SELECT id, tenant, title, ordered, status, version, original, created_by, "
            "created_at, completed_at, document FROM envelopes WHERE id = ?",
            (envelope_id,),
        ).fetchone()
        if row is None:
            return None
        signers = tuple(
            StoredSigner(r[0], r[1] or None, r[2], r[3], r[4], r[5], _bytes_or_none(r[6]),
                         _bytes_or_none(r[7]), r[8], r[9], r[10], r[11])
            for r in con.execute(
                f"SELECT {_SIGNER_COLS} FROM envelope_signers WHERE envelope_id = ? "
                "ORDER BY position",
                (envelope_id,),
            )
        )  # fmt: skip
        current = hashlib.sha256(bytes(row[10])).digest()
        return StoredEnvelope(
            row[0], row[1], row[2], bool(row[3]), row[4], row[5], bytes(row[6]), current,
            row[7], row[8], row[9], signers,
        )  # fmt: skip

    def envelope_document(self, envelope_id: str) -> bytes | None:
        row = (
            self._read()
            .execute("SELECT document FROM envelopes WHERE id = ?", (envelope_id,))
            .fetchone()
        )
        return None if row is None else bytes(row[0])

    def envelope_ids(self, tenants: Collection[str], limit: int = 1000) -> list[str]:
        ids = list(tenants)
        if not ids:
            return []
        rows = self._read().execute(
            f"SELECT id FROM envelopes WHERE tenant IN ({_marks(len(ids))}) "
            "ORDER BY created_at DESC, id LIMIT ?",
            [*ids, limit],
        )
        return [r[0] for r in rows]

    def completed_envelope_ids(self, after: str = "", limit: int = 100) -> list[str]:
        rows = self._read().execute(
            "SELECT id FROM envelopes WHERE status = 'completed' AND id > ? ORDER BY id LIMIT ?",
            (after, limit),
        )
        return [r[0] for r in rows]

    def renew_envelope_document(
        self, envelope_id: str, before: bytes, document: bytes, events: Sequence[OutboxEvent]
    ) -> None:
        def put(con: SqlConnection) -> None:
            row = con.execute(
                "SELECT document FROM envelopes WHERE id = ? AND status = 'completed'"
                + self.dialect.for_update,
                (envelope_id,),
            ).fetchone()
            if row is None or hashlib.sha256(bytes(row[0])).digest() != before:
                raise ConflictError(f"envelope {envelope_id} changed while renewing its archive")
            con.execute("UPDATE envelopes SET document = ? WHERE id = ?", (document, envelope_id))
            _enqueue(con, events)

        self._write(put)

    def commit_signature(
        self, commit: SignatureCommit, use: SealUse, events: Sequence[OutboxEvent]
    ) -> None:
        def put(con: SqlConnection) -> None:
            _update_signed(con, commit)
            _record_use(con, use)
            _enqueue(con, events)

        self._write(put)

    # -- invitations -------------------------------------------------------------------------

    def invitations(self, parties: Collection[str], limit: int = 1000) -> list[InvitationRef]:
        ids = list(parties)
        if not ids:
            return []
        rows = self._read().execute(
            "SELECT s.envelope_id, s.position, s.party FROM envelope_signers s "
            "JOIN envelopes e ON e.id = s.envelope_id "
            f"WHERE s.party IN ({_marks(len(ids))}) AND s.invitation = 'invited' "
            "AND e.status = 'open' ORDER BY e.created_at DESC, e.id, s.position LIMIT ?",
            [*ids, limit],
        )
        return [InvitationRef(r[0], int(r[1]), r[2]) for r in rows]

    def answer_invitation(self, answer: InvitationAnswer, events: Sequence[OutboxEvent]) -> None:
        a = answer
        accepted = a.seal_id is not None

        def put(con: SqlConnection) -> None:
            # the envelope, locked: a signature or another answer waits, and this answer sees
            # the envelope's status as the last of them committed it
            con.execute("SELECT status FROM envelopes WHERE id = ?" + self.dialect.for_update,
                        (a.envelope_id,))  # fmt: skip
            cur = con.execute(
                "UPDATE envelope_signers SET invitation = ?, seal_id = ?, key_id = ?, "
                "answered_by = ?, answered_at = ? WHERE envelope_id = ? AND position = ? "
                "AND invitation = 'invited' AND EXISTS (SELECT 1 FROM envelopes "
                "WHERE id = envelope_signers.envelope_id AND status = 'open')",
                ("accepted" if accepted else "declined", a.seal_id or "", a.key_id,
                 a.answered_by, a.at, a.envelope_id, a.position),
            )  # fmt: skip
            if cur.rowcount != 1:
                raise ConflictError(
                    f"envelope {a.envelope_id} slot {a.position} is no longer an open invitation"
                )
            if not accepted:  # a declined invitation ends the envelope
                con.execute(
                    "UPDATE envelopes SET status = 'declined', completed_at = ? WHERE id = ?",
                    (a.at, a.envelope_id),
                )
            _enqueue(con, events)

        self._write(put)

    # -- signer links and envelope terms (schema 10) -------------------------------------------

    def insert_envelope_with_links(
        self,
        envelope: StoredEnvelope,
        document: bytes,
        terms: StoredTerms,
        links: Sequence[StoredLink],
        events: Sequence[OutboxEvent],
    ) -> None:
        def put(con: SqlConnection) -> None:
            _insert_envelope(con, envelope, document, self.dialect)
            con.execute(
                "INSERT INTO envelope_terms (envelope_id, expires_at, ended_reason, ended_at) "
                "VALUES (?, ?, ?, ?)",
                (envelope.id, terms.expires_at, terms.ended_reason, terms.ended_at),
            )
            con.executemany(
                f"INSERT INTO envelope_links ({_LINK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(k.token_hash, k.envelope_id, k.position, k.kind, k.name, k.email, k.fields,
                  k.session, k.rev) for k in links],
            )  # fmt: skip
            _enqueue(con, events)

        self._write(put)

    def envelope_terms(self, envelope_id: str) -> StoredTerms | None:
        row = (
            self._read()
            .execute(
                "SELECT envelope_id, expires_at, ended_reason, ended_at FROM envelope_terms "
                "WHERE envelope_id = ?",
                (envelope_id,),
            )
            .fetchone()
        )
        return None if row is None else StoredTerms(row[0], row[1], row[2], row[3])

    def link(self, token_hash: bytes) -> StoredLink | None:
        row = (
            self._read()
            .execute(f"SELECT {_LINK_COLS} FROM envelope_links WHERE token_hash = ?",
                     (token_hash,))
            .fetchone()
        )  # fmt: skip
        return None if row is None else _link(row)

    def links(self, envelope_id: str) -> list[StoredLink]:
        rows = self._read().execute(
            f"SELECT {_LINK_COLS} FROM envelope_links WHERE envelope_id = ? ORDER BY position",
            (envelope_id,),
        )
        return [_link(r) for r in rows]

    def update_link(
        self, token_hash: bytes, rev: int, session: str, events: Sequence[OutboxEvent]
    ) -> None:
        def put(con: SqlConnection) -> None:
            cur = con.execute(
                "UPDATE envelope_links SET session = ?, rev = rev + 1 "
                "WHERE token_hash = ? AND rev = ?",
                (session, token_hash, rev),
            )
            if cur.rowcount != 1:
                raise ConflictError("the signing link changed meanwhile: try again")
            _enqueue(con, events)

        self._write(put)

    def expiring_envelope_ids(self, before: str, limit: int = 100) -> list[str]:
        rows = self._read().execute(
            "SELECT t.envelope_id FROM envelope_terms t JOIN envelopes e ON e.id = t.envelope_id "
            "WHERE e.status = 'open' AND t.expires_at IS NOT NULL AND t.expires_at <= ? "
            "ORDER BY t.expires_at, t.envelope_id LIMIT ?",
            (before, limit),
        )
        return [r[0] for r in rows]

    def replace_link_token(
        self, old_hash: bytes, new_hash: bytes, events: Sequence[OutboxEvent]
    ) -> None:
        def put(con: SqlConnection) -> None:
            cur = con.execute(
                "UPDATE envelope_links SET token_hash = ?, rev = rev + 1 WHERE token_hash = ?",
                (new_hash, old_hash),
            )
            if cur.rowcount != 1:
                raise ConflictError("the signing link changed meanwhile: try again")
            _enqueue(con, events)

        self._write(put)

    def end_envelope(
        self, envelope_id: str, status: str, reason: str | None, at: str,
        events: Sequence[OutboxEvent],
    ) -> None:  # fmt: skip
        def put(con: SqlConnection) -> None:
            cur = con.execute(
                "UPDATE envelopes SET status = ?, completed_at = ? WHERE id = ? "
                "AND status = 'open'",
                (status, at, envelope_id),
            )
            if cur.rowcount != 1:
                raise ConflictError(f"envelope {envelope_id} is no longer open")
            con.execute(
                "INSERT INTO envelope_terms (envelope_id, expires_at, ended_reason, ended_at) "
                "VALUES (?, NULL, ?, ?) ON CONFLICT (envelope_id) DO UPDATE SET "
                "ended_reason = excluded.ended_reason, ended_at = excluded.ended_at",
                (envelope_id, reason, at),
            )
            _enqueue(con, events)

        self._write(put)

    def commit_link_signature(self, commit: SignatureCommit, events: Sequence[OutboxEvent]) -> None:
        def put(con: SqlConnection) -> None:
            _update_signed(con, commit)
            _enqueue(con, events)

        self._write(put)
