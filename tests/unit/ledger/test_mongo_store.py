"""What only the MongoDB backend has: URLs and their secrets, opening (schema, indexes, several
processes at once), the transaction machinery of mongo_base, and how it keeps the log dense and
fenced under concurrency. The storage contract itself is test_store_contract.py.

Runs on a real MongoDB when ``SEALTRAIL_TEST_MONGODB_URI`` is set, else on the nx-27017 stand-in
(tests/mongo.py): one stand-in process for the module, a new database per test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo.errors import OperationFailure

from sealtrail.backend import open_mongodb
from sealtrail.core import merkle
from sealtrail.core.errors import (
    ConfigError,
    LeaseLostError,
    LedgerBusyError,
    StorageError,
)
from sealtrail.core.note import NoteSigner
from sealtrail.ledger.audit import audit
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.mongo_base import TRANSACTION_ATTEMPTS, Txn, redact
from sealtrail.ledger.mongo_db import SCHEMA_VERSION
from sealtrail.ledger.mongo_store import MongoLedgerStore
from sealtrail.ledger.store import Lease, WriteView
from tests.conftest import counting_random, event_input, fixed_clock
from tests.mongo import MongoServer, free_port, mongodb_server, stand_in_lacks
from tests.unit.ledger.test_store_contract import fresh_entries


def MongoStore(url: str, *, server_timeout: float = 10.0) -> MongoLedgerStore:
    """The ledger's store of a MongoDB backend opened with every domain's layout (its
    ``close()`` closes the shared connection)."""
    store = open_mongodb(url, server_timeout=server_timeout).ledger
    assert isinstance(store, MongoLedgerStore)
    return store


SIGNER = NoteSigner("test.example/mongo", Ed25519PrivateKey.from_private_bytes(bytes(32)))


@pytest.fixture(scope="module")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    with mongodb_server(tmp_path_factory.mktemp("mongo")) as server:
        yield server


@pytest.fixture
def url(mongo_server: MongoServer) -> str:
    """A fresh database."""
    return mongo_server.fresh_url()


@pytest.fixture
def open_store(url: str) -> Iterator[Callable[[], MongoLedgerStore]]:
    """Open handles on the test's database; all closed at the end."""
    opened: list[MongoLedgerStore] = []

    def factory() -> MongoLedgerStore:
        store = MongoStore(url)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


def make_ledger(store: MongoLedgerStore) -> Ledger:
    return Ledger(store, SIGNER, clock=fixed_clock, random_bytes=counting_random())


# -- URLs and their secrets (no server needed) ---------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mongodb://h1:27017,h2/db?replicaSet=rs", "mongodb://h1:27017,h2/db?replicaSet=rs"),
        ("mongodb://alice:s3cret@h1/db", "mongodb://alice:***@h1/db"),
        ("mongodb+srv://alice:s3cret@cluster.example/db", "mongodb+srv://alice:***@cluster.example/db"),
        ("mongodb://alice@h1/db?authMechanism=MONGODB-X509", "mongodb://alice@h1/db?authMechanism=MONGODB-X509"),
        ("mongodb://alice:p%40ss@h1/", "mongodb://alice:***@h1/"),
        ("mongodb://alice:p@ss/w?rd@h1/db", "mongodb://alice:***@h1/db"),  # unescaped: still hidden
        (
            "mongodb://h1/?tls=true&tlsCertificateKeyFilePassword=k3y&appName=x",
            "mongodb://h1/?tls=true&tlsCertificateKeyFilePassword=***&appName=x",
        ),
        ("not a url", "mongodb://…"),
    ],
)  # fmt: skip
def test_redact_hides_passwords_and_secret_options(url: str, shown: str) -> None:
    assert redact(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///data/ledger.db",
        "mongodb://",
        "mongodb://alice:s3cret@h1:notaport/db",
        "mongodb://alice:s3cret@h1/db?authMechanism=NOPE",
        "mongodb://alice:s3cret@h1/db?w=-1",
        "mongodb://alice:s3cret@h1/db?noSuchOption=1",
        "mongodb+srv://alice:s3cret@h1:27017/db",  # SRV names take no port
    ],
)
def test_a_bad_url_is_a_config_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        MongoStore(url)
    text = "".join(str(e) for e in (info.value, info.value.__cause__) if e is not None)
    assert "s3cret" not in text
    assert "invalid MongoDB URL" in text


def test_an_unreachable_server_is_a_storage_error_naming_the_redacted_url() -> None:
    port = free_port()  # nothing listens there
    url = f"mongodb://alice:s3cret@127.0.0.1:{port}/ledger?directConnection=true"
    with pytest.raises(StorageError) as info:
        MongoStore(url, server_timeout=0.5)
    message = str(info.value)
    assert f"mongodb://alice:***@127.0.0.1:{port}/ledger" in message
    assert "s3cret" not in message
    assert "cannot reach" in message


# -- opening ---------------------------------------------------------------------------------


def test_reopening_keeps_everything_and_audits_clean(
    open_store: Callable[[], MongoLedgerStore],
) -> None:
    store = open_store()
    ledger = make_ledger(store)
    for i in range(7):
        ledger.append("acme", [event_input(f"r-{i}", stream=f"contract:{i % 2}")])
    cp, _ = ledger.seal()
    store.set_meta("origin", SIGNER.name)
    store.close()

    again = open_store()
    assert again.size() == 7
    assert again.latest_checkpoint() == cp
    assert again.meta("origin") == SIGNER.name
    assert again.meta("schema_version") == str(SCHEMA_VERSION)
    report = audit(again, SIGNER.verifier())
    assert report.ok, [p.to_json() for p in report.problems]
    assert report.size == 7


def test_a_newer_schema_is_refused(open_store: Callable[[], MongoLedgerStore], url: str) -> None:
    store = open_store()
    store.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(
        StorageError, match=f"schema version {SCHEMA_VERSION + 1}, this Sealtrail reads"
    ):
        MongoStore(url)


@stand_in_lacks(
    "concurrent transactions (it runs them as savepoints of one SQLite connection: "
    "'no such savepoint'), and opening runs one"
)
def test_several_processes_may_open_a_new_database_at_once(url: str) -> None:
    barrier = threading.Barrier(4)

    def open_one(_: int) -> MongoLedgerStore:
        barrier.wait()
        return MongoStore(url)

    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(open_one, range(4)))
    try:
        stores[0].write(lambda view: view.append(fresh_entries(2)))
        assert [s.size() for s in stores] == [2, 2, 2, 2]
    finally:
        for s in stores:
            s.close()


def test_proofs_read_subtrees_in_one_round_trip(open_store: Callable[[], MongoLedgerStore]) -> None:
    store = open_store()
    make_ledger(store).append("acme", [event_input(f"p-{i}") for i in range(300)])
    nodes = merkle.inclusion_subtrees(137, 300)
    wanted = {n for group in nodes for n in group} | set(merkle.root_subtrees(300))
    calls: list[object] = []
    real_run = store.conn.run

    def counting_run(coro: Any) -> Any:
        calls.append(coro)
        return real_run(coro)

    store.conn.run = counting_run  # type: ignore[method-assign]
    got = store.subtrees(wanted)
    assert len(got) == len(wanted) > 8
    assert len(calls) == 1
    calls.clear()
    assert store.size() == 300
    assert len(calls) == 1  # the log document, not a count


# -- transactions (mongo_base) ----------------------------------------------------------------


def transient() -> StorageError:
    """What MongoConnection.run raises for a write conflict between transactions."""
    cause = OperationFailure(
        "WriteConflict", code=112, details={"errorLabels": ["TransientTransactionError"]}
    )
    try:
        raise StorageError("write conflict") from cause
    except StorageError as e:
        return e


def test_a_transient_conflict_reruns_the_transaction(
    open_store: Callable[[], MongoLedgerStore],
) -> None:
    conn = open_store().conn
    runs: list[Txn] = []

    def fn(txn: Txn) -> str:
        runs.append(txn)
        if len(runs) < 3:
            raise transient()
        return "done"

    assert conn.transaction(fn) == "done"
    assert len(runs) == 3
    assert len({id(t.session) for t in runs}) == 3  # a fresh session and transaction each time


def test_conflicts_that_never_end_are_ledger_busy(
    open_store: Callable[[], MongoLedgerStore],
) -> None:
    conn = open_store().conn
    runs: list[Txn] = []

    def fn(txn: Txn) -> None:
        runs.append(txn)
        raise transient()

    with pytest.raises(LedgerBusyError, match="conflicted"):
        conn.transaction(fn)
    assert len(runs) == TRANSACTION_ATTEMPTS


def test_other_errors_are_not_rerun(open_store: Callable[[], MongoLedgerStore]) -> None:
    conn = open_store().conn
    runs: list[Txn] = []

    def fn(txn: Txn) -> None:
        runs.append(txn)
        raise StorageError("a real failure")

    with pytest.raises(StorageError, match="a real failure"):
        conn.transaction(fn)
    assert len(runs) == 1


# -- the log under concurrency -----------------------------------------------------------------


@stand_in_lacks("write conflicts between concurrent transactions (they are not isolated)")
def test_two_appenders_conflict_instead_of_forking(
    open_store: Callable[[], MongoLedgerStore],
) -> None:
    """A writer that read size 0 while another appended 0..1 is re-run and appends at 2."""
    mine, theirs = open_store(), open_store()
    entries = fresh_entries(4)
    attempts: list[int] = []

    def txn(view: WriteView) -> int:
        size = view.size()
        attempts.append(size)
        if len(attempts) == 1:  # the other writer commits in between, once
            theirs.write(lambda other: other.append(entries[:2]))
        view.append(entries[size : size + 2])
        return size

    assert mine.write(txn) == 2
    assert attempts == [0, 2]
    assert [e.event for e in theirs.entries()] == [e.event for e in entries]


def test_a_takeover_after_the_snapshot_fails_the_fenced_write(
    open_store: Callable[[], MongoLedgerStore],
) -> None:
    """The rival takes the lease after the fenced transaction began but before its fence: on
    MongoDB the fence's write conflicts (the transaction re-runs, then finds the lease gone);
    either way nothing of the fenced transaction is kept. (On the stand-in, which has no
    isolation, the fence sees the new holder at once.)"""
    holder, rival = open_store(), open_store()
    leases = holder.conn.collection("leases")
    # The lease document as acquire_lease leaves it (written directly: the stand-in cannot run
    # acquire_lease's update pipeline).
    holder.conn.run(
        leases.insert_one({"_id": "sequencer", "holder": "A", "epoch": 1, "expires_at": 110.0})
    )
    lease = Lease("sequencer", "A", 1, 110.0)
    taken: list[bool] = []

    def txn(view: WriteView) -> None:
        view.size()  # the snapshot is taken
        if not taken:
            rival.conn.run(
                rival.conn.collection("leases").update_one(
                    {"_id": "sequencer"},
                    {"$set": {"holder": "B", "expires_at": 200.0}, "$inc": {"epoch": 1}},
                )
            )
            taken.append(True)
        view.check_fence(lease)
        view.append(fresh_entries(1))

    with pytest.raises(LeaseLostError):
        holder.write(txn)
    assert rival.size() == 0
