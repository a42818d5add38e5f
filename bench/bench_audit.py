"""``sealtrail audit`` against reading the rows + hashing the leaves + computing the root.

Target (issue 20): the audit ≤ 5× of that baseline, memory bounded independently of the log
size, progress on a terminal.

For each size (default 250,000 and 1,000,000 events; ``--quick``: 2,000 and 8,000) a ledger is
built in ``--data-root``/ledger-N (reused by reruns) with the sample events of ``_common``
(``parse_event_input`` + ``ledger.append`` in batches of 10,000, a checkpoint with its map root
every ``--seal-every`` events). Then, each in a fresh subprocess so that its peak RSS
(``ru_maxrss``) is its own:

* baseline — ``SELECT body FROM events ORDER BY idx`` in pages, ``SHA-256(0x00 || body)`` per
  row, ``merkle.root`` over the leaf hashes kept in a list (the issue's baseline);
* ``audit()`` — the whole audit; the time until its pass over the events (its last ``events``
  progress call) is reported apart from the rest (document index, checkpoints, the map).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c

from sealtrail.core.event import parse_event_input

TITLE = "Audit"
TABLE = "Audit time and peak memory"


def build(data_dir: Path, events: int, seal_every: int) -> float:
    """Append sample events (sealing every ``seal_every``) until the log holds ``events``."""
    ledger = c.open_ledger(data_dir)
    t0 = time.perf_counter()
    try:
        have = ledger.size()
        while have < events:
            k = min(10_000, events - have, seal_every - have % seal_every)
            inputs = [parse_event_input(c.sample_event(i)) for i in range(have, have + k)]
            ledger.append(c.TENANT, inputs)
            have += k
            if have % seal_every == 0 or have == events:
                ledger.seal()
                print(f"  built {have:,} events", file=sys.stderr, flush=True)
    finally:
        ledger.close_sync()
    return time.perf_counter() - t0


def child(kind: str, data_dir: Path) -> None:
    """Run one measurement in this process and print it as JSON."""
    from sealtrail import backend
    from sealtrail.core import merkle
    from sealtrail.ledger.audit import audit

    t0 = time.perf_counter()
    out: dict[str, object] = {}
    if kind == "baseline":
        import sqlite3

        con = sqlite3.connect(f"file:{data_dir / 'ledger.db'}?mode=ro", uri=True)
        leaves: list[bytes] = []
        pos = 0
        while True:
            rows = con.execute(
                "SELECT idx, body FROM events WHERE idx >= ? ORDER BY idx LIMIT 5000", (pos,)
            ).fetchall()
            if not rows:
                break
            leaves += [hashlib.sha256(b"\x00" + b).digest() for _, b in rows]
            pos = rows[-1][0] + 1
        out["root"] = merkle.root(leaves).hex()
        out["size"] = len(leaves)
    else:
        store, signer = backend.open_store(data_dir)
        marks: dict[str, float] = {}

        def progress(phase: str, done: int, total: int) -> None:
            marks[phase] = time.perf_counter() - t0

        r = audit(store.ledger, signer.verifier(), progress=progress)
        store.close()
        out.update(ok=r.ok, size=r.size, root=r.root, map_checked=r.map_checked)
        out["events_s"] = marks.get("events", 0.0)
    out["seconds"] = time.perf_counter() - t0
    out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def measure(kind: str, data_dir: Path) -> dict[str, object]:
    r = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(r.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[1], Path(argv[2]))
        return 0
    p = c.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", help="comma-separated log sizes (default 250000,1000000)")
    p.add_argument("--seal-every", type=int, help="events per checkpoint (default 50,000)")
    p.add_argument("--data-root", type=Path, help="where ledgers are built and kept for reruns")
    p.add_argument("--repeat", type=int, default=1, help="measurements of each (best kept)")
    args = p.parse_args(argv)
    sizes = [
        int(s) for s in (args.sizes or ("2000,8000" if args.quick else "250000,1000000")).split(",")
    ]
    seal_every = args.seal_every or (1000 if args.quick else 50_000)
    if args.data_root is not None:
        return run(args.data_root, sizes, seal_every, args)
    with c.scratch_dir(None) as root:
        return run(root, sizes, seal_every, args)


def run(root: Path, sizes: list[int], seal_every: int, args: object) -> int:
    built = []
    for n in sizes:
        d = root / f"ledger-{n}"
        s = build(d, n, seal_every)
        built.append(f"ledger-{n}: {s:.0f} s to build or top up")
    c.print_header(
        TITLE,
        bool(getattr(args, "quick", False)),
        [
            f"data root {root}; a checkpoint with a map root every {seal_every:,} events; "
            + "; ".join(built),
            "each measurement in its own subprocess (peak RSS = ru_maxrss of that process,"
            " Python and imports included)",
        ],
    )
    rows = []
    for n in sizes:
        d = root / f"ledger-{n}"
        repeat = int(getattr(args, "repeat", 1))
        base = min((measure("baseline", d) for _ in range(repeat)), key=lambda r: r["seconds"])  # type: ignore[arg-type,return-value]
        aud = min((measure("audit", d) for _ in range(repeat)), key=lambda r: r["seconds"])  # type: ignore[arg-type,return-value]
        if not aud["ok"] or aud["root"] != base["root"]:
            print(f"audit of {d} failed or disagrees with the baseline: {aud}", file=sys.stderr)
            return 1
        bs, at, ev = float(base["seconds"]), float(aud["seconds"]), float(aud["events_s"])  # type: ignore[arg-type]
        per_m = 1e6 / n
        rows.append(
            [
                f"{n:,}",
                "read + hash leaves + root (baseline)",
                f"{bs:.1f} s",
                f"{bs * per_m:.1f} s",
                "1.00×",
                f"{base['rss_mib']:.0f} MiB",
            ]
        )
        rows.append(
            [
                f"{n:,}",
                "audit: pass over the events",
                f"{ev:.1f} s",
                f"{ev * per_m:.1f} s",
                c.fmt_ratio(ev / bs),
                "",
            ]
        )
        rows.append(
            [
                f"{n:,}",
                f"audit: then index, checkpoints, map ({aud['map_checked']} roots)",
                f"{at - ev:.1f} s",
                f"{(at - ev) * per_m:.1f} s",
                c.fmt_ratio((at - ev) / bs),
                "",
            ]
        )
        rows.append([f"{n:,}", "audit, all", f"{at:.1f} s", f"{at * per_m:.1f} s",
                     c.fmt_ratio(at / bs), f"{aud['rss_mib']:.0f} MiB"])  # fmt: skip
    c.print_table(
        TABLE, ["events", "what", "seconds", "per million", "vs baseline", "peak RSS"], rows
    )
    c.print_footer()
    return 0


if __name__ == "__main__":
    sys.exit(main())
