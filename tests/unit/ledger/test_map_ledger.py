"""The verifiable map on the ledger: sealing commits to it, audit recomputes it, proofs are
served from storage (on every backend: SQLite, PostgreSQL — a real server, tests/pg.py — and
MongoDB — the nx-27017 stand-in unless ``SEALTRAIL_TEST_MONGODB_URI`` is set), and a version-5
SQLite database upgrades in place (issue 14). MongoDB's own cases (its upgrade, tampering with its
collections) are in test_mongo_map.py."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sealtrail import backend
from sealtrail.core.errors import NotFoundError
from sealtrail.core.event import EventInput
from sealtrail.core.note import (
    Checkpoint,
    NoteSigner,
    parse_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
)
from sealtrail.core.vmap import (
    document_key,
    key_hash,
    map_extension,
    map_root_of,
    stream_key,
    value_hash,
    verify_inclusion,
    verify_non_inclusion,
)
from sealtrail.core.vmap_log import map_items
from sealtrail.core.vmap_tree import root_of
from sealtrail.ledger.audit import audit
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.maps import map_proof
from sealtrail.ledger.sqlite_db import SCHEMA_VERSION
from tests.conftest import counting_random, event_input, fixed_clock
from tests.mongo import MongoServer, mongodb_server


def _doc(n: int) -> bytes:
    return hashlib.sha256(f"doc {n}".encode()).digest()


def _input(i: int, stream: str, docs: list[bytes]) -> EventInput:
    return event_input(
        f"c{i}", stream=stream, documents=[{"name": "d.pdf", "sha256": d.hex()} for d in docs]
    )


def _open(path: Path, signer: NoteSigner) -> Ledger:
    return Ledger(
        backend.open_sqlite(path).ledger,
        signer,
        clock=fixed_clock,
        random_bytes=counting_random(),
    )


@pytest.fixture(scope="module")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """One MongoDB (stand-in process) for the module's mongo tests, started on first use."""
    with mongodb_server(tmp_path_factory.mktemp("mongo")) as server:
        yield server


OpenLedger = Callable[[NoteSigner], Ledger]


@pytest.fixture(params=["mongo", "postgres", "sqlite"])
def open_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenLedger]:
    """Opens a ledger on a fresh database of each backend (the same one on every call)."""
    opened: list[backend.Stores] = []
    url = ""
    if request.param == "mongo":
        url = request.getfixturevalue("mongo_server").fresh_url()
    elif request.param == "postgres":
        url = request.getfixturevalue("pg_db_url")  # a real server (tests/pg.py)

    def open_one(signer: NoteSigner) -> Ledger:
        stores = backend.open_backend(tmp_path / "l.db", db_url=url or None)
        opened.append(stores)
        return Ledger(stores.ledger, signer, clock=fixed_clock, random_bytes=counting_random())

    yield open_one
    for stores in opened:
        stores.close()


def _fill(ledger: Ledger, start: int, n: int) -> None:
    for i in range(start, start + n):
        ledger.append("t1", [_input(i, f"s{i % 3}", [_doc(i % 4)])])


def _expected_root(ledger: Ledger, size: int) -> bytes:
    events = [e.event for e in ledger.store.entries(0, size)]
    return root_of({key_hash(k): value_hash(v) for k, v in map_items(events).items()})


def test_every_new_checkpoint_commits_to_the_map(open_ledger: OpenLedger) -> None:
    signer = NoteSigner.generate("test.example/log")
    ledger = open_ledger(signer)
    _fill(ledger, 0, 5)
    cp1, _ = ledger.seal()
    _fill(ledger, 5, 7)
    cp2, _ = ledger.seal()
    assert cp1 is not None
    assert cp2 is not None
    for cp in (cp1, cp2):
        parsed = verify_checkpoint(cp.note, signer.verifier())
        root = map_root_of(parsed.extensions)
        assert root == _expected_root(ledger, cp.size)
        assert ledger.store.maps is not None
        assert ledger.store.maps.root(cp.size) == root
    report = audit(ledger.store, signer.verifier())
    assert report.ok, report.problems
    assert (report.map_checked, report.before_map) == (2, 0)


def test_proofs_at_an_older_checkpoint_verify_after_later_updates(open_ledger: OpenLedger) -> None:
    signer = NoteSigner.generate("test.example/log")
    ledger = open_ledger(signer)
    _fill(ledger, 0, 6)
    old, _ = ledger.seal()
    _fill(ledger, 6, 6)
    ledger.seal()
    assert old is not None
    root = map_root_of(verify_checkpoint(old.note, signer.verifier()).extensions)
    assert root is not None
    for key in (stream_key("t1", "s0"), document_key(_doc(1))):
        ans = map_proof(ledger.store, old.size, key)
        assert ans.root == root
        assert ans.value is not None
        want = map_items([e.event for e in ledger.store.entries(0, old.size)])[key]
        assert ans.value == want  # the value then, not the current one
        verify_inclusion(root, key, ans.value, ans.proof)
    for key in (stream_key("t1", "nope"), document_key(_doc(99)), stream_key("t2", "s0")):
        ans = map_proof(ledger.store, old.size, key)
        assert ans.value is None
        verify_non_inclusion(root, key, ans.proof)


def test_a_map_root_re_signed_with_the_ledger_key_is_caught(tmp_path: Path) -> None:
    signer = NoteSigner.generate("test.example/log")
    path = tmp_path / "l.db"
    ledger = _open(path, signer)
    _fill(ledger, 0, 8)
    cp, _ = ledger.seal()
    assert cp is not None
    parsed = verify_checkpoint(cp.note, signer.verifier())
    forged_root = hashlib.sha256(b"a map without the last event").digest()
    forged = Checkpoint(parsed.origin, parsed.size, parsed.root, (map_extension(forged_root),))
    note = sign_checkpoint(forged, signer)  # the operator's own key: the signature is valid
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE checkpoints SET note = ? WHERE size = ?", (note, cp.size))
        con.execute("UPDATE map_root SET root = ? WHERE size = ?", (forged_root, cp.size))
    con.close()
    report = audit(ledger.store, signer.verifier())
    codes = [p.code for p in report.problems]
    assert codes == ["map_root_mismatch"], report.problems
    assert f"checkpoint {cp.size}" in report.problems[0].message


def test_a_version_5_ledger_upgrades_and_catches_up(tmp_path: Path) -> None:
    """An old ledger (checkpoints without map lines) audits clean, reports them as before the
    map, and upgrades in place; its next checkpoint's map covers all events so far."""
    signer = NoteSigner.generate("test.example/log")
    path = tmp_path / "l.db"
    ledger = _open(path, signer)
    _fill(ledger, 0, 4)
    cp, _ = ledger.seal()
    assert cp is not None
    # Make it what Sealtrail 5 wrote: no map tables, no map line, user_version 5.
    plain = sign_checkpoint(parse_checkpoint(_strip(cp.note, signer)), signer)
    ledger.close_sync()
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE checkpoints SET note = ?", (plain,))
        for t in ("map_node", "map_value", "map_root"):
            con.execute(f"DROP TABLE {t}")
        for column in ("contract_version", "map_root"):  # added by schema 7 (anchoring v2)
            con.execute(f"ALTER TABLE anchors DROP COLUMN {column}")
    con.execute("PRAGMA user_version = 5")
    con.close()
    ledger = _open(path, signer)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    report = audit(ledger.store, signer.verifier())
    assert report.ok, report.problems
    assert (report.before_map, report.map_checked) == (1, 0)
    _fill(ledger, 4, 3)
    cp2, _ = ledger.seal()
    assert cp2 is not None
    root = map_root_of(verify_checkpoint(cp2.note, signer.verifier()).extensions)
    assert root == _expected_root(ledger, cp2.size)
    report = audit(ledger.store, signer.verifier())
    assert report.ok, report.problems
    assert (report.before_map, report.map_checked) == (1, 1)
    with pytest.raises(NotFoundError, match="before the map"):
        map_proof(ledger.store, cp.size, stream_key("t1", "s0"))


def _strip(note: str, signer: NoteSigner) -> str:
    """The checkpoint text of ``note`` without its extension lines."""
    c = verify_checkpoint(note, signer.verifier())
    return Checkpoint(c.origin, c.size, c.root).text()
