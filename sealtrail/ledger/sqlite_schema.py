"""The SQLite schema of the ledger database — every table, the migrations from older versions
(applied by :class:`~sealtrail.ledger.sqlite_store.SQLiteStore` in one transaction on open) —
and the mapping between its rows and the store's records."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any, TypeVar

from sealtrail.core.errors import (
    StorageError,
)
from sealtrail.core.event import Event
from sealtrail.core.merkle import HASH_SIZE, NodeId
from sealtrail.ledger.store import (
    ApiKey,
    StoredAnchor,
    StoredCheckpoint,
    TimestampRecord,
    subtree_location,
)

T = TypeVar("T")
SCHEMA_VERSION = 4

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

# -- electronic seals (issue 6; sealtrail.seals.registry, approvals, envelopes) ------------
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
# -- several service processes on one database (issue 8; sealtrail.ledger.coordination) -------
_COORDINATION = """
CREATE TABLE IF NOT EXISTS leases (
    name       TEXT PRIMARY KEY,          -- e.g. 'sequencer'
    holder     TEXT NOT NULL,             -- the process holding it (unique per process start)
    epoch      INTEGER NOT NULL,          -- fencing token: +1 whenever it changes hands
    expires_at REAL NOT NULL              -- Unix seconds, by the holder's clock
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS append_queue (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,  -- queue order
    ticket    TEXT NOT NULL UNIQUE,
    tenant    TEXT NOT NULL,
    body      BLOB NOT NULL,              -- JSON array of event inputs
    queued_at TEXT NOT NULL,
    result    BLOB,                       -- JSON outcome, set when the sequencer appended it
    done_at   TEXT
);
CREATE INDEX IF NOT EXISTS append_queue_waiting ON append_queue (seq) WHERE result IS NULL;
"""
#: schema changes from each older version to the next, applied in one transaction on open
_MIGRATIONS = {1: _ANCHORS, 2: _SEALS, 3: _COORDINATION}

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
