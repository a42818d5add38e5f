"""Verifiable map (docs/MAP.md): build, batch update, proofs, against hashlib in the same run.

Targets (issue 14): at 1,000,000 keys, median inclusion and non-inclusion proof < 1 ms; sealing
10,000 new events that touch 10,000 distinct streams and documents well under the checkpoint
interval (10 s by default; the target here is a fifth of it for the map's part).

* baseline — a tight loop of ``hashlib.sha256(tag || 64 bytes)`` over as many nodes as the tree
  has (the hashing the tree cannot avoid), and for proofs one SQLite point read by primary key;
* ``MemoryMap.from_items`` — key hashes, value hashes and every node, in one pass;
* ``vmap_tree.root_of`` — the root alone, as an audit recomputes it;
* ``vmap_log.map_changes`` + ``MemoryMap.set_many`` — sealing 10,000 new events (half extend
  existing streams and documents, half open new ones) on the big map;
* proofs from memory and from SQLite (nodes keyed by hash, one read per level), and their
  verification.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import resource
import sqlite3
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c

from sealtrail.core import event as ev
from sealtrail.core import vmap, vmap_log, vmap_tree

TITLE = "Verifiable map"
TABLE_BUILD = "Map build and update"
TABLE_PROOFS = "Map proofs (median of N)"
TABLE_SIZE = "Map proof size"
TABLE_TARGETS = "Map targets"
PROOF_TARGET_S = 1e-3
CHECKPOINT_INTERVAL_S = 10.0
SEAL_TARGET_S = CHECKPOINT_INTERVAL_S / 5


def items_for(n: int) -> dict[bytes, bytes]:
    """``n`` keys shaped like the log's map: 1 stream per 5 events, 1 document per event."""
    sha = hashlib.sha256
    out: dict[bytes, bytes] = {}
    streams = n // 6
    for i in range(streams):
        leaf = sha(b"leaf" + i.to_bytes(8, "big")).digest()
        out[vmap.stream_key(c.TENANT, f"contract:{i}")] = vmap.StreamHead(
            5, 5 * i + 4, leaf
        ).encode()
    for i in range(n - streams):
        d = sha(i.to_bytes(8, "big")).digest()
        chain = sha(b"chain" + d).digest()
        out[vmap.document_key(d)] = vmap.DocumentEvents(1, i, chain).encode()
    return out


def new_events(first_index: int, n: int, existing_streams: int) -> list[ev.Event]:
    """``n`` events after the map's content: half on existing streams and documents, half new."""
    out = []
    for j in range(n):
        i = first_index + j
        old = j % 2 == 0
        stream = f"contract:{j // 2 if old else existing_streams + j}"
        digest = hashlib.sha256((j // 2 if old else 10**9 + j).to_bytes(8, "big")).hexdigest()
        obj = {
            "stream": stream,
            "type": "view",
            "actor": {"id": "u-42"},
            "documents": [{"name": "c.pdf", "sha256": digest}],
        }
        out.append(
            ev.build_event(
                ev.parse_event_input(obj),
                tenant=c.TENANT,
                index=i,
                recorded_at="2026-11-24T10:00:00.000000Z",
                salt=i.to_bytes(16, "big"),
                prev=None,
            )
        )
    return out


def hash_loop(n: int) -> float:
    """Seconds for ``n`` SHA-256 of a 23-byte tag plus 64 bytes (one node each)."""
    sha, tag = hashlib.sha256, vmap.NODE_TAG
    body = bytes(64)
    t0 = time.perf_counter()
    for _ in range(n):
        body = body[32:] + sha(tag + body).digest()
    return time.perf_counter() - t0


T = TypeVar("T")


def median_time(fn: Callable[[bytes], T], args: Sequence[bytes]) -> tuple[float, list[T]]:
    """Median seconds of ``fn(a)`` over ``args``, and the results."""
    times: list[float] = []
    results: list[T] = []
    for a in args:
        t0 = time.perf_counter()
        results.append(fn(a))
        times.append(time.perf_counter() - t0)
    return c.median(times), results


class SqliteNodes:
    """Nodes in SQLite keyed by hash: what a store-backed map would read (one row per node)."""

    def __init__(self, path: Path, nodes: Mapping[bytes, bytes]) -> None:
        self.con = sqlite3.connect(path, isolation_level=None)
        self.con.execute("PRAGMA journal_mode = WAL")
        self.con.execute(
            "CREATE TABLE map_node (hash BLOB PRIMARY KEY, node BLOB NOT NULL) WITHOUT ROWID"
        )
        self.con.execute("BEGIN")
        self.con.executemany("INSERT INTO map_node VALUES (?, ?)", nodes.items())
        self.con.execute("COMMIT")

    def fetch(self, hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        if len(hashes) == 1:
            row = self.con.execute(
                "SELECT node FROM map_node WHERE hash = ?", (hashes[0],)
            ).fetchone()
            return {} if row is None else {hashes[0]: row[0]}
        out: dict[bytes, bytes] = {}
        for i in range(0, len(hashes), 500):
            part = hashes[i : i + 500]
            q = "SELECT hash, node FROM map_node WHERE hash IN (" + ",".join("?" * len(part)) + ")"
            out.update(self.con.execute(q, part).fetchall())
        return out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    p = c.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--keys", type=int, help="map size (default 1,000,000; 20,000 with --quick)")
    p.add_argument("--updates", type=int, help="events sealed (default 10,000; 1,000 with --quick)")
    p.add_argument("--proofs", type=int, help="proofs timed per kind (default 2,000; 200 quick)")
    p.add_argument("--tmp-dir", help="where the SQLite copy of the nodes goes (system temp)")
    p.add_argument("--no-sqlite", action="store_true", help="skip proofs from SQLite")
    args = p.parse_args(argv)
    n = args.keys or (20_000 if args.quick else 1_000_000)
    n_upd = args.updates or (1_000 if args.quick else 10_000)
    n_proofs = args.proofs or (200 if args.quick else 2_000)
    c.print_header(
        TITLE,
        args.quick,
        [
            f"{n:,} keys (1 stream per 6 keys, the rest documents); sealing {n_upd:,} events;"
            f" {n_proofs:,} proofs of each kind",
        ],
    )
    rnd = random.Random(14)

    t_items, items = c.timed(lambda: items_for(n))
    t_build, m = c.timed(lambda: vmap_tree.MemoryMap.from_items(items))
    mem_after_build = rss_mb()
    n_nodes = len(m.nodes)
    t_loop = hash_loop(n_nodes + 2 * n)  # nodes, plus a key hash and a value hash per key
    t_loop_nodes = hash_loop(n_nodes)
    hashes = {vmap.key_hash(k): vmap.value_hash(v) for k, v in items.items()}
    t_root, root = c.timed(lambda: vmap_tree.root_of(hashes))
    if root != m.root:
        raise SystemExit(f"root_of {root.hex()} differs from the built map's {m.root.hex()}")
    hashes.clear()  # memory

    streams = sum(1 for k in items if k[0] == vmap.KIND_STREAM)
    events = new_events(n, n_upd, streams)
    keys = vmap_log.touched_keys(events)
    t_changes, changes = c.timed(
        lambda: vmap_log.map_changes(events, {k: items[k] for k in keys if k in items})
    )
    t_update, u = c.timed(lambda: m.set_many(changes))
    t_upd_loop = hash_loop(len(u.new_nodes) + u.fetched + 2 * len(changes))
    items.update(changes)

    present = rnd.sample(list(items), n_proofs)
    absent = [
        vmap.document_key(hashlib.sha256(b"absent" + i.to_bytes(8, "big")).digest())
        for i in range(n_proofs)
    ]
    t_pin, pin = median_time(m.prove, present)
    t_pout, pout = median_time(m.prove, absent)
    root = m.root

    proof_in = dict(zip(present, pin, strict=True))
    proof_out = dict(zip(absent, pout, strict=True))

    def verify_in(k: bytes) -> None:
        vmap.verify_inclusion(root, k, items[k], proof_in[k])

    def verify_out(k: bytes) -> None:
        vmap.verify_non_inclusion(root, k, proof_out[k])

    t_vin, _ = median_time(verify_in, present)
    t_vout, _ = median_time(verify_out, absent)
    t_one_hash = hash_loop(100_000) / 100_000

    rows_proofs = [
        ["one SHA-256 of a node (baseline)", "—", c.fmt_us(t_one_hash), c.fmt_ratio(1.0)],
        [
            "inclusion proof, from memory",
            f"{n:,}",
            c.fmt_us(t_pin),
            c.fmt_ratio(t_pin / t_one_hash),
        ],
        [
            "non-inclusion proof, from memory",
            f"{n:,}",
            c.fmt_us(t_pout),
            c.fmt_ratio(t_pout / t_one_hash),
        ],
        ["verify_inclusion", f"{n:,}", c.fmt_us(t_vin), c.fmt_ratio(t_vin / t_one_hash)],
        ["verify_non_inclusion", f"{n:,}", c.fmt_us(t_vout), c.fmt_ratio(t_vout / t_one_hash)],
    ]
    t_sql_in = t_sql_out = None
    if not args.no_sqlite:
        with c.scratch_dir(args.tmp_dir) as d:
            _, store = c.timed(lambda: SqliteNodes(d / "map.sqlite", m.nodes))
            t_read, _ = median_time(
                lambda h: store.fetch([h]), rnd.sample(list(m.nodes), min(n_proofs, n_nodes))
            )
            t_sql_in, sin = median_time(
                lambda k: vmap_tree.prove(root, vmap.key_hash(k), store.fetch), present
            )
            t_sql_out, _ = median_time(
                lambda k: vmap_tree.prove(root, vmap.key_hash(k), store.fetch), absent
            )
            if sin != pin:
                raise SystemExit("proofs from SQLite differ from proofs from memory")
            store.con.close()
        rows_proofs += [
            [
                "SQLite point read by primary key (baseline)",
                f"{n_nodes:,} rows",
                c.fmt_us(t_read),
                c.fmt_ratio(1.0),
            ],
            [
                "inclusion proof, nodes from SQLite",
                f"{n:,}",
                c.fmt_us(t_sql_in),
                c.fmt_ratio(t_sql_in / t_read),
            ],
            [
                "non-inclusion proof, nodes from SQLite",
                f"{n:,}",
                c.fmt_us(t_sql_out),
                c.fmt_ratio(t_sql_out / t_read),
            ],
        ]

    seal = t_changes + t_update
    c.print_table(
        TABLE_BUILD,
        ["step", "keys", "nodes hashed", "seconds", "baseline", "ratio"],
        [
            [
                "hashlib loop, same number of hashes (baseline)",
                f"{n:,}",
                f"{n_nodes + 2 * n:,}",
                f"{t_loop:.2f}",
                "itself",
                c.fmt_ratio(1.0),
            ],
            [
                "MemoryMap.from_items (keys, values, nodes)",
                f"{n:,}",
                f"{n_nodes + 2 * n:,}",
                f"{t_build:.2f}",
                "hashlib loop",
                c.fmt_ratio(t_build / t_loop),
            ],
            [
                "vmap_tree.root_of (root only, audit)",
                f"{n:,}",
                f"{n_nodes:,}",
                f"{t_root:.2f}",
                "hashlib loop, nodes only",
                c.fmt_ratio(t_root / t_loop_nodes),
            ],
            ["  (input: encoding the values)", f"{n:,}", "—", f"{t_items:.2f}", "—", ""],
            [
                "hashlib loop, update's hashes (baseline)",
                f"{len(changes):,} changed",
                f"{len(u.new_nodes) + u.fetched + 2 * len(changes):,}",
                f"{t_upd_loop:.3f}",
                "itself",
                c.fmt_ratio(1.0),
            ],
            [
                f"vmap_log.map_changes, {n_upd:,} events",
                f"{len(changes):,} changed",
                "—",
                f"{t_changes:.3f}",
                "—",
                "",
            ],
            [
                f"MemoryMap.set_many, {len(changes):,} keys",
                f"{len(m):,}",
                f"{len(u.new_nodes):,} new, {u.fetched:,} read",
                f"{t_update:.3f}",
                "hashlib loop",
                c.fmt_ratio(t_update / t_upd_loop),
            ],
        ],
    )
    print(
        f"\nnodes: {n_nodes:,} ({n_nodes / n:.2f} per key);"
        f" peak RSS after build: {mem_after_build:,.0f} MB"
    )
    c.print_table(
        TABLE_PROOFS, ["operation", "map keys", "median", "ratio to baseline"], rows_proofs
    )

    sib_in = sorted(len(x.siblings) for x in pin)
    sib_out = sorted(len(x.siblings) for x in pout)
    size_in = sorted(x.size_bytes() for x in pin)
    size_out = sorted(x.size_bytes() for x in pout)
    json_in = sorted(len(json.dumps(x.to_json(), separators=(",", ":"))) for x in pin)
    json_out = sorted(len(json.dumps(x.to_json(), separators=(",", ":"))) for x in pout)
    c.print_table(
        TABLE_SIZE,
        ["proof", "siblings median (max)", "bytes median (max)", "JSON bytes median (max)"],
        [
            [
                "inclusion",
                f"{c.median(sib_in):.0f} ({sib_in[-1]})",
                f"{c.median(size_in):,.0f} ({size_in[-1]:,})",
                f"{c.median(json_in):,.0f} ({json_in[-1]:,})",
            ],
            [
                "non-inclusion",
                f"{c.median(sib_out):.0f} ({sib_out[-1]})",
                f"{c.median(size_out):,.0f} ({size_out[-1]:,})",
                f"{c.median(json_out):,.0f} ({json_out[-1]:,})",
            ],
        ],
    )
    print(f"\nlog2({n:,}) = {n.bit_length() - 1}; every proof verified against root {root.hex()}")

    targets = [
        [
            f"inclusion proof, {n:,} keys, memory",
            "median < 1 ms",
            c.fmt_us(t_pin),
            c.verdict(t_pin < PROOF_TARGET_S),
        ],
        [
            f"non-inclusion proof, {n:,} keys, memory",
            "median < 1 ms",
            c.fmt_us(t_pout),
            c.verdict(t_pout < PROOF_TARGET_S),
        ],
    ]
    if t_sql_in is not None and t_sql_out is not None:
        targets += [
            [
                f"inclusion proof, {n:,} keys, SQLite",
                "median < 1 ms",
                c.fmt_us(t_sql_in),
                c.verdict(t_sql_in < PROOF_TARGET_S),
            ],
            [
                f"non-inclusion proof, {n:,} keys, SQLite",
                "median < 1 ms",
                c.fmt_us(t_sql_out),
                c.verdict(t_sql_out < PROOF_TARGET_S),
            ],
        ]
    targets.append(
        [
            f"map part of sealing {n_upd:,} events on {n:,} keys",
            f"≤ {SEAL_TARGET_S:.0f} s (interval / 5)",
            f"{seal:.2f} s",
            c.verdict(seal <= SEAL_TARGET_S),
        ]
    )
    c.print_table(TABLE_TARGETS, ["configuration", "target", "measured", "result"], targets)
    c.print_footer()
    return 0


if __name__ == "__main__":
    sys.exit(main())
