"""Failover of PostgreSQL under load, for real, on one machine (issue 19).

Each test starts a PostgreSQL primary and a synchronous standby (tests/pg_replication.py: two
clusters on free ports, ``pg_basebackup -R``, ``synchronous_standby_names``) and two real
``sealtrail serve`` processes on the multi-host URL
(``…?host=/sock1,/sock2&port=p1,p2&target_session_attrs=read-write``). Client threads append
through both workers — what a load balancer does: every event has a client event id, a request
that fails (connection error, 5xx) is sent again, unchanged, to the other worker — and record
every acknowledgement as (client event id → index, leaf hash).

Then a fault:

1. **the primary's postmaster SIGKILLed** under single appends, the standby promoted at once
   (as an operator's automation would): the workers reconnect through the multi-host URL and
   appends resume on the promoted standby;
2. **the primary killed in the middle of batch commits**: the standby's WAL receiver is paused
   (SIGSTOP) so that the primary's batch commits are written locally but wait for the standby
   (``pg_stat_activity.wait_event = 'SyncRep'``), and the primary is killed while they wait —
   committed on the primary, not acknowledged to anyone, perhaps on the standby or not;
3. **a worker SIGKILLed mid-batch**: the same pause holds both workers' batch commits waiting
   for the standby, one worker is SIGKILLed, the standby resumed; the dead worker's clients
   retry on the other worker;
4. **the database unreachable for a while** (both servers stopped): every append is answered
   within a bounded time (4 × ``busy_timeout``) with HTTP 503 and ``Retry-After`` — never a
   hang, never a partial batch — and appends resume when the servers are back;
5. **the synchronous standby down** for a few seconds: nothing is acknowledged meanwhile, and
   appends resume when it is back. (The requests of the commit that waits for the standby get
   no answer until then — PostgreSQL's commit does not time out, and cancelling it would leave
   the transaction committed on the primary alone — so that scenario asserts no answer bound;
   docs/OPERATIONS.md §15.2 says so.)

After each: every acknowledged event is in the log, at the index it was acknowledged with, with
the leaf hash it was acknowledged with, each client event id exactly once, the indices dense
(read back through the service, from the database it now uses), and ``sealtrail audit`` exits
0 on that database. Each scenario runs once (marked ``slow``); the last test is a quick run
of bench/bench_pg_failover.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import event_obj
from tests.integration.service import Service, cli, env_for, start
from tests.pg import require_pg_bin
from tests.pg_replication import ReplicatedPostgres, children_of, replicated

pytestmark = pytest.mark.slow

TTL = "3"
#: the workers' busy_timeout: how long a write waits for a lock, a connection or a lost server
BUSY_TIMEOUT = 5.0
#: an append must be answered (2xx or 503) within this many seconds, whatever the database does
#: (a request may wait for the group commit ahead of it, then fail its own: 2 × busy_timeout)
ANSWER_BOUND = 4 * BUSY_TIMEOUT
#: the workers' append_timeout: a commit that has not returned (a synchronous standby away) is
#: answered 503 commit_pending after this long, and goes on
APPEND_TIMEOUT = 3.0


@dataclass
class Ack:
    index: int
    leaf_hash: str


@dataclass
class Clients:
    """Client threads appending through every live worker (single events, or batches of
    ``batch`` events), retrying a failed request unchanged on another worker."""

    workers: list[Service]
    key: str
    threads: int = 6
    batch: int = 0
    prefix: str = "e"
    acked: dict[str, Ack] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    #: (seconds the answer took, Retry-After) of every 503
    unavailable: list[tuple[float, str | None]] = field(default_factory=list)
    #: (seconds, what) of every attempt that ended without an answer (connection error/timeout)
    no_answer: list[tuple[float, str]] = field(default_factory=list)
    retries: int = 0
    #: monotonic time of each acknowledgement, with the monotonic time its request was sent
    ack_times: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._seq = 0
        self._threads = [
            threading.Thread(target=self._run, args=(t,), daemon=True) for t in range(self.threads)
        ]

    def live(self) -> list[Service]:
        return [w for w in self.workers if w.proc is not None and w.proc.poll() is None]

    def _next(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _body(self, n: int) -> tuple[list[str], bytes, str]:
        if not self.batch:
            cid = f"{self.prefix}-{n}"
            obj = event_obj(cid, stream=f"contract:{n % 11}")
            return [cid], json.dumps(obj).encode(), "/v1/events"
        cids = [f"{self.prefix}-{n}-{i}" for i in range(self.batch)]
        events = [event_obj(c, stream=f"contract:{(n + i) % 11}") for i, c in enumerate(cids)]
        return cids, json.dumps({"events": events}).encode(), "/v1/events/batch"

    def append(self, n: int, first: int) -> None:
        cids, body, path = self._body(n)
        deadline = time.monotonic() + 120
        attempt = first
        while time.monotonic() < deadline and not (self._stop.is_set() and attempt > first + 50):
            live = self.live()
            if not live:
                time.sleep(0.1)
                continue
            w = live[attempt % len(live)]
            attempt += 1
            req = urllib.request.Request(
                w.url + path,
                data=body,
                method="POST",
                headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
            )
            sent = time.monotonic()
            try:
                with urllib.request.urlopen(req, timeout=ANSWER_BOUND + 10) as r:
                    got = json.loads(r.read())
                done = time.monotonic()
                events = got["events"] if self.batch else [got]
                with self._lock:
                    if [e.get("client_event_id") for e in events] != cids:
                        self.failures.append(f"{cids[0]}: acknowledged other events: {got}")
                        return
                    for cid, e in zip(cids, events, strict=True):
                        self.acked[cid] = Ack(int(e["index"]), str(e["leaf_hash"]))
                    self.ack_times.append((done, sent))
                return
            except urllib.error.HTTPError as e:
                took = time.monotonic() - sent
                detail = e.read()[:300]
                if e.code == 503:
                    with self._lock:
                        self.unavailable.append((took, e.headers.get("Retry-After")))
                elif e.code < 500:
                    with self._lock:
                        self.failures.append(f"{cids[0]}: HTTP {e.code} {detail!r}")
                    return
                else:
                    with self._lock:
                        self.no_answer.append((took, f"HTTP {e.code} {detail!r} at {sent:.1f}"))
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
                with self._lock:
                    self.no_answer.append((time.monotonic() - sent, f"{e!r} at {sent:.1f}"))
            with self._lock:
                self.retries += 1
            time.sleep(0.1)
        with self._lock:
            self.failures.append(f"{cids[0]}: not acknowledged within 120 s")

    def _run(self, t: int) -> None:
        while not self._stop.is_set():
            self.append(self._next(), t)

    def __enter__(self) -> Clients:
        for th in self._threads:
            th.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for th in self._threads:
            th.join(timeout=180)

    def count(self) -> int:
        with self._lock:
            return len(self.acked)


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Deployment:
    pg: ReplicatedPostgres
    url: str
    data: Path
    workers: list[Service]
    key: str
    auditor: str


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    require_pg_bin()  # skips without PostgreSQL; fails in CI, which installs it
    with replicated() as pg:
        url = pg.url()
        data = tmp_path / "data"
        env = env_for(db_url=url)
        cli(data, "init", env=env)
        cli(data, "tenants", "create", "acme", env=env)
        key = cli(data, "keys", "create", "--tenant", "acme", "--role", "integrator", env=env)
        aud = cli(data, "keys", "create", "--tenant", "acme", "--role", "auditor", env=env)
        workers: list[Service] = []
        try:
            for i in range(2):
                workers.append(
                    start(
                        data,
                        tmp_path / f"worker{i}.log",
                        db_url=url,
                        lease_ttl=TTL,
                        checkpoint_interval="0.5",
                        busy_timeout=str(BUSY_TIMEOUT),
                        append_timeout=str(APPEND_TIMEOUT),
                    )
                )
            yield Deployment(pg, url, data, workers, str(key["key"]), str(aud["key"]))
        finally:
            for w in workers:
                if w.proc is not None and w.proc.poll() is None:
                    w.stop(signal.SIGKILL)


def get_json(svc: Service, path: str, key: str) -> Any:
    req = urllib.request.Request(svc.url + path, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def stored_log(d: Deployment) -> list[dict[str, Any]]:
    """Every event of the log, in order, read through a live worker (the tenant is the log's
    only one)."""
    w = next(w for w in d.workers if w.proc is not None and w.proc.poll() is None)
    out: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = get_json(w, f"/v1/events?limit=1000{cursor}", d.auditor)
        out += page["events"]
        if page["next_cursor"] is None:
            return out
        cursor = f"&cursor={page['next_cursor']}"


def check_log(d: Deployment, clients: list[Clients]) -> list[dict[str, Any]]:
    """Every acknowledged event at its index with its leaf hash, each client event id once,
    dense, ``sealtrail audit`` clean; returns the stored log."""
    acked: dict[str, Ack] = {}
    for c in clients:
        assert c.failures == [], c.failures[:5]
        acked.update(c.acked)
    log = stored_log(d)
    assert [e["index"] for e in log] == list(range(len(log))), "indices not dense"
    by_cid: dict[str, dict[str, Any]] = {}
    for e in log:
        cid = e["client_event_id"]
        assert cid not in by_cid, f"{cid} at {by_cid[cid]['index']} and {e['index']}"
        by_cid[cid] = e
    for cid, ack in acked.items():
        got = by_cid.get(cid)
        assert got is not None, f"acknowledged {cid} at {ack.index} is not in the log"
        assert (got["index"], got["leaf_hash"]) == (ack.index, ack.leaf_hash), (
            f"acknowledged {cid} at {ack.index}, the log has it at {got['index']}"
        )
    for c in clients:
        errors = [why for _, why in c.no_answer if why.startswith("HTTP")]
        assert errors == [], f"5xx other than 503 (the database's failures are 503): {errors[:3]}"
    report = cli(d.data, "audit", env=env_for(db_url=d.url))
    assert report.get("ok", True) is True, report
    return log


def assert_whole_batches(log: list[dict[str, Any]], prefix: str, size: int) -> None:
    """Batches are atomic: each batch's events (``PREFIX-N-I``) are all in the log, at
    consecutive indices in their order, or none is."""
    by_batch: dict[str, list[tuple[int, int]]] = {}
    for e in log:
        cid = e["client_event_id"]
        if cid.startswith(prefix):
            batch, _, i = cid.rpartition("-")
            by_batch.setdefault(batch, []).append((int(i), e["index"]))
    assert by_batch, f"no batch {prefix}* in the log"
    for batch, got in by_batch.items():
        first = got[0][1]
        assert got == [(i, first + i) for i in range(size)], f"batch {batch}: {got[:3]}…"


def stop_workers(d: Deployment) -> None:
    for w in d.workers:
        if w.proc is not None and w.proc.poll() is None:
            assert w.stop() == 0, w.log()


def walreceiver_pid(pg: ReplicatedPostgres) -> int:
    """The standby's WAL receiver process."""
    pid = pg.standby.postmaster_pid()
    assert pid is not None
    for child in children_of(pid):
        try:
            cmd = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"walreceiver" in cmd:
            return child
    raise AssertionError("the standby has no WAL receiver")


def sync_waiters(pg: ReplicatedPostgres) -> int:
    """How many backends of the primary wait for the standby to confirm their commit."""
    with pg.primary.connect(pg.dbname) as con:
        row = con.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
        ).fetchone()
    return int(row[0]) if row else 0


# -- 1. the primary killed under load ---------------------------------------------------------


def test_primary_killed_under_load_standby_promoted_every_ack_kept(
    deployment: Deployment,
) -> None:
    d = deployment
    with Clients(d.workers, d.key, threads=8) as load:
        wait_for(lambda: load.count() >= 150, "appends on the primary")
        before = load.count()
        killed_at = d.pg.kill_primary()
        d.pg.promote_standby()
        promoted_at = time.monotonic()
        wait_for(lambda: load.count() >= before + 150, "appends on the promoted standby", 120)
    # under load: requests in flight across the kill were answered after it (the worker rode
    # through the failover) or retried by their client
    across = [1 for done, sent in load.ack_times if sent < killed_at < done]
    assert across or load.retries > 0, "nothing was in flight when the primary died"
    assert any(sent > promoted_at for _, sent in load.ack_times)
    log = check_log(d, [load])
    assert len(log) >= before + 150
    first_after = min(done for done, sent in load.ack_times if sent > killed_at)
    print(f"first acknowledged append {first_after - killed_at:.2f} s after the kill")
    stop_workers(d)


# -- 2. the primary killed while batch commits wait for the standby ---------------------------


def test_primary_killed_in_the_middle_of_batch_commits(deployment: Deployment) -> None:
    d = deployment
    with Clients(d.workers, d.key, threads=4, batch=100) as load:
        wait_for(lambda: load.count() >= 1000, "batches on the primary")
        receiver = walreceiver_pid(d.pg)
        os.kill(receiver, signal.SIGSTOP)
        try:
            # the workers' batch commits are now in the primary's WAL, waiting for the standby
            wait_for(lambda: sync_waiters(d.pg) >= 1, "a batch commit waiting for the standby")
            time.sleep(0.3)  # let more batches pile up behind it
            pending = load.count()
            d.pg.kill_primary()
        finally:
            os.kill(receiver, signal.SIGCONT)
        time.sleep(0.5)
        # acknowledging a commit the standby may lack would lose it now
        assert load.count() == pending, "acknowledged while the standby could not confirm"
        d.pg.promote_standby()
        wait_for(lambda: load.count() >= pending + 1000, "batches on the promoted standby", 120)
    assert load.retries > 0
    log = check_log(d, [load])
    assert_whole_batches(log, "e-", 100)
    stop_workers(d)


# -- 3. a worker killed in the middle of a batch ----------------------------------------------


def test_worker_killed_mid_batch(deployment: Deployment) -> None:
    d = deployment
    with Clients(d.workers, d.key, threads=4, batch=100) as load:
        wait_for(lambda: load.count() >= 1000, "batches through both workers")
        receiver = walreceiver_pid(d.pg)
        os.kill(receiver, signal.SIGSTOP)
        try:
            wait_for(lambda: sync_waiters(d.pg) >= 2, "batch commits of both workers waiting")
            pending = load.count()
            victim = d.workers[0]
            assert victim.stop(signal.SIGKILL) == -signal.SIGKILL
        finally:
            os.kill(receiver, signal.SIGCONT)
        wait_for(lambda: load.count() >= pending + 1000, "batches through the other worker", 120)
    assert load.retries > 0
    d.workers = [w for w in d.workers if w is not victim]
    log = check_log(d, [load])
    assert_whole_batches(log, "e-", 100)
    stop_workers(d)


# -- 4. the database unreachable for a while --------------------------------------------------


def test_database_unreachable_appends_answer_503_then_resume(deployment: Deployment) -> None:
    d = deployment
    with (
        Clients(d.workers, d.key, threads=3) as load,
        Clients(d.workers, d.key, threads=2, batch=50, prefix="b") as batches,
    ):
        wait_for(lambda: load.count() >= 100, "appends before the outage")
        d.pg.stop_node(d.pg.standby)
        d.pg.stop_node(d.pg.primary)
        wait_for(lambda: len(load.unavailable) >= 6, "503 answers while it is down", 90)
        singles, events = load.count(), batches.count()
        time.sleep(1.0)
        assert (load.count(), batches.count()) == (singles, events), "acknowledged while down"
        d.pg.start_node(d.pg.primary)
        d.pg.start_node(d.pg.standby)
        d.pg.wait_sync()
        wait_for(lambda: load.count() >= singles + 100, "appends after the outage", 120)
        wait_for(lambda: batches.count() >= events + 250, "batches after the outage", 120)
    for c in (load, batches):
        assert c.no_answer == [], f"requests without a 2xx or 503 answer: {c.no_answer[:3]}"
        assert c.unavailable, "no 503 while the database was down"
        for took, retry_after in c.unavailable:
            assert took <= ANSWER_BOUND, f"a 503 after {took:.1f} s"
            assert retry_after is not None, "503 without Retry-After"
            assert retry_after.isdigit(), retry_after
            assert int(retry_after) >= 1
    log = check_log(d, [load, batches])
    assert_whole_batches(log, "b-", 50)
    stop_workers(d)


# -- 5. the synchronous standby down ----------------------------------------------------------


def test_standby_down_nothing_is_acknowledged_until_it_is_back(deployment: Deployment) -> None:
    """Without its synchronous standby the primary cannot commit: no append may be
    acknowledged meanwhile (it would be on one machine only), yet every request is answered
    (503, the commit in flight ``commit_pending``) — never a hang; when the standby is back, the
    appends resume and every acknowledged one is there, once."""
    d = deployment
    with Clients(d.workers, d.key, threads=3) as load:
        wait_for(lambda: load.count() >= 60, "appends before the standby stops")
        d.pg.stop_node(d.pg.standby)
        time.sleep(1.0)  # answers of commits confirmed before the stop
        stopped = load.count()
        answered = len(load.unavailable)
        time.sleep(3 * APPEND_TIMEOUT + 2)
        assert load.count() == stopped, "acknowledged without the synchronous standby"
        assert len(load.unavailable) > answered, "no 503 while the standby was away"
        assert not load.no_answer, f"requests left without an answer: {load.no_answer[:3]}"
        d.pg.start_node(d.pg.standby)
        d.pg.wait_sync()
        wait_for(lambda: load.count() >= stopped + 60, "appends once the standby is back", 120)
    check_log(d, [load])
    stop_workers(d)


# -- the check itself, against a setup that loses acknowledged appends ------------------------


def test_the_check_catches_what_asynchronous_replication_loses(deployment: Deployment) -> None:
    """The same failover with the standby made *asynchronous* and cut off: the primary goes on
    acknowledging appends the standby never receives, and after the promotion
    :func:`check_log` must find them missing (while ``sealtrail audit`` alone is content: the
    promoted log is consistent, only shorter — which is why acknowledgements are compared)."""
    d = deployment
    with d.pg.primary.connect() as con:
        con.execute("ALTER SYSTEM SET synchronous_standby_names = ''")
        con.execute("SELECT pg_reload_conf()")
    wait_for(lambda: ("standby1", "streaming", "async") in d.pg.replication_state(), "async")
    with Clients(d.workers, d.key, threads=4) as load:
        wait_for(lambda: load.count() >= 50, "appends on the primary")
        receiver = walreceiver_pid(d.pg)
        os.kill(receiver, signal.SIGSTOP)  # the standby receives nothing more
        cut = load.count()
        wait_for(lambda: load.count() >= cut + 50, "appends acknowledged by the primary alone")
        d.pg.kill_primary()
        os.kill(receiver, signal.SIGKILL)  # what it had not read yet dies with it
        d.pg.promote_standby()
        wait_for(lambda: load.count() >= cut + 150, "appends on the promoted standby", 120)
    with pytest.raises(AssertionError, match=r"acknowledged e-\d+ at \d+") as lost:
        check_log(d, [load])
    print(lost.value)
    stop_workers(d)


def test_failover_bench_quick_run(tmp_path: Path) -> None:
    """bench/bench_pg_failover.py --quick runs, checks its log and prints its tables."""
    require_pg_bin()
    bench = Path(__file__).resolve().parents[2] / "bench" / "bench_pg_failover.py"
    run = subprocess.run(
        [sys.executable, str(bench), "--quick", "--tmp-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for heading in (
        "## PostgreSQL failover",
        "### Failover time (per run)",
        "### Failover summary",
    ):
        assert heading in run.stdout, run.stdout
    assert "| 1 " in run.stdout
