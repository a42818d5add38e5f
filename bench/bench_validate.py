"""Event validation per event: strict parse, validation, canonical encoding, re-validation.

Issue 20: HTTP batches at ≤ 35 µs of service CPU per event, and ``sealtrail audit`` at ≤ 5× of
reading, hashing and rooting the log, where the strict re-validation of every stored event
(``decode_event``) was about half the audit. Bodies are ``{"events": [...]}`` of 100 and 1,000
of the benchmarks' sample events (``_common.sample_event``), as ``POST /v1/events/batch``
receives them; stored events are ``build_event`` outputs of the same inputs.

Per event, the best of ``--repeat`` rounds of each stage, next to its baseline in the same run:

* ``json.loads`` of the batch body (baseline of the parse), ``strictjson.loads`` of it;
* ``parse_event_input`` of each parsed event (the validation), and its canonical encoding;
* the msgspec alternative (only if ``msgspec`` is importable; it is not a dependency): a
  ``msgspec.Struct`` schema converting the strictly parsed events, plus the rules a schema
  cannot state (display rules, time normal form, lowercase digests, the size limit), and, for
  reference, ``msgspec.json.decode`` of the whole body into the schema with no strict pass;
* ``decode_event`` of each stored event, against ``SHA-256(0x00 || bytes)`` (the audit's
  read + hash baseline) and against ``orjson.loads``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c
import _msgspec_alt
import orjson

from sealtrail.core import event as ev
from sealtrail.core import strictjson
from sealtrail.core.canonical import canonicalize_checked

TITLE = "Event validation"
TABLE = "Per event, best of rounds"
TABLE_TARGETS = "Validation targets"
SIZES = (100, 1_000)
#: the issue's budget for a whole batch append; parse + validation + encoding must leave most
#: of it to SQLite and the ledger logic (~24 µs and ~28 µs when last measured)
HTTP_BUDGET = 35e-6


def best(fn: Callable[[], Any], rounds: int) -> float:
    """The fastest round's seconds of ``fn()``."""
    out = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t)
    return out


def main(argv: list[str] | None = None) -> int:
    p = c.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, help="rounds per figure (default 7, or 2 with --quick)")
    args = p.parse_args(argv)
    rounds = args.repeat or (2 if args.quick else 7)
    sizes = (20, 100) if args.quick else SIZES
    alt = _msgspec_alt.validator()
    c.print_header(
        TITLE,
        args.quick,
        [
            f"{rounds} rounds per figure, batches of {', '.join(f'{s:,}' for s in sizes)}",
            "msgspec " + ("present: its rows are shown" if alt else "not installed: no rows"),
        ],
    )
    rows: list[list[object]] = []
    targets: list[list[object]] = []
    for size in sizes:
        events = [c.sample_event(i) for i in range(size)]
        body = json.dumps({"events": events}).encode()
        parsed = strictjson.loads(body)["events"]
        inputs = [ev.parse_event_input(e) for e in parsed]
        stored = [
            ev.build_event(
                inp,
                tenant=c.TENANT,
                index=i,
                recorded_at="2026-11-24T10:00:00.123456Z",
                salt=hashlib.sha256(b"salt%d" % i).digest()[:16],
                prev=None if i % c.EVENTS_PER_STREAM == 0 else hashlib.sha256(b"%d" % i).digest(),
            ).canonical
            for i, inp in enumerate(inputs)
        ]
        if [ev.decode_event(d) for d in stored] != [orjson.loads(d) for d in stored]:
            raise SystemExit("decode_event does not return the stored objects")

        def per(fn: Callable[[], Any]) -> float:
            return best(fn, rounds) / size  # noqa: B023 (size is read at once)

        base = per(lambda: json.loads(body))  # noqa: B023
        strict = per(lambda: strictjson.loads(body))  # noqa: B023
        valid = per(lambda: [ev.parse_event_input(e) for e in parsed])  # noqa: B023
        enc = per(lambda: [canonicalize_checked(i.body()) for i in inputs])  # noqa: B023
        n = f"{size:,}"
        rows += [
            [n, "json.loads of the body (baseline)", c.fmt_us(base), c.fmt_ratio(1.0)],
            [n, "strictjson.loads of the body", c.fmt_us(strict), c.fmt_ratio(strict / base)],
            [n, "parse_event_input", c.fmt_us(valid), c.fmt_ratio(valid / base)],
            [n, "canonical encoding of the input", c.fmt_us(enc), c.fmt_ratio(enc / base)],
            [
                n,
                "strict parse + validation (the HTTP path)",
                c.fmt_us(strict + valid),
                c.fmt_ratio((strict + valid) / base),
            ],
        ]
        if alt:
            validate, decode_only = alt
            if [i.body() for i in validate(parsed)] != [i.body() for i in inputs]:
                raise SystemExit("the msgspec validator and parse_event_input disagree")
            ms = per(lambda: validate(parsed))  # noqa: B023
            raw = per(lambda: decode_only(body))  # noqa: B023
            rows += [
                [n, "msgspec schema + remaining rules", c.fmt_us(ms), c.fmt_ratio(ms / base)],
                [
                    n,
                    "strict parse + msgspec validation",
                    c.fmt_us(strict + ms),
                    c.fmt_ratio((strict + ms) / base),
                ],
                [
                    n,
                    "msgspec.json.decode alone (no strict pass, no rules)",
                    c.fmt_us(raw),
                    c.fmt_ratio(raw / base),
                ],
            ]
        leaf = per(lambda: [hashlib.sha256(b"\x00" + d).digest() for d in stored])  # noqa: B023
        oj = per(lambda: [orjson.loads(d) for d in stored])  # noqa: B023
        dec = per(lambda: [ev.decode_event(d) for d in stored])  # noqa: B023
        rows += [
            [n, "stored: SHA-256 leaf hash (audit baseline)", c.fmt_us(leaf), "—"],
            [n, "stored: orjson.loads", c.fmt_us(oj), f"{oj / leaf:.2f}× leaf"],
            [n, "stored: decode_event", c.fmt_us(dec), f"{dec / leaf:.2f}× leaf"],
        ]
        targets += [
            [
                f"strict parse + validation, {n} per body",
                f"≤ {c.fmt_us(HTTP_BUDGET / 2)} (half the issue's {c.fmt_us(HTTP_BUDGET)})",
                c.fmt_us(strict + valid),
                c.verdict(strict + valid <= HTTP_BUDGET / 2),
            ],
            [
                f"decode_event, {n} stored events",
                "figure only (the audit's goal is for the whole pass: bench_audit.py)",
                f"{dec / leaf:.1f}× leaf hash, {dec / oj:.1f}× orjson.loads",
                "recorded",
            ],
        ]
    c.print_table(TABLE, ["events per body", "stage", "per event", "vs baseline"], rows)
    c.print_table(TABLE_TARGETS, ["configuration", "target", "measured", "result"], targets)
    c.print_footer()
    return 0


if __name__ == "__main__":
    sys.exit(main())
