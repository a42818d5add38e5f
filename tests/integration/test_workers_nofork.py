"""Appends from several processes on one SQLite file, each committing its own groups: a
worker paused between reading the head and committing never forks the log (issue 19).

Each worker is a real process (``multiprocessing``, spawn) with its own connection to one
SQLite file and its own :class:`~sealtrail.ledger.sequencer.LogWriter`. The test pauses a worker
at a named point of the write path — an injected hook that waits on a ``multiprocessing.Event``,
never a sleep — lets another worker append meanwhile, then resumes it:

* ``before_lock``: after an earlier commit, so the paused worker remembers a right edge of the
  tree and stream heads that are stale once the other has appended; it commits after resuming;
* ``after_head``: inside the write transaction, just after it read the log size; the other
  worker's commit must wait for the lock, and goes after it.

Afterwards the log is dense and consistent (``audit`` clean: indices, stream chains, tree), and
every acknowledged event is there exactly once at the index it was acknowledged with. A writer
with the defect these tests guard against (stale stream heads kept after another worker
appended) is shown to be caught, and two workers appending the same client event id
concurrently yield one event.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import sqlite3
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealtrail.core.merkle import CompactRange
from sealtrail.core.note import NoteSigner
from sealtrail.ledger.audit import audit
from sealtrail.ledger.coordination import Coordinator
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.sequencer import LogWriter
from sealtrail.ledger.sqlite_coordination import SQLiteCoordinationStore
from sealtrail.ledger.store import WriteView
from tests.conftest import SQLiteLedger, event_input

SIGNER = NoteSigner("test.example/nofork", Ed25519PrivateKey.from_private_bytes(bytes(32)))
CTX = mp.get_context("spawn")
WAIT = 60.0  # a bound on every wait for another process; reached only when something hangs


class PausingWriter(LogWriter):
    """A LogWriter that stops at ``pause_at`` until ``resume`` is set (after setting
    ``reached``). ``stale_heads``: keep the stream-head cache when the size moved (the defect)."""

    pause_at: str | None = None
    reached: MpEvent | None = None
    resume: MpEvent | None = None
    stale_heads = False

    def _stop_here(self, point: str) -> None:
        if self.pause_at == point and self.reached is not None and self.resume is not None:
            self.pause_at = None
            self.reached.set()
            if not self.resume.wait(WAIT):
                raise RuntimeError(f"never resumed at {point}")

    def commit(self, requests: Any, **kw: Any) -> Any:
        self._stop_here("before_lock")
        return super().commit(requests, **kw)

    def _sync(self, view: WriteView) -> CompactRange:
        if self.stale_heads:
            heads = dict(self._heads)
            rng = super()._sync(view)
            self._heads.update(heads)
        else:
            rng = super()._sync(view)
        self._stop_here("after_head")
        return rng


def _child(db: str, conn: Connection, reached: MpEvent, resume: MpEvent, stale_heads: bool) -> None:
    """A worker: runs commands from ``conn`` until None, answering each with its result."""
    store = SQLiteLedger(Path(db), busy_timeout=WAIT)
    coord = Coordinator(SQLiteCoordinationStore(store.db), ttl=WAIT)
    ledger = Ledger(store, SIGNER, coordinator=coord)
    writer = PausingWriter(store, clock=ledger._clock, random_bytes=ledger.writer._random)
    writer.reached, writer.resume, writer.stale_heads = reached, resume, stale_heads
    ledger.writer = writer
    try:
        while (msg := conn.recv()) is not None:
            kind, args = msg
            try:
                if kind == "append":  # (objects, pause point or None)
                    objs, writer.pause_at = args
                    got = ledger.append("acme", [event_input(**o) for o in objs])
                    conn.send(("ok", [(a.event.index, a.duplicate) for a in got]))
                elif kind == "lease":
                    conn.send(("ok", coord.refresh() is not None))
                elif kind == "async":  # (prefix, count[, pause]): concurrent, group commit
                    prefix, count, *pause = args
                    writer.pause_at = pause[0] if pause else None
                    conn.send(("ok", asyncio.run(_async_appends(ledger, prefix, count))))
            except Exception as e:
                conn.send(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))
    finally:
        ledger.close_sync()


async def _async_appends(ledger: Ledger, prefix: str, count: int) -> list[tuple[str, int]]:
    async def one(n: int) -> tuple[str, int]:
        cid = f"{prefix}-{n}"
        (got,) = await ledger.append_async("acme", [event_input(cid, stream=f"s:{n % 5}")])
        return cid, got.event.index

    try:
        return list(await asyncio.gather(*(one(n) for n in range(count))))
    finally:
        await ledger.sequencer.close()


class Worker:
    """The parent's handle on one worker process."""

    def __init__(self, db: Path, *, stale_heads: bool = False) -> None:
        self.conn, child = CTX.Pipe()
        self.reached, self.resume = CTX.Event(), CTX.Event()
        self.proc = CTX.Process(
            target=_child, args=(str(db), child, self.reached, self.resume, stale_heads)
        )
        self.proc.start()

    def send(self, kind: str, *args: Any) -> None:
        self.conn.send((kind, args))

    def result(self) -> Any:
        assert self.conn.poll(WAIT), "the worker did not answer"
        status, value = self.conn.recv()
        assert status == "ok", value
        return value

    def call(self, kind: str, *args: Any) -> Any:
        self.send(kind, *args)
        return self.result()

    def stop(self) -> None:
        if self.proc.is_alive():
            self.resume.set()
            self.conn.send(None)
            self.proc.join(WAIT)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    SQLiteLedger(path).close()  # lay the schema out once
    return path


@pytest.fixture
def workers(db: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.stop()


def objs(prefix: str, n: int, stream: str = "contract:1") -> list[dict[str, Any]]:
    return [{"cid": f"{prefix}-{i}", "stream": stream} for i in range(n)]


def size_of(db: Path) -> int:
    with sqlite3.connect(db, timeout=WAIT) as con:
        return int(con.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def check(db: Path, acked: dict[str, int]) -> None:
    """Dense, every acknowledged client event id exactly once at its index, audit clean."""
    store = SQLiteLedger(db)
    try:
        seen: dict[str, int] = {}
        for i, entry in enumerate(store.entries()):
            assert entry.event.index == i
            cid = entry.event.client_event_id
            assert cid is not None
            assert cid not in seen, f"{cid} twice"
            seen[cid] = i
        assert seen == acked
        report = audit(store, SIGNER.verifier())
        assert report.ok, [p.to_json() for p in report.problems]
        assert report.size == len(acked)
    finally:
        store.close()


def acked_of(prefix_objs: list[dict[str, Any]], got: list[tuple[int, bool]]) -> dict[str, int]:
    return {o["cid"]: index for o, (index, _) in zip(prefix_objs, got, strict=True)}


def test_a_worker_paused_with_a_stale_head_re_reads_it_and_does_not_fork(
    db: Path, workers: list[Worker]
) -> None:
    a, b = Worker(db), Worker(db)
    workers += [a, b]
    first = objs("a0", 3)
    acked = acked_of(first, a.call("append", first, None))  # a now caches size 3, heads
    late = objs("a1", 2)
    a.send("append", late, "before_lock")
    assert a.reached.wait(WAIT)
    mid = objs("b", 10)  # the same stream: a's cached head of contract:1 goes stale
    acked |= acked_of(mid, b.call("append", mid, None))
    assert size_of(db) == 13
    a.resume.set()
    got = a.result()
    assert [i for i, _ in got] == [13, 14]
    acked |= acked_of(late, got)
    check(db, acked)


def test_a_worker_paused_holding_the_head_makes_the_other_wait_and_does_not_fork(
    db: Path, workers: list[Worker]
) -> None:
    a, b = Worker(db), Worker(db)
    workers += [a, b]
    first = objs("b0", 2)
    acked = acked_of(first, b.call("append", first, None))  # b caches size 2
    held = objs("a", 3)
    a.send("append", held, "after_head")  # a read size 2 under the write lock, and stops
    assert a.reached.wait(WAIT)
    more = objs("b1", 4)
    b.send("append", more, None)
    # b cannot commit while a holds the lock: no answer, nothing written meanwhile
    assert not b.conn.poll(1.0)
    assert size_of(db) == 2
    a.resume.set()
    acked |= acked_of(held, a.result())
    got = b.result()
    assert [i for i, _ in got] == [5, 6, 7, 8]
    acked |= acked_of(more, got)
    check(db, acked)


def test_the_stale_head_defect_is_caught(db: Path, workers: list[Worker]) -> None:
    """The check above can fail: a writer that keeps its stream heads after another worker
    appended links its event to a stale predecessor, and the audit reports the broken chain."""
    a, b = Worker(db, stale_heads=True), Worker(db)
    workers += [a, b]
    a.call("append", objs("a0", 1), None)
    a.send("append", objs("a1", 1), "before_lock")
    assert a.reached.wait(WAIT)
    b.call("append", objs("b", 1), None)
    a.resume.set()
    a.result()
    store = SQLiteLedger(db)
    try:
        report = audit(store, SIGNER.verifier())
    finally:
        store.close()
    assert not report.ok
    assert report.problems


@pytest.mark.parametrize("same_body", [True, False], ids=["same-body", "other-body"])
def test_one_client_event_id_from_two_workers_at_once_is_one_event(
    db: Path, workers: list[Worker], same_body: bool
) -> None:
    a, b = Worker(db), Worker(db)
    workers += [a, b]
    mine = [{"cid": "order-7", "stream": "contract:9"}]
    a.send("append", mine, "before_lock")  # a is about to commit order-7
    assert a.reached.wait(WAIT)
    theirs = mine if same_body else [{"cid": "order-7", "stream": "contract:8"}]
    ((index, dup),) = b.call("append", theirs, None)
    assert (index, dup) == (0, False)
    a.resume.set()
    if same_body:  # a sees b's event under the lock: the original, as a duplicate
        assert a.result() == [(0, True)]
    else:
        assert a.conn.poll(WAIT)
        status, msg = a.conn.recv()
        assert status == "error"
        assert "ConflictError" in msg
    check(db, {"order-7": 0})


def test_workers_racing_on_the_same_client_event_ids_store_each_once(
    db: Path, workers: list[Worker]
) -> None:
    ws = [Worker(db) for _ in range(3)]
    workers += ws
    batch = [{"cid": f"dup-{i}", "stream": f"s:{i % 3}"} for i in range(40)]
    for n, w in enumerate(ws):  # each in another order, in batches of 4, all at once
        w.send("append", batch[n * 4 :] + batch[: n * 4], None)
    results = [w.result() for w in ws]
    indices = [{o["cid"]: i for o, (i, _) in zip(batch[n * 4 :] + batch[: n * 4], r,
                                                  strict=True)}
               for n, r in enumerate(results)]  # fmt: skip
    assert indices[0] == indices[1] == indices[2]
    assert sum(not d for r in results for _, d in r) == 40  # each stored by exactly one
    check(db, indices[0])


def test_a_worker_without_the_lease_commits_itself_while_the_holder_is_idle(
    db: Path, workers: list[Worker]
) -> None:
    """No queue, no polling: the holder runs no commit loop at all here, yet the other
    worker's concurrent appends (group commit) are acknowledged, and nothing is queued."""
    holder, other = Worker(db), Worker(db)
    workers += [holder, other]
    assert holder.call("lease") is True
    assert other.call("lease") is False
    a = dict(other.call("async", "x", 300))
    b = dict(holder.call("async", "y", 50))
    with sqlite3.connect(db, timeout=WAIT) as con:
        assert con.execute("SELECT COUNT(*) FROM append_queue").fetchone()[0] == 0
    check(db, a | b)


@pytest.mark.parametrize("point", ["before_lock", "after_head"])
def test_a_service_style_worker_paused_in_its_group_commit_does_not_fork(
    db: Path, workers: list[Worker], point: str
) -> None:
    """The same pauses on the path the service takes: the asyncio Sequencer's group commit."""
    a, b = Worker(db), Worker(db)
    workers += [a, b]
    warm = objs("a0", 5, stream="s:0")
    acked = acked_of(warm, a.call("append", warm, None))  # a caches the head of s:0
    a.send("async", "grp", 40, point)  # its first group stops at ``point``
    assert a.reached.wait(WAIT)
    theirs = objs("b", 6, stream="s:0")
    b.send("append", theirs, None)
    if point == "after_head":  # a holds the write lock: b waits, nothing is written
        assert not b.conn.poll(1.0)
        assert size_of(db) == 5
    else:
        acked |= acked_of(theirs, b.result())
    a.resume.set()
    acked |= dict(a.result())
    if point == "after_head":
        acked |= acked_of(theirs, b.result())
    assert sorted(acked.values()) == list(range(51))
    check(db, acked)


def test_two_workers_appending_concurrently_interleave_without_a_fork(
    db: Path, workers: list[Worker]
) -> None:
    a, b = Worker(db), Worker(db)
    workers += [a, b]
    a.send("async", "p", 400)
    b.send("async", "q", 400)
    got = dict(a.result()) | dict(b.result())
    assert sorted(got.values()) == list(range(800))
    check(db, got)
