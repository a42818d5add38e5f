"""The strict JSON reader per event, against ``json.loads`` of the same bytes in the same run.

Target (issue 20): HTTP batches at ≤ 35 µs of service CPU per event; the strict reader was
~20 µs of it. Bodies are ``{"events": [...]}`` of 1, 100 and 1,000 of the benchmarks' sample
events (``_common.sample_event``, ~530 bytes each), as ``POST /v1/events/batch`` receives them.

Per body size, the best of ``--repeat`` rounds of each of:

* ``json.loads`` (the baseline: Python's C scanner, no checks);
* ``json`` with the strict reader's hooks only (duplicate keys, constants, number limits);
* ``strictjson.loads`` (the whole reader: UTF-8, size, nesting pre-pass, hooks, surrogates);
* the nesting pre-pass alone (``strictjson._nesting``, a diagnostic).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c

from sealtrail.core import strictjson

TITLE = "Strict JSON reader"
TABLE = "Per event, best of rounds"
TABLE_TARGETS = "Strict reader targets"
# This benchmark's own budget (not the issue's): the checks may cost as much again as the C
# scanner twice over, so a 1,000-event batch stays far below the 35 µs of CPU per event.
TARGET_RATIO = 3.0
SIZES = (1, 100, 1_000)


def best(fn: Callable[[Any], Any], arg: Any, calls: int, rounds: int) -> float:
    """The fastest round's seconds per call of ``fn(arg)``."""
    out = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(calls):
            fn(arg)
        out = min(out, (time.perf_counter() - t) / calls)
    return out


def main(argv: list[str] | None = None) -> int:
    p = c.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, help="rounds per figure (default 7, or 2 with --quick)")
    args = p.parse_args(argv)
    rounds = args.repeat or (2 if args.quick else 7)
    budget = 200 if args.quick else 4_000  # events per round
    c.print_header(TITLE, args.quick, [f"{rounds} rounds of ~{budget:,} events per figure"])
    rows: list[list[object]] = []
    targets: list[list[object]] = []
    for size in SIZES:
        body = json.dumps({"events": [c.sample_event(i) for i in range(size)]}).encode()
        text = body.decode()
        if strictjson.loads(body) != json.loads(body):
            raise SystemExit("strictjson.loads and json.loads disagree")
        calls = max(2, budget // size)
        base = best(json.loads, body, calls, rounds)
        hooks = best(strictjson._decoder.decode, text, calls, rounds)
        ours = best(strictjson.loads, body, calls, rounds)
        nest = best(strictjson._nesting, text, calls, rounds)
        for name, t in (
            ("json.loads (baseline)", base),
            ("json with the strict hooks", hooks),
            ("strictjson.loads", ours),
            ("nesting pre-pass alone (run over 32 brackets)", nest),
        ):
            rows.append([f"{size:,}", name, c.fmt_us(t / size), c.fmt_ratio(t / base)])
        if size > 1:
            targets.append(
                [
                    f"strictjson.loads, {size:,} events per body",
                    f"≤ {TARGET_RATIO}× json.loads",
                    c.fmt_ratio(ours / base),
                    c.verdict(ours / base <= TARGET_RATIO),
                ]
            )
    c.print_table(TABLE, ["events per body", "reader", "per event", "vs json.loads"], rows)
    c.print_table(TABLE_TARGETS, ["configuration", "target", "measured", "result"], targets)
    c.print_footer()
    return 0


if __name__ == "__main__":
    sys.exit(main())
