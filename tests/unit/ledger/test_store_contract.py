"""The storage contract of every domain's store — the ledger's (sealtrail/ledger/store.py:
LedgerStore, CoordinationStore, LogStatistics), anchoring's (timestamps, anchors) and the
directory's — run against every backend, as opened by the composition root (sealtrail.backend).

Only protocol methods, the Ledger facade and the pure core (events, Merkle) are used here, so a
new backend joins by adding a factory to BACKENDS. Each factory opens one more handle on the
same backend instance: a second handle is how these tests see what was durably committed rather
than what one connection cached.

The ``postgres`` backend runs on a real PostgreSQL server the tests start (tests/pg.py): one
cluster per session, a new database per test.

The ``mongo`` backend runs on a real MongoDB when ``SEALTRAIL_TEST_MONGODB_URI`` is set, else on
the nx-27017 stand-in (tests/mongo.py): one stand-in process per module, a new database per
test. Tests whose mongo variant needs what the stand-in lacks use :func:`real_mongodb_variant`,
naming what is missing.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealtrail.anchoring.store import StoredAnchor
from sealtrail.backend import Stores, open_mongodb, open_postgres, open_sqlite
from sealtrail.core import merkle, vmap, vmap_tree
from sealtrail.core.errors import ConflictError, LeaseLostError, NotFoundError, StorageError
from sealtrail.core.event import build_event, format_time
from sealtrail.core.note import NoteSigner, verify_checkpoint
from sealtrail.directory.store import ApiKey, Tenant
from sealtrail.ledger.local_days import local_day_counts
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.maps import advance_map
from sealtrail.ledger.store import (
    Entry,
    EventQuery,
    Lease,
    MapStore,
    QueuedAppend,
    StoredCheckpoint,
    WriteView,
)
from tests.conftest import (
    FIXED_TIME,
    FIXED_TIME_TEXT,
    counting_random,
    event_input,
    fixed_clock,
)
from tests.mongo import MongoServer, mongodb_server, stand_in_lacks

StoreFactory = Callable[[], Stores]


def _mongo(request: pytest.FixtureRequest, tmp: Path) -> StoreFactory:
    url = request.getfixturevalue("mongo_server").fresh_url()
    return lambda: open_mongodb(url)


def _postgres(request: pytest.FixtureRequest, tmp: Path) -> StoreFactory:
    url = request.getfixturevalue("pg_db_url")  # a fresh database on a real server (tests/pg.py)
    return lambda: open_postgres(url)


#: name → (the test's request, its tmp_path) → a factory of handles on one fresh database
BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], StoreFactory]] = {
    "sqlite": lambda request, tmp: lambda: open_sqlite(tmp / "ledger.db"),
    "mongo": _mongo,
    "postgres": _postgres,
}


def real_mongodb_variant(missing: str) -> pytest.MarkDecorator:
    """Run the test on every backend, its mongo variant only on a real MongoDB: the nx-27017
    stand-in lacks ``missing`` (tests/mongo.py)."""
    return pytest.mark.parametrize(
        "store_factory",
        [
            pytest.param(name, marks=stand_in_lacks(missing) if name == "mongo" else ())
            for name in sorted(BACKENDS)
        ],
        indirect=True,
    )


@pytest.fixture(scope="module")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """One MongoDB (stand-in process) for the module's mongo tests, started on first use."""
    with mongodb_server(tmp_path_factory.mktemp("mongo")) as server:
        yield server


SIGNER = NoteSigner("test.example/contract", Ed25519PrivateKey.from_private_bytes(bytes(32)))


class Boom(Exception):
    """Raised inside a write transaction to force a rollback."""


@pytest.fixture(params=sorted(BACKENDS))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    opened: list[Stores] = []
    make = BACKENDS[request.param](request, tmp_path)

    def factory() -> Stores:
        store = make()
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> Stores:
    return store_factory()


def make_ledger(store: Stores) -> Ledger:
    return Ledger(store.ledger, SIGNER, clock=fixed_clock, random_bytes=counting_random())


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


def test_empty_store_has_nothing(store: Stores) -> None:
    assert store.ledger.size() == 0
    assert list(store.ledger.entries()) == []
    assert store.ledger.event(0) is None
    assert store.ledger.stream("acme", "contract:1") == []
    assert store.ledger.checkpoints() == []
    assert store.ledger.latest_checkpoint() is None
    assert store.ledger.checkpoint(1) is None
    assert store.ledger.meta("origin") is None
    assert store.ledger.subtrees([]) == {}


def test_empty_store_write_view_has_nothing(store: Stores) -> None:
    def look(view: WriteView) -> tuple[object, ...]:
        return (
            view.size(),
            view.stream_head("acme", "contract:1"),
            view.events_by_client_id("acme", ["erp-1"]),
            view.latest_checkpoint(),
            view.subtrees([]),
        )

    assert store.ledger.write(look) == (0, None, {}, None, {})


# -- write(): commit and rollback --------------------------------------------------------


def test_write_commits_durably_and_returns_fn_result(store_factory: StoreFactory) -> None:
    store = store_factory()
    entries = fresh_entries(3)

    def txn(view: WriteView) -> str:
        view.append(entries)
        return "done"

    assert store.ledger.write(txn) == "done"
    other = store_factory()
    assert other.ledger.size() == 3
    assert [(e.event, e.subtrees) for e in other.ledger.entries()] == [
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
        store.ledger.write(txn)
    for s in (store, store_factory()):
        assert s.ledger.size() == 0
        assert list(s.ledger.entries()) == []
        assert s.ledger.checkpoints() == []
    # The lock was released and the store is usable.
    store.ledger.write(lambda view: view.append(entries[:1]))
    assert store_factory().ledger.size() == 1


def test_write_rollback_keeps_earlier_commits(store: Stores) -> None:
    entries = fresh_entries(5)
    store.ledger.write(lambda view: view.append(entries[:2]))

    def txn(view: WriteView) -> None:
        view.append(entries[2:])
        raise Boom

    with pytest.raises(Boom):
        store.ledger.write(txn)
    assert store.ledger.size() == 2
    assert [e.event for e in store.ledger.entries()] == [e.event for e in entries[:2]]


def test_write_refuses_an_index_that_is_already_stored(store: Stores) -> None:
    """The log never rewrites a committed leaf, whatever the caller asks."""
    entries = fresh_entries(2)
    store.ledger.write(lambda view: view.append(entries))
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
        store.ledger.write(lambda view: view.append([forged]))
    assert store.ledger.event(1) == entries[1].event


def test_write_refuses_a_second_event_with_the_same_client_id(store: Stores) -> None:
    entries = fresh_entries(1)
    store.ledger.write(lambda view: view.append(entries))
    twin = build_event(
        event_input("raw-0"),
        tenant="acme",
        index=1,
        recorded_at=FIXED_TIME_TEXT,
        salt=b"\xee" * 16,
        prev=entries[0].event.leaf_hash,
    )
    with pytest.raises(StorageError):
        store.ledger.write(lambda view: view.append([Entry(twin, b"")]))
    assert store.ledger.size() == 1


# -- reads -------------------------------------------------------------------------------


def test_entries_event_and_stream_are_in_index_order(store: Stores) -> None:
    ledger = make_ledger(store)
    fill(ledger, 10, tenant="acme", streams=3)
    fill(ledger, 4, tenant="globex", streams=2)
    size = store.ledger.size()
    assert size == 14

    entries = list(store.ledger.entries())
    assert [e.event.index for e in entries] == list(range(size))
    for e in entries:
        assert store.ledger.event(e.event.index) == e.event
    assert store.ledger.event(size) is None
    assert store.ledger.event(-1) is None
    assert [e.event.index for e in store.ledger.entries(3, 7)] == [3, 4, 5, 6]
    assert [e.event.index for e in store.ledger.entries(11)] == [11, 12, 13]
    assert list(store.ledger.entries(5, 5)) == []

    assert [e.index for e in store.ledger.stream("acme", "contract:0")] == [0, 3, 6, 9]
    assert [e.index for e in store.ledger.stream("acme", "contract:1")] == [1, 4, 7]
    assert [e.index for e in store.ledger.stream("globex", "contract:0")] == [10, 12]
    assert store.ledger.stream("acme", "contract:9") == []
    assert store.ledger.stream("nobody", "contract:0") == []
    for ev in store.ledger.stream("globex", "contract:1"):
        assert (ev.tenant, ev.stream) == ("globex", "contract:1")


def test_write_view_reads_committed_state(store: Stores) -> None:
    ledger = make_ledger(store)
    fill(ledger, 6, tenant="acme", streams=2)
    ledger.append("globex", [event_input("acme-1", stream="contract:1")])
    ledger.seal()

    def look(view: WriteView) -> None:
        assert view.size() == 7
        assert view.stream_head("acme", "contract:1") == store.ledger.event(5).leaf_hash
        assert view.stream_head("globex", "contract:1") == store.ledger.event(6).leaf_hash
        assert view.stream_head("globex", "contract:0") is None
        got = view.events_by_client_id("acme", ["acme-1", "acme-4", "missing"])
        assert got == {"acme-1": store.ledger.event(1), "acme-4": store.ledger.event(4)}
        assert view.events_by_client_id("globex", ["acme-1"]) == {"acme-1": store.ledger.event(6)}
        assert view.latest_checkpoint() == store.ledger.latest_checkpoint()

    store.ledger.write(look)


def test_many_client_ids_in_one_lookup(store: Stores) -> None:
    ledger = make_ledger(store)
    ledger.append("acme", [event_input(f"c-{i}") for i in range(1200)])
    ids = [f"c-{i}" for i in range(1200)] + ["absent"]
    got = store.ledger.write(lambda view: view.events_by_client_id("acme", ids))
    assert sorted(got) == sorted(ids[:-1])
    assert all(got[f"c-{i}"].index == i for i in range(1200))


# -- subtree hashes ----------------------------------------------------------------------

LOG_SIZE = 13


def perfect_subtrees(size: int) -> list[merkle.NodeId]:
    return [(level, idx) for level in range(size.bit_length()) for idx in range(size >> level)]


def test_subtrees_match_recomputation_for_every_perfect_subtree(store: Stores) -> None:
    ledger = make_ledger(store)
    fill(ledger, LOG_SIZE)
    leaves = [e.event.leaf_hash for e in store.ledger.entries()]
    nodes = perfect_subtrees(LOG_SIZE)
    assert len(nodes) == 13 + 6 + 3 + 1
    for level, idx in nodes:
        want = merkle.root(leaves[idx << level : (idx + 1) << level])
        assert store.ledger.subtrees([(level, idx)]) == {(level, idx): want}, (level, idx)
    # One batched read returns the same, also inside a write transaction.
    batched = store.ledger.subtrees(nodes)
    assert batched == {n: store.ledger.subtrees([n])[n] for n in nodes}
    assert store.ledger.write(lambda view: view.subtrees(nodes)) == batched
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
def test_subtrees_beyond_the_log_raise(store: Stores, node: merkle.NodeId) -> None:
    ledger = make_ledger(store)
    fill(ledger, LOG_SIZE)
    with pytest.raises(StorageError):
        store.ledger.subtrees([node])
    with pytest.raises(StorageError):
        store.ledger.subtrees([(0, 0), node])
    with pytest.raises(StorageError):
        store.ledger.write(lambda view: view.subtrees([node]))


def test_subtrees_of_an_empty_store_raise(store: Stores) -> None:
    with pytest.raises(StorageError):
        store.ledger.subtrees([(0, 0)])


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
    assert [c.size for c in other.ledger.checkpoints()] == [1, 4, 9]
    assert other.ledger.checkpoints() == sealed
    assert other.ledger.latest_checkpoint() == sealed[-1]
    assert other.ledger.checkpoint(4) == sealed[1]
    assert other.ledger.checkpoint(2) is None
    assert other.ledger.checkpoint(10) is None
    for cp in sealed:
        assert cp.root == ledger.root(cp.size)
        assert cp.created_at == FIXED_TIME_TEXT


def test_meta_set_and_get(store_factory: StoreFactory) -> None:
    store = store_factory()
    assert store.ledger.meta("origin") is None
    store.ledger.set_meta("origin", "example.com/log")
    store.ledger.set_meta("verifier_key", "k1")
    assert store.ledger.meta("origin") == "example.com/log"
    store.ledger.set_meta("verifier_key", "k2")
    assert store.ledger.meta("verifier_key") == "k2"
    assert store.ledger.meta("schema") is None
    other = store_factory()
    assert (other.ledger.meta("origin"), other.ledger.meta("verifier_key")) == (
        "example.com/log",
        "k2",
    )


def test_a_closed_store_refuses_use(store: Stores) -> None:
    store.close()
    with pytest.raises(StorageError):
        store.ledger.size()
    with pytest.raises(StorageError):
        store.ledger.write(lambda view: view.size())


# -- event queries -----------------------------------------------------------------------

DOCS = [hashlib.sha256(f"doc-{k}".encode()).digest() for k in range(3)]


@pytest.fixture
def queried(store: Stores) -> Stores:
    """12 events, one second apart: tenant globex when i % 3 == 0 else acme; stream i % 2;
    type sign when i % 4 == 0 else view; actor u-(i % 3); document DOCS[i % 3] (and DOCS[2]
    too when i is 5)."""
    ticks = itertools.count()
    ledger = Ledger(
        store.ledger,
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
def test_query_filters(queried: Stores, query: EventQuery, want: list[int]) -> None:
    got = queried.ledger.query(query)
    assert [e.index for e in got] == want
    assert got == [queried.ledger.event(i) for i in want]


def test_query_pages_in_index_order(queried: Stores) -> None:
    q = EventQuery(("acme", "globex"))
    pages, after = [], -1
    while page := queried.ledger.query(q, after=after, limit=5):
        assert len(page) <= 5
        pages.append([e.index for e in page])
        after = page[-1].index
    assert pages == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11]]


def test_stored_event_keeps_its_indexed_fields(queried: Stores) -> None:
    ev = queried.ledger.event(5)
    assert (ev.tenant, ev.stream, ev.type, ev.actor_id) == ("acme", "contract:1", "view", "u-2")
    assert ev.recorded_at == at(5) == ev.body()["recorded_at"]


def test_by_document_spans_tenants(queried: Stores) -> None:
    assert [e.index for e in queried.ledger.by_document(DOCS[0])] == [0, 3, 6, 9]
    assert [e.index for e in queried.ledger.by_document(DOCS[2])] == [2, 5, 8, 11]
    assert [e.index for e in queried.ledger.by_document(DOCS[2], limit=2)] == [2, 5]
    assert queried.ledger.by_document(bytes(32)) == []
    rows = sorted(queried.ledger.document_index())
    five = [prefix for prefix, idx in rows if idx == 5]
    assert five == [DOCS[2][:8]]  # DOCS[2] named twice counts once
    assert len(rows) == len(set(rows))


def test_by_document_drops_prefix_collisions(store: Stores) -> None:
    """The index keys 8-byte prefixes; a look-up re-checks the full fingerprint."""
    ledger = make_ledger(store)
    real = bytes.fromhex("ab" * 32)
    twin = bytes.fromhex("ab" * 8 + "cd" * 24)  # same first 8 bytes
    for n, doc in enumerate([real, twin, real]):
        ledger.append(
            "acme", [event_input(f"c-{n}", documents=[{"name": "x", "sha256": doc.hex()}])]
        )
    assert [e.index for e in store.ledger.by_document(real)] == [0, 2]
    assert [e.index for e in store.ledger.by_document(twin)] == [1]
    page = store.ledger.query(EventQuery(("acme",), document=real), limit=1)
    assert [e.index for e in page] == [0]
    rest = store.ledger.query(EventQuery(("acme",), document=real), after=0, limit=5)
    assert [e.index for e in rest] == [2]


# -- preconditions the backend enforces itself --------------------------------------------


def test_write_refuses_a_gap_in_the_indices(store: Stores) -> None:
    entries = fresh_entries(3)
    with pytest.raises(StorageError, match="densely"):
        store.ledger.write(lambda view: view.append([entries[0], entries[2]]))
    assert store.ledger.size() == 0
    with pytest.raises(StorageError, match="at index 0"):
        store.ledger.write(lambda view: view.append(entries[1:]))
    assert store.ledger.size() == 0


def test_checkpoint_sizes_only_grow_and_stay_within_the_log(store: Stores) -> None:
    ledger = make_ledger(store)
    fill(ledger, 4)
    first, _ = ledger.seal()
    assert first is not None
    smaller = StoredCheckpoint(2, first.root, first.note, first.created_at)
    with pytest.raises(StorageError, match="only grow"):
        store.ledger.write(lambda view: view.add_checkpoint(smaller))
    beyond = StoredCheckpoint(9, first.root, first.note, first.created_at)
    with pytest.raises(StorageError, match="exceeds the log"):
        store.ledger.write(lambda view: view.add_checkpoint(beyond))
    assert [c.size for c in store.ledger.checkpoints()] == [4]


def test_client_event_ids_are_unique_per_tenant_only(store: Stores) -> None:
    ledger = make_ledger(store)
    ledger.append("acme", [event_input(None), event_input(None)])  # no id: never collide
    ledger.append("globex", [event_input("same")])
    ledger.append("acme", [event_input("same")])
    assert store.ledger.size() == 4
    got = store.ledger.write(lambda view: view.events_by_client_id("acme", ["same"]))
    assert got == {"same": store.ledger.event(3)}


# -- trusted timestamps (TimestampStore) ------------------------------------------------


def sealed(store: Stores, sizes: list[int]) -> list[StoredCheckpoint]:
    """Grow a new log to each of ``sizes`` in turn and seal a checkpoint there."""
    ledger = make_ledger(store)
    out = []
    for size in sizes:
        fill(ledger, size - ledger.size())
        cp, new = ledger.seal()
        assert new
        assert cp is not None
        out.append(cp)
    return out


def sealed_more(store: Stores, sizes: list[int]) -> list[StoredCheckpoint]:
    """:func:`sealed`, continuing the log already in ``store``."""
    ledger = make_ledger(store)
    out = []
    for size in sizes:
        for i in range(ledger.size(), size):
            ledger.append("acme", [event_input(f"more-{i}")])
        cp, new = ledger.seal()
        assert new
        assert cp is not None
        out.append(cp)
    return out


def test_timestamps_pending_then_stamped_and_never_replaced(store_factory: StoreFactory) -> None:
    store = store_factory()
    cp3, cp5 = sealed(store, [3, 5])
    assert store.timestamps.timestamp(3) is None
    assert store.timestamps.timestamps() == []
    assert store.timestamps.untimestamped() == [cp3, cp5]
    assert store.timestamps.untimestamped(limit=1) == [cp3]

    store.timestamps.timestamp_failed(3, "TSA down " + "x" * 2000, "2026-11-24T10:00:01.000000Z")
    store.timestamps.timestamp_failed(3, "TSA still down", "2026-11-24T10:00:02.000000Z")
    pending = store.timestamps.timestamp(3)
    assert pending is not None
    assert (pending.status, pending.token, pending.attempts) == ("pending", None, 2)
    assert (pending.last_error, pending.updated_at) == (
        "TSA still down",
        "2026-11-24T10:00:02.000000Z",
    )
    assert (pending.gen_time, pending.serial, pending.tsa) == (None, None, None)
    assert store.timestamps.untimestamped() == [cp3, cp5]
    store.timestamps.timestamp_failed(5, "e" * 2000, "t")
    assert store.timestamps.timestamp(5).last_error == "e" * 1000  # type: ignore[union-attr]

    serial = 2**70 + 1  # RFC 3161 serials are up to 160 bits
    store.timestamps.put_timestamp(
        3, b"\x30\x82token", "2026-11-24T10:00:03Z", serial, "https://tsa", "t3"
    )
    stamped = store.timestamps.timestamp(3)
    assert stamped is not None
    assert stamped.status == "stamped"
    assert (stamped.token, stamped.gen_time, stamped.serial, stamped.tsa) == (
        b"\x30\x82token",
        "2026-11-24T10:00:03Z",
        str(serial),
        "https://tsa",
    )
    assert (stamped.attempts, stamped.last_error, stamped.updated_at) == (3, None, "t3")
    assert store.timestamps.untimestamped() == [cp5]

    # A stored token is final: neither a late failure nor another token changes the record.
    store.timestamps.timestamp_failed(3, "late", "t4")
    store.timestamps.put_timestamp(3, b"other", "2026-11-24T10:00:04Z", 7, "https://other", "t5")
    assert store.timestamps.timestamp(3) == stamped

    store.timestamps.put_timestamp(5, b"tok5", "2026-11-24T10:00:05Z", 5, "https://tsa", "t6")
    other = store_factory()
    assert [(r.size, r.status, r.attempts) for r in other.timestamps.timestamps()] == [
        (3, "stamped", 3),
        (5, "stamped", 2),
    ]
    assert other.timestamps.timestamp(3) == stamped
    assert other.timestamps.untimestamped() == []


def test_a_first_try_token_and_later_checkpoints(store: Stores) -> None:
    sealed(store, [2])
    store.timestamps.put_timestamp(2, b"tok", "2026-11-24T10:00:03Z", 1, "https://tsa", "t")
    assert store.timestamps.timestamp(2).attempts == 1  # type: ignore[union-attr]
    assert store.timestamps.untimestamped() == []
    (cp4,) = sealed_more(store, [4])
    assert store.timestamps.untimestamped() == [cp4]


def _race(n: int, attempt: Callable[[int], object]) -> tuple[int, list[BaseException]]:
    """Run ``attempt(i)`` in ``n`` threads released together; (successes, errors)."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            attempt(i)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return n - len(errors), errors


@real_mongodb_variant("$push of a subdocument with binary fields (it stores a JSON string)")
def test_renewals_extend_the_chain_of_a_stamped_checkpoint(store_factory: StoreFactory) -> None:
    store = store_factory()
    sealed(store, [2, 4])
    with pytest.raises(ConflictError):  # not stamped yet
        store.timestamps.add_renewal(2, 1, b"r1", "g1", "https://tsa", "t1")
    store.timestamps.put_timestamp(2, b"tok", "2026-11-24T10:00:03Z", 1, "https://tsa", "t")
    store.timestamps.add_renewal(2, 1, b"r1", "g1", "https://tsa", "t1")
    for index in (1, 3):  # a second first renewal; a gap
        with pytest.raises(ConflictError):
            store.timestamps.add_renewal(2, index, b"rx", "gx", "https://tsa", "tx")
    store.timestamps.add_renewal(2, 2, b"r2", "g2", "https://tsa", "t2")
    other = store_factory()
    assert other.timestamps.timestamp(2).renewals == (b"r1", b"r2")  # type: ignore[union-attr]
    assert [t.renewals for t in other.timestamps.timestamps()] == [(b"r1", b"r2")]


@real_mongodb_variant("isolation of concurrent transactions and write-conflict detection")
def test_racing_renewals_of_one_checkpoint_one_wins(store_factory: StoreFactory) -> None:
    n = 6
    handles = [store_factory() for _ in range(n)]
    sealed(handles[0], [2])
    handles[0].timestamps.put_timestamp(2, b"tok", "g", 1, "https://tsa", "t")

    def attempt(i: int) -> None:
        handles[i].timestamps.add_renewal(2, 1, bytes([i]), "g", "https://tsa", "t")

    wins, errors = _race(n, attempt)
    assert wins == 1, errors
    assert all(isinstance(e, ConflictError) for e in errors), errors
    assert len(handles[0].timestamps.timestamp(2).renewals) == 1  # type: ignore[union-attr]


# -- anchoring state (AnchorStore) -----------------------------------------------------------

#: every field set; the fee fields beyond 2^63 (BSON and SQLite integers stop there)
FULL_ANCHOR = StoredAnchor(
    size=2,
    status="final",
    chain_id=1337,
    contract="0x5FbDB2315678afecb367f032d93F642f64180aa3",
    log_id=hashlib.sha256(b"test.example/contract").digest(),
    root=b"\x11" * 32,
    tx_hash=b"\x22" * 32,
    tx_hashes=(b"\x33" * 32, b"\x22" * 32),
    nonce=41,
    raw=b"\x02\xf8\x72" + b"\x00" * 100,
    max_fee=2**64 + 3,
    priority_fee=2**63,
    gas_limit=120_000,
    sent_at="2026-11-24T10:00:01.000000Z",
    block_number=2**40,
    block_hash=b"\x44" * 32,
    log_index=3,
    gas_used=61_234,
    effective_gas_price=2**255 + 17,
    confirmations=12,
    attempts=2,
    last_error="replacement transaction underpriced",
    created_at="2026-11-24T10:00:00.000000Z",
    updated_at="2026-11-24T10:05:00.000000Z",
    final_at="2026-11-24T10:05:00.000000Z",
)


def anchor_at(size: int, status: str) -> StoredAnchor:
    """A fresh anchor (every optional field at its default) of checkpoint ``size``."""
    return StoredAnchor(
        size=size,
        status=status,
        chain_id=1337,
        contract=FULL_ANCHOR.contract,
        log_id=FULL_ANCHOR.log_id,
        root=bytes([size]) * 32,
        created_at="c",
        updated_at="u",
    )


def test_anchor_round_trips_every_field(store_factory: StoreFactory) -> None:
    store = store_factory()
    sealed(store, [1, 2, 3])
    store.anchors.put_anchor(FULL_ANCHOR)
    store.anchors.put_anchor(anchor_at(3, "pending"))
    other = store_factory()
    assert other.anchors.anchor(2) == FULL_ANCHOR
    assert other.anchors.anchor(3) == anchor_at(3, "pending")
    assert other.anchors.anchor(1) is None
    # put_anchor replaces the whole state, including fields it clears
    fresh = anchor_at(2, "retry")
    store.anchors.put_anchor(fresh)
    assert other.anchors.anchor(2) == fresh
    assert other.anchors.anchors() == [fresh, anchor_at(3, "pending")]


def test_anchor_queries_follow_the_states(store_factory: StoreFactory) -> None:
    store = store_factory()
    assert store.anchors.oldest_unfinal() == (0, None)
    cps = sealed(store, [1, 2, 3, 4, 5, 6])
    by_size = {cp.size: cp for cp in cps}
    assert store.anchors.oldest_unfinal() == (6, by_size[1])
    assert store.anchors.unanchored() == cps
    assert store.anchors.anchored_size() == 0

    for size, status in [(1, "final"), (2, "sent"), (3, "failed"), (5, "pending"), (6, "retry")]:
        store.anchors.put_anchor(anchor_at(size, status))
    other = store_factory()
    assert [a.size for a in other.anchors.anchors()] == [1, 2, 3, 5, 6]
    assert [a.size for a in other.anchors.anchors(("sent", "failed"))] == [2, 3]
    assert other.anchors.anchors(("confirmed",)) == []
    assert other.anchors.anchored_size() == 1
    assert other.anchors.anchored_size(("sent", "final")) == 2
    assert other.anchors.anchored_size(("confirmed",)) == 0
    # not on their way: no anchor, or pending / retry / failed
    assert other.anchors.unanchored() == [by_size[s] for s in (3, 4, 5, 6)]
    assert other.anchors.unanchored(after=3) == [by_size[s] for s in (4, 5, 6)]
    assert other.anchors.unanchored(after=3, limit=2) == [by_size[4], by_size[5]]
    assert other.anchors.unanchored(after=6) == []
    assert other.anchors.oldest_unfinal() == (5, by_size[2])

    store.anchors.put_anchor(anchor_at(2, "confirmed"))
    store.anchors.put_anchor(anchor_at(3, "sent"))
    assert other.anchors.unanchored() == [by_size[s] for s in (4, 5, 6)]
    assert other.anchors.anchored_size(("confirmed", "final")) == 2
    store.anchors.put_anchor(anchor_at(2, "final"))
    store.anchors.put_anchor(anchor_at(3, "final"))
    assert other.anchors.oldest_unfinal() == (3, by_size[4])
    (cp7,) = sealed_more(store, [7])
    assert other.anchors.oldest_unfinal() == (4, by_size[4])
    assert other.anchors.unanchored(after=6) == [cp7]


def test_anchors_of_a_checkpoint_sealed_later_are_seen(store: Stores) -> None:
    """Anchoring states stored before their checkpoint (an import, a repair) still count."""
    store.anchors.put_anchor(anchor_at(2, "final"))
    store.timestamps.timestamp_failed(2, "early", "t")
    (cp1, cp2) = sealed(store, [1, 2])
    assert store.anchors.unanchored() == [cp1]
    assert store.anchors.oldest_unfinal() == (1, cp1)
    assert store.timestamps.untimestamped() == [cp1, cp2]


# -- tenants and API keys (DirectoryStore) -----------------------------------------------------


def test_tenants_form_groups(store_factory: StoreFactory) -> None:
    store = store_factory()
    acme = Tenant("acme", "ACME Group", None, "2026-01-01T00:00:00.000000Z")
    store.directory.add_tenant(acme)
    for tid, parent in [("acme-eu", "acme"), ("acme-fr", "acme-eu"), ("acme-us", "acme")]:
        store.directory.add_tenant(Tenant(tid, tid.upper(), parent, "2026-01-02T00:00:00.000000Z"))
    store.directory.add_tenant(Tenant("globex", "Globex", None, "2026-01-03T00:00:00.000000Z"))
    with pytest.raises(ConflictError):
        store.directory.add_tenant(Tenant("acme", "again", None, "t"))
    with pytest.raises(NotFoundError):
        store.directory.add_tenant(Tenant("initech", "Initech", "nobody", "t"))
    other = store_factory()
    assert other.directory.tenant("acme") == acme
    assert other.directory.tenant("acme") is not None
    assert other.directory.tenant("initech") is None
    assert [t.id for t in other.directory.tenants()] == [
        "acme",
        "acme-eu",
        "acme-fr",
        "acme-us",
        "globex",
    ]
    assert other.directory.tenant("acme-fr") == Tenant(
        "acme-fr", "ACME-FR", "acme-eu", "2026-01-02T00:00:00.000000Z"
    )
    assert other.directory.subtree_tenants("acme") == ["acme", "acme-eu", "acme-fr", "acme-us"]
    assert other.directory.subtree_tenants("acme-eu") == ["acme-eu", "acme-fr"]
    assert other.directory.subtree_tenants("acme-fr") == ["acme-fr"]
    assert other.directory.subtree_tenants("globex") == ["globex"]
    assert other.directory.subtree_tenants("nobody") == []


@real_mongodb_variant("isolation of concurrent transactions and write-conflict detection")
def test_racing_adds_of_one_tenant_one_wins(store_factory: StoreFactory) -> None:
    n = 6
    handles = [store_factory() for _ in range(n)]
    wins, errors = _race(
        n, lambda i: handles[i].directory.add_tenant(Tenant("acme", f"ACME {i}", None, "t"))
    )
    assert wins == 1, errors
    assert all(isinstance(e, ConflictError) for e in errors), errors
    assert [t.id for t in handles[0].directory.tenants()] == ["acme"]


def test_api_keys_are_listed_and_revoked(store_factory: StoreFactory) -> None:
    store = store_factory()
    for tid in ("acme", "globex"):
        store.directory.add_tenant(Tenant(tid, tid, None, "t"))
    k1 = ApiKey("k1", "acme", "admin", b"\x01" * 32, "ops", "2026-01-02T00:00:00.000000Z")
    k2 = ApiKey("k2", "acme", "integrator", b"\x02" * 32, None, "2026-01-01T00:00:00.000000Z")
    k0 = ApiKey("k0", "acme", "auditor", b"\x00" * 32, None, "2026-01-02T00:00:00.000000Z")
    k3 = ApiKey("k3", "globex", "admin", b"\x03" * 32, "g", "2026-01-01T00:00:00.000000Z")
    for k in (k1, k2, k0, k3):
        store.directory.add_key(k)
    other = store_factory()
    assert other.directory.key("k1") == k1
    assert other.directory.key("nope") is None
    assert other.directory.keys(["acme"]) == [k2, k0, k1]  # by creation time, then id
    assert other.directory.keys(["acme", "globex"]) == [k2, k3, k0, k1]
    assert other.directory.keys(["initech"]) == []
    assert other.directory.keys([]) == []

    revoked = store.directory.revoke_key("k1", "2026-02-01T00:00:00.000000Z")
    assert revoked == ApiKey(
        "k1", "acme", "admin", b"\x01" * 32, "ops", k1.created_at, "2026-02-01T00:00:00.000000Z"
    )
    assert store.directory.revoke_key("k1", "2026-03-01T00:00:00.000000Z") == revoked  # idempotent
    assert other.directory.key("k1") == revoked
    with pytest.raises(NotFoundError):
        store.directory.revoke_key("nope", "t")
    assert other.directory.key("k2") == k2


# -- console reads (ConsoleReads) ------------------------------------------------------------


@pytest.fixture
def over_days(store: Stores) -> Stores:
    """40 events, 3 hours apart from FIXED_TIME (10:00 UTC, so across 6 days): tenant acme,
    globex or initech by i % 3; type sign / view / custom by i % 4; checkpoints every 10."""
    ticks = itertools.count()
    ledger = Ledger(
        store.ledger,
        SIGNER,
        clock=lambda: FIXED_TIME + timedelta(hours=3 * next(ticks)),
        random_bytes=counting_random(),
    )
    for i in range(40):
        etype = ["sign", "view", "view", "acme:approve"][i % 4]
        ledger.append(["acme", "globex", "initech"][i % 3], [event_input(f"d-{i}", etype=etype)])
        if i % 10 == 9:
            ledger.seal()
    return store


def naive_counts(
    store: Stores, tenants: list[str], start: str, end: str, prefix: int = 10
) -> list[tuple[str, str, int]]:
    counts: dict[tuple[str, str], int] = {}
    for e in store.ledger.entries():
        ev = e.event
        if ev.tenant in tenants and start <= ev.recorded_at < end:
            key = (ev.recorded_at[:prefix], ev.type)
            counts[key] = counts.get(key, 0) + 1
    return [(d, t, n) for (d, t), n in sorted(counts.items())]


#: (tenants, start, end) in hours after FIXED_TIME; one fixture build serves them all
COUNT_CASES = [
    (["acme", "globex", "initech"], 0, 200),
    (["acme"], 0, 200),
    (["globex", "initech", "nobody"], 14, 62),  # bounds within a day: start in, end out
    (["acme"], 15, 15),
    (["nobody"], 0, 200),
]


def test_event_counts_per_day_and_type(over_days: Stores) -> None:
    for tenants, start_hours, end_hours in COUNT_CASES:
        start = format_time(FIXED_TIME + timedelta(hours=start_hours))
        end = format_time(FIXED_TIME + timedelta(hours=end_hours))
        got = over_days.stats.event_counts(tenants, start, end)
        assert got == naive_counts(over_days, tenants, start, end), tenants
        assert bool(got) == (tenants != ["nobody"] and start < end)
    days = {
        d
        for d, _, _ in over_days.stats.event_counts(["acme", "globex", "initech"], at(0), at(10**6))
    }
    assert len(days) == 6


def test_event_counts_per_hour_minute_and_second(over_days: Stores) -> None:
    for prefix in (13, 16, 19):
        for tenants, start_hours, end_hours in COUNT_CASES:
            start = format_time(FIXED_TIME + timedelta(hours=start_hours))
            end = format_time(FIXED_TIME + timedelta(hours=end_hours))
            got = over_days.stats.event_counts(tenants, start, end, prefix)
            assert got == naive_counts(over_days, tenants, start, end, prefix), (prefix, tenants)
        keys = {k for k, _, _ in over_days.stats.event_counts(["acme"], at(0), at(10**6), prefix)}
        assert {len(k) for k in keys} == {prefix}
        assert len(keys) == 14  # acme's events are 9 hours apart: one granule each


@pytest.mark.parametrize("prefix", [0, 9, 11, 20, 27, True, "13"])
def test_event_counts_refuses_other_prefixes(store: Stores, prefix: Any) -> None:
    with pytest.raises(ValueError, match="count prefix"):
        store.stats.event_counts(["acme"], at(0), at(1), prefix)


# -- local days of a time zone (sealtrail/ledger/local_days.py over each backend) -------------

#: UTC times around local midnights: Asia/Shanghai (+08:00, 16:00Z), New York in December
#: (-05:00, 05:00Z), Asia/Kolkata (+05:30, 18:30Z: not on an hour), and Europe/Berlin's 23-hour
#: 2026-03-29 ([03-28T23:00Z, 03-29T22:00Z)) and 25-hour 2026-10-25 ([10-24T22:00Z,
#: 10-25T23:00Z))
ZONE_TIMES = [
    "2026-03-28T22:59:59.999999Z",
    "2026-03-28T23:00:00.000000Z",
    "2026-03-29T01:30:00.000000Z",
    "2026-03-29T21:59:59.999999Z",
    "2026-03-29T22:00:00.000000Z",
    "2026-10-24T21:59:59.999999Z",
    "2026-10-24T22:00:00.000000Z",
    "2026-10-25T22:30:00.000000Z",
    "2026-10-25T23:00:00.000000Z",
    "2026-12-07T04:59:59.999999Z",
    "2026-12-07T05:00:00.000000Z",
    "2026-12-07T15:59:59.999999Z",
    "2026-12-07T16:00:00.000000Z",
    "2026-12-07T17:30:00.000000Z",
    "2026-12-07T18:29:59.999999Z",
    "2026-12-07T18:30:00.000000Z",
    "2026-12-07T23:59:59.999999Z",
    "2026-12-08T00:00:00.000000Z",
]


@pytest.fixture
def zoned(store: Stores) -> Stores:
    """One event of tenant acme at each of :data:`ZONE_TIMES` (type ``sign`` for the
    2026-12-07T17:30Z one, ``view`` for the others), and one of globex at 17:30Z."""
    times = iter([*ZONE_TIMES, "2026-12-07T17:30:00.000000Z"])
    ledger = Ledger(
        store.ledger,
        SIGNER,
        clock=lambda: datetime.fromisoformat(next(times)),
        random_bytes=counting_random(),
    )
    for i, t in enumerate(ZONE_TIMES):
        etype = "sign" if t.startswith("2026-12-07T17:30") else "view"
        ledger.append("acme", [event_input(f"z-{i}", etype=etype)])
    ledger.append("globex", [event_input("g-0", etype="sign")])
    assert [e.event.recorded_at for e in store.ledger.entries()][:-1] == ZONE_TIMES
    return store


def naive_local_days(
    store: Stores, tenants: list[str], zone: ZoneInfo, first: date, days: int
) -> list[tuple[date, str, int]]:
    """The oracle: each event's own local date, one by one."""
    last = first + timedelta(days=days - 1)
    counts: dict[tuple[date, str], int] = {}
    for e in store.ledger.entries():
        d = datetime.fromisoformat(e.event.recorded_at).astimezone(zone).date()
        if e.event.tenant in tenants and first <= d <= last:
            counts[(d, e.event.type)] = counts.get((d, e.event.type), 0) + 1
    return sorted((d, t, n) for (d, t), n in counts.items())


def test_an_evening_event_in_utc_is_the_next_day_in_shanghai(zoned: Stores) -> None:
    def day_of_sign(zone: str) -> list[date]:
        got = local_day_counts(zoned.stats, ["acme"], ZoneInfo(zone), date(2026, 12, 6), 3)
        return [d for d, t, _ in got if t == "sign"]

    assert day_of_sign("Asia/Shanghai") == [date(2026, 12, 8)]
    assert day_of_sign("UTC") == [date(2026, 12, 7)]
    assert day_of_sign("America/New_York") == [date(2026, 12, 7)]
    shanghai = local_day_counts(
        zoned.stats, ["acme", "globex"], ZoneInfo("Asia/Shanghai"), date(2026, 12, 7), 2
    )
    # 12-07 (local) holds 04:59Z..15:59Z; 12-08 holds 16:00Z onwards (the two 17:30Z signs)
    assert shanghai == [
        (date(2026, 12, 7), "view", 3),
        (date(2026, 12, 8), "sign", 2),
        (date(2026, 12, 8), "view", 5),
    ]


def test_berlin_days_across_daylight_saving_changes(zoned: Stores) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    got = local_day_counts(zoned.stats, ["acme"], berlin, date(2026, 3, 28), 3)
    # 22:59:59Z is 23:59:59 CET on the 28th; 23:00Z opens the 23-hour 29th, which ends at
    # 22:00Z (00:00 CEST): a fixed +01:00 would count 21:59:59Z and 22:00Z in one day, a fixed
    # +02:00 would put 22:59:59Z on the 29th
    assert got == [
        (date(2026, 3, 28), "view", 1),
        (date(2026, 3, 29), "view", 3),
        (date(2026, 3, 30), "view", 1),
    ]
    got = local_day_counts(zoned.stats, ["acme"], berlin, date(2026, 10, 24), 3)
    assert got == [
        (date(2026, 10, 24), "view", 1),
        (date(2026, 10, 25), "view", 2),  # 25 hours: 22:00Z on the 24th to 23:00Z
        (date(2026, 10, 26), "view", 1),
    ]


@pytest.mark.parametrize(
    "zone",
    ["UTC", "Asia/Shanghai", "America/New_York", "Europe/Berlin", "Asia/Kolkata",
     "Asia/Kathmandu", "Pacific/Chatham", "America/St_Johns", "Pacific/Kiritimati"],
)  # fmt: skip
def test_local_days_agree_with_each_events_own_local_date(zoned: Stores, zone: str) -> None:
    tz = ZoneInfo(zone)
    for first, days in ((date(2026, 3, 27), 5), (date(2026, 10, 23), 5), (date(2026, 12, 5), 5)):
        for tenants in (["acme"], ["acme", "globex"], ["nobody"]):
            got = local_day_counts(zoned.stats, tenants, tz, first, days)
            assert got == naive_local_days(zoned, tenants, tz, first, days), (first, tenants)


def test_tenant_activity(over_days: Stores) -> None:
    assert over_days.stats.event_counts([], at(0), at(10**6)) == []
    entries = [e.event for e in over_days.ledger.entries()]
    want = {
        t: (
            sum(1 for e in entries if e.tenant == t),
            max(e.recorded_at for e in entries if e.tenant == t),
        )
        for t in ("acme", "globex")
    }
    assert over_days.stats.tenant_activity(["acme", "globex", "nobody"]) == want
    assert want["acme"][0] == 14
    assert over_days.stats.tenant_activity([]) == {}
    assert over_days.stats.tenant_activity(["nobody"]) == {}


def test_recent_checkpoints_newest_first(over_days: Stores) -> None:
    every = over_days.ledger.checkpoints()
    assert [c.size for c in every] == [10, 20, 30, 40]
    assert over_days.stats.recent_checkpoints(2) == every[::-1][:2]
    assert over_days.stats.recent_checkpoints(100) == every[::-1]


def test_recent_checkpoints_of_an_empty_store(store: Stores) -> None:
    assert store.stats.recent_checkpoints(5) == []


# -- leases and fencing (CoordinationStore, WriteView.check_fence) ---------------------------

#: what the stand-in lacks for leases: acquire_lease is one findAndModify with an update pipeline


def test_lease_is_taken_renewed_refused_expired_and_released(store_factory: StoreFactory) -> None:
    store = store_factory()
    assert store.coordination.lease("sequencer") is None
    a1 = store.coordination.acquire_lease("sequencer", "A", 10, 100.0)
    assert a1 == Lease("sequencer", "A", 1, 110.0)
    a2 = store.coordination.acquire_lease("sequencer", "A", 10, 105.5)  # renewed: same epoch
    assert a2 == Lease("sequencer", "A", 1, 115.5)
    assert (
        store.coordination.acquire_lease("sequencer", "B", 10, 115.0) is None
    )  # A's has not expired
    other = store_factory()
    assert other.coordination.lease("sequencer") == a2
    b = other.coordination.acquire_lease(
        "sequencer", "B", 10, 115.5
    )  # expired (at 115.5 exactly): taken
    assert b == Lease("sequencer", "B", 2, 125.5)
    assert store.coordination.acquire_lease("sequencer", "A", 10, 116.0) is None
    assert store.coordination.lease("sequencer") == b

    store.coordination.release_lease(a2)  # no longer A's: nothing happens
    assert store.coordination.lease("sequencer") == b
    other.coordination.release_lease(b)
    released = store.coordination.lease("sequencer")
    assert released is not None
    assert (released.holder, released.epoch) == ("B", 2)
    assert released.expires_at <= 116.0
    assert store.coordination.acquire_lease("sequencer", "A", 10, 116.0) == Lease(
        "sequencer", "A", 3, 126.0
    )
    # A holder that renews after its own lease expired (nobody took it) keeps its epoch.
    assert store.coordination.acquire_lease("sequencer", "A", 10, 500.0) == Lease(
        "sequencer", "A", 3, 510.0
    )
    # Leases are independent by name.
    assert store.coordination.acquire_lease("anchoring", "B", 5, 116.0) == Lease(
        "anchoring", "B", 1, 121.0
    )
    assert other.coordination.lease("sequencer") == Lease("sequencer", "A", 3, 510.0)


def test_first_takes_race_and_one_wins(store_factory: StoreFactory) -> None:
    stores = [store_factory() for _ in range(6)]
    barrier = threading.Barrier(len(stores))

    def take(i: int) -> Lease | None:
        barrier.wait()
        return stores[i].coordination.acquire_lease("race", f"h{i}", 30, 1000.0)

    with ThreadPoolExecutor(len(stores)) as pool:
        got = list(pool.map(take, range(len(stores))))
    won = [g for g in got if g is not None]
    assert len(won) == 1
    assert won[0].epoch == 1
    assert stores[0].coordination.lease("race") == won[0]


def test_fence_of_a_lease_never_taken_fails_and_writes_nothing(store: Stores) -> None:
    entries = fresh_entries(2)

    def txn(view: WriteView) -> None:
        view.append(entries)
        view.check_fence(Lease("sequencer", "A", 1, 1e18))

    with pytest.raises(LeaseLostError):
        store.ledger.write(txn)
    assert store.ledger.size() == 0
    assert store.coordination.lease("sequencer") is None


def test_fenced_writes_with_a_stale_lease_fail_and_write_nothing(
    store_factory: StoreFactory,
) -> None:
    a_store, b_store = store_factory(), store_factory()
    (cp,) = sealed(a_store, [2])
    old = a_store.coordination.acquire_lease("sequencer", "A", 10, 100.0)
    assert old is not None
    new = b_store.coordination.acquire_lease(
        "sequencer", "B", 10, 111.0
    )  # A was paused past its expiry
    assert new is not None
    assert new.epoch == old.epoch + 1
    entries = fresh_entries(4)[2:]

    def fenced_first(view: WriteView) -> None:
        view.check_fence(old)
        view.append(entries)

    def fenced_last(view: WriteView) -> None:
        view.append(entries)
        view.check_fence(old)

    for fn in (fenced_first, fenced_last):
        with pytest.raises(LeaseLostError):
            a_store.ledger.write(fn)
    with pytest.raises(LeaseLostError):
        a_store.anchors.put_anchor(anchor_at(2, "pending"), fence=old)
    with pytest.raises(LeaseLostError):
        a_store.timestamps.put_timestamp(2, b"tok", "g", 1, "tsa", "t", fence=old)
    with pytest.raises(LeaseLostError):
        a_store.timestamps.timestamp_failed(2, "e", "t", fence=old)
    # the old holder's stale lease with the right epoch but another holder is no better
    with pytest.raises(LeaseLostError):
        a_store.ledger.write(lambda view: view.check_fence(Lease("sequencer", "A", new.epoch, 0)))
    assert a_store.ledger.size() == 2
    assert a_store.anchors.anchor(2) is None
    assert a_store.timestamps.timestamp(2) is None
    assert a_store.coordination.lease("sequencer") == new

    # The holder's fenced writes go through.
    b_store.ledger.write(lambda view: (view.check_fence(new), view.append(entries)))
    b_store.anchors.put_anchor(anchor_at(2, "pending"), fence=new)
    b_store.timestamps.put_timestamp(2, b"tok", "g", 1, "tsa", "t", fence=new)
    assert a_store.ledger.size() == 4
    assert a_store.anchors.anchor(2) == anchor_at(2, "pending")
    assert a_store.timestamps.timestamp(2).token == b"tok"  # type: ignore[union-attr]
    assert cp.size == 2


@real_mongodb_variant(
    "isolation between transactions (the takeover would not wait for the fenced commit)"
)
def test_a_takeover_waits_for_the_fenced_transaction_in_flight(
    store_factory: StoreFactory,
) -> None:
    """The fence makes a concurrent takeover conflict: it can only happen before (and then the
    fenced transaction fails) or after the fenced transaction commits, never in between."""
    holder, rival = store_factory(), store_factory()
    lease = holder.coordination.acquire_lease("sequencer", "A", 10, 100.0)
    assert lease is not None
    taken: list[Lease | None] = []
    entries = fresh_entries(1)

    def txn(view: WriteView) -> threading.Thread:
        view.check_fence(lease)
        view.append(entries)
        t = threading.Thread(
            target=lambda: taken.append(
                rival.coordination.acquire_lease("sequencer", "B", 10, 200.0)
            )
        )
        t.start()
        t.join(0.5)
        assert t.is_alive(), "the takeover went through while the fenced transaction was open"
        return t

    thread = holder.ledger.write(txn)
    thread.join(30)
    assert taken == [Lease("sequencer", "B", 2, 210.0)]
    assert rival.ledger.size() == 1


# -- the append queue (CoordinationStore, WriteView.finish_queued) ----------------------------


def queued(n: int, at: str) -> QueuedAppend:
    return QueuedAppend(f"q-{n}", "acme", b'[{"n": %d}]' % n, at)


def test_queue_keeps_order_results_and_prunes(store_factory: StoreFactory) -> None:
    store, other = store_factory(), store_factory()
    items = [queued(1, "2026-11-24T10:00:00.000000Z"), queued(2, "2026-11-24T10:00:00.000000Z")]
    items.append(queued(3, "2026-11-24T10:00:01.000000Z"))
    for item in items:
        store.coordination.enqueue_append(item)
    with pytest.raises(ConflictError):
        store.coordination.enqueue_append(queued(1, "2026-11-24T10:00:02.000000Z"))
    assert other.coordination.queued_appends() == items
    assert other.coordination.queued_appends(limit=2) == items[:2]
    assert other.coordination.queued_result("q-1") is None
    with pytest.raises(NotFoundError):
        other.coordination.queued_result("q-9")

    done = b'{"events":[[0,false]]}'
    store.ledger.write(
        lambda view: view.finish_queued({"q-2": done}, "2026-11-24T10:01:00.000000Z")
    )
    assert other.coordination.queued_result("q-2") == done
    assert other.coordination.queued_appends() == [items[0], items[2]]

    # Finishing one that already has an outcome (or is unknown) fails the whole transaction.
    for tickets in (["q-1", "q-2"], ["q-3", "q-9"]):
        outcomes = {t: b"{}" for t in tickets}
        with pytest.raises(ConflictError):
            store.ledger.write(lambda view: view.finish_queued(outcomes, "t"))
    assert other.coordination.queued_result("q-2") == done
    assert other.coordination.queued_appends() == [items[0], items[2]]

    def finish_then_fail(view: WriteView) -> None:
        view.finish_queued({"q-1": done}, "2026-11-24T10:02:00.000000Z")
        raise Boom

    with pytest.raises(Boom):
        store.ledger.write(finish_then_fail)
    assert other.coordination.queued_result("q-1") is None

    store.ledger.write(
        lambda view: view.finish_queued({"q-1": done}, "2026-11-24T10:02:00.000000Z")
    )
    assert other.coordination.queued_appends() == [items[2]]
    assert (
        store.coordination.prune_queue("2026-11-24T10:01:00.000000Z") == 0
    )  # finished at, not before
    assert store.coordination.prune_queue("2026-11-24T10:01:30.000000Z") == 1
    with pytest.raises(NotFoundError):
        other.coordination.queued_result("q-2")
    assert store.coordination.prune_queue("2026-11-24T11:00:00.000000Z") == 1
    assert store.coordination.prune_queue("2026-11-24T11:00:00.000000Z") == 0
    assert other.coordination.queued_appends() == [items[2]]  # waiting ones are never pruned
    assert other.coordination.queued_result("q-3") is None


def test_queued_outcomes_commit_with_the_events(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.coordination.enqueue_append(queued(1, "2026-11-24T10:00:00.000000Z"))
    entries = fresh_entries(1)

    def txn(view: WriteView) -> None:
        view.append(entries)
        view.finish_queued({"q-1": b'{"events":[[0,false]]}'}, "t")

    store.ledger.write(txn)
    other = store_factory()
    assert other.ledger.size() == 1
    assert other.coordination.queued_result("q-1") == b'{"events":[[0,false]]}'
    assert other.coordination.queued_appends() == []


# -- the verifiable map (MapStore) -----------------------------------------------------------


def _map_content(n: int, *, tag: str = "") -> tuple[dict[bytes, tuple[bytes, bytes]], bytes]:
    """``n`` stream keys with values, and the map they make: (key hash -> (key, value)), root."""
    values: dict[bytes, tuple[bytes, bytes]] = {}
    for i in range(n):
        key = vmap.stream_key("acme", f"contract:{tag}{i}")
        value = vmap.StreamHead(i + 1, i, hashlib.sha256(f"{tag}{i}".encode()).digest()).encode()
        values[vmap.key_hash(key)] = (key, value)
    root = vmap_tree.root_of({kh: vmap.value_hash(v) for kh, (_, v) in values.items()})
    return values, root


def _maps(store: Stores) -> MapStore:
    assert store.ledger.maps is not None, "every backend stores the map"
    return store.ledger.maps


def test_map_store_round_trips_nodes_values_and_roots(store_factory: StoreFactory) -> None:
    store = store_factory()
    maps = _maps(store)
    assert (maps.latest_root(), maps.roots(), maps.root(3)) == (None, [], None)
    values, root = _map_content(40)
    _, nodes = vmap_tree.build({kh: vmap.value_hash(v) for kh, (_, v) in values.items()})
    store.ledger.write(lambda view: maps.put(view, nodes, values, {3: root}))
    later_values, later_root = _map_content(5, tag="x")
    store.ledger.write(lambda view: maps.put(view, {}, later_values, {9: later_root}))

    other = _maps(store_factory())  # what was committed, through another handle
    assert other.nodes(list(nodes)) == nodes
    assert other.nodes([hashlib.sha256(b"absent").digest()]) == {}
    assert other.values(list(values)) == {kh: v for kh, (_, v) in values.items()}
    assert other.root(3) == root
    assert other.root(4) is None
    assert other.latest_root() == (9, later_root)
    assert other.roots() == [(3, root), (9, later_root)]
    assert list(other.all_nodes()) == sorted(nodes.items())
    everything = {**values, **later_values}
    assert list(other.all_values()) == [(kh, *everything[kh]) for kh in sorted(everything)]
    # proofs served from the store verify against the root
    for kh, (key, value) in list(values.items())[:5]:
        vmap.verify_inclusion(root, key, value, vmap_tree.prove(root, kh, other.nodes))


def test_map_store_reads_more_hashes_than_one_query_takes(store: Stores) -> None:
    maps = _maps(store)
    values, root = _map_content(1200)
    _, nodes = vmap_tree.build({kh: vmap.value_hash(v) for kh, (_, v) in values.items()})
    assert len(nodes) > 2000
    store.ledger.write(lambda view: maps.put(view, nodes, values, {1: root}))
    asked = [*nodes, *nodes][:3000]  # duplicates asked for come back once
    assert maps.nodes(asked) == nodes
    assert maps.values(list(values)) == {kh: v for kh, (_, v) in values.items()}


def test_map_nodes_are_write_once_and_values_are_replaced(store: Stores) -> None:
    maps = _maps(store)
    values, root = _map_content(3)
    _, nodes = vmap_tree.build({kh: vmap.value_hash(v) for kh, (_, v) in values.items()})
    store.ledger.write(lambda view: maps.put(view, nodes, values, {1: root}))
    h = next(iter(nodes))
    kh, (key, _) = next(iter(values.items()))
    newer = vmap.StreamHead(7, 6, bytes(32)).encode()
    store.ledger.write(lambda view: maps.put(view, {h: b"X" * 65}, {kh: (key, newer)}, {}))
    assert maps.nodes([h]) == {h: nodes[h]}  # an existing node is left alone
    assert maps.values([kh]) == {kh: newer}


def test_a_second_map_root_for_a_size_is_refused_and_nothing_of_it_kept(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    maps = _maps(store)
    values, root = _map_content(4)
    _, nodes = vmap_tree.build({kh: vmap.value_hash(v) for kh, (_, v) in values.items()})
    store.ledger.write(lambda view: maps.put(view, nodes, values, {5: root}))
    more, other_root = _map_content(4, tag="y")
    _, other_nodes = vmap_tree.build({kh: vmap.value_hash(v) for kh, (_, v) in more.items()})
    with pytest.raises(ConflictError):
        store.ledger.write(lambda view: maps.put(view, other_nodes, more, {5: other_root}))
    again = _maps(store_factory())
    assert again.roots() == [(5, root)]
    assert again.nodes(list(other_nodes)) == {}  # the failed transaction's nodes are gone
    assert again.values(list(more)) == {}


def test_map_put_outside_a_write_transaction_is_refused(store: Stores) -> None:
    maps = _maps(store)
    values, root = _map_content(2)
    view: Any = None
    with pytest.raises(RuntimeError, match=r"inside LedgerStore\.write"):
        maps.put(view, {}, values, {1: root})
    assert maps.roots() == []


def test_a_seal_that_fails_after_the_map_keeps_no_map(store_factory: StoreFactory) -> None:
    """The map's nodes, values and root commit with the checkpoint, or none of them does."""
    store = store_factory()
    ledger = make_ledger(store)
    fill(ledger, 6)
    maps = _maps(store)

    def seal_then_fail(view: WriteView) -> None:
        advance_map(store.ledger, maps, view, view.size())
        assert maps.latest_root() is not None  # the transaction reads what it wrote
        raise Boom

    with pytest.raises(Boom):
        store.ledger.write(seal_then_fail)
    again = _maps(store_factory())
    assert again.roots() == []
    assert list(again.all_nodes()) == []
    assert list(again.all_values()) == []
    cp, _ = ledger.seal()
    assert cp is not None
    assert again.roots() == [
        (6, vmap.map_root_of(verify_checkpoint(cp.note, SIGNER.verifier()).extensions))
    ]
