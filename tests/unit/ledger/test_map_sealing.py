"""Sealing prepares the map before it takes the write lock (issue 14/20): appends made while
the map is prepared wait for nothing and go into the next checkpoint; a map that moved meanwhile
is caught and recomputed in the transaction; on SQLite the preparation can run in a child
process (``MapProcess``), and sealing falls back to this process when the child fails."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from sealtrail.core.note import NoteSigner, verify_checkpoint
from sealtrail.core.vmap import map_root_of
from sealtrail.ledger.audit import audit
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.map_process import MapProcess
from sealtrail.ledger.maps import MapDraft, prepare_map, store_draft_nodes
from sealtrail.ledger.store import LedgerStore

from .test_map_ledger import _expected_root, _fill, _open


def _map_root(ledger: Ledger, signer: NoteSigner, note: str) -> bytes | None:
    return map_root_of(verify_checkpoint(note, signer.verifier()).extensions)


class AppendingPreparer:
    """Prepares in this process, but appends events while doing so (as the sequencer would)."""

    def __init__(self, ledger: Ledger, extra: int) -> None:
        self.ledger, self.extra, self.sizes = ledger, extra, []

    def prepare(self, store: LedgerStore, size: int) -> MapDraft:
        _fill(self.ledger, 1000 + len(self.sizes) * 100, self.extra)  # during the preparation
        self.sizes.append(size)
        assert store.maps is not None
        draft = prepare_map(store, store.maps, size)
        store_draft_nodes(store, store.maps, draft)
        return draft


def test_events_appended_while_the_map_is_prepared_go_into_the_next_checkpoint(
    tmp_path: Path,
) -> None:
    signer = NoteSigner.generate("test.example/log")
    ledger = _open(tmp_path / "l.db", signer)
    _fill(ledger, 0, 5)
    ledger.map_preparer = p = AppendingPreparer(ledger, 3)
    cp, new = ledger.seal()
    assert new
    assert cp is not None
    assert cp.size == 5  # what the map was prepared for, not the 8 events there are now
    assert ledger.size() == 8
    assert _map_root(ledger, signer, cp.note) == _expected_root(ledger, 5)
    cp2, _ = ledger.seal()
    assert cp2 is not None
    assert (cp2.size, p.sizes) == (8, [5, 8])
    assert _map_root(ledger, signer, cp2.note) == _expected_root(ledger, 8)
    report = audit(ledger.store, signer.verifier())
    assert report.ok, report.problems


class StalePreparer:
    """Returns a draft computed from a map that another sealing has since moved."""

    def __init__(self, draft: MapDraft) -> None:
        self.draft = draft

    def prepare(self, store: LedgerStore, size: int) -> MapDraft:
        return self.draft


def test_a_draft_from_a_map_that_moved_is_not_committed(tmp_path: Path) -> None:
    signer = NoteSigner.generate("test.example/log")
    ledger = _open(tmp_path / "l.db", signer)
    _fill(ledger, 0, 4)
    maps = ledger.store.maps
    assert maps is not None
    stale = prepare_map(ledger.store, maps, 4)  # from the empty map, for 4 events
    ledger.seal()  # the map moves to 4
    _fill(ledger, 4, 4)
    # a draft "for size 8" whose base is the empty map: committing it would drop events 0..3's
    # keys' history; the ledger must notice and bring the map forward in the transaction
    forged = MapDraft(0, stale.base_root, 8, stale.root, {}, stale.values, 0.0)
    ledger.map_preparer = StalePreparer(forged)
    cp, _ = ledger.seal()
    assert cp is not None
    assert cp.size == 8
    assert _map_root(ledger, signer, cp.note) == _expected_root(ledger, 8)


def test_the_map_process_prepares_in_a_child_and_survives_its_death(tmp_path: Path) -> None:
    signer = NoteSigner.generate("test.example/log")
    ledger = _open(tmp_path / "l.db", signer)
    mp = MapProcess(tmp_path / "l.db")
    ledger.map_preparer = mp
    try:
        _fill(ledger, 0, 6)
        cp, _ = ledger.seal()
        assert cp is not None
        assert _map_root(ledger, signer, cp.note) == _expected_root(ledger, 6)
        pool = mp._pool
        assert pool is not None
        pids = list(pool._processes)  # the child that prepared it
        assert pids
        assert os.getpid() not in pids
        for pid in pids:
            os.kill(pid, signal.SIGKILL)  # a crashed child (out of memory, killed)
        _fill(ledger, 6, 5)
        cp2, _ = ledger.seal()  # falls back to this process
        assert cp2 is not None
        assert _map_root(ledger, signer, cp2.note) == _expected_root(ledger, 11)
        _fill(ledger, 11, 2)
        cp3, _ = ledger.seal()  # and a new child the next time
        assert cp3 is not None
        assert _map_root(ledger, signer, cp3.note) == _expected_root(ledger, 13)
        assert mp._pool is not None
        assert audit(ledger.store, signer.verifier()).ok
    finally:
        mp.close()


def test_the_map_process_falls_back_when_the_child_cannot_open_the_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    signer = NoteSigner.generate("test.example/log")
    ledger = _open(tmp_path / "l.db", signer)
    (tmp_path / "not-a-db").write_bytes(b"garbage" * 100)
    mp = MapProcess(tmp_path / "not-a-db")
    ledger.map_preparer = mp
    try:
        _fill(ledger, 0, 3)
        cp, _ = ledger.seal()
        assert cp is not None
        assert _map_root(ledger, signer, cp.note) == _expected_root(ledger, 3)
        assert "preparing the map in this process" in caplog.text
    finally:
        mp.close()
