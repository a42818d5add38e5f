"""Appends per second with 1, 2 and 4 ``sealtrail serve`` workers on one SQLite/PostgreSQL database.

Issues 8 and 19. Every worker commits its own appends (group commit per process) under the
database's serialisation of the log head (SQLite's write lock; on PostgreSQL a row lock on the
log's head); the sequencer lease only elects the worker that seals, timestamps and anchors — no
append goes through ``append_queue`` (a row there fails the run). For each N in 1, 2, 4: a fresh
provisioned data dir (bench_http's ``provision``: one tenant, one integrator key) in a temp dir,
N ``sealtrail serve`` subprocesses on it (same data dir, distinct ports, default settings: lease
TTL 10 s, a checkpoint every 10 s or 10,000 events), and a wait until one of them holds the
sequencer lease.

``--backend postgresql``: the same, except that each N gets a FRESH PostgreSQL database
(``CREATE DATABASE``, bench/_pg.py) on a throwaway cluster started for the run in a temp dir on
a free port (``initdb``, ``fsync=on``, removed after), or on the server of ``--pg-url`` (its user
must be allowed to create databases; the databases made are dropped at the end). The data dir
then holds only the checkpoint key; provisioning runs the CLI (``sealtrail init``, ``tenants
create``, ``keys create``) and every worker is started with ``SEALTRAIL_DB_URL`` naming that
database. The lease, ``append_queue``, commit counts and the after-run checks below read the
PostgreSQL database (psycopg, and the PostgreSQL stores for the log and the audit); the header
prints the server's version and commit settings (``synchronous_commit``, ``fsync``).

The load generator is this process: one ``aiohttp.ClientSession`` with
``TCPConnector(limit=concurrency)`` and ``concurrency`` client tasks that send
``POST /v1/events`` round-robin over the N workers (request k to worker k mod N), each event
with its own ``client_event_id``. A warm-up (untimed) precedes a timed window of ``--seconds``;
the requests in flight when it closes are waited for and counted. Then the same with batches of
100 events (``POST /v1/events/batch``, concurrency 8) unless ``--no-batches``.

The figures per N: appends/s and its ratio to N = 1 in the same run, median and p99 latency, the
CPU time of all workers together per append (from /proc, as bench_http), the load generator's
CPU per request (it encodes each body as it sends it: the window's length, not a count, decides
how many there are), how busy the machine's CPUs were (workers + generator CPU / (wall × CPUs)),
how much of them every other process took (/proc/stat), appends per CPU-second used (workers +
generator) and its ratio to N = 1 — the ratio against the CPU actually available, which is what
extra workers can add on a machine whose cores are already busy — and each worker's own CPU as
a share of one core (the lease holder first). A second table splits latency and worker CPU
between the requests sent to the lease holder and those sent to the others. ``--repeat R`` runs
N = 1, 2, 4 R times, interleaved, and reports per N the repetition with the highest rate (all
rates in a column): on a shared machine the best run is the one least disturbed.

After each N the workers are stopped (SIGTERM, each must exit 0) and the log is checked: its
size equals the appends acknowledged (warm-up included), every acknowledged client event id is
at the index it was acknowledged with and no other event is there, the indices are dense, and
``sealtrail.ledger.audit.audit`` passes. A failed check (or any request not answered 201, or any
append queued) stops the run with exit code 1 before any figure is printed: a benchmark that
loses events must not print a throughput.

The load generator and every worker share the machine's CPUs, so on a small machine these
figures measure contention as much as the design; only the ratios to N = 1 travel.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c
import _pg
import aiohttp
import bench_http as http
import psycopg

from sealtrail.backend import Stores, open_backend
from sealtrail.ledger import datadir
from sealtrail.ledger.audit import audit

TITLE = "Several workers on one SQLite database"
TITLE_PG = "Several workers on one PostgreSQL database"
TABLE_SINGLE = "Single appends over N workers (POST /v1/events, round-robin)"
TABLE_PATHS = "Single-append latency by path"
TABLE_BATCH = "Batches of 100 over N workers (POST /v1/events/batch, round-robin)"
TABLE_CHECKS = "Log checks after each N"
WORKER_COUNTS = (1, 2, 4)
BATCH = 100
BATCH_CONCURRENCY = 8
WARM_SECONDS = 2.0
QUICK_SECONDS = 1.0
QUICK_WARM_SECONDS = 0.5


@dataclass
class Lease:
    """The stored sequencer lease."""

    holder: str
    epoch: int
    expires_at: float

    @property
    def pid(self) -> int:
        return int(self.holder.split(":")[1])


#: the database the workers share: a SQLite file's path, or a PostgreSQL URL
Db = Path | str


def row_of(db: Db, sql: str, params: tuple[object, ...] = ()) -> tuple[Any, ...] | None:
    """One row of ``sql`` (``?`` placeholders) read from ``db`` over a connection of its own:
    sqlite3 for a path, psycopg (autocommit) for a URL."""
    if isinstance(db, str):
        with psycopg.connect(db, autocommit=True, connect_timeout=30) as pg:
            return pg.execute(sql.replace("?", "%s"), params).fetchone()  # type: ignore[arg-type]
    con = sqlite3.connect(db, timeout=30)
    try:
        row: tuple[Any, ...] | None = con.execute(sql, params).fetchone()
        return row
    finally:
        con.close()


def count_of(db: Db, sql: str, params: tuple[object, ...] = ()) -> int:
    row = row_of(db, sql, params)
    assert row is not None
    return int(row[0])


def read_lease(db: Db) -> Lease | None:
    row = row_of(db, "SELECT holder, epoch, expires_at FROM leases WHERE name = 'sequencer'")
    return None if row is None else Lease(str(row[0]), int(row[1]), float(row[2]))


def queue_rows(db: Db) -> int:
    """Append requests ever queued through the database (finished rows are kept 10 minutes)."""
    return count_of(db, "SELECT COUNT(*) FROM append_queue")


def log_end(db: Db) -> int:
    """The log's size now (its largest index + 1)."""
    return count_of(db, "SELECT COALESCE(MAX(idx) + 1, 0) FROM events")


def commits_in(db: Db, lo: int, hi: int) -> int:
    """Group commits that wrote the events ``lo`` ≤ index < ``hi``: every commit stamps its
    events with one ``recorded_at`` (microseconds), so the distinct values count the commits."""
    return count_of(
        db, "SELECT COUNT(DISTINCT recorded_at) FROM events WHERE idx >= ? AND idx < ?", (lo, hi)
    )


def provision(data_dir: Path, url: str | None) -> str:
    """A provisioned data dir (tenant ``acme``, an integrator key for it); returns the key. On
    SQLite bench_http's ``provision``; on PostgreSQL the CLI (``init``, ``tenants create``,
    ``keys create``) with ``SEALTRAIL_DB_URL=url``: the keys in ``data_dir``, the rest there."""
    if url is None:
        return http.provision(data_dir)
    exe = str(Path(sys.executable).with_name("sealtrail"))
    env = worker_env(data_dir, url)
    key = ""
    for args in (
        ["init"],
        ["tenants", "create", c.TENANT, "--name", "Acme Ltd"],
        ["keys", "create", "--tenant", c.TENANT, "--role", "integrator"],
    ):
        r = subprocess.run(
            [exe, "--data-dir", str(data_dir), *args, "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        if r.returncode != 0:
            raise RuntimeError(f"sealtrail {' '.join(args)} exited {r.returncode}: {r.stderr}")
        key = str(json.loads(r.stdout).get("key", ""))
    return key


def worker_env(data_dir: Path, url: str | None) -> dict[str, str]:
    """The environment of a ``sealtrail`` process on ``data_dir`` (and database ``url``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALTRAIL_")}
    env.update(SEALTRAIL_DATA_DIR=str(data_dir))
    if url is not None:
        env.update(SEALTRAIL_DB_URL=url)
    return env


def machine_cpu() -> float | None:
    """CPU seconds all processes of the machine used so far, from /proc/stat (Linux)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(x) for x in fields]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


def loop_thread_cpu(pid: int) -> float | None:
    """CPU seconds of ``pid``'s main thread (the asyncio event loop: HTTP, validation,
    routing) from /proc/<pid>/task/<pid>/stat; the rest of the process's CPU is its other
    threads (the sequencer's commit thread, ``asyncio.to_thread`` workers)."""
    try:
        raw = Path(f"/proc/{pid}/task/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_workers(data_dir: Path, root: Path, n: int, url: str | None) -> list[http.Server]:
    """``n`` ``sealtrail serve`` on ``data_dir`` (provisioned; database ``url`` if given), free
    ports, started together."""
    exe = str(Path(sys.executable).with_name("sealtrail"))
    workers: list[http.Server] = []
    try:
        for i in range(n):
            port = http.free_port()
            env = worker_env(data_dir, url)
            env.update(SEALTRAIL_LISTEN=f"127.0.0.1:{port}")
            log = root / f"worker{i}.log"
            with log.open("ab") as out:
                proc = subprocess.Popen(
                    [exe, "serve"], stdout=out, stderr=subprocess.STDOUT, env=env
                )
            workers.append(http.Server(f"worker{i}", f"http://127.0.0.1:{port}", proc, log))
        for w in workers:
            http._wait_ready(w, "/readyz")
    except BaseException:
        for w in workers:
            w.stop()
        raise
    return workers


def wait_for_holder(db: Db, workers: Sequence[http.Server]) -> Lease:
    """The lease once one of ``workers`` holds it (unexpired)."""
    pids = {w.proc.pid for w in workers}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lease = read_lease(db)
        if lease is not None and lease.pid in pids and lease.expires_at > time.time():
            return lease
        time.sleep(0.1)
    raise RuntimeError("no worker took the sequencer lease within 60 s")


class Bodies:
    """Request bodies with client event ids never used before in this run, and those ids."""

    def __init__(self) -> None:
        self._n = itertools.count()

    def _event(self) -> dict[str, object]:
        i = next(self._n)
        e = c.sample_event(i)
        e["client_event_id"] = f"workers-{i}"
        return e

    def single(self) -> tuple[list[str], bytes]:
        e = self._event()
        return [str(e["client_event_id"])], json.dumps(e).encode()

    def batch(self) -> tuple[list[str], bytes]:
        events = [self._event() for _ in range(BATCH)]
        return [str(e["client_event_id"]) for e in events], json.dumps({"events": events}).encode()


@dataclass
class Tally:
    """What the load generator saw: per-worker latencies, statuses, acknowledged events."""

    workers: int
    latencies: list[list[float]] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.latencies = [[] for _ in range(self.workers)]

    @property
    def requests(self) -> int:
        return sum(len(x) for x in self.latencies)

    def sorted_all(self) -> list[float]:
        return sorted(x for per in self.latencies for x in per)


@dataclass
class Window:
    """One timed window of load over N workers."""

    tally: Tally
    per_request: int  # events per request
    wall: float
    worker_cpu: list[float] | None  # seconds, per worker
    loop_cpu: float | None  # seconds, the workers' main (event-loop) threads together
    client_cpu: float  # seconds, this process
    queued: int  # rows added to append_queue (must stay 0: no append is queued)
    machine_cpu: float | None  # seconds, every process on the machine
    holder: int  # position of the worker holding the lease at the start of the window
    epochs: tuple[int, int]  # lease epoch at the start and the end
    commits: int  # group commits (all workers) that wrote the window's events

    def per_commit(self) -> str:
        """Events per group commit in the window."""
        n = self.requests * self.per_request
        return f"{n / self.commits:.1f}" if self.commits else "n/a"

    @property
    def requests(self) -> int:
        return self.tally.requests

    @property
    def server_cpu(self) -> float | None:
        """Seconds, all workers together."""
        return None if self.worker_cpu is None else sum(self.worker_cpu)

    @property
    def rate(self) -> float:
        """Events per second."""
        return c.rate(self.requests * self.per_request, self.wall)

    def p(self, q: float) -> float:
        return c.percentile(self.tally.sorted_all(), q)

    def per_cpu_second(self) -> float | None:
        """Events per CPU-second used by the workers and the load generator together."""
        if self.server_cpu is None or not self.requests:
            return None
        return self.requests * self.per_request / (self.server_cpu + self.client_cpu)

    def each_worker(self) -> str:
        """Each worker's CPU as a share of one core, the lease holder first."""
        if self.worker_cpu is None:
            return "n/a"
        order = [self.holder] + [i for i in range(len(self.worker_cpu)) if i != self.holder]
        return " / ".join(f"{self.worker_cpu[i] / self.wall:.0%}" for i in order)

    def split_per_event(self) -> str:
        """Workers' CPU per event: event-loop threads / other threads."""
        if self.server_cpu is None or self.loop_cpu is None or not self.requests:
            return "n/a"
        n = self.requests * self.per_request
        return f"{c.fmt_us(self.loop_cpu / n)} / {c.fmt_us((self.server_cpu - self.loop_cpu) / n)}"

    def cpu_per_event(self) -> str:
        if self.server_cpu is None or not self.requests:
            return "n/a"
        return c.fmt_us(self.server_cpu / (self.requests * self.per_request))

    def busy(self) -> str:
        if self.server_cpu is None:
            return "n/a"
        return f"{(self.server_cpu + self.client_cpu) / (self.wall * (os.cpu_count() or 1)):.0%}"

    def others(self) -> str:
        """Share of the CPUs that other processes of the machine used during the window."""
        if self.server_cpu is None or self.machine_cpu is None:
            return "n/a"
        other = self.machine_cpu - self.server_cpu - self.client_cpu
        return f"{max(0.0, other) / (self.wall * (os.cpu_count() or 1)):.0%}"


class Cluster:
    """N workers on one data dir, and what was acknowledged through them."""

    def __init__(
        self, root: Path, workers: list[http.Server], key: str, url: str | None = None
    ) -> None:
        self.data_dir = root / "data"
        self.url = url
        self.db: Db = self.data_dir / datadir.DB_FILE if url is None else url
        self.workers = workers
        self.key = key
        self.acked: dict[str, int] = {}  # client event id -> acknowledged index
        self.duplicates: list[str] = []

    def cpu_seconds(self) -> list[float] | None:
        got = [w.cpu_seconds() for w in self.workers]
        return None if any(x is None for x in got) else [x for x in got if x is not None]

    def loop_seconds(self) -> float | None:
        got = [loop_thread_cpu(w.proc.pid) for w in self.workers]
        return None if any(x is None for x in got) else sum(x for x in got if x is not None)

    def holder_position(self) -> tuple[int, int]:
        """(position in ``workers`` of the lease holder, lease epoch)."""
        lease = wait_for_holder(self.db, self.workers)
        pos = next(i for i, w in enumerate(self.workers) if w.proc.pid == lease.pid)
        return pos, lease.epoch

    async def drive(
        self,
        session: aiohttp.ClientSession,
        path: str,
        make: Iterator[tuple[list[str], bytes]],
        seconds: float,
        concurrency: int,
    ) -> Tally:
        """Send requests round-robin for ``seconds``; wait for those in flight."""
        urls = [w.url + path for w in self.workers]
        tally = Tally(len(urls))
        turn = itertools.count()
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < deadline:
                k = next(turn) % len(urls)
                cids, body = next(make)
                t0 = time.perf_counter()
                try:
                    async with session.post(urls[k], data=body) as r:
                        raw = await r.read()
                        status = r.status
                except (aiohttp.ClientError, TimeoutError) as e:
                    tally.failures.append(f"{self.workers[k].name}: {type(e).__name__}: {e}")
                    continue
                tally.latencies[k].append(time.perf_counter() - t0)
                tally.statuses[status] += 1
                if status != 201:
                    tally.failures.append(f"{self.workers[k].name}: HTTP {status} {raw[:300]!r}")
                    continue
                got = json.loads(raw)
                for cid, ev in zip(cids, got.get("events", [got]), strict=True):
                    if ev.get("duplicate") or ev["client_event_id"] != cid or cid in self.acked:
                        self.duplicates.append(f"{cid}: answered {ev['client_event_id']!r}")
                    self.acked[cid] = int(ev["index"])

        await asyncio.gather(*(client() for _ in range(concurrency)))
        return tally

    async def measure(
        self,
        path: str,
        make: Iterator[tuple[list[str], bytes]],
        per_request: int,
        warm: float,
        seconds: float,
        concurrency: int,
    ) -> tuple[Window, list[str]]:
        """Warm up, then one timed window; returns it and the failures of both."""
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        connector = aiohttp.TCPConnector(limit=concurrency)
        timeout = aiohttp.ClientTimeout(total=300)
        async with aiohttp.ClientSession(
            connector=connector, headers=headers, timeout=timeout
        ) as session:
            warmed = await self.drive(session, path, make, warm, concurrency)
            holder, epoch0 = self.holder_position()
            q0 = queue_rows(self.db)
            end0 = log_end(self.db)
            all0, cpu0, srv0 = machine_cpu(), time.process_time(), self.cpu_seconds()
            loop0 = self.loop_seconds()
            t0 = time.perf_counter()
            tally = await self.drive(session, path, make, seconds, concurrency)
            wall = time.perf_counter() - t0
            cpu, srv1, all1 = time.process_time() - cpu0, self.cpu_seconds(), machine_cpu()
            loop1 = self.loop_seconds()
            queued = queue_rows(self.db) - q0
            commits = commits_in(self.db, end0, log_end(self.db))
            _, epoch1 = self.holder_position()
        server_cpu = (
            None
            if srv0 is None or srv1 is None
            else [b - a for a, b in zip(srv0, srv1, strict=True)]
        )
        everything = None if all0 is None or all1 is None else all1 - all0
        window = Window(
            tally=tally,
            per_request=per_request,
            wall=wall,
            worker_cpu=server_cpu,
            loop_cpu=None if loop0 is None or loop1 is None else loop1 - loop0,
            client_cpu=cpu,
            machine_cpu=everything,
            queued=queued,
            holder=holder,
            epochs=(epoch0, epoch1),
            commits=commits,
        )
        return window, warmed.failures + tally.failures

    def stop(self) -> list[str]:
        """SIGTERM the workers, holder last; each must exit 0."""
        lease = read_lease(self.db)
        holder = lease.pid if lease is not None else None
        problems = []
        for w in sorted(self.workers, key=lambda w: w.proc.pid == holder):
            w.stop()
            if w.proc.returncode != 0:
                problems.append(
                    f"{w.name} exited {w.proc.returncode} on SIGTERM:\n{w.log.read_text()[-2000:]}"
                )
        return problems

    def open(self) -> Stores:
        """Every store of the workers' database (SQLite file, or PostgreSQL over psycopg)."""
        return open_backend(self.data_dir / datadir.DB_FILE, db_url=self.url)

    def check_log(self) -> tuple[int, list[str]]:
        """The log size and what is wrong with it (nothing, if it holds exactly the acks)."""
        problems = list(self.duplicates[:10])
        store = self.open()
        try:
            size = store.ledger.size()
            if size != len(self.acked):
                problems.append(f"log size {size:,}, {len(self.acked):,} appends acknowledged")
            seen: set[str] = set()
            for entry in store.ledger.entries():
                cid, index = entry.event.client_event_id, entry.event.index
                if cid is None or cid in seen or self.acked.get(cid) != index:
                    problems.append(
                        f"event {index} ({cid!r}): acknowledged at "
                        f"{self.acked.get(cid or '')}, or twice, or never"
                    )
                    if len(problems) > 20:
                        break
                seen.add(cid or "")
            missing = len(set(self.acked) - seen)
            if missing:
                problems.append(f"{missing:,} acknowledged events are not in the log")
            report = audit(store.ledger, datadir.load_verifier(self.data_dir))
            if not report.ok or report.size != size:
                problems.append(
                    f"audit: size {report.size}, problems "
                    f"{[p.to_json() for p in report.problems][:10]}"
                )
        finally:
            store.close()
        return size, problems


@dataclass
class Run:
    """Everything measured for one N."""

    workers: int
    repetition: int
    single: Window
    batch: Window | None
    size: int
    checkpoints: int


async def run_n(
    n: int,
    repetition: int,
    parent: str | None,
    bodies: Bodies,
    args: argparse.Namespace,
    url: str | None = None,
) -> tuple[Run | None, list[str]]:
    """Start N workers on a fresh data dir (and fresh PostgreSQL database ``url`` if given),
    load them, stop them, check the log."""
    warm = QUICK_WARM_SECONDS if args.quick else WARM_SECONDS
    seconds = QUICK_SECONDS if args.quick else args.seconds
    with c.scratch_dir(parent) as root:
        key = provision(root / "data", url)
        workers = start_workers(root / "data", root, n, url)
        cluster = Cluster(root, workers, key, url)
        try:
            cluster.holder_position()
            single, failures = await cluster.measure(
                "/v1/events", iter(bodies.single, None), 1, warm, seconds, args.concurrency
            )
            batch = None
            if not args.no_batches:
                batch, more = await cluster.measure(
                    "/v1/events/batch",
                    iter(bodies.batch, None),
                    BATCH,
                    warm / 2,
                    seconds,
                    BATCH_CONCURRENCY,
                )
                failures += more
        finally:
            stopped = cluster.stop()
        problems = failures[:20] + stopped
        for w in (single, batch):
            if w is not None and w.queued:
                problems.append(f"{w.queued:,} appends went through append_queue")
        if len(failures) > 20:
            problems.append(f"… {len(failures) - 20:,} more failed requests")
        size, log_problems = cluster.check_log()
        store = cluster.open()
        try:
            checkpoints = len(store.ledger.checkpoints())
        finally:
            store.close()
        problems += log_problems
        if problems:
            logs = "\n".join(f"--- {w.name}\n{w.log.read_text()[-3000:]}" for w in workers)
            return None, [f"N={n}: {p}" for p in problems] + [f"worker logs (tails):\n{logs}"]
        return Run(n, repetition, single, batch, size, checkpoints), []


def fmt_per_cpu(w: Window, base: Window) -> tuple[str, str]:
    """Events per CPU-second of ``w`` and its ratio to ``base``'s."""
    mine, theirs = w.per_cpu_second(), base.per_cpu_second()
    if mine is None or theirs is None:
        return "n/a", "n/a"
    return c.fmt_int(mine), c.fmt_ratio(mine / theirs)


def best(runs: list[Run], variant: str) -> list[Run]:
    """Per N, the repetition with the highest rate of ``variant`` ("single" or "batch")."""

    def rate(r: Run) -> float:
        w = getattr(r, variant)
        return 0.0 if w is None else float(w.rate)

    return [max((r for r in runs if r.workers == n), key=rate) for n in WORKER_COUNTS]


def all_rates(runs: list[Run], n: int, variant: str) -> str:
    """Every repetition's rate for N = ``n``, in run order."""
    return " / ".join(
        c.fmt_int(getattr(r, variant).rate)
        for r in runs
        if r.workers == n and getattr(r, variant) is not None
    )


def path_rows(r: Run) -> list[list[object]]:
    """Latency and worker CPU of the requests sent to the lease holder and to the others."""
    w = r.single
    rows: list[list[object]] = []
    groups = (
        ("lease holder", [w.holder]),
        ("other workers", [i for i in range(r.workers) if i != w.holder]),
    )
    for name, which in groups:
        values = sorted(x for i in which for x in w.tally.latencies[i])
        if not values:
            continue
        cpu = "n/a" if w.worker_cpu is None else sum(w.worker_cpu[i] for i in which)
        rows.append(
            [
                r.workers,
                name,
                c.fmt_int(len(values)),
                http.fmt_ms(c.percentile(values, 50)),
                http.fmt_ms(c.percentile(values, 99)),
                cpu if isinstance(cpu, str) else c.fmt_us(cpu / len(values)),
            ]
        )
    return rows


def print_tables(runs: list[Run]) -> None:
    singles = best(runs, "single")
    base = singles[0].single
    rows = []
    for r in singles:
        w = r.single
        rows.append(
            [
                r.workers,
                c.fmt_int(w.requests),
                c.fmt_int(w.rate),
                c.fmt_ratio(w.rate / base.rate),
                http.fmt_ms(w.p(50)),
                http.fmt_ms(w.p(99)),
                w.per_commit(),
                w.cpu_per_event(),
                w.split_per_event(),
                c.fmt_us(w.client_cpu / w.requests) if w.requests else "n/a",
                w.busy(),
                w.others(),
                *fmt_per_cpu(w, base),
                w.each_worker(),
                all_rates(runs, r.workers, "single"),
            ]
        )
    c.print_table(
        TABLE_SINGLE,
        [
            "workers",
            "requests",
            "appends/s",
            "vs 1 worker",
            "median",
            "p99",
            "appends per commit",
            "workers' CPU/append",
            "of it: event loop / other threads",
            "client CPU/req",
            "CPUs busy",
            "other load",
            "appends per CPU-s",
            "per CPU-s vs 1 worker",
            "each worker's CPU (holder first)",
            "every repetition (appends/s)",
        ],
        rows,
    )
    c.print_table(
        TABLE_PATHS,
        ["workers", "sent to", "requests", "median", "p99", "those workers' CPU/req"],
        [row for r in singles for row in path_rows(r)],
    )

    batches = best(runs, "batch")
    if batches[0].batch is not None:
        base_batch = batches[0].batch
        batch_rows = []
        for r in batches:
            w = r.batch
            assert w is not None
            batch_rows.append(
                [
                    r.workers,
                    c.fmt_int(w.requests),
                    c.fmt_int(w.rate),
                    c.fmt_ratio(w.rate / base_batch.rate),
                    http.fmt_ms(w.p(50)),
                    http.fmt_ms(w.p(99)),
                    w.per_commit(),
                    w.cpu_per_event(),
                    w.split_per_event(),
                    w.busy(),
                    w.others(),
                    *fmt_per_cpu(w, base_batch),
                    w.each_worker(),
                    all_rates(runs, r.workers, "batch"),
                ]
            )
        c.print_table(
            TABLE_BATCH,
            [
                "workers",
                "batches",
                "events/s",
                "vs 1 worker",
                "median",
                "p99",
                "events per commit",
                "workers' CPU/event",
                "of it: event loop / other threads",
                "CPUs busy",
                "other load",
                "events per CPU-s",
                "per CPU-s vs 1 worker",
                "each worker's CPU (holder first)",
                "every repetition (events/s)",
            ],
            batch_rows,
        )

    check_rows = []
    for r in runs:
        windows = [r.single] + ([r.batch] if r.batch is not None else [])
        epochs = sorted({e for w in windows for e in w.epochs})
        check_rows.append(
            [
                r.repetition,
                r.workers,
                c.fmt_int(r.size),
                "equal, dense, audit OK",
                r.checkpoints,
                " → ".join(str(e) for e in epochs),
                f"{r.workers}/{r.workers} exit 0",
            ]
        )
    c.print_table(
        TABLE_CHECKS,
        [
            "repetition",
            "workers",
            "events in log",
            "log vs acknowledged",
            "checkpoints",
            "lease epoch",
            "SIGTERM",
        ],
        check_rows,
    )


async def measure(args: argparse.Namespace) -> int:
    if args.backend == "postgresql":
        with _pg.server(args.pg_url) as fresh:
            return await measure_on(args, fresh)
    return await measure_on(args, None)


async def measure_on(args: argparse.Namespace, fresh: Callable[[], str] | None) -> int:
    """The run, on SQLite (``fresh`` None) or on a fresh PostgreSQL database per N."""
    if fresh is None:
        title = TITLE
        where = f"one fresh data dir (SQLite, under {args.tmp_dir or tempfile.gettempdir()})"
        database_notes: list[str] = []
        commit_thread = "SQLite, hashing, fsync"
    else:
        title = TITLE_PG
        first = fresh()
        where = (
            "one fresh PostgreSQL database per N (CREATE DATABASE on a "
            f"{'server given by --pg-url' if args.pg_url else 'cluster started here'}; keys "
            f"in a fresh data dir under {args.tmp_dir or tempfile.gettempdir()}), "
            "SEALTRAIL_DB_URL"
        )
        database_notes = [_pg.settings_line(first)]
        commit_thread = "psycopg and the server's round trips, hashing"
    c.print_header(
        title,
        args.quick,
        [
            *database_notes,
            f"workers: N `sealtrail serve` subprocesses on {where}, default settings: lease TTL "
            "10 s, a checkpoint every 10 s or 10,000 events (sealed by the lease holder)",
            f"load generator: this process, one aiohttp.ClientSession, concurrency "
            f"{args.concurrency} for single appends and {BATCH_CONCURRENCY} for batches of "
            f"{BATCH}, round-robin over the N workers; warm-up, then a timed window of "
            f"{QUICK_SECONDS if args.quick else args.seconds:g} s. It shares the "
            f"{os.cpu_count()} CPUs with every worker",
            f"{args.repeat} repetition(s), N = 1, 2, 4 interleaved; each table shows, per N, the "
            "repetition with the highest rate, and every repetition's rate in the last column",
            "every worker commits its own appends (no append went through `append_queue`: "
            "checked); the lease holder also seals and timestamps",
            "workers' CPU/append: CPU time of all N worker processes together (/proc) per "
            "appended event; CPUs busy: (workers' + load generator's CPU) / (wall × CPUs); other "
            "load: the CPU every other process of the machine used (/proc/stat), same unit",
            "per commit: the window's events / the group commits (all workers) that wrote them "
            "(distinct `recorded_at`: one per commit)",
            "event loop / other threads: the workers' CPU per event split between their main "
            "threads (asyncio: HTTP, validation) and the rest (the commit thread: "
            f"{commit_thread}; other to_thread work), from /proc/<pid>/task/<pid>/stat",
            "per CPU-s: appended events per CPU-second used by the workers and the load "
            "generator together (the ratio against the CPU actually available); each worker's "
            "CPU: its CPU time / wall, as a share of one core",
        ],
    )
    bodies = Bodies()
    runs: list[Run] = []
    for repetition in range(1, args.repeat + 1):
        for n in WORKER_COUNTS:
            url = None if fresh is None else fresh()
            run, problems = await run_n(n, repetition, args.tmp_dir, bodies, args, url)
            if run is None:
                for p in problems:
                    print(f"ERROR: {p}", file=sys.stderr)
                print(f"\nN={n}: the log check failed; no figures printed", file=sys.stderr)
                return 1
            runs.append(run)
            print(
                f"- repetition {repetition}, N={n}: {run.size:,} events in the log, "
                "all acknowledged, audit OK"
            )
            sys.stdout.flush()
    print_tables(runs)
    c.print_footer()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = c.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0, help="timed window per N (default 10)")
    p.add_argument("--concurrency", type=int, default=64, help="requests in flight, single appends")
    p.add_argument("--repeat", type=int, default=1, help="repetitions of N = 1, 2, 4")
    p.add_argument("--no-batches", action="store_true", help="skip the batches of 100")
    p.add_argument("--tmp-dir", default=None, help="where the data dirs are made")
    p.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the workers' database (default sqlite)",
    )
    p.add_argument(
        "--pg-url",
        default=None,
        help="PostgreSQL: a server whose user may CREATE DATABASE (one fresh database per N, "
        "dropped after); default: a throwaway cluster started here",
    )
    args = p.parse_args(argv)
    if args.pg_url is not None and args.backend != "postgresql":
        p.error("--pg-url needs --backend postgresql")
    return asyncio.run(measure(args))


if __name__ == "__main__":
    sys.exit(main())
