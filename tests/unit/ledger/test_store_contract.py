"""The LedgerStore contract (sealtrail/ledger/store.py), run against every backend.

Only protocol methods, the Ledger facade and the pure core (events, Merkle) are used here, so a
new backend joins by adding a factory to BACKENDS. Each factory opens one more handle on the
same backend instance: a second handle is how these tests see what was durably committed rather
than what one connection cached.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealtrail.ledger import merkle
from sealtrail.ledger.errors import StorageError
from sealtrail.ledger.event import build_event, format_time
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.note import NoteSigner
from sealtrail.ledger.sqlite_store import SQLiteStore
from sealtrail.ledger.store import Entry, EventQuery, LedgerStore, StoredCheckpoint, WriteView
from tests.conftest import (
    FIXED_TIME,
    FIXED_TIME_TEXT,
    counting_random,
    event_input,
    fixed_clock,
)

StoreFactory = Callable[[], LedgerStore]

BACKENDS: dict[str, Callable[[Path], StoreFactory]] = {
    "sqlite": lambda tmp: lambda: SQLiteStore(tmp / "ledger.db"),
}

SIGNER = NoteSigner("test.example/contract", Ed25519PrivateKey.from_private_bytes(bytes(32)))


class Boom(Exception):
    """Raised inside a write transaction to force a rollback."""


@pytest.fixture(params=sorted(BACKENDS))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    opened: list[LedgerStore] = []
    make = BACKENDS[request.param](tmp_path)

    def factory() -> LedgerStore:
        store = make()
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> LedgerStore:
    return store_factory()


def make_ledger(store: LedgerStore) -> Ledger:
    return Ledger(store, SIGNER, clock=fixed_clock, random_bytes=counting_random())


def fill(ledger: Ledger, n: int, *, tenant: str = "acme", streams: int = 3) -> None:
    """Append ``n`` events, one request each, spread round-robin over ``streams`` streams."""
    start = ledger.size()
    for i in range(start, start + n):
        ledger.append(tenant, [event_input(f"{tenant}-{i}", stream=f"contract:{i % streams}")])


def fresh_entries(n: int) -> list[Entry]:
    """Entries 0..n-1 of a new log (one stream), built with the pure core only."""
    rng = merkle.CompactRange()
    out, prev = [], None
    for i in range(n):
        inp = event_input(f"raw-{i}")
        ev = build_event(
            inp,
            tenant="acme",
            index=i,
            recorded_at=FIXED_TIME_TEXT,
            salt=bytes([i]) * 16,
            prev=prev,
        )
        prev = ev.leaf_hash
        fingerprints = tuple(bytes.fromhex(d["sha256"]) for d in inp.documents)
        out.append(Entry(ev, b"".join(rng.append(ev.leaf_hash)), fingerprints))
    return out


# -- an empty store ----------------------------------------------------------------------


def test_empty_store_has_nothing(store: LedgerStore) -> None:
    assert store.size() == 0
    assert list(store.entries()) == []
    assert store.event(0) is None
    assert store.stream("acme", "contract:1") == []
    assert store.checkpoints() == []
    assert store.latest_checkpoint() is None
    assert store.checkpoint(1) is None
    assert store.meta("origin") is None
    assert store.subtrees([]) == {}


def test_empty_store_write_view_has_nothing(store: LedgerStore) -> None:
    def look(view: WriteView) -> tuple[object, ...]:
        return (
            view.size(),
            view.stream_head("acme", "contract:1"),
            view.events_by_client_id("acme", ["erp-1"]),
            view.latest_checkpoint(),
            view.subtrees([]),
        )

    assert store.write(look) == (0, None, {}, None, {})


# -- write(): commit and rollback --------------------------------------------------------


def test_write_commits_durably_and_returns_fn_result(store_factory: StoreFactory) -> None:
    store = store_factory()
    entries = fresh_entries(3)

    def txn(view: WriteView) -> str:
        view.append(entries)
        return "done"

    assert store.write(txn) == "done"
    other = store_factory()
    assert other.size() == 3
    assert [(e.event, e.subtrees) for e in other.entries()] == [
        (e.event, e.subtrees) for e in entries
    ]


def test_write_keeps_nothing_when_fn_raises(store_factory: StoreFactory) -> None:
    store = store_factory()
    entries = fresh_entries(4)
    cp = StoredCheckpoint(4, merkle.root([e.event.leaf_hash for e in entries]), "n\n", "t")

    def txn(view: WriteView) -> None:
        view.append(entries)
        view.add_checkpoint(cp)
        assert view.size() == 4  # the transaction sees its own writes
        raise Boom("abort")

    with pytest.raises(Boom, match="abort"):
        store.write(txn)
    for s in (store, store_factory()):
        assert s.size() == 0
        assert list(s.entries()) == []
        assert s.checkpoints() == []
    # The lock was released and the store is usable.
    store.write(lambda view: view.append(entries[:1]))
    assert store_factory().size() == 1


def test_write_rollback_keeps_earlier_commits(store: LedgerStore) -> None:
    entries = fresh_entries(5)
    store.write(lambda view: view.append(entries[:2]))

    def txn(view: WriteView) -> None:
        view.append(entries[2:])
        raise Boom

    with pytest.raises(Boom):
        store.write(txn)
    assert store.size() == 2
    assert [e.event for e in store.entries()] == [e.event for e in entries[:2]]


def test_write_refuses_an_index_that_is_already_stored(store: LedgerStore) -> None:
    """The log never rewrites a committed leaf, whatever the caller asks."""
    entries = fresh_entries(2)
    store.write(lambda view: view.append(entries))
    other = fresh_entries(2)[1]
    forged = Entry(
        build_event(
            event_input("forged"),
            tenant="acme",
            index=1,
            recorded_at=FIXED_TIME_TEXT,
            salt=b"\xff" * 16,
            prev=None,
        ),
        other.subtrees,
    )
    with pytest.raises(StorageError):
        store.write(lambda view: view.append([forged]))
    assert store.event(1) == entries[1].event


def test_write_refuses_a_second_event_with_the_same_client_id(store: LedgerStore) -> None:
    entries = fresh_entries(1)
    store.write(lambda view: view.append(entries))
    twin = build_event(
        event_input("raw-0"),
        tenant="acme",
        index=1,
        recorded_at=FIXED_TIME_TEXT,
        salt=b"\xee" * 16,
        prev=entries[0].event.leaf_hash,
    )
    with pytest.raises(StorageError):
        store.write(lambda view: view.append([Entry(twin, b"")]))
    assert store.size() == 1


# -- reads -------------------------------------------------------------------------------


def test_entries_event_and_stream_are_in_index_order(store: LedgerStore) -> None:
    ledger = make_ledger(store)
    fill(ledger, 10, tenant="acme", streams=3)
    fill(ledger, 4, tenant="globex", streams=2)
    size = store.size()
    assert size == 14

    entries = list(store.entries())
    assert [e.event.index for e in entries] == list(range(size))
    for e in entries:
        assert store.event(e.event.index) == e.event
    assert store.event(size) is None
    assert store.event(-1) is None
    assert [e.event.index for e in store.entries(3, 7)] == [3, 4, 5, 6]
    assert [e.event.index for e in store.entries(11)] == [11, 12, 13]
    assert list(store.entries(5, 5)) == []

    assert [e.index for e in store.stream("acme", "contract:0")] == [0, 3, 6, 9]
    assert [e.index for e in store.stream("acme", "contract:1")] == [1, 4, 7]
    assert [e.index for e in store.stream("globex", "contract:0")] == [10, 12]
    assert store.stream("acme", "contract:9") == []
    assert store.stream("nobody", "contract:0") == []
    for ev in store.stream("globex", "contract:1"):
        assert (ev.tenant, ev.stream) == ("globex", "contract:1")


def test_write_view_reads_committed_state(store: LedgerStore) -> None:
    ledger = make_ledger(store)
    fill(ledger, 6, tenant="acme", streams=2)
    ledger.append("globex", [event_input("acme-1", stream="contract:1")])
    ledger.seal()

    def look(view: WriteView) -> None:
        assert view.size() == 7
        assert view.stream_head("acme", "contract:1") == store.event(5).leaf_hash
        assert view.stream_head("globex", "contract:1") == store.event(6).leaf_hash
        assert view.stream_head("globex", "contract:0") is None
        got = view.events_by_client_id("acme", ["acme-1", "acme-4", "missing"])
        assert got == {"acme-1": store.event(1), "acme-4": store.event(4)}
        assert view.events_by_client_id("globex", ["acme-1"]) == {"acme-1": store.event(6)}
        assert view.latest_checkpoint() == store.latest_checkpoint()

    store.write(look)


def test_many_client_ids_in_one_lookup(store: LedgerStore) -> None:
    ledger = make_ledger(store)
    ledger.append("acme", [event_input(f"c-{i}") for i in range(1200)])
    ids = [f"c-{i}" for i in range(1200)] + ["absent"]
    got = store.write(lambda view: view.events_by_client_id("acme", ids))
    assert sorted(got) == sorted(ids[:-1])
    assert all(got[f"c-{i}"].index == i for i in range(1200))


# -- subtree hashes ----------------------------------------------------------------------

LOG_SIZE = 13


def perfect_subtrees(size: int) -> list[merkle.NodeId]:
    return [(level, idx) for level in range(size.bit_length()) for idx in range(size >> level)]


def test_subtrees_match_recomputation_for_every_perfect_subtree(store: LedgerStore) -> None:
    ledger = make_ledger(store)
    fill(ledger, LOG_SIZE)
    leaves = [e.event.leaf_hash for e in store.entries()]
    nodes = perfect_subtrees(LOG_SIZE)
    assert len(nodes) == 13 + 6 + 3 + 1
    for level, idx in nodes:
        want = merkle.root(leaves[idx << level : (idx + 1) << level])
        assert store.subtrees([(level, idx)]) == {(level, idx): want}, (level, idx)
    # One batched read returns the same, also inside a write transaction.
    batched = store.subtrees(nodes)
    assert batched == {n: store.subtrees([n])[n] for n in nodes}
    assert store.write(lambda view: view.subtrees(nodes)) == batched
    # And the root they fold to is the RFC 9162 root of all the leaves.
    ids = merkle.root_subtrees(LOG_SIZE)
    assert merkle.fold([batched[i] for i in ids]) == merkle.root(leaves)


@pytest.mark.parametrize(
    "node",
    [
        pytest.param((0, LOG_SIZE), id="leaf-at-size"),
        pytest.param((0, 1000), id="leaf-far-beyond"),
        pytest.param((1, LOG_SIZE // 2), id="level1-half-filled"),
        pytest.param((2, 3), id="level2-partly-beyond"),
        pytest.param((3, 1), id="level3-partly-beyond"),
        pytest.param((4, 0), id="level4-bigger-than-log"),
        pytest.param((2, 7), id="level2-wholly-beyond"),
    ],
)
def test_subtrees_beyond_the_log_raise(store: LedgerStore, node: merkle.NodeId) -> None:
    ledger = make_ledger(store)
    fill(ledger, LOG_SIZE)
    with pytest.raises(StorageError):
        store.subtrees([node])
    with pytest.raises(StorageError):
        store.subtrees([(0, 0), node])
    with pytest.raises(StorageError):
        store.write(lambda view: view.subtrees([node]))


def test_subtrees_of_an_empty_store_raise(store: LedgerStore) -> None:
    with pytest.raises(StorageError):
        store.subtrees([(0, 0)])


# -- checkpoints and meta ----------------------------------------------------------------


def test_checkpoints_are_kept_in_size_order(store_factory: StoreFactory) -> None:
    store = store_factory()
    ledger = make_ledger(store)
    sealed = []
    for n in (1, 3, 5):
        fill(ledger, n)
        cp, new = ledger.seal()
        assert new
        sealed.append(cp)
    other = store_factory()
    assert [c.size for c in other.checkpoints()] == [1, 4, 9]
    assert other.checkpoints() == sealed
    assert other.latest_checkpoint() == sealed[-1]
    assert other.checkpoint(4) == sealed[1]
    assert other.checkpoint(2) is None
    assert other.checkpoint(10) is None
    for cp in sealed:
        assert cp.root == ledger.root(cp.size)
        assert cp.created_at == FIXED_TIME_TEXT


def test_meta_set_and_get(store_factory: StoreFactory) -> None:
    store = store_factory()
    assert store.meta("origin") is None
    store.set_meta("origin", "example.com/log")
    store.set_meta("verifier_key", "k1")
    assert store.meta("origin") == "example.com/log"
    store.set_meta("verifier_key", "k2")
    assert store.meta("verifier_key") == "k2"
    assert store.meta("schema") is None
    other = store_factory()
    assert (other.meta("origin"), other.meta("verifier_key")) == ("example.com/log", "k2")


def test_a_closed_store_refuses_use(store: LedgerStore) -> None:
    store.close()
    with pytest.raises(StorageError):
        store.size()
    with pytest.raises(StorageError):
        store.write(lambda view: view.size())


# -- event queries -----------------------------------------------------------------------

DOCS = [hashlib.sha256(f"doc-{k}".encode()).digest() for k in range(3)]


@pytest.fixture
def queried(store: LedgerStore) -> LedgerStore:
    """12 events, one second apart: tenant globex when i % 3 == 0 else acme; stream i % 2;
    type sign when i % 4 == 0 else view; actor u-(i % 3); document DOCS[i % 3] (and DOCS[2]
    too when i is 5)."""
    ticks = itertools.count()
    ledger = Ledger(
        store,
        SIGNER,
        clock=lambda: FIXED_TIME + timedelta(seconds=next(ticks)),
        random_bytes=counting_random(),
    )
    for i in range(12):
        docs = [{"name": "c.pdf", "sha256": DOCS[i % 3].hex()}]
        if i == 5:
            docs.append({"name": "annex.pdf", "sha256": DOCS[2].hex()})
        ledger.append(
            "globex" if i % 3 == 0 else "acme",
            [
                event_input(
                    f"q-{i}",
                    stream=f"contract:{i % 2}",
                    etype="sign" if i % 4 == 0 else "view",
                    actor={"id": f"u-{i % 3}"},
                    documents=docs,
                )
            ],
        )
    return store


def at(seconds: int) -> str:
    return format_time(FIXED_TIME + timedelta(seconds=seconds))


@pytest.mark.parametrize(
    ("query", "want"),
    [
        (EventQuery(("acme",)), [1, 2, 4, 5, 7, 8, 10, 11]),
        (EventQuery(("globex",)), [0, 3, 6, 9]),
        (EventQuery(("acme", "globex")), list(range(12))),
        (EventQuery(("initech",)), []),
        (EventQuery(()), []),
        (EventQuery(("acme",), stream="contract:0"), [2, 4, 8, 10]),
        (EventQuery(("acme", "globex"), type="sign"), [0, 4, 8]),
        (EventQuery(("acme",), actor_id="u-2"), [2, 5, 8, 11]),
        (EventQuery(("acme", "globex"), document=DOCS[2]), [2, 5, 8, 11]),
        (EventQuery(("acme",), document=DOCS[0]), []),
        (EventQuery(("acme", "globex"), recorded_from=at(3), recorded_to=at(7)), [3, 4, 5, 6]),
        (EventQuery(("acme",), recorded_from=at(10)), [10, 11]),
        (EventQuery(("acme",), recorded_to=at(2)), [1]),
        (EventQuery(("acme",), stream="contract:1", type="view", actor_id="u-1"), [1, 7]),
    ],
)
def test_query_filters(queried: LedgerStore, query: EventQuery, want: list[int]) -> None:
    got = queried.query(query)
    assert [e.index for e in got] == want
    assert got == [queried.event(i) for i in want]


def test_query_pages_in_index_order(queried: LedgerStore) -> None:
    q = EventQuery(("acme", "globex"))
    pages, after = [], -1
    while page := queried.query(q, after=after, limit=5):
        assert len(page) <= 5
        pages.append([e.index for e in page])
        after = page[-1].index
    assert pages == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11]]


def test_stored_event_keeps_its_indexed_fields(queried: LedgerStore) -> None:
    ev = queried.event(5)
    assert (ev.tenant, ev.stream, ev.type, ev.actor_id) == ("acme", "contract:1", "view", "u-2")
    assert ev.recorded_at == at(5) == ev.body()["recorded_at"]


def test_by_document_spans_tenants(queried: LedgerStore) -> None:
    assert [e.index for e in queried.by_document(DOCS[0])] == [0, 3, 6, 9]
    assert [e.index for e in queried.by_document(DOCS[2])] == [2, 5, 8, 11]
    assert [e.index for e in queried.by_document(DOCS[2], limit=2)] == [2, 5]
    assert queried.by_document(bytes(32)) == []
    rows = sorted(queried.document_index())
    five = [prefix for prefix, idx in rows if idx == 5]
    assert five == [DOCS[2][:8]]  # DOCS[2] named twice counts once
    assert len(rows) == len(set(rows))


def test_by_document_drops_prefix_collisions(store: LedgerStore) -> None:
    """The index keys 8-byte prefixes; a look-up re-checks the full fingerprint."""
    ledger = make_ledger(store)
    real = bytes.fromhex("ab" * 32)
    twin = bytes.fromhex("ab" * 8 + "cd" * 24)  # same first 8 bytes
    for n, doc in enumerate([real, twin, real]):
        ledger.append(
            "acme", [event_input(f"c-{n}", documents=[{"name": "x", "sha256": doc.hex()}])]
        )
    assert [e.index for e in store.by_document(real)] == [0, 2]
    assert [e.index for e in store.by_document(twin)] == [1]
    page = store.query(EventQuery(("acme",), document=real), limit=1)
    assert [e.index for e in page] == [0]
    rest = store.query(EventQuery(("acme",), document=real), after=0, limit=5)
    assert [e.index for e in rest] == [2]


# -- preconditions the backend enforces itself --------------------------------------------


def test_write_refuses_a_gap_in_the_indices(store: LedgerStore) -> None:
    entries = fresh_entries(3)
    with pytest.raises(StorageError, match="densely"):
        store.write(lambda view: view.append([entries[0], entries[2]]))
    assert store.size() == 0
    with pytest.raises(StorageError, match="at index 0"):
        store.write(lambda view: view.append(entries[1:]))
    assert store.size() == 0


def test_checkpoint_sizes_only_grow_and_stay_within_the_log(store: LedgerStore) -> None:
    ledger = make_ledger(store)
    fill(ledger, 4)
    first, _ = ledger.seal()
    assert first is not None
    smaller = StoredCheckpoint(2, first.root, first.note, first.created_at)
    with pytest.raises(StorageError, match="only grow"):
        store.write(lambda view: view.add_checkpoint(smaller))
    beyond = StoredCheckpoint(9, first.root, first.note, first.created_at)
    with pytest.raises(StorageError, match="exceeds the log"):
        store.write(lambda view: view.add_checkpoint(beyond))
    assert [c.size for c in store.checkpoints()] == [4]
