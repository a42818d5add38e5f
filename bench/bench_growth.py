"""Appends into a large log against an empty one, what each index costs there, proof latency at
that size, and bytes per event with a breakdown per table and index.

Targets (issue 20): appends into a 5M-event log ≥ 0.8× of an empty log; proofs at 5M < 1 ms;
bytes per event reported with a breakdown.

``--big DIR`` names an existing data dir holding the large ledger (build one with
``bench_audit.py --data-root R --sizes 1000000`` or ``bench_proofs.py --data-dir``; ``--quick``
builds a 20,000-event one). Each variant below appends ``--batches`` batches of 1,000 pre-parsed
sample events with ``ledger.append`` (after one untimed warm-up batch) into its own copy, on the
same disk:

* an empty ledger (the baseline);
* a copy of the big ledger, as is;
* copies with one secondary structure removed (``DROP INDEX events_client_id``, ``DROP INDEX
  events_stream``, every ``documents`` row deleted) — what is left of the slowdown without it;
* a copy with ``PRAGMA cache_size = -65536`` (64 MiB; SQLite's default is 2 MiB) on the
  appending connection.

Bytes per event come from SQLite's ``dbstat`` table over the big database (after a WAL
checkpoint), against the mean canonical body length.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c

from sealtrail.core.event import parse_event_input
from sealtrail.ledger.log import Ledger

TITLE = "Growth and bytes per event"
TABLE_APPEND = "Batches of 1,000 into an empty and a large log"
TABLE_PROOFS = "Proofs at the large size"
TABLE_BYTES = "Bytes per event"

VARIANTS: list[tuple[str, str | None]] = [
    ("as is", None),
    ("without events_client_id", "DROP INDEX events_client_id"),
    ("without events_stream", "DROP INDEX events_stream"),
    ("documents rows deleted", "DELETE FROM documents"),
    ("cache_size 64 MiB", "cache"),
]


def append_rate(ledger: Ledger, batches: int, cache: bool) -> float:
    if cache:
        ledger.store.db.write(lambda con: con.execute("PRAGMA cache_size = -65536"))  # type: ignore[attr-defined]
    start = ledger.size() + 10_000_000  # client ids not seen in the big log
    warm = [parse_event_input(c.sample_event(i)) for i in range(start, start + 1000)]
    ledger.append(c.TENANT, warm)
    work = [
        [parse_event_input(c.sample_event(start + 1000 * (b + 1) + i)) for i in range(1000)]
        for b in range(batches)
    ]
    t0 = time.perf_counter()
    for inputs in work:
        ledger.append(c.TENANT, inputs)
    return c.rate(1000 * batches, time.perf_counter() - t0)


def copy_ledger(src: Path, dst: Path, sql: str | None) -> None:
    shutil.copytree(src, dst)
    if sql and sql != "cache":
        con = sqlite3.connect(dst / "ledger.db")
        con.execute(sql)
        con.commit()
        con.close()


def proof_latency(ledger: Ledger, samples: int) -> list[list[str]]:
    size = ledger.size()
    rnd = random.Random(1)
    rows = []
    ops: list[tuple[str, Callable[[int], object], list[int]]] = [
        ("ledger.event(index)", ledger.event, [rnd.randrange(size) for _ in range(samples)]),
        (
            "ledger.inclusion_proof(index, size)",
            lambda i: ledger.inclusion_proof(i, size),
            [rnd.randrange(size) for _ in range(samples)],
        ),
        (
            "ledger.consistency_proof(old, size)",
            lambda o: ledger.consistency_proof(o, size),
            [rnd.randint(1, size) for _ in range(samples)],
        ),
    ]
    for name, fn, xs in ops:
        times = []
        for x in xs:
            t0 = time.thread_time()
            fn(x)
            times.append(time.thread_time() - t0)
        times.sort()
        rows.append([name, f"{size:,}", c.fmt_us(statistics.median(times)),
                     c.fmt_us(c.percentile(times, 99))])  # fmt: skip
    return rows


def bytes_per_event(db: Path) -> list[list[str]]:
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    body = con.execute("SELECT AVG(length(body)) FROM events").fetchone()[0]
    parts = con.execute(
        "SELECT name, SUM(pgsize), SUM(payload), SUM(unused) FROM dbstat GROUP BY name "
        "ORDER BY SUM(pgsize) DESC"
    ).fetchall()
    con.close()
    total = db.stat().st_size
    rows = [["canonical body (mean)", f"{body:,.0f} B", "1.00×", ""]]
    for name, size, payload, unused in parts:
        if size / n < 0.5:
            continue
        rows.append([name, f"{size / n:,.1f} B", c.fmt_ratio(size / n / body),
                     f"payload {payload / n:,.1f} B, unused {unused / n:,.1f} B"])  # fmt: skip
    rows.append(["database file, all", f"{total / n:,.1f} B", c.fmt_ratio(total / n / body), ""])
    return rows


def main(argv: list[str] | None = None) -> int:
    p = c.arg_parser(__doc__.splitlines()[0])
    p.add_argument(
        "--big", type=Path, help="data dir of the large ledger (required unless --quick)"
    )
    p.add_argument("--batches", type=int, help="timed batches of 1,000 per variant (default 20)")
    p.add_argument("--tmp-dir", help="where the copies go (default: the system temp dir)")
    p.add_argument("--samples", type=int, default=1000, help="proofs of each kind")
    args = p.parse_args(argv)
    batches = args.batches or (3 if args.quick else 20)
    with c.scratch_dir(args.tmp_dir) as root:
        big = args.big
        if big is None:
            if not args.quick:
                p.error("--big is required for a full run")
            big = root / "big"
            led = c.open_ledger(big)
            for b in range(20):
                led.append(c.TENANT, [parse_event_input(c.sample_event(i))
                                      for i in range(b * 1000, b * 1000 + 1000)])  # fmt: skip
            led.seal()
            led.close_sync()
        src = c.open_ledger(big)
        n = src.size()
        proofs = proof_latency(src, args.samples)
        src.close_sync()
        c.print_header(TITLE, args.quick, [f"large ledger {big}: {n:,} events; copies in {root}"])
        empty = c.make_ledger(root, "empty")
        base = append_rate(empty, batches, False)
        empty.close_sync()
        rows = [["empty log (baseline)", f"{base:,.0f}", "1.00×", ""]]
        for name, sql in VARIANTS:
            d = root / f"copy-{len(rows)}"
            t0 = time.perf_counter()
            copy_ledger(big, d, sql)
            led = c.open_ledger(d)
            r = append_rate(led, batches, sql == "cache")
            led.close_sync()
            shutil.rmtree(d)
            rows.append([f"{n:,} events, {name}", f"{r:,.0f}", c.fmt_ratio(r / base),
                         f"copy {time.perf_counter() - t0:.0f} s"])  # fmt: skip
        c.print_table(TABLE_APPEND, ["log", "events/s", "vs empty", "note"], rows)
        c.print_table(TABLE_PROOFS, ["operation", "tree size", "CPU median", "CPU p99"], proofs)
        c.print_table(TABLE_BYTES, ["part", "per event", "vs body", "detail"],
                      bytes_per_event(big / "ledger.db"))  # fmt: skip
    c.print_footer()
    return 0


if __name__ == "__main__":
    sys.exit(main())
