"""The SealStore contract (sealtrail/seals/store.py), run against SQLite and MongoDB.

Only protocol methods are used, except in the fault-injection tests, which make each backend's
outbox step fail *after* the change was written to show that the change is rolled back with it
(the outbox crash-consistency argument of sealtrail/seals/outbox.py needs a change and its
events to be one atomic operation). Reads that matter go through a second handle on the same
database, to see what was committed rather than what one connection cached.

MongoDB is ``tests.mongo``: a real server when SEALTRAIL_TEST_MONGODB_URI is set, else one
nx-27017 stand-in process per module, with a fresh database per test.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from sealtrail.backend import Stores, open_mongodb, open_sqlite
from sealtrail.core.errors import ConflictError, NotFoundError
from sealtrail.ledger.mongo_store import MongoLedgerStore
from sealtrail.seals import mongo_store
from sealtrail.seals import sqlite_store as sql_store
from sealtrail.seals.mongo_store import MAX_DOCUMENT_BYTES, MongoSealStore
from sealtrail.seals.outbox import outbox_event
from sealtrail.seals.sqlite_store import SQLiteSealStore
from sealtrail.seals.store import (
    OutboxEvent,
    RequestDecision,
    SealStatusChange,
    SealStore,
    SealUse,
    SignatureCommit,
    StoredCa,
    StoredEnvelope,
    StoredLink,
    StoredPolicy,
    StoredRequest,
    StoredSeal,
    StoredSigner,
    StoredTerms,
)
from sealtrail.signing.errors import PdfTooLargeError
from tests.mongo import MongoServer, mongodb_server, stand_in_lacks

T0 = "2026-11-24T10:00:00.000000Z"
T1 = "2026-11-24T10:00:01.000000Z"
T2 = "2026-11-24T10:00:02.000000Z"
DER = b"\x30\x82\x00\x00cert\x00with\xffbytes"


class Boom(Exception):
    """The injected failure of the outbox step."""


# -- backends ----------------------------------------------------------------------------------


class Backend:
    """One fresh database of one backend; :meth:`open` gives another handle on it."""

    name: str

    def open(self) -> SealStore:
        raise NotImplementedError

    def break_outbox(self, store: SealStore, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make ``store`` fail right after a change was written, when it queues the events."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened: list[Stores] = []

    def open(self) -> SealStore:
        stores = open_sqlite(self.path)
        self.opened.append(stores)
        return stores.seals

    def break_outbox(self, store: SealStore, monkeypatch: pytest.MonkeyPatch) -> None:
        def boom(con: Any, events: Any) -> None:
            raise Boom

        monkeypatch.setattr(sql_store, "_enqueue", boom)

    def close(self) -> None:
        for s in self.opened:
            s.close()


class MongoBackend(Backend):
    name = "mongodb"

    def __init__(self, url: str) -> None:
        self.url = url
        self.conns: list[Stores] = []

    def open(self) -> SealStore:
        stores = open_mongodb(self.url)
        self.conns.append(stores)
        return stores.seals

    def break_outbox(self, store: SealStore, monkeypatch: pytest.MonkeyPatch) -> None:
        assert isinstance(store, MongoSealStore)

        def boom(events: Any, session: Any) -> None:
            raise Boom

        monkeypatch.setattr(store, "_enqueue", boom)

    def close(self) -> None:  # the server drops the database
        for c in self.conns:
            c.close()


@pytest.fixture(scope="module")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """One MongoDB (or stand-in process) for the module; each test takes a fresh database."""
    with mongodb_server(tmp_path_factory.mktemp("seal-store-mongo")) as server:
        yield server


@pytest.fixture(params=["sqlite", "mongodb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b: Backend
    if request.param == "sqlite":
        b = SQLiteBackend(tmp_path / "ledger.db")
    else:
        server: MongoServer = request.getfixturevalue("mongo_server")
        b = MongoBackend(server.fresh_url())
    yield b
    b.close()


@pytest.fixture
def store(backend: Backend) -> SealStore:
    return backend.open()


@pytest.fixture
def other(backend: Backend, store: SealStore) -> SealStore:
    """A second handle on the same database (opened after ``store``)."""
    return backend.open()


# What the nx-27017 stand-in gets wrong (found by this suite; tests/mongo.py lists the earlier
# ones). A test needing one of these runs on MongoDB only against a real server.
ISOLATION = "isolation of concurrent transactions and write-conflict detection"
INSERT_FIRST = (
    "a plain insert as the first command of a transaction (it also stores the command's "
    "readConcern {level: snapshot} as a document)"
)
REPLACE_UPSERT = (
    "replace_one with upsert (it inserts under a new ObjectId, or nothing in a transaction)"
)
ID_IN_INDEX = (
    "secondary indexes that include _id (every insert then fails: JSON path error near '_id')"
)
POSITIONAL_BINARY = "$set of a binary value through the positional operator (signers.$.before)"


def on_backends(*gaps: str) -> pytest.MarkDecorator:
    """Run on SQLite and MongoDB; on MongoDB only with a real server if the stand-in has
    ``gaps``."""
    mongo: Any = "mongodb"
    if gaps:
        mongo = pytest.param("mongodb", marks=stand_in_lacks("; ".join(gaps)))
    return pytest.mark.parametrize("backend", ["sqlite", mongo], indirect=True)


MONGODB_ONLY = pytest.mark.parametrize("backend", ["mongodb"], indirect=True)


# -- records -----------------------------------------------------------------------------------


def ev(
    tenant: str, n: int = 0, stream: str = "seal:s-1", etype: str = "seal:created"
) -> OutboxEvent:
    return outbox_event(tenant, {"stream": stream, "type": etype, "actor": {"id": "t"},
                                 "attributes": {"n": n}})  # fmt: skip


def body(e: OutboxEvent) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(e.body)
    return out


def queued(store: SealStore) -> list[tuple[str, dict[str, Any]]]:
    return [(q.tenant, orjson.loads(q.body)) for q in store.pending_events()]


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def seal(sid: str = "seal-1", tenant: str = "acme", **kw: Any) -> StoredSeal:
    base = StoredSeal(
        sid, tenant, "contract", "Acme 合同专用章", "合同专用章", "91310000", "purchase only",
        "active", None, None, "internal-ca", "generated", DER + sid.encode(),
        (b"\x00issuer", b"root\x00"), T0,
    )  # fmt: skip
    return replace(base, **kw)


def add_seal(store: SealStore, sid: str = "seal-1", tenant: str = "acme", **kw: Any) -> StoredSeal:
    s = seal(sid, tenant, **kw)
    store.insert_seal(s, appearance=b"\x89PNG" + sid.encode(), key_blob=b"key\x00" + sid.encode(),
                      events=[ev(tenant, stream=f"seal:{sid}")])  # fmt: skip
    return s


def request_rec(rid: str = "sreq-1", tenant: str = "acme", **kw: Any) -> StoredRequest:
    base = StoredRequest(
        rid, tenant, "seal-1", sha(rid.encode()), "contract 42", "key-req", "pending", None,
        None, T0, None, None,
    )  # fmt: skip
    return replace(base, **kw)


def use_rec(tenant: str = "acme", **kw: Any) -> SealUse:
    base = SealUse(tenant, "seal-1", "key-req", None, None, sha(b"before"), sha(b"after"), T1)
    return replace(base, **kw)


PDF = b"%PDF-1.7\n" + bytes(range(256)) * 4 + b"\n%%EOF\n"


def envelope_rec(eid: str = "env-1", tenant: str = "acme", signers: int = 2,
                 created_at: str = T0) -> StoredEnvelope:  # fmt: skip
    slots = tuple(
        StoredSigner(
            i, f"seal-{i}", None if i else "key-0", "pending", None, None, None, None, tenant
        )
        for i in range(signers)
    )
    return StoredEnvelope(eid, tenant, "Contract 42.pdf", True, "open", 0, sha(PDF), sha(PDF),
                          "key-creator", created_at, None, slots)  # fmt: skip


def commit_rec(
    env: StoredEnvelope,
    position: int,
    document: bytes,
    *,
    version: int = 0,
    completes: bool = False,
    before: bytes | None = None,
) -> SignatureCommit:
    prior = sha(PDF) if before is None else before
    return SignatureCommit(
        env.id, version, position, document, f"key-{position}", T1, prior, sha(document), completes
    )


# -- composition (sealtrail.backend builds the seal store on the backend's shared handle) -------


def test_factory_picks_the_backend_of_the_ledger_store(backend: Backend, tmp_path: Path) -> None:
    if isinstance(backend, SQLiteBackend):
        stores = open_sqlite(tmp_path / "f.db")
        try:
            assert isinstance(stores.seals, SQLiteSealStore)
        finally:
            stores.close()
    else:
        assert isinstance(backend, MongoBackend)
        stores = open_mongodb(backend.url)
        backend.conns.append(stores)
        made = stores.seals
        assert isinstance(made, MongoSealStore)
        assert isinstance(stores.ledger, MongoLedgerStore)
        assert made.conn is stores.ledger.conn


# -- internal CAs ------------------------------------------------------------------------------


def test_ca_is_added_once_and_the_first_one_wins(store: SealStore, other: SealStore) -> None:
    assert store.ca("acme") is None
    assert store.any_ca() is None
    first = StoredCa("acme", DER, b"blob-1\x00", T0)
    assert store.add_ca(first) == first
    # a second process creating the tenant's CA at the same time gets the stored one
    assert other.add_ca(StoredCa("acme", b"other-der", b"blob-2", T1)) == first
    assert other.ca("acme") == first
    assert other.any_ca() == first


def test_cas_by_tenant(store: SealStore) -> None:
    for t in ("zeta", "acme", "beta"):
        store.add_ca(StoredCa(t, DER + t.encode(), b"k" + t.encode(), T0))
    assert [c.tenant for c in store.cas()] == ["acme", "beta", "zeta"]
    assert [c.tenant for c in store.cas(["zeta", "acme", "nobody"])] == ["acme", "zeta"]
    assert store.cas([]) == []
    assert store.cas(["zeta"])[0].certificate == DER + b"zeta"


# -- seals -------------------------------------------------------------------------------------


def test_seal_round_trip_without_key_and_picture(store: SealStore, other: SealStore) -> None:
    s = add_seal(store)
    assert other.seal("seal-1") == s
    assert other.seal("seal-2") is None
    assert other.seal_appearance("seal-1") == b"\x89PNGseal-1"
    assert other.seal_appearance("seal-2") is None
    key = other.seal_key("seal-1")
    assert key is not None
    assert (key.seal_id, key.status, key.key_blob) == ("seal-1", "active", b"key\x00seal-1")
    assert other.seal_key("seal-2") is None
    assert other.any_seal_key() == key
    assert [(t, b["stream"]) for t, b in queued(other)] == [("acme", "seal:seal-1")]


def test_seal_without_chain_and_with_empty_texts(store: SealStore) -> None:
    s = add_seal(store, chain=(), purpose="", code="", remarks="", source="pkcs12")
    assert store.seal("seal-1") == s


@on_backends(INSERT_FIRST)
def test_seals_filter_by_tenant_and_status_in_creation_order(store: SealStore) -> None:
    add_seal(store, "seal-c", created_at=T1)
    add_seal(store, "seal-b", created_at=T0)
    add_seal(store, "seal-a", created_at=T1, status="revoked")
    add_seal(store, "seal-x", "beta", created_at=T0)
    assert [s.id for s in store.seals()] == ["seal-b", "seal-x", "seal-a", "seal-c"]
    assert [s.id for s in store.seals(["acme"])] == ["seal-b", "seal-a", "seal-c"]
    assert [s.id for s in store.seals(["acme"], "revoked")] == ["seal-a"]
    assert [s.id for s in store.seals(None, "active")] == ["seal-b", "seal-x", "seal-c"]
    assert store.seals([]) == []


def test_duplicate_seal_id_is_a_conflict_and_queues_nothing(
    store: SealStore, other: SealStore
) -> None:
    add_seal(store)
    with pytest.raises(ConflictError):
        add_seal(store, name="another")
    assert other.seal("seal-1") == seal()
    assert len(queued(other)) == 1


def test_status_change_is_a_compare_and_swap(store: SealStore, other: SealStore) -> None:
    add_seal(store)
    change = SealStatusChange("seal-1", "active", "suspended", "audit", T1)
    store.set_seal_status(change, [ev("acme", 1, etype="seal:suspended")])
    got = other.seal("seal-1")
    assert got is not None
    assert (got.status, got.status_reason, got.status_at) == ("suspended", "audit", T1)
    key = other.seal_key("seal-1")
    assert key is not None
    assert key.status == "suspended"
    # a second change read from the same state loses, writes nothing, queues nothing
    with pytest.raises(ConflictError, match="seal seal-1 is suspended, want active"):
        store.set_seal_status(
            SealStatusChange("seal-1", "active", "revoked", "lost", T2), [ev("acme", 2)]
        )
    assert other.seal("seal-1") == got
    assert [b["type"] for _, b in queued(other)] == ["seal:created", "seal:suspended"]
    store.set_seal_status(SealStatusChange("seal-1", "suspended", "active", None, T2), [])
    resumed = other.seal("seal-1")
    assert resumed is not None
    assert (resumed.status, resumed.status_reason) == ("active", None)


def test_status_change_of_a_missing_seal(store: SealStore) -> None:
    with pytest.raises(NotFoundError):
        store.set_seal_status(SealStatusChange("nope", "active", "revoked", "x", T1), [ev("a")])
    assert queued(store) == []


# -- outbox ------------------------------------------------------------------------------------


def test_outbox_keeps_commit_order_and_forgets_what_is_done(
    store: SealStore, other: SealStore
) -> None:
    events = [ev("acme", i) for i in range(5)]
    store.enqueue(events[:2])
    add_seal(store)  # one more, queued with the seal
    store.enqueue(events[2:])
    store.enqueue([])
    pending = other.pending_events()
    seal_event = (pending[2].tenant, orjson.loads(pending[2].body)["stream"])
    assert seal_event == ("acme", "seal:seal-1")
    expected = [*events[:2], OutboxEvent(pending[2].tenant, pending[2].body), *events[2:]]
    assert [(q.tenant, q.body) for q in pending] == [(e.tenant, e.body) for e in expected]
    ids = [q.id for q in pending]
    assert ids == sorted(ids)
    assert len(set(ids)) == 6
    assert [q.id for q in other.pending_events(limit=2)] == ids[:2]
    other.events_done([ids[0], ids[2], 10**9])  # an id no longer queued is ignored
    assert [q.id for q in store.pending_events()] == [ids[1], *ids[3:]]
    store.events_done([])
    store.events_done(ids)
    assert store.pending_events() == []
    store.enqueue([ev("acme", 9)])
    assert store.pending_events()[0].id > ids[-1]  # ids keep growing after the queue drained


def test_outbox_event_body_round_trips_byte_for_byte(store: SealStore) -> None:
    e = outbox_event("acme", {"stream": "seal:é", "type": "x:t", "actor": {"id": "用户"},
                              "attributes": {"n": 2**53 - 1, "s": "é 用户 😀"}})  # fmt: skip
    store.enqueue([e])
    q = store.pending_events()[0]
    assert (q.tenant, q.body) == (e.tenant, e.body)


# -- policies ----------------------------------------------------------------------------------


@on_backends(REPLACE_UPSERT)
def test_policy_is_created_then_replaced_with_its_event(store: SealStore, other: SealStore) -> None:
    assert store.policy("acme") is None
    p1 = StoredPolicy("acme", ("*",), ("key-a", "key-b"), T0)
    store.put_policy(p1, [ev("acme", 1, stream="seal-policy:acme")])
    assert other.policy("acme") == p1
    p2 = StoredPolicy("acme", ("seal-1", "seal-2"), (), T1)
    store.put_policy(p2, [ev("acme", 2, stream="seal-policy:acme")])
    assert other.policy("acme") == p2
    assert other.policy("beta") is None
    assert [b["attributes"]["n"] for _, b in queued(other)] == [1, 2]


# -- requests ----------------------------------------------------------------------------------


def test_request_round_trip_and_listing(store: SealStore, other: SealStore) -> None:
    store.insert_request(request_rec("sreq-b", created_at=T1), [ev("acme", 1)])
    store.insert_request(request_rec("sreq-a", created_at=T1), [ev("acme", 2)])
    store.insert_request(request_rec("sreq-c", created_at=T0, status="approved"), [])
    store.insert_request(request_rec("sreq-z", "beta", created_at=T2), [ev("beta", 3)])
    assert other.request("sreq-b") == request_rec("sreq-b", created_at=T1)
    assert other.request("nope") is None
    assert [r.id for r in other.requests(["acme", "beta"])] == ["sreq-z", "sreq-a", "sreq-b",
                                                                "sreq-c"]  # fmt: skip
    assert [r.id for r in other.requests(["acme"], "pending")] == ["sreq-a", "sreq-b"]
    assert [r.id for r in other.requests(["acme"], limit=1)] == ["sreq-a"]
    assert other.requests([]) == []
    with pytest.raises(ConflictError):
        store.insert_request(request_rec("sreq-a"), [ev("acme", 4)])
    assert len(queued(other)) == 3


def test_second_decision_is_refused(store: SealStore, other: SealStore) -> None:
    store.insert_request(request_rec(), [])
    first = RequestDecision("sreq-1", "approved", "key-app", "ok", T1)
    second = RequestDecision("sreq-1", "rejected", "key-other", None, T2)
    store.decide_request(first, [ev("acme", 1)])
    # the loser read "pending" too: it is refused with the state it lost to, writing nothing
    with pytest.raises(ConflictError, match="seal request sreq-1 is approved, want pending"):
        other.decide_request(second, [ev("acme", 2)])
    got = other.request("sreq-1")
    assert got == replace(request_rec(), status="approved", decided_by="key-app",
                          decision_reason="ok", decided_at=T1)  # fmt: skip
    assert [b["attributes"]["n"] for _, b in queued(other)] == [1]
    with pytest.raises(NotFoundError):
        store.decide_request(replace(first, request_id="nope"), [ev("acme", 3)])
    assert len(queued(other)) == 1


# -- uses --------------------------------------------------------------------------------------


@on_backends(ID_IN_INDEX)
def test_uses_newest_first_and_counted_per_tenant(store: SealStore, other: SealStore) -> None:
    store.record_use(use_rec(at=T0), [ev("acme", 1)])
    store.record_use(use_rec(at=T1, envelope_id="env-1"), [ev("acme", 2)])
    store.record_use(use_rec("beta", seal_id="seal-b", at=T2), [ev("beta", 3)])
    uses = other.uses(["acme", "beta"])
    assert [u.use.at for u in uses] == [T2, T1, T0]
    assert uses[0].id > uses[1].id > uses[2].id
    assert uses[1].use == use_rec(at=T1, envelope_id="env-1")
    assert [u.use.tenant for u in other.uses(["acme"])] == ["acme", "acme"]
    assert len(other.uses(["acme", "beta"], limit=2)) == 2
    assert other.uses([]) == []
    assert other.seal_use_counts(["acme", "beta", "gamma", "acme"]) == {
        "acme": 2,
        "beta": 1,
        "gamma": 0,
    }
    assert other.seal_use_counts([]) == {}
    assert len(queued(other)) == 3


@on_backends(ID_IN_INDEX)
def test_a_use_consumes_its_approval_exactly_once(store: SealStore, other: SealStore) -> None:
    store.insert_request(request_rec(status="approved"), [])
    use = use_rec(request_id="sreq-1")
    store.record_use(use, [ev("acme", 1)])
    got = other.request("sreq-1")
    assert got is not None
    assert (got.status, got.used_at) == ("used", T1)
    # the same authorisation again (a racing request): refused, and no use and no event kept
    with pytest.raises(ConflictError, match="seal request sreq-1 was already used"):
        other.record_use(replace(use, at=T2), [ev("acme", 2)])
    assert [u.use.at for u in other.uses(["acme"])] == [T1]
    assert [b["attributes"]["n"] for _, b in queued(other)] == [1]


def test_a_use_of_an_unapproved_request_is_refused(store: SealStore) -> None:
    store.insert_request(request_rec(), [])
    with pytest.raises(ConflictError):
        store.record_use(use_rec(request_id="sreq-1"), [ev("acme", 1)])
    with pytest.raises(ConflictError):
        store.record_use(use_rec(request_id="nope"), [ev("acme", 1)])
    assert store.uses(["acme"]) == []
    assert queued(store) == []
    got = store.request("sreq-1")
    assert got is not None
    assert got.status == "pending"


# -- envelopes ---------------------------------------------------------------------------------


def test_envelope_round_trip_and_listing(store: SealStore, other: SealStore) -> None:
    env = envelope_rec()
    store.insert_envelope(env, PDF, [ev("acme", 1, stream="envelope:env-1")])
    assert other.envelope("env-1") == env
    assert other.envelope_document("env-1") == PDF
    assert other.envelope("nope") is None
    assert other.envelope_document("nope") is None
    store.insert_envelope(envelope_rec("env-0", created_at=T1), PDF, [])
    store.insert_envelope(envelope_rec("env-2", created_at=T1), PDF, [])
    store.insert_envelope(envelope_rec("env-9", "beta", created_at=T2), PDF, [])
    assert other.envelope_ids(["acme"]) == ["env-0", "env-2", "env-1"]
    assert other.envelope_ids(["acme", "beta"], limit=2) == ["env-9", "env-0"]
    assert other.envelope_ids([]) == []
    with pytest.raises(ConflictError):
        store.insert_envelope(envelope_rec(), PDF, [ev("acme", 2)])
    assert len(queued(other)) == 1


@on_backends(POSITIONAL_BINARY, ID_IN_INDEX)
def test_signatures_commit_in_turn_and_complete_the_envelope(
    store: SealStore, other: SealStore
) -> None:
    env = envelope_rec()
    store.insert_envelope(env, PDF, [])
    doc1 = PDF + b"sig-0"
    use0 = use_rec(seal_id="seal-0", envelope_id="env-1")
    store.commit_signature(commit_rec(env, 0, doc1), use0, [ev("acme", 1), ev("acme", 2)])
    got = other.envelope("env-1")
    assert got is not None
    assert (got.version, got.status, got.current, got.completed_at) == (1, "open", sha(doc1), None)
    assert got.signers[0] == StoredSigner(0, "seal-0", "key-0", "signed", "key-0", T1, sha(PDF),
                                          sha(doc1), "acme")  # fmt: skip
    assert got.signers[1] == env.signers[1]
    assert other.envelope_document("env-1") == doc1
    doc2 = doc1 + b"sig-1"
    commit = commit_rec(env, 1, doc2, version=1, completes=True, before=sha(doc1))
    store.commit_signature(commit, replace(use0, seal_id="seal-1"), [ev("beta", 3)])
    done = other.envelope("env-1")
    assert done is not None
    assert (done.version, done.status, done.completed_at, done.current) == (
        2, "completed", T1, sha(doc2),
    )  # fmt: skip
    assert [s.status for s in done.signers] == ["signed", "signed"]
    assert [u.use.seal_id for u in other.uses(["acme"])] == ["seal-1", "seal-0"]
    assert [(t, b["attributes"]["n"]) for t, b in queued(other)] == [
        ("acme", 1), ("acme", 2), ("beta", 3),
    ]  # fmt: skip
    # a completed envelope takes no more signatures
    with pytest.raises(ConflictError):
        store.commit_signature(commit_rec(env, 1, doc2, version=2), use0, [])


@on_backends(POSITIONAL_BINARY, ID_IN_INDEX)
def test_second_commit_from_the_same_version_is_refused(store: SealStore, other: SealStore) -> None:
    env = envelope_rec()
    store.insert_envelope(env, PDF, [])
    store.insert_request(request_rec(status="approved"), [])
    store.commit_signature(commit_rec(env, 0, PDF + b"A"), use_rec(), [ev("acme", 1)])
    # the loser signed the same revision: refused, its approval not consumed, nothing queued
    with pytest.raises(ConflictError, match="envelope env-1 changed while signing: sign again"):
        other.commit_signature(
            commit_rec(env, 1, PDF + b"B"), use_rec(request_id="sreq-1"), [ev("acme", 2)]
        )
    got = other.envelope("env-1")
    assert got is not None
    assert (got.version, got.current) == (1, sha(PDF + b"A"))
    assert got.signers[1].status == "pending"
    assert other.envelope_document("env-1") == PDF + b"A"
    req = other.request("sreq-1")
    assert req is not None
    assert req.status == "approved"
    assert len(other.uses(["acme"])) == 1
    assert [b["attributes"]["n"] for _, b in queued(other)] == [1]


@on_backends(POSITIONAL_BINARY)
def test_signature_with_a_used_approval_leaves_the_envelope_unchanged(
    store: SealStore, other: SealStore
) -> None:
    """The envelope update succeeds inside the operation, then consuming the approval fails:
    the envelope update must be rolled back with it."""
    env = envelope_rec()
    store.insert_envelope(env, PDF, [])
    store.insert_request(request_rec(status="used"), [])
    with pytest.raises(ConflictError, match="was already used"):
        store.commit_signature(
            commit_rec(env, 0, PDF + b"A"), use_rec(request_id="sreq-1"), [ev("acme", 1)]
        )
    assert other.envelope("env-1") == env
    assert other.envelope_document("env-1") == PDF
    assert other.uses(["acme"]) == []
    assert queued(other) == []


# -- atomicity: the outbox step fails after the change was written -------------------------------

Op = Callable[[SealStore], None]


def _prepare(store: SealStore) -> None:
    add_seal(store)
    store.insert_request(request_rec("sreq-p"), [])
    store.insert_request(request_rec("sreq-a", status="approved"), [])
    store.insert_envelope(envelope_rec(), PDF, [])
    store.put_policy(StoredPolicy("acme", ("*",), ("key-a",), T0), [])


OPS: dict[str, Op] = {
    "insert_seal": lambda s: add_seal(s, "seal-new"),
    "set_seal_status": lambda s: s.set_seal_status(
        SealStatusChange("seal-1", "active", "revoked", "r", T1), [ev("acme")]
    ),
    "put_policy": lambda s: s.put_policy(StoredPolicy("acme", (), (), T1), [ev("acme")]),
    "insert_request": lambda s: s.insert_request(request_rec("sreq-new"), [ev("acme")]),
    "decide_request": lambda s: s.decide_request(
        RequestDecision("sreq-p", "approved", "key-a", None, T1), [ev("acme")]
    ),
    "record_use": lambda s: s.record_use(use_rec(request_id="sreq-a"), [ev("acme")]),
    "insert_envelope": lambda s: s.insert_envelope(envelope_rec("env-new"), PDF, [ev("acme")]),
    "commit_signature": lambda s: s.commit_signature(
        commit_rec(envelope_rec(), 0, PDF + b"A"), use_rec(request_id="sreq-a"), [ev("acme")]
    ),
}


def _snapshot(store: SealStore) -> dict[str, Any]:
    """Every record the operations of OPS touch or create, and the outbox."""
    return {
        "seals": [store.seal(i) for i in ("seal-1", "seal-new")],
        "keys": [store.seal_key(i) for i in ("seal-1", "seal-new")],
        "policy": store.policy("acme"),
        "requests": [store.request(i) for i in ("sreq-p", "sreq-a", "sreq-new")],
        "uses": store.uses(["acme"]),
        "envelopes": [store.envelope(i) for i in ("env-1", "env-new")],
        "documents": [store.envelope_document(i) for i in ("env-1", "env-new")],
        "outbox": store.pending_events(),
    }


#: the operations whose MongoDB version the stand-in cannot run, and why
OPS_GAPS = {
    "put_policy": (REPLACE_UPSERT,),
    "record_use": (ID_IN_INDEX,),
    "commit_signature": (POSITIONAL_BINARY, ID_IN_INDEX),
}


@pytest.mark.parametrize(
    ("backend", "op"),
    [
        pytest.param(b, op, marks=[stand_in_lacks("; ".join(OPS_GAPS[op]))])
        if b == "mongodb" and op in OPS_GAPS
        else (b, op)
        for b in ("sqlite", "mongodb")
        for op in sorted(OPS)
    ],
    indirect=["backend"],
)
def test_a_change_whose_events_cannot_be_queued_is_not_kept(
    op: str, backend: Backend, store: SealStore, other: SealStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _prepare(store)
    before = _snapshot(other)
    backend.break_outbox(store, monkeypatch)
    with pytest.raises(Boom):
        OPS[op](store)
    assert _snapshot(other) == before
    monkeypatch.undo()
    OPS[op](store)  # the same change goes through once the outbox works
    after = _snapshot(other)
    assert len(after["outbox"]) == len(before["outbox"]) + 1
    assert {k: v for k, v in after.items() if k != "outbox"} != {
        k: v for k, v in before.items() if k != "outbox"
    }


# -- races between threads -----------------------------------------------------------------------


def _race(n: int, attempt: Callable[[int], None]) -> tuple[int, list[BaseException]]:
    """Run ``attempt(i)`` in ``n`` threads released together; (successes, errors)."""
    barrier = threading.Barrier(n)
    wins, errors, lock = [0], [], threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            attempt(i)
        except BaseException as e:
            with lock:
                errors.append(e)
        else:
            with lock:
                wins[0] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return wins[0], errors


@on_backends(ISOLATION, POSITIONAL_BINARY, ID_IN_INDEX)
def test_racing_commits_from_one_version_one_wins(backend: Backend) -> None:
    n = 6
    handles = [backend.open() for _ in range(n)]
    env = envelope_rec(signers=n)
    handles[0].insert_envelope(env, PDF, [])

    def attempt(i: int) -> None:
        handles[i].commit_signature(
            commit_rec(env, i, PDF + bytes([i])), use_rec(seal_id=f"seal-{i}"), [ev("acme", i)]
        )

    wins, errors = _race(n, attempt)
    assert wins == 1, errors
    assert len(errors) == n - 1
    assert all(isinstance(e, ConflictError) for e in errors), errors
    got = handles[0].envelope("env-1")
    assert got is not None
    assert got.version == 1
    assert [s.status for s in got.signers].count("signed") == 1
    assert len(handles[0].uses(["acme"])) == 1
    assert len(handles[0].pending_events()) == 1


@on_backends(ISOLATION)
def test_racing_decisions_one_wins(backend: Backend) -> None:
    n = 6
    handles = [backend.open() for _ in range(n)]
    handles[0].insert_request(request_rec(), [])

    def attempt(i: int) -> None:
        status = "approved" if i % 2 else "rejected"
        handles[i].decide_request(
            RequestDecision("sreq-1", status, f"key-{i}", None, T1), [ev("acme", i)]
        )

    wins, errors = _race(n, attempt)
    assert wins == 1, errors
    assert all(isinstance(e, ConflictError) for e in errors), errors
    assert len(handles[0].pending_events()) == 1


@on_backends(ISOLATION, ID_IN_INDEX)
def test_racing_uses_of_one_approval_one_wins(backend: Backend) -> None:
    n = 6
    handles = [backend.open() for _ in range(n)]
    handles[0].insert_request(request_rec(status="approved"), [])

    def attempt(i: int) -> None:
        handles[i].record_use(use_rec(request_id="sreq-1", key_id=f"k{i}"), [ev("acme", i)])

    wins, errors = _race(n, attempt)
    assert wins == 1, errors
    assert all(isinstance(e, ConflictError) for e in errors), errors
    assert len(handles[0].uses(["acme"])) == 1
    assert len(handles[0].pending_events()) == 1


@on_backends(ISOLATION, ID_IN_INDEX)
def test_concurrent_changes_queue_distinct_ordered_events(backend: Backend) -> None:
    n = 8
    handles = [backend.open() for _ in range(n)]

    def attempt(i: int) -> None:
        for j in range(3):
            handles[i].record_use(use_rec(key_id=f"k{i}"), [ev("acme", i * 10 + j)])

    wins, errors = _race(n, attempt)
    assert (wins, errors) == (n, [])
    pending = handles[0].pending_events()
    assert len({q.id for q in pending}) == 3 * n
    for i in range(n):  # each thread's events in the order it committed them
        mine = [body(OutboxEvent(q.tenant, q.body))["attributes"]["n"] for q in pending]
        assert [x for x in mine if x // 10 == i] == [i * 10, i * 10 + 1, i * 10 + 2]
    assert len({u.id for u in handles[0].uses(["acme"])}) == 3 * n


# -- MongoDB specifics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend", [pytest.param("mongodb", marks=stand_in_lacks(ID_IN_INDEX))], indirect=True
)
def test_mongodb_setup_is_idempotent_and_concurrent(backend: Backend) -> None:
    assert isinstance(backend, MongoBackend)
    opened: list[Stores] = []

    def start(i: int) -> None:
        opened.append(open_mongodb(backend.url))

    wins, errors = _race(4, start)
    backend.conns.extend(opened)
    assert (wins, errors) == (4, [])
    s = opened[0].seals
    assert isinstance(s, MongoSealStore)
    names = set(s.conn.run(s.conn.db.list_collection_names()))
    assert set(mongo_store._COLLECTIONS) <= names
    for coll, indexes in mongo_store._INDEXES.items():
        info = s.conn.run(s.conn.collection(coll).index_information())
        # by fields: the stand-in keeps neither the names nor the directions
        have = {tuple(f for f, _ in i["key"]) for i in info.values()}
        for model in indexes:
            assert tuple(model.document["key"]) in have, (coll, info)
    s.enqueue([ev("acme")])
    assert len(s.pending_events()) == 1  # the counters were seeded once, not reset


@MONGODB_ONLY
def test_mongodb_refuses_a_pdf_past_the_document_limit(backend: Backend) -> None:
    store = backend.open()
    big = b"%PDF" + bytes(MAX_DOCUMENT_BYTES)
    env = replace(envelope_rec(), original=sha(big), current=sha(big))
    with pytest.raises(PdfTooLargeError, match="16 MiB"):
        store.insert_envelope(env, big, [ev("acme")])
    store.insert_envelope(envelope_rec(), PDF, [])
    with pytest.raises(PdfTooLargeError):
        store.commit_signature(commit_rec(envelope_rec(), 0, big), use_rec(), [ev("acme")])
    assert store.envelope("env-1") == envelope_rec()
    assert store.pending_events() == []


@on_backends(POSITIONAL_BINARY, ID_IN_INDEX)
def test_an_8_mib_pdf_is_stored_and_signed(backend: Backend) -> None:
    store = backend.open()
    pdf = PDF + secrets.token_bytes(8 * 1024 * 1024)
    env = replace(envelope_rec(), original=sha(pdf), current=sha(pdf))
    store.insert_envelope(env, pdf, [])
    assert store.envelope_document("env-1") == pdf
    signed = pdf + b"sig"
    store.commit_signature(commit_rec(env, 0, signed, before=sha(pdf)), use_rec(), [])
    assert store.envelope_document("env-1") == signed


# -- envelope terms and signer links (schema 10) ------------------------------------------------


def link_rec(env: StoredEnvelope, position: int, **kw: Any) -> StoredLink:
    base = StoredLink(sha(f"{env.id}/{position}".encode()), env.id, position, "individual",
                      f"Signer {position}", f"s{position}@example.com",
                      '[{"page":1,"box":[1,2,30,40]}]', "{}", 0)  # fmt: skip
    return replace(base, **kw)


def test_links_and_terms_round_trip_atomically(store: SealStore, other: SealStore) -> None:
    env = envelope_rec()
    links = [link_rec(env, 0), link_rec(env, 1, kind="enterprise", email=None)]
    terms = StoredTerms("env-1", T2)
    store.insert_envelope_with_links(env, PDF, terms, links, [ev("acme", 1)])
    assert other.envelope("env-1") == env
    assert other.envelope_terms("env-1") == terms
    assert other.links("env-1") == links
    assert other.link(links[1].token_hash) == links[1]
    assert other.link(sha(b"unknown")) is None
    assert other.envelope_terms("nope") is None
    assert len(queued(other)) == 1
    # a second envelope reusing a token hash is refused whole: no envelope, no terms
    env2 = envelope_rec("env-2")
    with pytest.raises(Exception):  # noqa: PT011 (each backend's unique-key error)
        store.insert_envelope_with_links(
            env2, PDF, StoredTerms("env-2", None), [replace(links[0], envelope_id="env-2")], []
        )
    assert other.envelope("env-2") is None
    assert other.envelope_terms("env-2") is None


def test_link_session_is_a_compare_and_swap(store: SealStore, other: SealStore) -> None:
    env = envelope_rec()
    link = link_rec(env, 0)
    store.insert_envelope_with_links(env, PDF, StoredTerms("env-1", None), [link], [])
    store.update_link(link.token_hash, 0, '{"tries":1}', [ev("acme", 7)])
    got = other.link(link.token_hash)
    assert got is not None
    assert (got.session, got.rev) == ('{"tries":1}', 1)
    with pytest.raises(ConflictError):  # read at rev 0: someone changed it meanwhile
        store.update_link(link.token_hash, 0, '{"tries":9}', [ev("acme", 8)])
    assert [b["attributes"]["n"] for _, b in queued(other)] == [7]


@on_backends(ID_IN_INDEX, POSITIONAL_BINARY)
def test_ending_an_envelope_once_and_signing_without_a_seal(
    store: SealStore, other: SealStore
) -> None:
    env = envelope_rec(signers=1)
    store.insert_envelope_with_links(env, PDF, StoredTerms("env-1", T2), [link_rec(env, 0)], [])
    doc = PDF + b"signed"
    store.commit_link_signature(commit_rec(env, 0, doc, completes=True), [ev("acme", 1)])
    done = other.envelope("env-1")
    assert done is not None
    assert (done.status, done.version, done.signers[0].status) == ("completed", 1, "signed")
    assert other.uses(["acme"]) == []  # no seal, no seal use
    with pytest.raises(ConflictError):
        store.end_envelope("env-1", "voided", "too late", T2, [ev("acme", 2)])
    env2 = envelope_rec("env-2")
    store.insert_envelope_with_links(env2, PDF, StoredTerms("env-2", T2), [], [])
    store.end_envelope("env-2", "expired", None, T2, [ev("acme", 3)])
    with pytest.raises(ConflictError):  # once: a second reader's expiry writes nothing
        store.end_envelope("env-2", "expired", None, T2, [ev("acme", 4)])
    ended = other.envelope("env-2")
    assert ended is not None
    assert (ended.status, ended.completed_at) == ("expired", T2)
    assert other.envelope_terms("env-2") == StoredTerms("env-2", T2, None, T2)
    with pytest.raises(ConflictError):
        store.commit_link_signature(commit_rec(env2, 0, doc), [])
    assert [b["attributes"]["n"] for _, b in queued(other)] == [1, 3]


def test_a_link_gets_a_new_token_hash_once(store: SealStore, other: SealStore) -> None:
    env = envelope_rec()
    link = link_rec(env, 0)
    store.insert_envelope_with_links(env, PDF, StoredTerms("env-1", None), [link], [])
    new = sha(b"new token")
    store.replace_link_token(link.token_hash, new, [ev("acme", 5)])
    assert other.link(link.token_hash) is None
    moved = other.link(new)
    assert moved is not None
    assert (moved.envelope_id, moved.position, moved.rev) == ("env-1", 0, 1)
    with pytest.raises(ConflictError):  # the old token is gone: a second renewal from it fails
        store.replace_link_token(link.token_hash, sha(b"third"), [ev("acme", 6)])
    assert [b["attributes"]["n"] for _, b in queued(other)] == [5]


def test_expiring_envelopes_are_the_open_ones_past_their_deadline(
    store: SealStore, other: SealStore
) -> None:
    for eid, deadline in (("env-a", T1), ("env-b", T0), ("env-c", T2), ("env-d", None)):
        store.insert_envelope_with_links(envelope_rec(eid), PDF, StoredTerms(eid, deadline), [], [])
    store.insert_envelope(envelope_rec("env-e"), PDF, [])  # made without terms
    assert other.expiring_envelope_ids(T1) == ["env-b", "env-a"]
    assert other.expiring_envelope_ids(T1, limit=1) == ["env-b"]
    store.end_envelope("env-b", "voided", "x", T1, [])
    assert other.expiring_envelope_ids(T2) == ["env-a", "env-c"]
