"""The sequencer (LogWriter, async Sequencer) and checkpoints, through the Ledger facade.

Every ledger from the ``ledger``/``open_ledger`` fixtures is re-audited in full at teardown, so
each test here also proves that what it did left a log with dense indices, linked chains, and
stored subtrees and checkpoints matching a recomputation.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sealtrail import backend
from sealtrail.api.error_codes import http_status_for
from sealtrail.core import merkle
from sealtrail.core.errors import (
    ConflictError,
    LedgerBusyError,
    NotFoundError,
    ProofError,
    StorageError,
)
from sealtrail.core.event import Event, parse_event_input
from sealtrail.core.note import verify_checkpoint
from sealtrail.ledger import datadir
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.sequencer import Appended, AppendRequest
from tests.conftest import (
    FIXED_TIME_TEXT,
    OpenLedger,
    assert_audit_ok,
    counting_random,
    event_input,
    event_obj,
    fixed_clock,
    write_lock_held,
)
from tests.conftest import SQLiteLedger as SQLiteStore

T = TypeVar("T")


def indices(results: list[Appended]) -> list[int]:
    return [r.event.index for r in results]


def assert_chain(events: list[Event]) -> None:
    """Each event of one stream names the previous one's leaf hash; the first names none."""
    prev = None
    for ev in events:
        want = None if prev is None else prev.hex()
        assert ev.body()["prev"] == want, f"event {ev.index}"
        prev = ev.leaf_hash


def ledger_on(store: SQLiteStore, data_dir: Path) -> Ledger:
    return Ledger(
        store, datadir.load_signer(data_dir), clock=fixed_clock, random_bytes=counting_random()
    )


class CountingStore(SQLiteStore):
    """Counts write transactions: one per commit group."""

    writes = 0

    def write(self, fn: Callable[[Any], T]) -> T:
        self.writes += 1
        return super().write(fn)


class GatedStore(SQLiteStore):
    """Holds every write at a gate until the test opens it."""

    def __init__(self, path: Path) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        super().__init__(path)

    def write(self, fn: Callable[[Any], T]) -> T:
        self.entered.set()
        assert self.gate.wait(timeout=60), "the test never opened the gate"
        return super().write(fn)


# -- indices and stream chains -----------------------------------------------------------


def test_indices_are_dense_and_in_input_order(ledger: Ledger) -> None:
    batches = [["a"], ["b", "c", "d"], ["e", "f"], ["g"]]
    got = [ledger.append("acme", [event_input(c) for c in b]) for b in batches]
    assert [indices(r) for r in got] == [[0], [1, 2, 3], [4, 5], [6]]
    assert all(not r.duplicate for rs in got for r in rs)
    assert ledger.size() == 7
    for i, cid in enumerate("abcdefg"):
        ev = ledger.event(i)
        body = ev.body()
        assert (ev.index, body["index"], ev.client_event_id) == (i, i, cid)
        assert (ev.tenant, body["tenant"]) == ("acme", "acme")
        assert body["recorded_at"] == FIXED_TIME_TEXT
        assert len(bytes.fromhex(body["salt"])) == 16
    salts = {ledger.event(i).body()["salt"] for i in range(7)}
    assert len(salts) == 7


def test_events_without_client_id_are_always_new(ledger: Ledger) -> None:
    first = ledger.append("acme", [event_input(None)])
    again = ledger.append("acme", [event_input(None), event_input(None)])
    assert indices(first + again) == [0, 1, 2]
    assert not any(r.duplicate for r in first + again)


def test_stream_chains_link(ledger: Ledger) -> None:
    plan = [
        ["contract:1"],
        ["contract:2", "contract:1", "contract:1"],  # two links inside one request
        ["contract:3"],
        ["contract:2"],
        ["contract:1", "contract:3"],
    ]
    n = itertools.count()
    for streams in plan:
        ledger.append("acme", [event_input(f"e-{next(n)}", stream=s) for s in streams])
    for stream, want in {
        "contract:1": [0, 2, 3, 6],
        "contract:2": [1, 5],
        "contract:3": [4, 7],
    }.items():
        events = ledger.store.stream("acme", stream)
        assert [e.index for e in events] == want
        assert events[0].body()["prev"] is None
        assert_chain(events)


def test_same_stream_name_in_two_tenants_has_two_chains(ledger: Ledger) -> None:
    for i in range(6):
        tenant = "acme" if i % 2 == 0 else "globex"
        ledger.append(tenant, [event_input(f"e-{i}", stream="contract:1")])
    acme = ledger.store.stream("acme", "contract:1")
    globex = ledger.store.stream("globex", "contract:1")
    assert [e.index for e in acme] == [0, 2, 4]
    assert [e.index for e in globex] == [1, 3, 5]
    assert acme[0].body()["prev"] is None
    assert globex[0].body()["prev"] is None
    assert_chain(acme)
    assert_chain(globex)


# -- idempotency -------------------------------------------------------------------------


def test_retry_returns_the_original_as_duplicate(ledger: Ledger) -> None:
    (orig,) = ledger.append("acme", [event_input("erp-1")])
    ledger.append("acme", [event_input("erp-2", stream="contract:2")])
    (again,) = ledger.append("acme", [event_input("erp-1")])
    assert again.duplicate
    assert again.event == orig.event  # same index, bytes, salt and leaf hash
    assert ledger.size() == 2


def test_retry_in_another_spelling_is_still_a_duplicate(ledger: Ledger) -> None:
    (orig,) = ledger.append("acme", [event_input("erp-1")])
    respelled = event_obj("erp-1", occurred_at="2026-11-24T18:00:00+08:00")
    respelled["documents"][0]["sha256"] = respelled["documents"][0]["sha256"].upper()
    (again,) = ledger.append("acme", [parse_event_input(respelled)])
    assert again.duplicate
    assert again.event == orig.event
    assert ledger.size() == 1


def test_retry_with_a_different_body_conflicts_and_writes_nothing(ledger: Ledger) -> None:
    ledger.append("acme", [event_input("erp-1")])
    ledger.append("acme", [event_input("erp-0", stream="contract:2")])
    changed = event_input("erp-1", etype="approve")
    with pytest.raises(ConflictError, match=r"'erp-1'.*event 0"):
        ledger.append("acme", [changed])
    # All or nothing: the new event beside the conflicting one is not written either.
    with pytest.raises(ConflictError):
        ledger.append("acme", [event_input("erp-new"), changed])
    assert ledger.size() == 2
    (fresh,) = ledger.append("acme", [event_input("erp-new")])
    assert not fresh.duplicate
    assert fresh.event.index == 2


def test_retry_with_1_instead_of_true_conflicts(ledger: Ledger) -> None:
    ledger.append("acme", [event_input("erp-1", attributes={"urgent": True})])
    with pytest.raises(ConflictError):
        ledger.append("acme", [event_input("erp-1", attributes={"urgent": 1})])


def test_same_client_id_twice_in_one_request_same_body(ledger: Ledger) -> None:
    got = ledger.append("acme", [event_input("erp-1"), event_input("erp-2"), event_input("erp-1")])
    assert [(r.event.index, r.duplicate) for r in got] == [(0, False), (1, False), (0, True)]
    assert got[2].event == got[0].event
    assert ledger.size() == 2


def test_same_client_id_twice_in_one_request_different_body(ledger: Ledger) -> None:
    ledger.append("acme", [event_input("erp-0")])
    with pytest.raises(ConflictError, match="'erp-1' appears twice"):
        ledger.append(
            "acme",
            [event_input("erp-1"), event_input("erp-2"), event_input("erp-1", etype="view")],
        )
    assert ledger.size() == 1
    assert (
        ledger.store.write(lambda view: view.events_by_client_id("acme", ["erp-1", "erp-2"])) == {}
    )


def test_repeat_of_a_stored_event_inside_one_request(ledger: Ledger) -> None:
    (orig,) = ledger.append("acme", [event_input("erp-1")])
    got = ledger.append("acme", [event_input("erp-1"), event_input("erp-2"), event_input("erp-1")])
    assert [(r.event.index, r.duplicate) for r in got] == [(0, True), (1, False), (0, True)]
    assert got[0].event == got[2].event == orig.event


def test_a_conflict_does_not_fail_the_other_requests_of_its_group(ledger: Ledger) -> None:
    ledger.append("acme", [event_input("erp-1")])
    results = ledger.writer.commit(
        [
            AppendRequest("acme", (event_input("a-1"), event_input("a-2", stream="contract:2"))),
            AppendRequest("acme", (event_input("b-1"), event_input("erp-1", etype="reject"))),
            AppendRequest("acme", (event_input("c-1"),)),
            AppendRequest("acme", (event_input("a-1"),)),  # repeats request 0 of this group
            AppendRequest("acme", (event_input("a-2", etype="view"),)),  # conflicts with it
            AppendRequest("globex", (event_input("erp-1", etype="reject"),)),  # other tenant
        ]
    )
    ok0, bad1, ok2, dup3, bad4, ok5 = results
    assert isinstance(bad1, ConflictError)
    assert isinstance(bad4, ConflictError)
    assert [(r.event.index, r.duplicate) for r in ok0] == [(1, False), (2, False)]
    assert [(r.event.index, r.duplicate) for r in ok2] == [(3, False)]
    assert [(r.event, r.duplicate) for r in dup3] == [(ok0[0].event, True)]
    assert [(r.event.index, r.event.tenant, r.duplicate) for r in ok5] == [(4, "globex", False)]
    assert ledger.size() == 5
    # No trace of the refused request's other event.
    assert ledger.store.write(lambda view: view.events_by_client_id("acme", ["b-1"])) == {}
    # The chain of contract:1 runs through the stored event and the group's new ones.
    assert [e.index for e in ledger.store.stream("acme", "contract:1")] == [0, 1, 3]
    assert_chain(ledger.store.stream("acme", "contract:1"))


def test_client_event_ids_are_independent_across_tenants(ledger: Ledger) -> None:
    (a,) = ledger.append("acme", [event_input("erp-1")])
    (b,) = ledger.append("globex", [event_input("erp-1", etype="view")])
    (c,) = ledger.append("initech", [event_input("erp-1")])
    assert [(x.event.index, x.duplicate) for x in (a, b, c)] == [(0, False), (1, False), (2, False)]
    (again,) = ledger.append("globex", [event_input("erp-1", etype="view")])
    assert (again.event, again.duplicate) == (b.event, True)
    with pytest.raises(ConflictError):
        ledger.append("globex", [event_input("erp-1")])  # acme's body, globex's id
    assert ledger.size() == 3


# -- async group commit ------------------------------------------------------------------


def test_2000_concurrent_appends_are_acknowledged_in_few_groups(data_dir: Path) -> None:
    store = CountingStore(data_dir / "ledger.db")
    ledger = ledger_on(store, data_dir)
    n = 2000

    async def main() -> list[list[Appended]]:
        results = await asyncio.gather(
            *(
                ledger.append_async("acme", [event_input(f"c-{i}", stream=f"contract:{i % 17}")])
                for i in range(n)
            )
        )
        await ledger.sequencer.close()
        return results

    results = asyncio.run(main())
    assert [len(r) for r in results] == [1] * n
    assert [r[0].event.client_event_id for r in results] == [f"c-{i}" for i in range(n)]
    assert not any(r[0].duplicate for r in results)
    assert sorted(r[0].event.index for r in results) == list(range(n))
    assert ledger.size() == n
    assert store.writes < 200, f"{store.writes} commit groups for {n} appends"
    assert_audit_ok(ledger)
    store.close()


def test_async_conflict_fails_only_its_own_request(ledger: Ledger) -> None:
    ledger.append("acme", [event_input("erp-1")])

    async def main() -> list[Any]:
        got = await asyncio.gather(
            ledger.append_async("acme", [event_input("a")]),
            ledger.append_async("acme", [event_input("erp-1", etype="view")]),
            ledger.append_async("acme", [event_input("erp-1")]),
            ledger.append_async("acme", [event_input("b")]),
            return_exceptions=True,
        )
        await ledger.sequencer.close()
        return got

    a, conflict, dup, b = asyncio.run(main())
    assert isinstance(conflict, ConflictError)
    got = [(r.event.index, r.duplicate) for r in a + dup + b]
    assert got == [(1, False), (0, True), (2, False)]


def test_close_drains_queued_appends(data_dir: Path) -> None:
    store = GatedStore(data_dir / "ledger.db")
    ledger = ledger_on(store, data_dir)

    async def main() -> tuple[list[list[Appended]], BaseException | None]:
        first = [
            asyncio.create_task(ledger.append_async("acme", [event_input(f"a-{i}")]))
            for i in range(20)
        ]
        while not store.entered.is_set():  # first group is now held inside write()
            await asyncio.sleep(0.005)
        second = [
            asyncio.create_task(ledger.append_async("acme", [event_input(f"b-{i}")]))
            for i in range(30)
        ]
        await asyncio.sleep(0)
        assert not any(t.done() for t in first + second)
        closing = asyncio.create_task(ledger.sequencer.close())
        await asyncio.sleep(0)
        late: BaseException | None = None
        try:
            await ledger.append_async("acme", [event_input("late")])
        except StorageError as e:
            late = e
        store.gate.set()
        await closing
        assert all(t.done() for t in first + second)
        return [t.result() for t in first + second], late

    results, late = asyncio.run(main())
    assert isinstance(late, StorageError)
    assert "shutting down" in str(late)
    cids = [f"a-{i}" for i in range(20)] + [f"b-{i}" for i in range(30)]
    assert [r[0].event.client_event_id for r in results] == cids
    assert sorted(r[0].event.index for r in results) == list(range(50))
    assert ledger.size() == 50
    assert_audit_ok(ledger)
    store.close()


# -- several writers on one data directory -----------------------------------------------


def test_two_ledgers_on_one_data_dir_do_not_fork_the_log(open_ledger: OpenLedger) -> None:
    a, b = open_ledger(), open_ledger()
    got = []
    for n in range(30):
        writer = a if n % 2 == 0 else b
        (r,) = writer.append("acme", [event_input(f"x-{n}", stream=f"contract:{n % 3}")])
        got.append(r.event.index)
        if n % 7 == 6:
            writer.seal()
    assert got == list(range(30))
    for s in range(3):
        events = a.store.stream("acme", f"contract:{s}")
        assert [e.index for e in events] == list(range(s, 30, 3))
        assert_chain(events)  # so a's events link to b's and back
    # Each sees the other's events, idempotency included.
    (dup,) = a.append("acme", [event_input("x-1", stream="contract:1")])
    assert (dup.duplicate, dup.event.index) == (True, 1)
    cp_b, _ = b.seal()
    cp_a, new = a.seal()
    assert (cp_a, new) == (cp_b, False)
    assert [c.size for c in a.store.checkpoints()] == [7, 14, 21, 28, 30]
    assert_audit_ok(a)


def test_two_ledgers_append_concurrently_async_and_sync(open_ledger: OpenLedger) -> None:
    a, b = open_ledger(), open_ledger()
    n = 300

    def sync_side() -> None:
        for i in range(n):
            b.append("acme", [event_input(f"b-{i}", stream=f"contract:{i % 4}")])

    async def main() -> None:
        sem = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            async with sem:
                await a.append_async("acme", [event_input(f"a-{i}", stream=f"contract:{i % 4}")])

        await asyncio.gather(asyncio.to_thread(sync_side), *(one(i) for i in range(n)))
        await a.sequencer.close()

    asyncio.run(main())
    assert a.size() == b.size() == 2 * n
    cids = sorted(e.event.client_event_id for e in a.store.entries())
    assert cids == sorted([f"a-{i}" for i in range(n)] + [f"b-{i}" for i in range(n)])
    assert_audit_ok(a)


CHILD_APPENDER = r"""
import sys
from pathlib import Path
from sealtrail import backend
from sealtrail.ledger import datadir
from sealtrail.core.event import parse_event_input
from sealtrail.ledger.log import Ledger

stores, signer = backend.open_store(Path(sys.argv[1]))
ledger = Ledger(stores.ledger, signer)
print("ready", flush=True)
sys.stdin.readline()
for n in range(int(sys.argv[2])):
    ledger.append("acme", [parse_event_input({
        "stream": f"contract:{n % 5}", "type": "view", "actor": {"id": "child"},
        "client_event_id": f"child-{n}",
    })])
stores.close()
print("done", flush=True)
"""


def test_a_second_process_appends_concurrently(open_ledger: OpenLedger, data_dir: Path) -> None:
    ledger = open_ledger()
    n = 200
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_APPENDER, str(data_dir), str(n)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "ready\n", child.stderr.read()
        child.stdin.write("go\n")
        child.stdin.flush()
        for i in range(n):
            ledger.append("acme", [event_input(f"parent-{i}", stream=f"contract:{i % 5}")])
        out, err = child.communicate(timeout=120)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 0, err
    assert out == "done\n"
    assert ledger.size() == 2 * n
    entries = list(ledger.store.entries())
    assert [e.event.index for e in entries] == list(range(2 * n))
    cids = sorted(e.event.client_event_id for e in entries)
    assert cids == sorted([f"child-{i}" for i in range(n)] + [f"parent-{i}" for i in range(n)])
    assert_audit_ok(ledger)


LOCKER = r"""
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()  # hold SQLite's write lock until told to let go
con.execute("ROLLBACK")
"""


def test_a_held_write_lock_makes_appends_fail_busy(open_ledger: OpenLedger, data_dir: Path) -> None:
    ledger = open_ledger(busy_timeout=0.5)  # opened before the lock is taken
    ledger.append("acme", [event_input("before")])
    db = data_dir / "ledger.db"
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    async def while_locked() -> tuple[BaseException, list[Appended]]:
        try:
            await ledger.append_async("acme", [event_input("async-during")])
        except LedgerBusyError as e:
            busy = e
        else:
            pytest.fail("append_async did not raise LedgerBusyError")
        locker.communicate("release\n", timeout=30)
        after = await ledger.append_async("acme", [event_input("async-after")])
        await ledger.sequencer.close()
        return busy, after

    try:
        assert locker.stdout.readline() == "locked\n"
        with pytest.raises(LedgerBusyError) as info:
            ledger.append("acme", [event_input("during")])
        with pytest.raises(LedgerBusyError):
            ledger.seal()
        assert ledger.size() == 1
        async_busy, after = asyncio.run(while_locked())
    finally:
        locker.kill()
        locker.wait()
    err = info.value
    assert isinstance(err, StorageError)
    assert (err.code, http_status_for(err)) == ("ledger_busy", 503)
    assert str(db) in str(err)
    assert "busy" in str(err)
    assert "0.5 s" in str(err)
    assert isinstance(async_busy, LedgerBusyError)
    # Nothing of the refused appends was written; the writer resumes at the right index.
    assert [(r.event.index, r.event.client_event_id) for r in after] == [(1, "async-after")]
    (r,) = ledger.append("acme", [event_input("during")])
    assert (r.event.index, r.duplicate) == (2, False)


# -- checkpoints -------------------------------------------------------------------------


def fill(ledger: Ledger, n: int) -> None:
    start = ledger.size()
    for i in range(start, start + n):
        tenant = "acme" if i % 3 else "globex"
        ledger.append(tenant, [event_input(f"e-{i}", stream=f"contract:{i % 4}")])


def leaves(ledger: Ledger) -> list[bytes]:
    return [e.event.leaf_hash for e in ledger.store.entries()]


def test_seal_of_an_empty_log(ledger: Ledger) -> None:
    assert ledger.seal() == (None, False)
    assert ledger.store.checkpoints() == []
    with pytest.raises(NotFoundError):
        ledger.checkpoint()


def test_seal_signs_a_verifiable_checkpoint(ledger: Ledger) -> None:
    fill(ledger, 7)
    cp, new = ledger.seal()
    assert new
    assert cp is not None
    assert (cp.size, cp.created_at) == (7, FIXED_TIME_TEXT)
    assert cp.root == ledger.root(7) == merkle.root(leaves(ledger))
    parsed = verify_checkpoint(cp.note, ledger.verifier)
    assert (parsed.origin, parsed.size, parsed.root) == (ledger.origin, 7, cp.root)
    assert ledger.checkpoint() == cp == ledger.checkpoint(7)


def test_sealing_again_without_appends_returns_the_same_checkpoint(ledger: Ledger) -> None:
    fill(ledger, 3)
    first, new1 = ledger.seal()
    again, new2 = ledger.seal()
    assert (new1, new2) == (True, False)
    assert again == first
    assert len(ledger.store.checkpoints()) == 1
    fill(ledger, 1)
    third, new3 = ledger.seal()
    assert new3
    assert third.size == 4


SEAL_AT = (1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31)


@pytest.fixture
def sealed(ledger: Ledger) -> Ledger:
    for size in SEAL_AT:
        fill(ledger, size - ledger.size())
        cp, new = ledger.seal()
        assert new
        assert cp.size == size
    return ledger


def test_inclusion_proofs_verify_against_every_checkpoint(sealed: Ledger) -> None:
    all_leaves = leaves(sealed)
    latest = sealed.checkpoint()
    assert latest.size == SEAL_AT[-1]
    for i in range(latest.size):
        p = sealed.inclusion_proof(i)
        assert (p.index, p.size, p.root) == (i, latest.size, latest.root)
        assert p.leaf_hash == sealed.event(i).leaf_hash
        merkle.verify_inclusion(p.leaf_hash, i, p.size, p.proof, latest.root)
    for cp in sealed.store.checkpoints():
        for i in range(cp.size):
            p = sealed.inclusion_proof(i, cp.size)
            assert p.proof == merkle.inclusion_proof(i, all_leaves[: cp.size])
            merkle.verify_inclusion(p.leaf_hash, i, cp.size, p.proof, cp.root)


def test_consistency_proofs_verify_between_every_pair_of_checkpoints(sealed: Ledger) -> None:
    cps = sealed.store.checkpoints()
    assert [c.size for c in cps] == list(SEAL_AT)
    for old, new in itertools.combinations_with_replacement(cps, 2):
        p = sealed.consistency_proof(old.size, new.size)
        assert (p.old_root, p.new_root) == (old.root, new.root)
        merkle.verify_consistency(old.size, new.size, old.root, new.root, p.proof)
    p = sealed.consistency_proof(cps[0].size)  # to the latest checkpoint
    assert (p.new_size, p.new_root) == (cps[-1].size, cps[-1].root)


def test_proofs_of_what_does_not_exist(ledger: Ledger) -> None:
    fill(ledger, 5)
    with pytest.raises(NotFoundError, match="no checkpoint"):
        ledger.inclusion_proof(0)
    with pytest.raises(NotFoundError, match="no checkpoint"):
        ledger.consistency_proof(1)
    with pytest.raises(NotFoundError, match="no checkpoint"):
        ledger.checkpoint()
    ledger.seal()
    fill(ledger, 2)  # log 7, latest checkpoint 5
    with pytest.raises(NotFoundError, match="index 5"):
        ledger.inclusion_proof(5)  # beyond the checkpoint, though in the log
    with pytest.raises(NotFoundError):
        ledger.inclusion_proof(7, 7)
    with pytest.raises(NotFoundError):
        ledger.inclusion_proof(-1, 7)
    with pytest.raises(NotFoundError, match="tree size 8"):
        ledger.inclusion_proof(0, 8)
    with pytest.raises(NotFoundError, match="tree size 8"):
        ledger.consistency_proof(1, 8)
    with pytest.raises(NotFoundError):
        ledger.root(8)
    with pytest.raises(NotFoundError, match="no event at index 7"):
        ledger.event(7)
    with pytest.raises(NotFoundError):
        ledger.event(-1)
    with pytest.raises(NotFoundError):
        ledger.checkpoint(6)
    with pytest.raises(ProofError):
        ledger.consistency_proof(0, 5)
    with pytest.raises(ProofError):
        ledger.consistency_proof(6, 5)
    # Proofs to sizes that were never sealed still work (they are served from the store).
    p = ledger.inclusion_proof(6, 7)
    merkle.verify_inclusion(p.leaf_hash, 6, 7, p.proof, ledger.root(7))


def test_appends_work_from_one_event_loop_after_another(ledger: Ledger) -> None:
    """The sequencer follows the running loop: a second asyncio.run must not hang."""

    async def one(cid: str) -> Appended:
        (a,) = await ledger.append_async("acme", [event_input(cid)])
        return a

    first = asyncio.run(asyncio.wait_for(one("loop-1"), 30))
    second = asyncio.run(asyncio.wait_for(one("loop-2"), 30))
    assert (first.event.index, second.event.index) == (0, 1)
    assert second.event.body()["prev"] == first.event.leaf_hash.hex()


def test_sync_and_async_appends_on_one_ledger_keep_chains(ledger: Ledger) -> None:
    """Ledger.append (caller's thread) and append_async (sequencer thread) share one writer."""

    def sync_side() -> None:
        for i in range(150):
            ledger.append("acme", [event_input(f"sync-{i}", stream="contract:shared")])

    async def async_side() -> None:
        t = threading.Thread(target=sync_side)
        t.start()
        await asyncio.gather(
            *(
                ledger.append_async("acme", [event_input(f"async-{i}", stream="contract:shared")])
                for i in range(150)
            )
        )
        await asyncio.get_running_loop().run_in_executor(None, t.join)

    asyncio.run(async_side())
    assert ledger.size() == 300
    assert_audit_ok(ledger)


def test_the_ledger_opens_for_reading_while_another_process_writes(data_dir: Path) -> None:
    """Opening (and auditing) needs no write lock once the schema exists."""
    with write_lock_held(data_dir / "ledger.db"):
        store, _ = backend.open_store(data_dir, busy_timeout=0.2)
        try:
            assert store.ledger.size() == 0
        finally:
            store.close()
