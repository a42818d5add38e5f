"""Appends while checkpoints are sealed: without the map, with the map prepared in this process,
and with the map prepared in a child process (``MapProcess``, what ``sealtrail serve`` does on
SQLite).

Target (issue 14): append throughput with the map within 5 % of the same run without it. A
writer thread appends batches of 100 events (validated, durable: ``Ledger.append``) while a
sealer thread seals a checkpoint every second, as the service's checkpointing does (its
default interval is 10 s; every second makes the map's share ten times as visible). Each mode
runs on a fresh ledger; the modes alternate, ``--rounds`` times, and the median rate of each is
compared with the median of "no map" in the same run. Batch latency p99 and max show stalls.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c

from sealtrail.core.event import parse_event_input
from sealtrail.ledger.map_process import MapProcess

MODES = ("no map", "map in this process", "map in a child process")


def run_mode(root: Path, mode: str, n: int, interval: float) -> tuple[float, float, float, int]:
    """(events/s, batch p99 s, batch max s, checkpoints sealed) for one mode."""
    ledger = c.make_ledger(root, mode.replace(" ", "-"))
    mp = None
    if mode == "no map":
        ledger.store.maps = None
    elif mode == "map in a child process":
        mp = MapProcess(ledger.store.db.path)  # type: ignore[attr-defined]
        ledger.map_preparer = mp
    inputs = [parse_event_input(c.sample_event(i)) for i in range(n)]
    stop = threading.Event()
    sealed = [0]

    def sealer() -> None:
        while not stop.wait(interval):
            ledger.seal()
            sealed[0] += 1

    th = threading.Thread(target=sealer)
    th.start()
    lat: list[float] = []
    t0 = time.perf_counter()
    for i in range(0, n, 100):
        t = time.perf_counter()
        ledger.append(c.TENANT, inputs[i : i + 100])
        lat.append(time.perf_counter() - t)
    dt = time.perf_counter() - t0
    stop.set()
    th.join()
    if mp is not None:
        mp.close()
    ledger.store.close()
    lat.sort()
    return c.rate(n, dt), c.percentile(lat, 99), lat[-1], sealed[0]


def main(argv: list[str] | None = None) -> int:
    p = c.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=30_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--tmp-dir", default=None)
    a = p.parse_args(argv)
    n, rounds = (2_000, 1) if a.quick else (a.events, a.rounds)
    c.print_header(
        "Appends while sealing, with and without the map",
        a.quick,
        [f"{n:,} events per run in batches of 100; a checkpoint every {a.interval:g} s; "
         f"{rounds} round(s), modes alternating"],
    )  # fmt: skip
    results: dict[str, list[tuple[float, float, float, int]]] = {m: [] for m in MODES}
    with c.scratch_dir(a.tmp_dir) as root:
        for r in range(rounds):
            for mode in MODES:
                results[mode].append(run_mode(root / f"r{r}", mode, n, a.interval))
    base = c.median([x[0] for x in results["no map"]])
    rows = []
    for mode in MODES:
        rs = results[mode]
        ev = c.median([x[0] for x in rs])
        rows.append([
            mode, c.fmt_int(ev), c.fmt_ratio(ev / base),
            f"{c.median([x[1] for x in rs]) * 1e3:.1f} ms", f"{max(x[2] for x in rs) * 1e3:.0f} ms",
            sum(x[3] for x in rs),
        ])  # fmt: skip
    c.print_table(
        "Appends per second while sealing (median of rounds)",
        ["mode", "events/s", "vs no map", "batch p99", "batch max", "checkpoints"],
        rows,
    )
    child = c.median([x[0] for x in results["map in a child process"]]) / base
    c.print_table(
        "Map append targets",
        ["target", "measured", "verdict"],
        [["map in a child process ≥ 0.95× of no map", c.fmt_ratio(child),
          c.verdict(child >= 0.95)]],
    )  # fmt: skip
    c.print_footer()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
