"""Fixtures shared by every test: a fixed clock, deterministic salts, integrator events, and
ledgers on real SQLite data directories that are re-audited in full when the test ends
(after Sunlight: every mutating test ends with a full audit of the log)."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sealtrail import backend
from sealtrail.backend import SQLITE_PARTS, Stores, sqlite_stores
from sealtrail.core.event import EventInput, format_time, parse_event_input
from sealtrail.ledger.audit import audit
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.sqlite_db import SQLiteDatabase
from sealtrail.ledger.sqlite_store import SQLiteLedgerStore
from tests.pg import pg_cluster, pg_db_url, pg_url  # noqa: F401 - fixtures (real PostgreSQL)


class SQLiteLedger(SQLiteLedgerStore):
    """The ledger's store on a SQLite file laid out with every domain's tables (``db`` is the
    shared handle the other domains' stores take)."""

    def __init__(self, path: Path, *, busy_timeout: float = 10.0) -> None:
        super().__init__(SQLiteDatabase(path, SQLITE_PARTS, busy_timeout=busy_timeout))


def stores_of(ledger: Ledger) -> Stores:
    """Every domain's store on the SQLite database of ``ledger`` (its store's shared handle)."""
    store = ledger.store
    assert isinstance(store, SQLiteLedgerStore)
    return sqlite_stores(store.db)


FIXED_TIME = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
FIXED_TIME_TEXT = format_time(FIXED_TIME)  # the normal form stored in events
DOC_SHA256 = hashlib.sha256(b"contract c.pdf").hexdigest()


def fixed_clock() -> datetime:
    """The clock every test ledger reads: always FIXED_TIME."""
    return FIXED_TIME


def counting_random() -> Callable[[int], bytes]:
    """Deterministic, distinct 'random' bytes: SHA-256 of a counter (thread-safe under the GIL)."""
    counter = itertools.count()

    def random_bytes(n: int) -> bytes:
        return hashlib.shake_256(next(counter).to_bytes(8, "big")).digest(n)

    return random_bytes


def event_obj(
    cid: str | None = "erp-1", *, stream: str = "contract:1", etype: str = "sign", **extra: Any
) -> dict[str, Any]:
    """An integrator event object (docs/FORMAT.md §Events) with the given client event id."""
    obj: dict[str, Any] = {
        "stream": stream,
        "type": etype,
        "actor": {"id": "u-42", "name": "Li Lei"},
        "documents": [{"name": "c.pdf", "sha256": DOC_SHA256}],
        "occurred_at": "2026-11-24T10:00:00Z",
        "attributes": {"ip": "203.0.113.7"},
    }
    if cid is not None:
        obj["client_event_id"] = cid
    obj.update(extra)
    return obj


def event_input(cid: str | None = "erp-1", **kw: Any) -> EventInput:
    """:func:`event_obj`, validated."""
    return parse_event_input(event_obj(cid, **kw))


def assert_audit_ok(ledger: Ledger) -> None:
    """Re-audit the whole log of ``ledger`` and fail with every problem found."""
    report = audit(ledger.store, ledger.verifier)
    assert report.ok, [p.to_json() for p in report.problems]
    assert report.size == ledger.size()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An initialised data directory (key + empty ledger.db)."""
    d = tmp_path / "data"
    backend.init(d)
    return d


OpenLedger = Callable[..., Ledger]


@pytest.fixture
def open_ledger(data_dir: Path) -> Iterator[OpenLedger]:
    """Open a Ledger (own SQLite stores) on ``data_dir``; each is audited, then closed, at teardown.

    Call with ``audit_at_end=False`` for ledgers the test tampers with.
    """
    opened: list[tuple[Ledger, bool]] = []

    def factory(*, busy_timeout: float = 10.0, audit_at_end: bool = True) -> Ledger:
        stores, signer = backend.open_store(data_dir, busy_timeout=busy_timeout)
        ledger = Ledger(stores.ledger, signer, clock=fixed_clock, random_bytes=counting_random())
        opened.append((ledger, audit_at_end))
        return ledger

    yield factory
    try:
        for ledger, check in opened:
            if check:
                stores, signer = backend.open_store(data_dir)
                try:
                    report = audit(stores.ledger, signer.verifier())
                finally:
                    stores.close()
                assert report.ok, [p.to_json() for p in report.problems]
                break  # one audit of the shared data directory is enough
    finally:
        for ledger, _ in opened:
            ledger.close_sync()


@pytest.fixture
def ledger(open_ledger: OpenLedger) -> Ledger:
    """A Ledger on a fresh data directory, audited when the test ends."""
    return open_ledger()


@contextlib.contextmanager
def write_lock_held(db: Path) -> Iterator[None]:
    """Another process holds the SQLite write lock on ``db`` (BEGIN IMMEDIATE) while inside."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, time\n"
            f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait()
