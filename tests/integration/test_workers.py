"""Several ``sealtrail serve`` processes on one database (issues 8 and 19): every worker
commits its own appends, one holds the sequencer lease for the background jobs.

Three real service processes share one data directory (one SQLite file, the same keys); clients
append through all of them at once, with client event ids and retries on another worker when
one does not answer — what a load balancer in front of the workers does. Meanwhile:

1. the process holding the sequencer lease is killed (SIGKILL) mid-stream: the other workers go
   on acknowledging appends at once, *before* anyone has taken the lease over (appends do not
   need it), and another takes the lease after ``lease_ttl`` and goes on sealing;
2. the next holder is *paused* (SIGSTOP) longer than the lease lasts, while clients go on
   sending to it too: another worker takes over, and when the paused one is resumed it finds
   the lease gone and commits the requests that waited in its socket itself — after re-reading
   the log's head under the write lock, so without a fork. (A worker paused at chosen points of
   the write path, with a stale head or holding the lock, is
   tests/integration/test_workers_nofork.py; that a stale holder's *checkpoint* is refused by the
   fence, nothing written, is tests/unit/ledger/test_coordination.py.)

At the end: every acknowledged event is in the log at the index it was acknowledged with, each
client event id exactly once, the indices dense, the whole log audits clean (chains, checkpoints
consistent), checkpoints were sealed by one worker at a time, nothing went through the append
queue, and the paused holder says it lost the lease. The MongoDB version (appends still through
the lease holder there) is tests/integration/test_workers_mongo.py.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sealtrail.backend import Stores, open_backend
from sealtrail.ledger import datadir
from sealtrail.ledger.audit import audit
from tests.conftest import event_obj
from tests.integration.service import Service, provision, start

pytestmark = pytest.mark.slow

TTL = "2"


class Load:
    """Client threads appending through every live worker, retrying elsewhere on failure."""

    def __init__(self, workers: list[Service], key: str, threads: int = 6) -> None:
        self.workers = workers
        self.key = key
        self.acked: dict[str, int] = {}
        self.failures: list[str] = []
        self.retries = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._seq = 0
        self._threads = [threading.Thread(target=self._run, args=(t,)) for t in range(threads)]

    def live(self) -> list[Service]:
        return [w for w in self.workers if w.proc is not None and w.proc.poll() is None]

    def _next(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def append(self, n: int, first: int) -> None:
        cid = f"load-{n}"
        body = json.dumps(event_obj(cid, stream=f"contract:{n % 7}")).encode()
        deadline = time.monotonic() + 60
        attempt = first
        while time.monotonic() < deadline:
            live = self.live()
            w = live[attempt % len(live)]
            attempt += 1
            req = urllib.request.Request(
                f"{w.url}/v1/events",
                data=body,
                method="POST",
                headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(req, timeout=4) as r:
                    got = json.loads(r.read())
                with self._lock:
                    self.acked[cid] = int(got["index"])
                return
            except urllib.error.HTTPError as e:
                if e.code < 500:
                    with self._lock:
                        self.failures.append(f"{cid}: HTTP {e.code} {e.read()[:200]!r}")
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            with self._lock:
                self.retries += 1
            time.sleep(0.05)
        with self._lock:
            self.failures.append(f"{cid}: no worker acknowledged it within 60 s")

    def _run(self, t: int) -> None:
        while not self._stop.is_set():
            self.append(self._next(), t)

    def __enter__(self) -> Load:
        for th in self._threads:
            th.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for th in self._threads:
            th.join(timeout=120)


def lease_holder_pid(read: Callable[[], tuple[str, int] | None]) -> tuple[int, int]:
    """(pid, epoch) of the current sequencer lease holder, waiting for one to exist."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = read()
        if got is not None:
            holder, epoch = got
            return int(holder.split(":")[1]), epoch
        time.sleep(0.1)
    raise AssertionError("no process took the sequencer lease")


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def pause_until_taken_over(
    pid: int, epoch: int, read_lease: Callable[[], tuple[str, int] | None], ttl: float
) -> None:
    """SIGSTOP ``pid`` until another process holds the lease with a larger epoch.

    On SQLite a process paused inside a write transaction keeps the database's write lock, and
    nobody can write (not even take the lease) until it runs again — then its transaction ends
    under the fence it began with. So if no takeover comes within two lease times, the process
    is resumed for a moment and paused again (it is almost never inside a transaction when idle).
    """
    for _ in range(5):
        os.kill(pid, signal.SIGSTOP)
        deadline = time.monotonic() + 2 * ttl + 3
        while time.monotonic() < deadline:
            if lease_holder_pid(read_lease)[1] > epoch:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.3)
    raise AssertionError("no worker took the lease from the paused holder")


def run_failover_scenario(
    workers: list[Service],
    key: str,
    read_lease: Callable[[], tuple[str, int] | None],
) -> Load:
    """Drive the load, kill the holder, pause the next one, resume it; return all the load."""
    with Load(workers, key) as load:
        wait_for(lambda: len(load.acked) >= 40, "the first acknowledged appends")
        pid, epoch = lease_holder_pid(read_lease)
        killed = next(w for w in workers if w.proc is not None and w.proc.pid == pid)
        before = len(load.acked)
        killed.stop(signal.SIGKILL)
        # the survivors acknowledge appends while the dead holder's lease still stands
        acked_before_takeover = 0
        deadline = time.monotonic() + 30
        while lease_holder_pid(read_lease)[1] == epoch:
            assert time.monotonic() < deadline, "no worker took the lease over"
            acked_before_takeover = len(load.acked) - before
            time.sleep(0.05)
        assert acked_before_takeover >= 5, "appends waited for the lease"
        wait_for(lambda: len(load.acked) >= before + 40, "appends after the takeover")
    pid2, epoch2 = lease_holder_pid(read_lease)
    paused = next(w for w in workers if w.proc is not None and w.proc.pid == pid2)
    try:
        pause_until_taken_over(pid2, epoch2, read_lease, float(TTL))
        # clients keep sending to the paused worker too: their requests wait in its socket,
        # time out, and are retried on the others
        with Load(workers, key) as more:
            more._seq = 1_000_000
            wait_for(lambda: len(more.acked) >= 40, "appends while the old holder is paused")
            os.kill(pid2, signal.SIGCONT)
            wait_for(
                lambda: (
                    "passed to another process" in paused.log()
                    or "lost the sequencer lease" in paused.log()
                ),
                "the resumed worker to notice it lost the lease",
            )
            mark = len(more.acked)
            wait_for(lambda: len(more.acked) >= mark + 40, "appends after the resume")
    finally:
        os.kill(pid2, signal.SIGCONT)
    load.acked.update(more.acked)
    load.failures += more.failures
    load.retries += more.retries
    return load


def check_log(load: Load, store: Stores, data_dir: Path, *, retried: bool = True) -> None:
    """Nothing acknowledged lost, each client id once, dense, audits clean (and, with
    ``retried``, clients had to retry: a worker really died under them)."""
    assert load.failures == []
    if retried:
        assert load.retries > 0  # the failover really made clients retry
    size = store.ledger.size()
    cids: dict[str, int] = {}
    for entry in store.ledger.entries():
        cid = entry.event.client_event_id
        assert cid is not None
        assert cid not in cids, (
            f"{cid} appended twice (indices {cids[cid]} and {entry.event.index})"
        )
        cids[cid] = entry.event.index
    assert len(cids) == size
    for cid, index in load.acked.items():
        assert cids.get(cid) == index, f"acknowledged {cid} at {index}, log has {cids.get(cid)}"
    report = audit(store.ledger, datadir.load_verifier(data_dir))
    assert report.ok, [p.to_json() for p in report.problems]
    assert report.size == size


def stop_and_check(
    workers: list[Service], load: Load, store: Stores, data: Path, *, retried: bool = True
) -> None:
    """Stop the live workers (each must exit 0), then :func:`check_log`; closes ``store``."""
    for w in workers:
        if w.proc is not None and w.proc.poll() is None:
            assert w.stop() == 0, w.log()
    try:
        check_log(load, store, data, retried=retried)
    finally:
        store.close()


@pytest.fixture
def three_workers(tmp_path: Path) -> Iterator[tuple[Path, list[Service], dict[str, str]]]:
    data = tmp_path / "data"
    keys = provision(data)
    workers = [
        start(data, tmp_path / f"worker{i}.log", lease_ttl=TTL, checkpoint_interval="0.5")
        for i in range(3)
    ]
    try:
        yield data, workers, keys
    finally:
        for w in workers:
            if w.proc is not None and w.proc.poll() is None:
                os.kill(w.proc.pid, signal.SIGCONT)
                w.stop()


def test_three_workers_on_one_sqlite_survive_a_killed_and_a_paused_sequencer(
    three_workers: tuple[Path, list[Service], dict[str, str]],
) -> None:
    data, workers, keys = three_workers
    db = data / "ledger.db"

    def read_lease() -> tuple[str, int] | None:
        with sqlite3.connect(db, timeout=10) as con:
            row = con.execute(
                "SELECT holder, epoch FROM leases WHERE name = 'sequencer'"
            ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    load = run_failover_scenario(workers, keys["int_sub1"], read_lease)
    stop_and_check(workers, load, open_backend(db), data)
    with sqlite3.connect(db, timeout=10) as con:  # every worker committed its own appends
        assert con.execute("SELECT COUNT(*) FROM append_queue").fetchone()[0] == 0
    _, epoch = read_lease() or ("", 0)
    assert epoch >= 3  # taken over twice (plus any takeover at start-up)


def metric(svc: Service, name: str) -> float:
    """One unlabelled sample of ``/metrics``."""
    with urllib.request.urlopen(f"{svc.url}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics of {svc.url}")


def test_background_jobs_run_in_the_lease_holder_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    keys = provision(data)
    workers = [
        start(data, tmp_path / f"w{i}.log", lease_ttl="3", checkpoint_interval="0.3")
        for i in range(2)
    ]
    try:
        with Load(workers, keys["int_sub1"], threads=2) as load:
            wait_for(lambda: len(load.acked) >= 30, "appends through both workers")
        store = open_backend(data / "ledger.db")
        try:
            wait_for(
                lambda: (
                    (cp := store.ledger.latest_checkpoint()) is not None
                    and cp.size >= 30
                    and store.timestamps.untimestamped() == []
                ),
                "a timestamped checkpoint of everything",
            )
            stamps = store.timestamps.timestamps()
        finally:
            store.close()
        wait_for(lambda: metric(workers[0], "sealtrail_sequencer") + metric(
            workers[1], "sealtrail_sequencer") == 1, "the lease gauges")  # fmt: skip
        roles = {metric(w, "sealtrail_sequencer"): w for w in workers}
        holder, other = roles[1.0], roles[0.0]
        assert metric(holder, "sealtrail_checkpoints_sealed_total") >= 1
        assert metric(other, "sealtrail_checkpoints_sealed_total") == 0
        assert metric(holder, "sealtrail_sequencer_lease_epoch") >= 1
        size = len(load.acked)
        for w in workers:  # every worker's gauge follows the shared log, whoever appended
            wait_for(lambda w=w: metric(w, "sealtrail_log_size") == size, "log size gauges")
        assert stamps
        assert all(t.attempts == 1 for t in stamps)  # each checkpoint stamped once, by one
        assert load.failures == []
    finally:
        for w in workers:
            assert w.stop() == 0, w.log()
