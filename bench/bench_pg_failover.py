"""Failover time on PostgreSQL: from the primary's death to the first acknowledged append on
the promoted standby.

Issue 19. Each run: a fresh PostgreSQL primary and synchronous standby (tests/pg_replication.py:
two clusters on free ports in a temporary directory, ``pg_basebackup -R``,
``synchronous_standby_names``), a provisioned data directory on the multi-host URL
(``target_session_attrs=read-write``), ``--workers`` ``sealtrail serve`` processes on it, and
``--concurrency`` client threads appending single events round-robin over the workers, each
with its own client event id; a request that fails (connection error, 5xx) is sent again,
unchanged, to the next worker after 20 ms. After a warm-up the primary's postmaster is SIGKILLed
and **the bench promotes the standby immediately** (``pg_ctl promote``), as an operator's
automation would: the figure is the service's reconnection plus PostgreSQL's promotion, not a
human's or a failure detector's reaction time — add your detector's delay (e.g. Patroni's TTL)
to it.

Per run: kill → ``pg_ctl promote`` returned (the standby accepts writes), kill → first
acknowledged append whose request was *sent* after the kill (only the promoted standby can
have committed it: the old primary's backends die with their postmaster and none can confirm a
synchronous commit), and the appends acknowledged before and after. Then the log is checked:
every acknowledged event at the index and leaf hash it was acknowledged with, each client event
id once, dense, and ``sealtrail audit`` exit 0; a failed check stops the run with exit code 1
before the figures are printed.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, str(ROOT))

import _common as c  # noqa: E402

from tests.integration.service import Service, cli, env_for, start  # noqa: E402
from tests.pg_replication import ReplicatedPostgres, pg_bin_dir  # noqa: E402


@dataclass
class Load:
    """Client threads appending through the workers; every acknowledgement with the time its
    (last) request was sent and the time the answer came."""

    workers: list[Service]
    key: str
    threads: int
    acked: dict[str, tuple[int, str]] = field(default_factory=dict)
    acks: list[tuple[float, float]] = field(default_factory=list)  # (sent, answered)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._n = 0
        self._ths = [
            threading.Thread(target=self._run, args=(t,), daemon=True) for t in range(self.threads)
        ]

    def _append(self, n: int, first: int) -> None:
        cid = f"fo-{n}"
        body = json.dumps(c.sample_event(n) | {"client_event_id": cid}).encode()
        attempt = first
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            w = self.workers[attempt % len(self.workers)]
            attempt += 1
            req = urllib.request.Request(
                f"{w.url}/v1/events",
                data=body,
                method="POST",
                headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
            )
            sent = time.monotonic()
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    got = json.loads(r.read())
                answered = time.monotonic()
                with self._lock:
                    self.acked[cid] = (int(got["index"]), str(got["leaf_hash"]))
                    self.acks.append((sent, answered))
                return
            except urllib.error.HTTPError as e:
                if e.code < 500:
                    with self._lock:
                        self.failures.append(f"{cid}: HTTP {e.code}")
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.02)
        with self._lock:
            self.failures.append(f"{cid}: not acknowledged within 120 s")

    def _run(self, t: int) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._n += 1
                n = self._n
            self._append(n, t)

    def count(self) -> int:
        with self._lock:
            return len(self.acked)

    def start(self) -> None:
        for th in self._ths:
            th.start()

    def stop(self) -> None:
        self._stop.set()
        for th in self._ths:
            th.join(timeout=180)


def wait_until(cond: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def check(url: str, data: Path, worker: Service, auditor: str, load: Load) -> list[str]:
    """Problems with the stored log against the acknowledgements (empty when all holds)."""
    problems = list(load.failures[:5])
    events: list[dict[str, Any]] = []
    cursor = ""
    while True:
        req = urllib.request.Request(
            f"{worker.url}/v1/events?limit=1000{cursor}",
            headers={"Authorization": f"Bearer {auditor}"},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            page = json.loads(r.read())
        events += page["events"]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    if [e["index"] for e in events] != list(range(len(events))):
        problems.append("indices not dense")
    stored: dict[str, tuple[int, str]] = {}
    for e in events:
        if e["client_event_id"] in stored:
            problems.append(f"{e['client_event_id']} twice")
        stored[e["client_event_id"]] = (e["index"], e["leaf_hash"])
    lost = [cid for cid, ack in load.acked.items() if stored.get(cid) != ack]
    if lost:
        problems.append(f"{len(lost)} acknowledged events not at their index, e.g. {lost[0]}")
    try:
        cli(data, "audit", env=env_for(db_url=url))
    except RuntimeError as e:
        problems.append(f"audit: {e}")
    return problems


def one_run(root: Path, workers_n: int, concurrency: int, warmup: int, after: int) -> list[Any]:
    pg = ReplicatedPostgres("sealtrail").start()
    workers: list[Service] = []
    try:
        url = pg.url()
        data = root / "data"
        env = env_for(db_url=url)
        cli(data, "init", env=env)
        cli(data, "tenants", "create", c.TENANT, env=env)
        key = cli(data, "keys", "create", "--tenant", c.TENANT, "--role", "integrator", env=env)
        aud = cli(data, "keys", "create", "--tenant", c.TENANT, "--role", "auditor", env=env)
        for i in range(workers_n):
            workers.append(start(data, root / f"worker{i}.log", db_url=url))
        load = Load(workers, str(key["key"]), concurrency)
        load.start()
        try:
            wait_until(lambda: load.count() >= warmup, "the warm-up")
            before = load.count()
            killed = pg.kill_primary()
            pg.promote_standby()
            promoted = time.monotonic()
            wait_until(
                lambda: sum(1 for s, _ in list(load.acks) if s > killed) >= after,
                "appends on the promoted standby",
            )
        finally:
            load.stop()
        first = min(a for s, a in load.acks if s > killed)
        problems = check(url, data, workers[0], str(aud["key"]), load)
        for w in workers:
            if w.stop() != 0:
                problems.append(f"a worker did not exit 0:\n{w.log()[-2000:]}")
        if problems:
            print("\n".join(problems), file=sys.stderr)
            raise SystemExit(1)
        return [promoted - killed, first - killed, before, load.count() - before]
    finally:
        for w in workers:
            if w.proc is not None and w.proc.poll() is None:
                w.stop(signal.SIGKILL)
        pg.stop()


def main() -> None:
    p = c.arg_parser(__doc__.splitlines()[0] if __doc__ else "failover")
    p.add_argument("--repeat", type=int, default=3, help="runs, each on fresh clusters")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--tmp-dir", default=None)
    args = p.parse_args()
    if pg_bin_dir() is None:
        raise SystemExit("no PostgreSQL server binaries (apt-get install postgresql)")
    repeat = 1 if args.quick else args.repeat
    warmup, after = (50, 20) if args.quick else (300, 200)
    version = subprocess.run(
        [str(pg_bin_dir() / "postgres"), "--version"],  # type: ignore[operator]
        capture_output=True,
        text=True,
    ).stdout.strip()
    c.print_header(
        "PostgreSQL failover",
        args.quick,
        [
            f"{version}; primary + synchronous standby on this machine (Unix sockets)",
            f"{args.workers} workers on the multi-host URL, {args.concurrency} client threads "
            "(single appends, retried on the next worker after 20 ms)",
            "the standby is promoted by the bench right after the kill (automation, not a "
            "human or a failure detector: add the detector's delay)",
        ],
    )
    rows = []
    for r in range(repeat):
        with c.scratch_dir(args.tmp_dir) as root:
            got = one_run(root, args.workers, args.concurrency, warmup, after)
        rows.append([r + 1, f"{got[0]:.2f} s", f"{got[1]:.2f} s", c.fmt_int(got[2]),
                     c.fmt_int(got[3]), "OK"])  # fmt: skip
    c.print_table(
        "Failover time (per run)",
        [
            "run",
            "kill → standby promoted",
            "kill → first ack on the promoted standby",
            "acks before",
            "acks after",
            "log check",
        ],
        rows,
    )
    firsts = sorted(float(r[2].split()[0]) for r in rows)
    c.print_table(
        "Failover summary",
        ["figure", "value"],
        [
            ["kill → first ack, median of runs", f"{c.median(firsts):.2f} s"],
            ["kill → first ack, worst run", f"{firsts[-1]:.2f} s"],
        ],
    )
    c.print_footer()


if __name__ == "__main__":
    main()
