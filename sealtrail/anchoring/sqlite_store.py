"""Anchoring's stores on SQLite: RFC 3161 timestamps (table ``timestamps``, schema version 1)
and chain anchors (table ``anchors``, version 2; its columns ``contract_version`` and
``map_root``, version 7) of the ledger's checkpoints, on the shared
:class:`~sealtrail.ledger.sqlite_db.SQLiteDatabase`.

The SQL is shared with PostgreSQL (:mod:`.pg_store` subclasses these stores): it keeps to what
both dialects mean alike (:mod:`~sealtrail.ledger.sql_dialect`), and the two places where they
differ are attributes of the store — :attr:`SQLiteTimestampStore.dialect` (row locks, the
integrity error) and :meth:`SQLiteTimestampStore.check_fence`.

Reads join the ledger's ``checkpoints`` table (what is not stamped / anchored yet). A fenced
write checks the sequencer lease inside its own ``BEGIN IMMEDIATE`` transaction
(:func:`~sealtrail.ledger.sqlite_coordination.check_fence`), so a process that lost the lease
never writes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sealtrail.anchoring.store import StoredAnchor, TimestampRecord
from sealtrail.core.errors import ConflictError
from sealtrail.ledger.sql_dialect import SQLITE, Dialect, SqlConnection, upsert
from sealtrail.ledger.sqlite_coordination import check_fence
from sealtrail.ledger.sqlite_db import SchemaPart, SQLiteDatabase
from sealtrail.ledger.sqlite_schema import checkpoint_from_row as _checkpoint
from sealtrail.ledger.store import Lease, StoredCheckpoint

_TIMESTAMPS_DDL = """
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
"""
_ANCHORS_DDL = """
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

# Version 7: which contract version an anchor went to, and the map root it anchored (version 2
# contracts). A new database runs this after the version-2 part (parts run in version order),
# an older one in its upgrade transaction: the same statements either way. Anchors stored
# before were all made on version 1, which anchors no map root: the defaults say so.
_ANCHORS_V7_DDL = """
ALTER TABLE anchors ADD COLUMN contract_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE anchors ADD COLUMN map_root BLOB;
"""

# Version 9 (8 is the webhooks'): renewals of checkpoint tokens, an archive chain per checkpoint
# (docs/TIMESTAMPS.md §8). Row k of a size timestamps the note and tokens 0..k-1.
_RENEWALS_V9_DDL = """
CREATE TABLE IF NOT EXISTS timestamp_renewals (
    size       INTEGER NOT NULL REFERENCES timestamps (size),
    k          INTEGER NOT NULL,          -- 1 for the first renewal
    token      BLOB NOT NULL,             -- RFC 3161 TimeStampToken (DER)
    gen_time   TEXT NOT NULL,
    tsa        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (size, k)
);
"""

#: RFC 3161 timestamps of checkpoints (schema version 1)
TIMESTAMPS_PART = SchemaPart("timestamps", 1, _TIMESTAMPS_DDL)
#: anchoring states of checkpoints (schema version 2)
ANCHORS_PART = SchemaPart("anchors", 2, _ANCHORS_DDL)
#: the contract version and map root of each anchor (schema version 7)
ANCHORS_V7_PART = SchemaPart("anchors-v7", 7, _ANCHORS_V7_DDL)
#: renewals of checkpoint tokens (schema version 9)
RENEWALS_V9_PART = SchemaPart("timestamp-renewals-v9", 9, _RENEWALS_V9_DDL)

_TS_COLS = "size, token, gen_time, serial, tsa, attempts, last_error, updated_at"


def _ts(row: tuple[Any, ...], renewals: tuple[bytes, ...] = ()) -> TimestampRecord:
    token = None if row[1] is None else bytes(row[1])
    return TimestampRecord(row[0], token, row[2], row[3], row[4], row[5], row[6], row[7], renewals)


_ANCHOR_COLS = (
    "size, status, chain_id, contract, log_id, root, tx_hash, tx_hashes, nonce, raw, max_fee, "
    "priority_fee, gas_limit, sent_at, block_number, block_hash, log_index, gas_used, "
    "effective_gas_price, confirmations, attempts, last_error, created_at, updated_at, final_at, "
    "contract_version, map_root"
)
#: insert an anchor, or overwrite every column of the one stored for its size
_PUT_ANCHOR = upsert("anchors", _ANCHOR_COLS.split(", "), ["size"])


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
        contract_version=int(r[25]),
        map_root=_bytes_or_none(r[26]),
    )


def _anchor_row(a: StoredAnchor) -> tuple[Any, ...]:
    def text(v: int | None) -> str | None:
        return None if v is None else str(v)

    return (
        a.size, a.status, a.chain_id, a.contract, a.log_id, a.root, a.tx_hash,
        b"".join(a.tx_hashes), a.nonce, a.raw, text(a.max_fee), text(a.priority_fee),
        a.gas_limit, a.sent_at, a.block_number, a.block_hash, a.log_index, a.gas_used,
        text(a.effective_gas_price), a.confirmations, a.attempts, a.last_error, a.created_at,
        a.updated_at, a.final_at, a.contract_version, a.map_root,
    )  # fmt: skip


class SQLiteTimestampStore:
    """The timestamps of checkpoints in the shared SQLite database."""

    #: the SQL dialect's peculiarities (row locks, integrity errors)
    dialect: Dialect = SQLITE

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    def check_fence(self, con: SqlConnection, lease: Lease) -> None:
        """LeaseLostError unless ``lease`` is still held (inside ``con``'s write transaction)."""
        check_fence(con, lease)  # type: ignore[arg-type]

    def timestamp(self, size: int) -> TimestampRecord | None:
        row = (
            self.db.read()
            .execute(f"SELECT {_TS_COLS} FROM timestamps WHERE size = ?", (size,))
            .fetchone()
        )
        if row is None:
            return None
        found = self.db.read().execute(
            "SELECT token FROM timestamp_renewals WHERE size = ? ORDER BY k", (size,)
        )
        return _ts(row, tuple(bytes(r[0]) for r in found))

    def untimestamped(self, limit: int = 100) -> list[StoredCheckpoint]:
        rows = self.db.read().execute(
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
        def put(con: SqlConnection) -> None:
            if fence is not None:
                self.check_fence(con, fence)
            con.execute(
                "INSERT INTO timestamps (size, token, gen_time, serial, tsa, attempts, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 1, ?) ON CONFLICT (size) DO UPDATE SET "
                "token = excluded.token, gen_time = excluded.gen_time, serial = excluded.serial, "
                "tsa = excluded.tsa, attempts = timestamps.attempts + 1, last_error = NULL, "
                "updated_at = excluded.updated_at WHERE timestamps.token IS NULL",
                (size, token, gen_time, str(serial), tsa, at),
            )

        self.db.write(put)

    def timestamp_failed(
        self, size: int, error: str, at: str, *, fence: Lease | None = None
    ) -> None:
        def put(con: SqlConnection) -> None:
            if fence is not None:
                self.check_fence(con, fence)
            con.execute(
                "INSERT INTO timestamps (size, attempts, last_error, updated_at) "
                "VALUES (?, 1, ?, ?) ON CONFLICT (size) DO UPDATE SET "
                "attempts = timestamps.attempts + 1, last_error = excluded.last_error, "
                "updated_at = excluded.updated_at WHERE timestamps.token IS NULL",
                (size, error[:1000], at),
            )

        self.db.write(put)

    def timestamps(self) -> list[TimestampRecord]:
        con = self.db.read()
        renewals: dict[int, list[bytes]] = {}
        for size, token in con.execute(
            "SELECT size, token FROM timestamp_renewals ORDER BY size, k"
        ):
            renewals.setdefault(size, []).append(bytes(token))
        rows = con.execute(f"SELECT {_TS_COLS} FROM timestamps ORDER BY size")
        return [_ts(r, tuple(renewals.get(r[0], ()))) for r in rows]

    def add_renewal(
        self,
        size: int,
        index: int,
        token: bytes,
        gen_time: str,
        tsa: str,
        at: str,
        *,
        fence: Lease | None = None,
    ) -> None:
        def put(con: SqlConnection) -> None:
            if fence is not None:
                self.check_fence(con, fence)
            # the stamped row, locked: a concurrent renewal of this size waits here
            stamped = con.execute(
                "SELECT 1 FROM timestamps WHERE size = ? AND token IS NOT NULL"
                + self.dialect.for_update,
                (size,),
            ).fetchone()
            held = con.execute(
                "SELECT count(*) FROM timestamp_renewals WHERE size = ?", (size,)
            ).fetchone()[0]
            if stamped is None or held != index - 1:
                raise ConflictError(
                    f"checkpoint {size}: renewal {index} does not extend a chain of {held} "
                    f"renewals{'' if stamped else ' (not stamped)'}"
                )
            try:
                con.execute(
                    "INSERT INTO timestamp_renewals (size, k, token, gen_time, tsa, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (size, index, token, gen_time, tsa, at),
                )
            except self.dialect.integrity_error as e:
                raise ConflictError(f"checkpoint {size}: renewal {index} is stored already") from e

        self.db.write(put)


class SQLiteAnchorStore:
    """The anchoring states of checkpoints in the shared SQLite database."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    def check_fence(self, con: SqlConnection, lease: Lease) -> None:
        """LeaseLostError unless ``lease`` is still held (inside ``con``'s write transaction)."""
        check_fence(con, lease)  # type: ignore[arg-type]

    def anchor(self, size: int) -> StoredAnchor | None:
        """The anchoring state of checkpoint ``size``, or None if anchoring never began."""
        row = (
            self.db.read()
            .execute(f"SELECT {_ANCHOR_COLS} FROM anchors WHERE size = ?", (size,))
            .fetchone()
        )
        return None if row is None else _anchor(row)

    def anchors(self, statuses: Collection[str] | None = None) -> list[StoredAnchor]:
        """Anchoring states (of these statuses, default all), by size."""
        if statuses is None:
            rows = self.db.read().execute(f"SELECT {_ANCHOR_COLS} FROM anchors ORDER BY size")
        elif not statuses:  # SQLite reads "IN ()" as false; PostgreSQL refuses it
            return []
        else:
            marks = ", ".join("?" * len(statuses))
            rows = self.db.read().execute(
                f"SELECT {_ANCHOR_COLS} FROM anchors WHERE status IN ({marks}) ORDER BY size",
                tuple(statuses),
            )
        return [_anchor(r) for r in rows]

    def anchored_size(self, statuses: Collection[str] = ("final",)) -> int:
        """The largest checkpoint size with an anchor in one of ``statuses`` (0 if none)."""
        if not statuses:
            return 0
        marks = ", ".join("?" * len(statuses))
        row = (
            self.db.read()
            .execute(f"SELECT max(size) FROM anchors WHERE status IN ({marks})", tuple(statuses))
            .fetchone()
        )
        return 0 if row[0] is None else int(row[0])

    def put_anchor(self, anchor: StoredAnchor, *, fence: Lease | None = None) -> None:
        """Insert or replace the anchoring state of one checkpoint, durably (with ``fence``:
        only while that sequencer lease is held, else LeaseLostError)."""

        def put(con: SqlConnection) -> None:
            if fence is not None:
                self.check_fence(con, fence)
            con.execute(_PUT_ANCHOR, _anchor_row(anchor))

        self.db.write(put)

    def unanchored(self, after: int = 0, limit: int = 100) -> list[StoredCheckpoint]:
        """Checkpoints larger than ``after`` that are not on their way to the chain (no anchor
        row, or one in ``pending``, ``retry`` or ``failed``), by size."""
        rows = self.db.read().execute(
            "SELECT c.size, c.root, c.note, c.created_at FROM checkpoints c "
            "LEFT JOIN anchors a ON a.size = c.size WHERE c.size > ? AND "
            "(a.status IS NULL OR a.status IN ('pending', 'retry', 'failed')) "
            "ORDER BY c.size LIMIT ?",
            (after, limit),
        )
        return [_checkpoint(r) for r in rows]

    def oldest_unfinal(self) -> tuple[int, StoredCheckpoint | None]:
        """How many checkpoints are not anchored ``final`` yet, and the oldest of them."""
        con = self.db.read()
        where = (
            "FROM checkpoints c LEFT JOIN anchors a ON a.size = c.size "
            "WHERE a.status IS NULL OR a.status != 'final'"
        )
        count = con.execute(f"SELECT count(*) {where}").fetchone()[0]
        row = con.execute(
            f"SELECT c.size, c.root, c.note, c.created_at {where} ORDER BY c.size LIMIT 1"
        ).fetchone()
        return int(count), None if row is None else _checkpoint(row)
