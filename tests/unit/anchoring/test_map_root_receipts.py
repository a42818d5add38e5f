"""Offline checks of anchor receipts' map roots (``anchors.map_root``) for checkpoints before
the map, on either contract version; and the schema-7 migration of stored anchors."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

from sealtrail.anchoring.store import StoredAnchor
from sealtrail.backend import open_sqlite
from sealtrail.core.canonical import canonicalize_restricted
from sealtrail.core.note import Checkpoint
from sealtrail.core.vmap import map_extension
from sealtrail.ledger.sqlite_db import SCHEMA_VERSION
from sealtrail.verifier import layout
from sealtrail.verifier.checkrun import CheckRun
from sealtrail.verifier.external_checks import check_anchors

ORIGIN = "example.org/log"
MAP = hashlib.sha256(b"map").digest()


def _receipt(size: int, root: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "status": "final", "chain_id": 1337, "contract": "0x" + "12" * 20,
        "log_id": "0x" + hashlib.sha256(ORIGIN.encode()).hexdigest(), "tree_size": size,
        "root": "0x" + root.hex(), "tx_hash": "0x" + "34" * 32, "block_number": 9,
        "block_hash": "0x" + "56" * 32, "log_index": 0, "confirmations": 3, "final_at": "t",
        **extra,
    }  # fmt: skip


def _run(cps: list[Checkpoint], receipts: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    files = {layout.anchor_name(r["tree_size"]): canonicalize_restricted(r) for r in receipts}
    run = CheckRun(files)
    m = {"checkpoints": [{"size": c.size, "anchor": "final"} for c in cps]}
    check_anchors(run, m, {c.size: (b"", c) for c in cps}, None)
    return {c.id: (c.status.value, c.reason) for c in run.checks}


def test_before_the_map_is_fine_on_either_version() -> None:
    cps = [Checkpoint(ORIGIN, 1, b"\x01" * 32), Checkpoint(ORIGIN, 2, b"\x02" * 32)]
    for extra in ({}, {"contract_version": 1, "map_root": None}):
        got = _run(cps, [_receipt(1, b"\x01" * 32, **extra), _receipt(2, b"\x02" * 32, **extra)])
        assert got["anchors.map_root"] == ("passed", "ok")
    got = _run(cps, [_receipt(c.size, c.root, contract_version=2, map_root=None) for c in cps])
    assert got["anchors.map_root"] == ("passed", "ok")
    # a v2 receipt claiming a map root for a note without the line
    got = _run(cps[:1], [_receipt(1, b"\x01" * 32, contract_version=2, map_root="0x" + MAP.hex())])
    assert got["anchors.map_root"] == ("failed", "map_root_mismatch")


def test_mixed_before_and_after_the_map() -> None:
    before = Checkpoint(ORIGIN, 1, b"\x01" * 32)
    after = Checkpoint(ORIGIN, 2, b"\x02" * 32, (map_extension(MAP),))
    ok = [
        _receipt(1, before.root, contract_version=2, map_root=None),
        _receipt(2, after.root, contract_version=2, map_root="0x" + MAP.hex()),
    ]
    assert _run([before, after], ok)["anchors.map_root"] == ("passed", "ok")
    v1 = [_receipt(1, before.root), _receipt(2, after.root)]
    assert _run([before, after], v1)["anchors.map_root"] == (
        "not_checked",
        "map_root_not_anchored",
    )


def test_a_malformed_map_line_in_a_note_fails_the_map_root_check() -> None:
    cp = Checkpoint(ORIGIN, 1, b"\x01" * 32, ("sealtrail-map/v1 not-base64",))
    got = _run([cp], [_receipt(1, cp.root, contract_version=2, map_root=None)])
    assert got["anchors.map_root"] == ("failed", "map_root_mismatch")


def test_anchors_of_a_version_6_database_read_as_contract_version_1(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    stores = open_sqlite(db)
    a = StoredAnchor(1, "final", 1337, "0x" + "00" * 20, b"\x01" * 32, b"\x02" * 32,
                     created_at="t", updated_at="t")  # fmt: skip
    stores.anchors.put_anchor(a)
    stores.close()
    con = sqlite3.connect(db)  # as Sealtrail before schema 7 left it
    con.execute("ALTER TABLE anchors DROP COLUMN contract_version")
    con.execute("ALTER TABLE anchors DROP COLUMN map_root")
    con.execute("PRAGMA user_version = 6")
    con.commit()
    con.close()
    stores = open_sqlite(db)
    try:
        got = stores.anchors.anchor(1)
        assert got == a
        assert got is not None
        assert (got.contract_version, got.map_root) == (1, None)
        v2 = replace(a, size=2, root=b"\x03" * 32, contract_version=2, map_root=MAP)
        stores.anchors.put_anchor(v2)
        assert stores.anchors.anchor(2) == v2
    finally:
        stores.close()
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
