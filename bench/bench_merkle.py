"""Merkle root of 1,000,000 leaves: ours against a tight hashlib loop and pymerkle, same run.

Target (issue): ``merkle.root`` within 1.5× of the tight loop.

* tight loop — the minimal RFC 9162 §2.1.1 code: pair the 32-byte hashes level by level with
  ``hashlib.sha256(0x01 || left || right)``, carrying an odd last node up; over the same
  precomputed leaf hashes;
* ours — ``sealtrail.core.merkle.root(leaf_hashes)`` (which also type- and length-checks every
  leaf hash);
* pymerkle 7.0 — ``InmemoryTree`` built by appending the same leaf *data* (it hashes leaves
  itself), then ``get_root()``. It is compared with leaf hashing + tight loop, which does the
  same hashes. Every root must equal ours.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
from collections.abc import Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c

from sealtrail.core import merkle

TITLE = "Merkle root"
TABLE = "Merkle root timings"
TABLE_TARGETS = "Merkle targets"
TARGET_RATIO = 1.5


def leaf_data(n: int) -> list[bytes]:
    return [i.to_bytes(8, "big") for i in range(n)]


def leaf_hashes(data: Sequence[bytes]) -> list[bytes]:
    sha = hashlib.sha256
    return [sha(b"\x00" + d).digest() for d in data]


def tight_loop_root(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 MTH, level by level, with nothing but hashlib."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    sha = hashlib.sha256
    level = leaves
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            nxt.append(sha(b"\x01" + level[i] + level[i + 1]).digest())
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def pymerkle_root(data: Sequence[bytes]) -> bytes:
    from pymerkle import InmemoryTree

    tree = InmemoryTree(algorithm="sha256")
    tree.append_entries(data)
    root: bytes = tree.get_root()
    return root


def main(argv: list[str] | None = None) -> int:
    p = c.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--leaves", type=int, help="tree size (default 1,000,000; 20,000 with --quick)")
    p.add_argument(
        "--pymerkle-leaves",
        type=int,
        help="tree size for pymerkle (default: --leaves); when smaller, its time is"
        " extrapolated to --leaves as n·log2(n) and marked so",
    )
    p.add_argument("--repeat", type=int, help="repetitions (default 3, or 1 with --quick)")
    args = p.parse_args(argv)
    n = args.leaves or (20_000 if args.quick else 1_000_000)
    pn = min(args.pymerkle_leaves or n, n)
    repeat = args.repeat or (1 if args.quick else 3)
    import pymerkle

    c.print_header(
        TITLE,
        args.quick,
        [
            f"{n:,} leaves (8-byte data each); {repeat} repetition(s) of loop and ours,"
            f" alternated; pymerkle {pymerkle.__version__} once, at {pn:,} leaves",
        ],
    )

    data = leaf_data(n)
    t_leaf, leaves = c.timed(lambda: leaf_hashes(data))
    want = None
    loop_s: list[float] = []
    ours_s: list[float] = []
    for _ in range(repeat):
        t, r_loop = c.timed(lambda: tight_loop_root(leaves))
        loop_s.append(t)
        t, r_ours = c.timed(lambda: merkle.root(leaves))
        ours_s.append(t)
        if r_loop != r_ours or (want is not None and want != r_ours):
            raise SystemExit(f"roots differ: loop {r_loop.hex()}, ours {r_ours.hex()}")
        want = r_ours
    assert want is not None
    check = getattr(merkle, "_check_hashes", None)  # private: a diagnostic row only
    t_check = c.timed(lambda: check(leaves, "leaf_hashes"))[0] if check else None

    t_py, r_py = c.timed(lambda: pymerkle_root(data[:pn]))
    r_want = want if pn == n else merkle.root(leaves[:pn])
    if r_py != r_want:
        raise SystemExit(f"pymerkle root {r_py.hex()} differs from ours {r_want.hex()}")
    loop, ours = c.median(loop_s), c.median(ours_s)
    if pn == n:
        py_base = t_leaf + loop
    else:  # the same work at pymerkle's size
        py_base = c.timed(lambda: leaf_hashes(data[:pn]))[0]
        py_base += c.timed(lambda: tight_loop_root(leaves[:pn]))[0]
    py_ratio = t_py / py_base
    scale = (n * math.log2(n)) / (pn * math.log2(pn)) if pn < n and pn > 1 else 1.0

    ratio = c.median([o / lp for o, lp in zip(ours_s, loop_s, strict=True)])
    leaf_plus_loop = t_leaf + loop
    py_label = f"pymerkle {pymerkle.__version__} InmemoryTree"
    py_row = [py_label, f"{pn:,}", "leaves + nodes", f"{t_py:.3f}", "leaf hashing + loop"]
    if scale != 1.0:
        py_row = [
            py_label + f" (measured at {pn:,}, extrapolated ×{scale:.1f})",
            f"{n:,}",
            "leaves + nodes",
            f"{t_py * scale:.3f} (est.)",
            "leaf hashing + loop",
        ]
    rows = [
        ["tight hashlib loop", f"{n:,}", "nodes", f"{loop:.3f}", "itself", c.fmt_ratio(1.0)],
        ["merkle.root (ours)", f"{n:,}", "nodes", f"{ours:.3f}", "tight loop", c.fmt_ratio(ratio)],
        ["leaf hashing (hashlib)", f"{n:,}", "leaves", f"{t_leaf:.3f}", "—", ""],
        ["leaf hashing + tight loop", f"{n:,}", "leaves + nodes", f"{leaf_plus_loop:.3f}", "—", ""],
        [*py_row, c.fmt_ratio(py_ratio) + (f" (at {pn:,})" if scale != 1.0 else "")],
    ]
    if t_check is not None:
        rows.insert(
            2,
            [
                "  of which: leaf hash checks",
                f"{n:,}",
                "—",
                f"{t_check:.3f}",
                "tight loop",
                c.fmt_ratio(t_check / loop),
            ],
        )
    c.print_table(
        TABLE, ["implementation", "leaves", "hashes", "seconds", "baseline", "ratio"], rows
    )
    print(f"\nroot of {n:,}: {want.hex()} (tight loop and merkle.root agree)")
    print(f"root of {pn:,}: {r_py.hex()} (pymerkle and merkle.root agree)")
    c.print_table(
        TABLE_TARGETS,
        ["configuration", "target", "measured", "result"],
        [
            [
                f"merkle.root, {n:,} leaves",
                f"≤ {TARGET_RATIO}× tight loop",
                c.fmt_ratio(ratio),
                c.verdict(ratio <= TARGET_RATIO),
            ]
        ],
    )
    c.print_footer()
    return 0


if __name__ == "__main__":
    sys.exit(main())
