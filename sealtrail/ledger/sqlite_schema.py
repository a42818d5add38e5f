"""The ledger's SQLite schema parts — the log (``meta``, ``events``, ``documents``,
``checkpoints``) and the coordination tables (``leases``, ``append_queue``) — and the mapping
between their rows and the ledger's records. The other domains register their own parts
(:class:`~sealtrail.ledger.sqlite_db.SchemaPart`) next to their stores."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any, TypeVar

from sealtrail.core.errors import (
    StorageError,
)
from sealtrail.core.event import Event
from sealtrail.core.merkle import HASH_SIZE, NodeId
from sealtrail.ledger.sqlite_db import SCHEMA_VERSION, SchemaPart
from sealtrail.ledger.store import StoredCheckpoint, subtree_location

T = TypeVar("T")
__all__ = [
    "CHECKPOINT_COLS",
    "COORDINATION_PART",
    "LEDGER_PART",
    "SCHEMA_VERSION",
    "checkpoint_from_row",
]
#: the columns :func:`checkpoint_from_row` reads
CHECKPOINT_COLS = "size, root, note, created_at"

_LEDGER_DDL = """
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
CREATE TABLE IF NOT EXISTS checkpoints (
    size       INTEGER PRIMARY KEY,
    root       BLOB NOT NULL,
    note       TEXT NOT NULL,             -- the signed note, verbatim
    created_at TEXT NOT NULL
);
"""

# -- several service processes on one database (issue 8; sealtrail.ledger.coordination) -------
_COORDINATION_DDL = """
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

#: the log: settings, events, the look-up-by-document index, checkpoints (schema version 1)
LEDGER_PART = SchemaPart("ledger", 1, _LEDGER_DDL)
#: leases and the append queue (schema version 4)
COORDINATION_PART = SchemaPart("coordination", 4, _COORDINATION_DDL)

_EVENT_COLS = "idx, tenant, stream, client_event_id, body, leaf_hash, type, actor_id, recorded_at"
_N_EVENT_COLS = 9


def _event(row: tuple[Any, ...]) -> Event:
    return Event(
        row[0], row[1], row[2], row[3], bytes(row[4]), bytes(row[5]), row[6], row[7], row[8]
    )


def _fp(sha256: bytes) -> int:
    return int.from_bytes(sha256[:8], "big", signed=True)


def _names(event: Event, sha256: bytes) -> bool:
    """True when the event really names this document (the index keys only a prefix)."""
    hexdigest = sha256.hex()
    return any(d["sha256"] == hexdigest for d in event.body()["documents"])


def checkpoint_from_row(row: tuple[int, bytes, str, str]) -> StoredCheckpoint:
    """A checkpoint from the columns ``size, root, note, created_at``."""
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
