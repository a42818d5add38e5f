"""The audit streams the log: it reads at most a page of entries at a time, gives the same
report whatever the page size, keeps no operator state it has not checked (map nodes are
verified by hash), and itemises document index differences block by block.

One ledger of 1,000 events (40 streams of two tenants, a document per event, some shared,
checkpoints with map roots every 150 events) is built once; tests tamper with copies.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sealtrail import backend
from sealtrail.core.note import Checkpoint, sign_checkpoint, verify_checkpoint
from sealtrail.core.vmap import map_extension
from sealtrail.ledger import audit as audit_mod
from sealtrail.ledger import datadir
from sealtrail.ledger.audit import AuditReport, audit
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.store import Entry, LedgerStore
from tests.conftest import counting_random, event_input, fixed_clock

SIZE = 1000
SEAL_EVERY = 150


def _doc(n: int) -> str:
    return hashlib.sha256(f"doc {n}".encode()).hexdigest()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("audit-stream") / "data"
    backend.init(data_dir)
    store, signer = backend.open_store(data_dir)
    ledger = Ledger(store.ledger, signer, clock=fixed_clock, random_bytes=counting_random())
    for start in range(0, SIZE, 50):
        inputs = [
            event_input(
                f"erp-{i}",
                stream=f"contract:{i % 40}",
                documents=[{"name": "d.pdf", "sha256": _doc(i % 300)}],
            )
            for i in range(start, start + 50)
        ]
        ledger.append("acme" if start % 100 else "globex", inputs)
        if (start + 50) % SEAL_EVERY == 0 or start + 50 == SIZE:
            ledger.seal()
    store.close()
    return data_dir


@pytest.fixture
def data_dir(template: Path, tmp_path: Path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(template, d)
    return d


class PagedOnly:
    """A LedgerStore that records every range of entries the audit asks for."""

    def __init__(self, store: LedgerStore) -> None:
        self._store = store
        self.ranges: list[tuple[int, int | None]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[Entry]:
        self.ranges.append((start, end))
        return self._store.entries(start, end)


def run_audit(data_dir: Path, **kw: Any) -> tuple[AuditReport, PagedOnly]:
    store, signer = backend.open_store(data_dir)
    try:
        paged = PagedOnly(store.ledger)
        return audit(paged, signer.verifier(), **kw), paged  # type: ignore[arg-type]
    finally:
        store.close()


def tamper(data_dir: Path, sql: str, *params: Any) -> None:
    con = sqlite3.connect(data_dir / "ledger.db")
    try:
        with con:
            assert con.execute(sql, params).rowcount >= 1, sql
    finally:
        con.close()


def test_pages_of_7_give_the_same_report_and_never_ask_for_more(data_dir: Path) -> None:
    whole, _ = run_audit(data_dir)
    paged, store = run_audit(data_dir, page_size=7)
    assert whole.ok, whole.problems
    assert (whole.size, whole.checkpoints, whole.map_checked) == (SIZE, 7, 7)
    assert whole.streams == 80  # 40 stream names under each of two tenants
    assert paged.to_json() == whole.to_json()
    # Every read of the log names its end and spans at most 7 entries: the audit never holds
    # more than a page, whether checking events, the map or the document index.
    assert store.ranges
    assert all(end is not None and 0 < end - start <= 7 for start, end in store.ranges)
    covered = sorted(store.ranges)
    assert covered[0][0] == 0
    assert max(end for _, end in covered if end is not None) == SIZE


def test_bad_page_size_is_refused(data_dir: Path) -> None:
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="page_size"):
            run_audit(data_dir, page_size=bad)


def test_chain_break_across_pages(data_dir: Path) -> None:
    # Event 440 and the previous event of its stream (400) lie 40 entries apart: other pages.
    con = sqlite3.connect(data_dir / "ledger.db")
    (body,) = con.execute("SELECT body FROM events WHERE idx = 400").fetchone()
    con.close()
    forged = bytes(body).replace(b'"Li Lei"', b'"Li Lej"', 1)
    leaf = hashlib.sha256(b"\x00" + forged).digest()
    tamper(data_dir, "UPDATE events SET body = ?, leaf_hash = ? WHERE idx = 400", forged, leaf)
    report, _ = run_audit(data_dir, page_size=7)
    chain = [p for p in report.problems if p.code == "chain_broken"]
    assert [p.index for p in chain] == [440]
    assert f"want {leaf.hex()}" in chain[0].message


def test_duplicate_client_id_across_pages(data_dir: Path) -> None:
    # A late event of event 3's tenant, rewritten to reuse event 3's client event id (its
    # column cleared, so the store's unique index lets it in): hundreds of pages apart.
    con = sqlite3.connect(data_dir / "ledger.db")
    (tenant,) = con.execute("SELECT tenant FROM events WHERE idx = 3").fetchone()
    (other,) = con.execute(
        "SELECT MIN(idx) FROM events WHERE tenant = ? AND idx > 900", (tenant,)
    ).fetchone()
    (body_o,) = con.execute("SELECT body FROM events WHERE idx = ?", (other,)).fetchone()
    con.close()
    forged = bytes(body_o).replace(f'"erp-{other}"'.encode(), b'"erp-3"', 1)
    assert forged != bytes(body_o)
    tamper(
        data_dir,
        "UPDATE events SET body = ?, client_event_id = NULL WHERE idx = ?",
        forged,
        other,
    )
    report, _ = run_audit(data_dir, page_size=7)
    dup = [p for p in report.problems if p.code == "duplicate_client_id"]
    assert [p.index for p in dup] == [other]
    assert "already used by event 3" in dup[0].message


def _resign_map_root(data_dir: Path, size: int, forged_root: bytes) -> None:
    signer = datadir.load_signer(data_dir)
    con = sqlite3.connect(data_dir / "ledger.db")
    (note,) = con.execute("SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone()
    con.close()
    c = verify_checkpoint(note, signer.verifier())
    forged = sign_checkpoint(
        Checkpoint(c.origin, c.size, c.root, (map_extension(forged_root),)), signer
    )
    tamper(data_dir, "UPDATE checkpoints SET note = ? WHERE size = ?", forged, size)
    tamper(data_dir, "UPDATE map_root SET root = ? WHERE size = ?", forged_root, size)


def test_a_forged_middle_map_root_is_caught_and_later_ones_still_checked(data_dir: Path) -> None:
    _resign_map_root(data_dir, 450, hashlib.sha256(b"forged").digest())
    report, _ = run_audit(data_dir, page_size=7)
    assert [p.code for p in report.problems] == ["map_root_mismatch"], report.problems
    assert report.problems[0].message.startswith("checkpoint 450:")
    assert report.map_checked == 7


def test_missing_map_nodes_make_the_map_unverifiable(data_dir: Path) -> None:
    tamper(data_dir, "DELETE FROM map_node")
    report, _ = run_audit(data_dir, page_size=7)
    assert [p.code for p in report.problems] == ["map_unverifiable"]
    assert "checkpoint 300:" in report.problems[0].message
    assert "missing" in report.problems[0].message


def test_a_map_node_swapped_for_another_is_refused(data_dir: Path) -> None:
    con = sqlite3.connect(data_dir / "ledger.db")
    (root,) = con.execute("SELECT root FROM map_root WHERE size = 150").fetchone()
    con.close()
    # The root node of checkpoint 150 replaced by another internal node: hashes differ.
    tamper(
        data_dir,
        "UPDATE map_node SET node = (SELECT node FROM map_node WHERE hash != ? AND "
        "substr(node, 1, 1) = X'49' LIMIT 1) WHERE hash = ?",
        root,
        root,
    )
    report, _ = run_audit(data_dir)
    assert [p.code for p in report.problems] == ["map_unverifiable"]
    assert "does not hash to its key" in report.problems[0].message


def test_document_index_itemised_per_block(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Blocks of 4 indices: 12 rows deleted in 12 blocks; 8 blocks are itemised, 4 summarised.
    monkeypatch.setattr(audit_mod, "_DOC_BLOCK_BITS", 2)
    hit = [i * 40 + 1 for i in range(12)]
    for i in hit:
        tamper(data_dir, "DELETE FROM documents WHERE idx = ?", i)
    report, _ = run_audit(data_dir, page_size=7)
    assert {p.code for p in report.problems} == {"document_index_mismatch"}
    itemised = [p for p in report.problems if p.message.startswith("event ")]
    summary = [p for p in report.problems if p.message.startswith("events ")]
    assert [p.index for p in itemised] == hit[:8]
    assert all("lacks documents" in p.message for p in itemised)
    assert [p.index for p in summary] == [(i >> 2) << 2 for i in hit[8:]]
    assert "not itemised" in summary[0].message


def test_a_document_index_row_moved_to_another_event(data_dir: Path) -> None:
    # Same multiset size, same block: only the keyed hash tells the difference.
    tamper(data_dir, "UPDATE documents SET idx = 11 WHERE idx = 10")
    report, _ = run_audit(data_dir)
    got = {p.index: p.message for p in report.problems}
    assert set(got) == {10, 11}
    assert "lacks documents" in got[10]
    assert "lists documents" in got[11]
