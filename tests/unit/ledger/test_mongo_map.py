"""The verifiable map on MongoDB (mongo_map.py): a version-1 database upgrades and catches up,
tampering with the map's collections is caught (never a wrong proof), reads are batched, and the
map's reads and writes while sealing run in the sealing transaction. The MapStore contract itself
is test_store_contract.py; sealing, proofs and audit on both backends are test_map_ledger.py.

Runs on a real MongoDB when ``SEALTRAIL_TEST_MONGODB_URI`` is set, else on the nx-27017 stand-in
(tests/mongo.py): one stand-in process for the module, a new database per test.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from sealtrail.backend import Stores, open_mongodb
from sealtrail.core.errors import NotFoundError, StorageError
from sealtrail.core.note import Checkpoint, NoteSigner, sign_checkpoint, verify_checkpoint
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
from sealtrail.core.vmap_tree import MemoryMap, build, prove, root_of
from sealtrail.ledger.audit import audit
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.maps import map_proof
from sealtrail.ledger.mongo_db import SCHEMA_VERSION
from sealtrail.ledger.mongo_map import NODES, ROOTS, VALUES, MongoMapStore
from sealtrail.ledger.mongo_schema import IN_CHUNK
from sealtrail.ledger.mongo_store import MongoLedgerStore
from sealtrail.ledger.store import WriteView
from tests.conftest import counting_random, event_input, fixed_clock
from tests.mongo import MongoServer, mongodb_server, stand_in_lacks

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    with mongodb_server(tmp_path_factory.mktemp("mongo")) as server:
        yield server


@pytest.fixture
def url(mongo_server: MongoServer) -> str:
    """A fresh database."""
    return mongo_server.fresh_url()


@pytest.fixture
def open_stores(url: str) -> Iterator[Callable[[], Stores]]:
    opened: list[Stores] = []

    def open_one() -> Stores:
        stores = open_mongodb(url)
        opened.append(stores)
        return stores

    yield open_one
    for s in opened:
        s.close()


@pytest.fixture
def raw(url: str) -> Iterator[Database[Doc]]:
    """The database itself, as an operator with its credentials sees it."""
    client: MongoClient[Doc] = MongoClient(url)
    yield client.get_default_database()
    client.close()


SIGNER = NoteSigner.generate("test.example/mongo-map")


def _doc(n: int) -> bytes:
    return hashlib.sha256(f"doc {n}".encode()).digest()


def _ledger(stores: Stores) -> Ledger:
    return Ledger(stores.ledger, SIGNER, clock=fixed_clock, random_bytes=counting_random())


def _fill(ledger: Ledger, start: int, n: int) -> None:
    for i in range(start, start + n):
        docs = [{"name": "d.pdf", "sha256": _doc(i % 4).hex()}]
        ledger.append("t1", [event_input(f"c{i}", stream=f"s{i % 3}", documents=docs)])


def _expected_root(stores: Stores, size: int) -> bytes:
    events = [e.event for e in stores.ledger.entries(0, size)]
    return root_of({key_hash(k): value_hash(v) for k, v in map_items(events).items()})


def _map_root(note: str) -> bytes | None:
    return map_root_of(verify_checkpoint(note, SIGNER.verifier()).extensions)


def _mongo_ledger(stores: Stores) -> MongoLedgerStore:
    assert isinstance(stores.ledger, MongoLedgerStore)
    return stores.ledger


def _maps(stores: Stores) -> MongoMapStore:
    maps = stores.ledger.maps
    assert isinstance(maps, MongoMapStore)
    return maps


def _sealed(open_stores: Callable[[], Stores], n: int = 9) -> tuple[Stores, int]:
    stores = open_stores()
    ledger = _ledger(stores)
    _fill(ledger, 0, n)
    cp, _ = ledger.seal()
    assert cp is not None
    return stores, cp.size


# -- sealing, proofs and audit --------------------------------------------------------------


def test_a_checkpoint_sealed_on_mongodb_has_the_map_line_and_the_map_is_stored(
    open_stores: Callable[[], Stores], raw: Database[Doc]
) -> None:
    stores, size = _sealed(open_stores)
    cp = stores.ledger.checkpoint(size)
    assert cp is not None
    assert "\nsealtrail-map/v1 " in cp.note
    root = _map_root(cp.note)
    assert root == _expected_root(stores, size)
    # as documented (OPERATIONS.md §12): hex ids, binary contents, one root per size
    assert list(raw[ROOTS].find({}, {"_id": 1, "size": 1, "root": 1})) == [
        {"_id": size, "size": size, "root": root}
    ]
    values = {d["_id"]: d for d in raw[VALUES].find({})}
    events = [e.event for e in stores.ledger.entries(0, size)]
    assert values.keys() == {key_hash(k).hex() for k in map_items(events)}
    for k, v in map_items(events).items():
        assert (values[key_hash(k).hex()]["key"], values[key_hash(k).hex()]["value"]) == (k, v)
    _, nodes = build({key_hash(k): value_hash(v) for k, v in map_items(events).items()})
    assert {d["_id"]: d["node"] for d in raw[NODES].find({})} == {
        h.hex(): n for h, n in nodes.items()
    }
    report = audit(stores.ledger, SIGNER.verifier())
    assert report.ok, report.problems
    assert (report.map_checked, report.before_map) == (1, 0)


def test_proofs_served_on_mongodb_verify(open_stores: Callable[[], Stores]) -> None:
    stores, size = _sealed(open_stores)
    _fill(_ledger(stores), size, 5)
    _ledger(stores).seal()
    reopened = open_stores()  # a second process serving proofs
    for at in (size, size + 5):
        cp = reopened.ledger.checkpoint(at)
        assert cp is not None
        root = _map_root(cp.note)
        assert root is not None
        for key in (stream_key("t1", "s1"), document_key(_doc(2))):
            ans = map_proof(reopened.ledger, at, key)
            assert ans.value is not None
            verify_inclusion(root, key, ans.value, ans.proof)
        ans = map_proof(reopened.ledger, at, document_key(_doc(77)))
        assert ans.value is None
        verify_non_inclusion(root, document_key(_doc(77)), ans.proof)


# -- upgrading a version-1 database ---------------------------------------------------------


def test_a_version_1_database_upgrades_and_its_next_checkpoint_catches_up(
    open_stores: Callable[[], Stores], raw: Database[Doc]
) -> None:
    """What Sealtrail with schema version 1 left (no map collections, checkpoints without the
    map line) is upgraded on open; it audits clean with its checkpoint "before the map", and the
    next checkpoint's map covers every event so far."""
    stores, size = _sealed(open_stores)
    cp = stores.ledger.checkpoint(size)
    assert cp is not None
    stores.close()
    c = verify_checkpoint(cp.note, SIGNER.verifier())
    plain = sign_checkpoint(Checkpoint(c.origin, c.size, c.root), SIGNER)
    raw["checkpoints"].update_one({"_id": size}, {"$set": {"note": plain}})
    for name in (NODES, VALUES, ROOTS):
        raw.drop_collection(name)
    raw["meta"].update_one({"_id": "schema_version"}, {"$set": {"value": "1"}})
    assert not {NODES, VALUES, ROOTS} & set(raw.list_collection_names())

    upgraded = open_stores()
    assert upgraded.ledger.meta("schema_version") == str(SCHEMA_VERSION) == "2"
    assert {NODES, VALUES, ROOTS} <= set(raw.list_collection_names())
    indexes = raw[ROOTS].index_information().values()
    assert any(i["key"] == [("size", 1)] and i.get("unique") for i in indexes)
    report = audit(upgraded.ledger, SIGNER.verifier())
    assert report.ok, report.problems
    assert (report.before_map, report.map_checked) == (1, 0)
    with pytest.raises(NotFoundError, match="before the map"):
        map_proof(upgraded.ledger, size, stream_key("t1", "s0"))

    ledger = _ledger(upgraded)
    _fill(ledger, size, 4)
    cp2, _ = ledger.seal()
    assert cp2 is not None
    assert _map_root(cp2.note) == _expected_root(upgraded, cp2.size)
    report = audit(upgraded.ledger, SIGNER.verifier())
    assert report.ok, report.problems
    assert (report.before_map, report.map_checked) == (1, 1)


@pytest.mark.parametrize("version", ["3", "abc", "", "0", "\u00b9"])
def test_a_schema_version_it_cannot_upgrade_is_refused(
    open_stores: Callable[[], Stores], raw: Database[Doc], url: str, version: str
) -> None:
    open_stores().close()
    raw["meta"].update_one({"_id": "schema_version"}, {"$set": {"value": version}})
    with pytest.raises(StorageError, match=f"schema version {version}, this Sealtrail reads 2"):
        open_mongodb(url)
    assert raw["meta"].find_one({"_id": "schema_version"}) == {
        "_id": "schema_version",
        "value": version,
    }


# -- tampering -------------------------------------------------------------------------------


def test_a_map_root_re_signed_with_the_ledger_key_is_caught(
    open_stores: Callable[[], Stores], raw: Database[Doc]
) -> None:
    stores, size = _sealed(open_stores)
    cp = stores.ledger.checkpoint(size)
    assert cp is not None
    parsed = verify_checkpoint(cp.note, SIGNER.verifier())
    forged_root = hashlib.sha256(b"a map without the last event").digest()
    forged = Checkpoint(parsed.origin, parsed.size, parsed.root, (map_extension(forged_root),))
    note = sign_checkpoint(forged, SIGNER)  # the operator's own key: the signature is valid
    raw["checkpoints"].update_one({"_id": size}, {"$set": {"note": note}})
    raw[ROOTS].update_one({"_id": size}, {"$set": {"root": forged_root}})
    report = audit(open_stores().ledger, SIGNER.verifier())
    assert [p.code for p in report.problems] == ["map_root_mismatch"], report.problems
    assert f"checkpoint {size}" in report.problems[0].message


def test_a_stored_map_root_that_differs_from_the_note_is_caught(
    open_stores: Callable[[], Stores], raw: Database[Doc]
) -> None:
    _, size = _sealed(open_stores)
    raw[ROOTS].update_one({"_id": size}, {"$set": {"root": bytes(32)}})
    report = audit(open_stores().ledger, SIGNER.verifier())
    assert [p.code for p in report.problems] == ["map_root_stored_mismatch"], report.problems


def _a_node_on_the_path(stores: Stores, size: int, key: bytes) -> bytes:
    maps = _maps(stores)
    root = maps.root(size)
    assert root is not None
    asked: list[bytes] = []

    def fetch(hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        asked.extend(hashes)
        return maps.nodes(hashes)

    prove(root, key_hash(key), fetch)
    return asked[-1]  # the deepest: the key's leaf


@pytest.mark.parametrize(
    "mutation",
    [
        "flipped-node-byte",
        "missing-node",
        "node-not-binary",
        "node-truncated",
    ],
)
def test_a_corrupt_node_store_raises_instead_of_proving(
    open_stores: Callable[[], Stores], raw: Database[Doc], mutation: str
) -> None:
    stores, size = _sealed(open_stores)
    key = stream_key("t1", "s2")
    h = _a_node_on_the_path(stores, size, key).hex()
    node = raw[NODES].find_one({"_id": h})
    assert node is not None
    if mutation == "flipped-node-byte":
        bad = bytearray(node["node"])
        bad[40] ^= 1
        raw[NODES].update_one({"_id": h}, {"$set": {"node": bytes(bad)}})
    elif mutation == "missing-node":
        raw[NODES].delete_one({"_id": h})
    elif mutation == "node-not-binary":
        raw[NODES].update_one({"_id": h}, {"$set": {"node": node["node"].hex()}})
    else:
        raw[NODES].update_one({"_id": h}, {"$set": {"node": node["node"][:64]}})
    with pytest.raises(StorageError):
        map_proof(open_stores().ledger, size, key)


@pytest.mark.parametrize("bad_id", ["zz" * 32, "ab", 7])
def test_a_malformed_map_document_is_a_storage_error(
    open_stores: Callable[[], Stores], raw: Database[Doc], bad_id: object
) -> None:
    stores, _ = _sealed(open_stores)
    raw[NODES].insert_one({"_id": bad_id, "node": b"I" + bytes(64)})
    with pytest.raises(StorageError, match="is not a 64-digit hex hash"):
        list(_maps(stores).all_nodes())


def test_a_malformed_map_root_document_is_a_storage_error(
    open_stores: Callable[[], Stores], raw: Database[Doc]
) -> None:
    stores, size = _sealed(open_stores)
    raw[ROOTS].update_one({"_id": size}, {"$set": {"root": b"short"}})
    with pytest.raises(StorageError, match="malformed map root"):
        _maps(stores).roots()
    with pytest.raises(StorageError, match="malformed map root"):
        _maps(stores).latest_root()


# -- batched reads ---------------------------------------------------------------------------


def test_node_reads_are_batched_per_tree_level(open_stores: Callable[[], Stores]) -> None:
    """Sealing asks for the nodes of one tree level at once; each ask is one query per
    IN_CHUNK hashes; a proof reads one node per level."""
    stores = open_stores()
    ledger = _ledger(stores)
    for batch in range(3):
        ledger.append(
            "t1",
            [event_input(f"b{batch}-{i}", stream=f"s{batch}-{i}") for i in range(400)],
        )
    ledger.seal()
    maps = _maps(stores)
    asks: list[int] = []
    real_nodes = maps.nodes

    def counting_nodes(hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        asks.append(len(hashes))
        return real_nodes(hashes)

    maps.nodes = counting_nodes  # type: ignore[method-assign]
    ledger.append("t1", [event_input(f"u-{i}", stream=f"s0-{i}") for i in range(300)])
    cp, _ = ledger.seal()
    assert cp is not None
    assert _map_root(cp.note) == _expected_root(stores, cp.size)
    # 300 keys updated in a map of 1200: one ask per tree level, never one per key
    items = map_items([e.event for e in stores.ledger.entries(0, cp.size)])
    full = MemoryMap.from_items(items)
    depth = max(len(full.prove(k).siblings) for k in items)
    assert 8 <= len(asks) <= depth, (asks, depth)
    assert max(asks) > 100

    calls: list[object] = []
    conn = _mongo_ledger(stores).conn
    real_run = conn.run

    def counting_run(coro: Any) -> Any:
        calls.append(coro)
        return real_run(coro)

    conn.run = counting_run  # type: ignore[method-assign]
    hashes = [h for h, _ in maps.all_nodes()][: 2 * IN_CHUNK + 1]
    calls.clear()
    assert len(real_nodes(hashes)) == len(hashes)
    assert len(calls) == 3  # ceil(2001 / 1000) queries
    asks.clear()
    calls.clear()
    ans = map_proof(stores.ledger, cp.size, stream_key("t1", "s1-7"))
    assert len(asks) == len(ans.proof.siblings) + 1  # the root, then one node per level
    assert all(n == 1 for n in asks)


# -- the sealing transaction -----------------------------------------------------------------


def test_map_reads_while_sealing_run_in_the_sealing_transaction(
    open_stores: Callable[[], Stores],
) -> None:
    stores = open_stores()
    conn = _mongo_ledger(stores).conn
    seen: list[object] = []

    def fn(view: WriteView) -> None:
        txn = conn.active()
        assert txn is not None
        seen.append(txn)
        assert _maps(stores)._session() is txn.session

    stores.ledger.write(fn)
    assert len(seen) == 1
    assert conn.active() is None
    assert _maps(stores)._session() is None

    def fails(view: WriteView) -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        stores.ledger.write(fails)
    assert conn.active() is None  # restored after a failed transaction too


@stand_in_lacks("isolation of transactions from other sessions")
def test_reads_while_sealing_see_the_transaction_snapshot(
    open_stores: Callable[[], Stores],
) -> None:
    """A map root committed by another process after the sealing transaction began is not seen
    by it, so a sealer never mixes an old root with newer values."""
    stores, size = _sealed(open_stores)
    other = open_stores()
    maps = _maps(stores)
    before = maps.root(size)
    committed = threading.Event()
    seen: list[object] = []

    def fn(view: WriteView) -> None:
        seen.append(maps.latest_root())  # the snapshot starts here
        if not committed.is_set():

            def elsewhere(v: WriteView) -> None:
                _maps(other).put(v, {}, {}, {size + 100: bytes(32)})

            t = threading.Thread(target=lambda: other.ledger.write(elsewhere))
            t.start()
            t.join()
            committed.set()
        seen.append(maps.latest_root())

    stores.ledger.write(fn)
    assert seen == [(size, before), (size, before)]
    assert maps.latest_root() == (size + 100, bytes(32))
