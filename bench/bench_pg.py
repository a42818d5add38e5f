"""PostgreSQL: single-worker durable appends against raw PostgreSQL inserts of the same bytes,
and proof latency, in the same run.

Targets (issue 19): the ratio to raw inserts reported (as for SQLite, bench_append.py: ≥ 0.5 ×
raw is SQLite's target, used here too); proofs at 1,000,000 events under 1 ms median.

The server: ``--url`` names an existing database (it must be empty, or hold a log this bench
built before: the proof part reuses it); without it, a PostgreSQL cluster is started in a temp
directory on a free port (bench/_pg.py: ``initdb``, ``fsync=on``) and removed after. Every
measurement runs with the server's commit settings — ``synchronous_commit`` as configured
(``on`` by default: a commit returns once its WAL is flushed), printed in the header.

Appends, for each group size G in 1 and 100 (every repetition on fresh tables/databases):

* raw PostgreSQL — the events' canonical bytes into ``(id BIGINT PRIMARY KEY, body BYTEA)``,
  one ``BEGIN … COMMIT`` per G rows over one connection (``executemany``): the baseline;
* ledger store only — the entries the ledger stored for those events (recorded in an untimed
  run) replayed through ``PgLedgerStore.write`` / ``WriteView.append`` every G entries: our
  schema, indexes and the log's head lock, no sequencer or event logic (a diagnostic);
* ``ledger.append`` with G events per call, one worker (parse included: what a request costs).

Proofs: the log is grown to ``--events`` (default 1,000,000; 5,000 with ``--quick``) through
``ledger.append`` batches of 10,000, sealed, then for random indices and old sizes (seeded):
a point read by primary key over one plain psycopg connection (baseline), and
``ledger.inclusion_proof`` / ``ledger.consistency_proof``; a sample of the proofs is verified
(``merkle.verify_inclusion`` / ``verify_consistency``) against the checkpoint's root.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c
import _pg
import psycopg

from sealtrail.backend import open_postgres
from sealtrail.core import merkle
from sealtrail.core.event import parse_event_input
from sealtrail.core.note import NoteSigner
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.store import Entry, WriteView

TITLE = "PostgreSQL: appends and proofs"
TABLE_RATES = "Single-worker appends per second on PostgreSQL (best of repetitions)"
TABLE_PROOFS = "Proof latency on PostgreSQL"
TABLE_TARGETS = "PostgreSQL targets"
TARGET_RATIO = 0.5
TARGET_MEDIAN_S = 1e-3
BUILD_BATCH = 10_000

FULL_EVENTS = {1: 2_000, 100: 20_000}
QUICK_EVENTS = {1: 50, 100: 500}


@contextmanager
def server(url: str | None) -> Iterator[Callable[[], str]]:
    """A factory of URLs naming fresh databases (a cluster of our own unless ``url``)."""
    if url is not None:
        yield lambda: url
        return
    with _pg.server(None) as fresh:
        yield fresh


def signer() -> NoteSigner:
    return NoteSigner.generate("bench.example/pg")


def record(fresh: Callable[[], str], n: int) -> list[Entry]:
    """The entries the ledger stores for sample events 0..n (an untimed run)."""
    entries: list[Entry] = []
    stores = open_postgres(fresh())
    try:
        store = stores.ledger
        write = store.write

        class Recording:
            def __init__(self, view: WriteView) -> None:
                self._view = view

            def __getattr__(self, name: str) -> Any:
                return getattr(self._view, name)

            def append(self, es: list[Entry]) -> None:
                entries.extend(es)
                self._view.append(es)

        store.write = lambda fn: write(lambda view: fn(Recording(view)))  # type: ignore[method-assign]
        ledger = Ledger(store, signer())
        inputs = [parse_event_input(c.sample_event(i)) for i in range(n + 1)]
        for k in range(0, n + 1, BUILD_BATCH):
            ledger.append(c.TENANT, inputs[k : k + BUILD_BATCH])
    finally:
        stores.close()
    return entries


def run_raw(url: str, entries: list[Entry], g: int) -> float:
    rows = [(e.event.index, e.event.canonical) for e in entries]
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE TABLE raw_events (id BIGINT PRIMARY KEY, body BYTEA NOT NULL)")
        sql = "INSERT INTO raw_events (id, body) VALUES (%s, %s)"
        with con.cursor() as cur:
            cur.execute("BEGIN")
            cur.executemany(sql, rows[:1])  # warm-up row, untimed
            cur.execute("COMMIT")
            t0 = time.perf_counter()
            for k in range(1, len(rows), g):
                cur.execute("BEGIN")
                cur.executemany(sql, rows[k : k + g])
                cur.execute("COMMIT")
            return time.perf_counter() - t0


def run_store(url: str, entries: list[Entry], g: int) -> float:
    stores = open_postgres(url)
    try:
        stores.ledger.write(lambda view: view.append(entries[:1]))
        t0 = time.perf_counter()
        for k in range(1, len(entries), g):
            chunk = entries[k : k + g]
            stores.ledger.write(lambda view, ch=chunk: view.append(ch))  # type: ignore[misc]
        return time.perf_counter() - t0
    finally:
        stores.close()


def run_ledger(url: str, n: int, g: int) -> float:
    stores = open_postgres(url)
    try:
        ledger = Ledger(stores.ledger, signer())
        raws = [c.sample_event(i) for i in range(n + 1)]
        ledger.append(c.TENANT, [parse_event_input(raws[0])])
        t0 = time.perf_counter()
        for k in range(1, n + 1, g):
            ledger.append(c.TENANT, [parse_event_input(r) for r in raws[k : k + g]])
        return time.perf_counter() - t0
    finally:
        stores.close()


def appends(fresh: Callable[[], str], quick: bool, reps: int) -> list[tuple[str, float]]:
    sizes = QUICK_EVENTS if quick else FULL_EVENTS
    rows: list[list[object]] = []
    ratios: list[tuple[str, float]] = []
    for g, n in sizes.items():
        entries = record(fresh, n)
        best: dict[str, float] = {}
        for _ in range(reps):
            for name, seconds in (
                ("raw", run_raw(fresh(), entries, g)),
                ("store", run_store(fresh(), entries, g)),
                ("ledger", run_ledger(fresh(), n, g)),
            ):
                best[name] = max(best.get(name, 0.0), c.rate(n, seconds))
        for name, what in (
            ("raw", f"raw PostgreSQL (id, body), {g} per commit"),
            ("store", f"ledger store only, {g} per write"),
            ("ledger", f"ledger.append, batch {g}"),
        ):
            ratio = best[name] / best["raw"]
            rows.append([what, c.fmt_int(n), c.fmt_int(best[name]), c.fmt_ratio(ratio)])
        ratios.append((f"ledger.append batch {g} / raw PostgreSQL", best["ledger"] / best["raw"]))
    c.print_table(TABLE_RATES, ["path", "events", "events/s", "ratio to raw"], rows)
    return ratios


def build(ledger: Ledger, events: int) -> tuple[int, float]:
    have = ledger.size()
    start, t0 = have, time.perf_counter()
    while have < events:
        k = min(BUILD_BATCH, events - have)
        ledger.append(
            c.TENANT, [parse_event_input(c.sample_event(i)) for i in range(have, have + k)]
        )
        have += k
        if have % 100_000 == 0 or have == events:
            rate = c.rate(have - start, time.perf_counter() - t0)
            print(f"  built {have:,} events ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    return have - start, time.perf_counter() - t0


def proofs(
    url: str, events: int, samples: int, seed: int, verify: int = 200
) -> tuple[float, float, bool]:
    stores = open_postgres(url)
    try:
        ledger = Ledger(stores.ledger, signer())
        appended, seconds = build(ledger, events)
        seal_s, (cp, _) = c.timed(ledger.seal)
        size = ledger.size() if cp is None else cp.size
        latest = stores.ledger.latest_checkpoint()
        assert latest is not None
        print(
            f"\n- log: {size:,} events ({appended:,} appended in {seconds:.1f} s; sealed in"
            f" {seal_s:.1f} s, the map built in this process);"
            f" {samples:,} samples of each, interleaved, seed {seed}"
        )
        rnd = random.Random(seed)
        idx = [rnd.randrange(size) for _ in range(samples)]
        olds = [rnd.randint(1, size) for _ in range(samples)]
        base: list[float] = []
        inc: list[float] = []
        con_: list[float] = []
        ok = True
        with psycopg.connect(url, autocommit=True) as raw:
            for k in range(samples):
                t0 = time.perf_counter()
                raw.execute("SELECT leaf_hash FROM events WHERE idx = %s", (idx[k],)).fetchone()
                t1 = time.perf_counter()
                p = ledger.inclusion_proof(idx[k], size)
                t2 = time.perf_counter()
                q = ledger.consistency_proof(olds[k], size)
                t3 = time.perf_counter()
                base.append(t1 - t0)
                inc.append(t2 - t1)
                con_.append(t3 - t2)
                if k < verify:
                    ev = ledger.event(idx[k])
                    try:
                        assert ev is not None
                        assert p.root == q.new_root == latest.root
                        merkle.verify_inclusion(ev.leaf_hash, idx[k], size, p.proof, latest.root)
                        merkle.verify_consistency(olds[k], size, q.old_root, latest.root, q.proof)
                    except Exception:  # reported, never raised
                        ok = False
        rows = []
        for what, xs in (
            ("psycopg point read by primary key (baseline)", base),
            ("ledger.inclusion_proof(index, size)", inc),
            ("ledger.consistency_proof(old, size)", con_),
        ):
            xs.sort()
            rows.append([what, c.fmt_us(c.median(xs)), c.fmt_us(c.percentile(xs, 99))])
        c.print_table(TABLE_PROOFS, ["operation", "median", "p99"], rows)
        verdict = "all OK." if ok else "FAILED"
        print(f"\n{min(verify, samples)} proofs of each kind verified against the root: {verdict}")
        return c.median(inc), c.median(con_), ok
    finally:
        stores.close()


def main(argv: list[str] | None = None) -> int:
    p = c.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--url", help="an existing, empty PostgreSQL database (default: start one)")
    p.add_argument("--events", type=int, help="log size for proofs (default 1,000,000)")
    p.add_argument("--samples", type=int, help="proofs of each kind (default 2,000)")
    p.add_argument("--repetitions", type=int, help="append repetitions (default 3; 1 quick)")
    p.add_argument("--seed", type=int, default=1)
    args: argparse.Namespace = p.parse_args(argv)
    events = args.events or (5_000 if args.quick else 1_000_000)
    samples = args.samples or (200 if args.quick else 2_000)
    reps = args.repetitions or (1 if args.quick else 3)
    with server(args.url) as fresh:
        first = fresh()
        c.print_header(
            TITLE,
            args.quick,
            [
                _pg.settings_line(first),
                f"server: {'given by --url' if args.url else 'started here'}",
            ],
        )
        ratios = appends(fresh, args.quick, reps) if args.url is None else []
        inc, cons, ok = proofs(fresh(), events, samples, args.seed)
    targets = [
        [what, f"≥ {TARGET_RATIO} × raw", c.fmt_ratio(r), c.verdict(r >= TARGET_RATIO)]
        for what, r in ratios
    ]
    targets += [
        [f"inclusion proof median at {events:,}", "< 1 ms", c.fmt_us(inc),
         c.verdict(inc < TARGET_MEDIAN_S and ok)],
        [f"consistency proof median at {events:,}", "< 1 ms", c.fmt_us(cons),
         c.verdict(cons < TARGET_MEDIAN_S)],
    ]  # fmt: skip
    c.print_table(TABLE_TARGETS, ["what", "target", "got", "verdict"], targets)
    c.print_footer()
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
