"""The ledger's store on PostgreSQL (sealtrail/ledger/pg_store.py) under attack, on a real server
(tests/pg.py): what only PostgreSQL has — the log's head row that serialises writers, sessions
the server cuts off, several database handles (as several processes) appending at once, a head
row edited behind the log's back, a multi-host URL whose first host is dead.

The behaviour every backend shares is in test_store_contract.py (which runs on PostgreSQL too).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealtrail import backend
from sealtrail.core import merkle
from sealtrail.core.errors import DatabaseUnavailableError, LedgerBusyError, StorageError
from sealtrail.core.event import build_event
from sealtrail.core.note import NoteSigner
from sealtrail.ledger.audit import audit
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.pg_store import PgLedgerStore
from sealtrail.ledger.store import Entry, WriteView
from tests.conftest import FIXED_TIME_TEXT, counting_random, event_input, fixed_clock
from tests.pg import free_port

SIGNER = NoteSigner("test.example/pg-store", Ed25519PrivateKey.from_private_bytes(bytes(32)))


@pytest.fixture
def open_stores(pg_db_url: str) -> Iterator[Callable[..., backend.Stores]]:
    """Opens another handle (its own pool: a process of its own) on one fresh database."""
    opened: list[backend.Stores] = []

    def open_one(**kw: float) -> backend.Stores:
        from sealtrail.backend.postgres import open_postgres_stores

        stores = open_postgres_stores(pg_db_url, **kw)
        opened.append(stores)
        return stores

    yield open_one
    for s in opened:
        s.close()


def ledger_on(stores: backend.Stores) -> Ledger:
    return Ledger(stores.ledger, SIGNER, clock=fixed_clock, random_bytes=counting_random())


def entry_at(view: WriteView, index: int, cid: str) -> Entry:
    """The entry a writer that believes the log has ``index`` entries would append."""
    ids = merkle.root_subtrees(index) if index else []
    got = view.subtrees(ids) if ids else {}
    rng = merkle.CompactRange(index, [got[i] for i in ids])
    inp = event_input(cid, stream=f"paused:{cid}")
    ev = build_event(
        inp, tenant="acme", index=index, recorded_at=FIXED_TIME_TEXT, salt=bytes(16), prev=None
    )
    fingerprints = tuple(bytes.fromhex(d["sha256"]) for d in inp.documents)
    return Entry(ev, b"".join(rng.append(ev.leaf_hash)), fingerprints)


def assert_clean(stores: backend.Stores, size: int) -> None:
    report = audit(stores.ledger, SIGNER.verifier())
    assert report.ok, [p.to_json() for p in report.problems]
    assert report.size == size
    assert [e.event.index for e in stores.ledger.entries()] == list(range(size))


def test_handles_appending_at_once_keep_the_log_dense(
    open_stores: Callable[..., backend.Stores],
) -> None:
    """Four handles (four pools, as four processes), each a writer of its own with no lease,
    append 25 single events each at once: 100 entries, dense, each client id once."""
    handles = [open_stores() for _ in range(4)]
    ledgers = [ledger_on(h) for h in handles]

    def run(k: int) -> list[int]:
        return [ledgers[k].append("acme", [event_input(f"w{k}-{i}")])[0].event.index
                for i in range(25)]  # fmt: skip

    with ThreadPoolExecutor(4) as ex:
        got = [i for f in [ex.submit(run, k) for k in range(4)] for i in f.result()]
    assert sorted(got) == list(range(100))
    ledgers[0].seal()
    assert_clean(handles[0], 100)
    cids = [e.event.client_event_id for e in handles[1].ledger.entries()]
    assert sorted(cids) == sorted(f"w{k}-{i}" for k in range(4) for i in range(25))


def test_a_writer_paused_after_reading_the_head_holds_off_every_other(
    open_stores: Callable[..., backend.Stores],
) -> None:
    """Writer A reads the head (size 0) and pauses before appending; writer B, on another
    handle, cannot even read the head until A commits — then B appends at 1, never at 0."""
    a, b = open_stores(), open_stores()
    read_head, resume = threading.Event(), threading.Event()

    def paused(view: WriteView) -> None:
        size = view.size()
        read_head.set()
        assert resume.wait(10)
        view.append([entry_at(view, size, "a")])

    with ThreadPoolExecutor(2) as ex:
        fa = ex.submit(a.ledger.write, paused)
        assert read_head.wait(10)
        fb = ex.submit(ledger_on(b).append, "acme", [event_input("b")])
        time.sleep(0.5)
        assert not fb.done()  # B waits at the head's row lock
        resume.set()
        fa.result()
        got = fb.result()
    assert got[0].event.index == 1
    assert b.ledger.event(0).client_event_id == "a"  # type: ignore[union-attr]
    assert_clean(b, 2)


def test_a_paused_writer_the_server_cuts_off_commits_nothing(
    open_stores: Callable[..., backend.Stores],
) -> None:
    """A writer paused inside its transaction (SIGSTOP, a hung thread) longer than
    idle_in_transaction_session_timeout loses its session and the head's lock: B appends at
    index 0, and A — whose entry was built for index 0 — is refused: no fork, nothing of A kept.
    """
    a = open_stores(busy_timeout=3.0, idle_in_transaction_timeout=1.0)
    b = open_stores()
    read_head = threading.Event()
    stale: list[Entry] = []

    def paused(view: WriteView) -> None:
        if not stale:  # the entry is built once, for the size first read: a stale writer
            stale.append(entry_at(view, view.size(), "a"))
            read_head.set()
            time.sleep(2.5)  # meanwhile the server ends this session
        view.append(stale)

    with ThreadPoolExecutor(2) as ex:
        fa = ex.submit(a.ledger.write, paused)
        assert read_head.wait(10)
        got = ledger_on(b).append("acme", [event_input("b")])  # waits ~1 s for the lock
        assert got[0].event.index == 0
        with pytest.raises(StorageError, match="continue the log at index 1"):
            fa.result()
    assert b.ledger.size() == 1
    assert b.ledger.event(0).client_event_id == "b"  # type: ignore[union-attr]
    assert_clean(b, 1)


def test_a_session_killed_inside_the_transaction_re_runs_it_and_commits_once(
    open_stores: Callable[..., backend.Stores], pg_db_url: str
) -> None:
    """The session is killed before COMMIT was sent: nothing was committed, so fn re-runs on a
    new connection (from the head it reads then) and its effects commit exactly once."""
    a = open_stores()
    runs: list[int] = []

    def kill_me_once(view: WriteView) -> int:
        runs.append(view.size())
        view.append([entry_at(view, view.size(), f"k{len(runs)}")])
        if len(runs) == 1:
            with psycopg.connect(pg_db_url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'sealtrail' AND state = 'idle in transaction'"
                )
            time.sleep(0.2)
            a.ledger.subtrees([(0, 0)])  # the next statement finds the connection gone
        return len(runs)

    assert a.ledger.write(kill_me_once) == 2
    assert runs == [0, 0]
    assert a.ledger.size() == 1
    assert a.ledger.event(0).client_event_id == "k2"  # type: ignore[union-attr]


def test_a_connection_lost_during_commit_says_the_outcome_is_unknown_and_a_retry_is_safe(
    open_stores: Callable[..., backend.Stores], pg_db_url: str
) -> None:
    """A deferred trigger kills the session while COMMIT runs: the writer gets
    DatabaseUnavailableError (HTTP 503), not a success and not a re-run; the client's retry
    with the same client event id then appends the event exactly once."""
    stores = open_stores()
    ledger = ledger_on(stores)
    ledger.append("acme", [event_input("before")])
    with psycopg.connect(pg_db_url, autocommit=True) as admin:
        admin.execute(
            "CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$"
        )
        admin.execute(
            "CREATE CONSTRAINT TRIGGER die AFTER UPDATE ON log_head "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die()"
        )
    with pytest.raises(DatabaseUnavailableError, match="outcome is unknown"):
        ledger.append("acme", [event_input("during")])
    with psycopg.connect(pg_db_url, autocommit=True) as admin:
        admin.execute("DROP TRIGGER die ON log_head")
    retried = ledger.append("acme", [event_input("during")])
    assert (retried[0].event.index, retried[0].duplicate) == (1, False)
    assert ledger.append("acme", [event_input("during")])[0].duplicate
    assert_clean(stores, 2)


@pytest.mark.parametrize("edit", ["ahead", "behind", "deleted"])
def test_a_head_row_edited_behind_the_log_is_refused(
    open_stores: Callable[..., backend.Stores], pg_db_url: str, edit: str
) -> None:
    stores = open_stores()
    ledger = ledger_on(stores)
    for i in range(3):
        ledger.append("acme", [event_input(f"e{i}")])
    statement = {
        "ahead": "UPDATE log_head SET size = size + 1",
        "behind": "UPDATE log_head SET size = size - 1",
        "deleted": "DELETE FROM log_head",
    }[edit]
    with psycopg.connect(pg_db_url, autocommit=True) as admin:
        admin.execute(statement)  # type: ignore[arg-type]
    other = open_stores()
    with pytest.raises(StorageError):
        ledger_on(other).append("acme", [event_input("after")])
    if edit == "ahead":  # a writer that does not read the tree first meets the head's check
        ev = build_event(event_input("raw"), tenant="acme", index=4,
                         recorded_at=FIXED_TIME_TEXT, salt=bytes(16), prev=None)  # fmt: skip
        with pytest.raises(
            StorageError, match="the log's head says 4 entries, the events end at 3"
        ):
            other.ledger.write(lambda view: view.append([Entry(ev, b"")]))
    assert [e.event.client_event_id for e in stores.ledger.entries(0, 3)] == ["e0", "e1", "e2"]
    with psycopg.connect(pg_db_url, autocommit=True) as admin:
        assert admin.execute("SELECT count(*) FROM events").fetchone() == (3,)


def test_the_head_lock_held_too_long_is_ledger_busy(
    open_stores: Callable[..., backend.Stores], pg_db_url: str
) -> None:
    stores = open_stores(busy_timeout=1.0)
    with psycopg.connect(pg_db_url) as holder:
        holder.execute("SELECT size FROM log_head FOR UPDATE")
        with pytest.raises(LedgerBusyError) as e:
            ledger_on(stores).append("acme", [event_input("x")])
        assert not isinstance(e.value, DatabaseUnavailableError)
    assert stores.ledger.size() == 0


def test_a_multi_host_url_skips_a_dead_host(pg_db_url: str) -> None:
    """libpq's multi-host URL: the first host refuses, the second (read-write) serves."""
    dead = free_port()
    head, _, rest = pg_db_url.partition("@")
    host, _, path = rest.partition("/")
    url = f"{head}@127.0.0.1:{dead},{host}/{path}?target_session_attrs=read-write"
    stores = backend.open_postgres(url)
    try:
        assert isinstance(stores.ledger, PgLedgerStore)
        assert f"127.0.0.1:{dead}," in stores.where
        ledger_on(stores).append("acme", [event_input("m")])
        assert stores.ledger.size() == 1
    finally:
        stores.close()


def test_where_names_no_password(pg_cluster: object) -> None:
    from sealtrail.ledger.pg_db import where_of

    assert (
        where_of("postgresql://u:pw@db.example:6543/ledger")
        == "postgresql://db.example:6543/ledger"
    )


_CHILD = """
import sys, time
from sealtrail.backend import open_postgres
from sealtrail.ledger.log import Ledger
from sealtrail.core.note import NoteSigner
from sealtrail.core.event import parse_event_input
stores = open_postgres(sys.argv[1])
ledger = Ledger(stores.ledger, NoteSigner.generate("child.example/x"))
real = stores.ledger.write
def slow(fn):
    def pause(view):
        out = fn(view)
        print("written, not committed", flush=True)
        time.sleep(60)
        return out
    return real(pause)
stores.ledger.write = slow
inputs = [parse_event_input({"stream": f"c:{i}", "type": "sign", "actor": {"id": "u"},
                             "client_event_id": f"child-{i}"}) for i in range(500)]
ledger.append("acme", inputs)
"""


def test_a_worker_killed_mid_batch_leaves_nothing_and_releases_the_head(
    open_stores: Callable[..., backend.Stores], pg_db_url: str
) -> None:
    """Another process writes a batch of 500 and is SIGKILLed before COMMIT: the server rolls
    it back and releases the head's lock at once — the next writer appends at index 0."""
    import os
    import signal
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, pg_db_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "written, not committed"
        with psycopg.connect(pg_db_url, autocommit=True) as admin:  # READ COMMITTED: nothing
            assert admin.execute("SELECT count(*) FROM events").fetchone() == (0,)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        stores = open_stores(busy_timeout=5.0)
        t0 = time.monotonic()
        got = ledger_on(stores).append("acme", [event_input("after-kill")])
        assert time.monotonic() - t0 < 3
        assert got[0].event.index == 0
        assert_clean(stores, 1)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
