"""Certification packages: build and verify time and package size, against zipping and hashing
the same canonical event bytes in the same run.

Target (issue 5): verifying a package of 1,000 events takes under 2 s offline.

For each size N, one stream of N events is appended to a fresh ledger (``ledger.append`` in
batches of 1,000, a checkpoint sealed after every batch, so N/1,000 checkpoints), every
checkpoint is stamped by the development TSA (served in-process over local HTTP), and then:

* build — ``make_package`` of the stream, written to a file: collect the events and proofs,
  draw ``report.pdf`` (reportlab), seal it PAdES B-T (pyHanko, one timestamp from the same
  TSA), render every file, write the deterministic ZIP. Baseline: ``zipfile`` writing the same
  N canonical event files alone (DEFLATE level 6, as the package does);
* verify — ``verify_package`` of the package's bytes with the trust roots and the ledger key
  pinned and no RPC (offline): every check, the report's PDF signature included. Baseline:
  reading the baseline ZIP back and SHA-256-hashing each event (the least any verifier does);
* size — the ZIP's bytes, per event, and against the baseline ZIP.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import sys
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c

from sealtrail.anchoring.devtsa import load_or_create, start_tsa
from sealtrail.anchoring.tsa import TimestampClient
from sealtrail.core.event import format_time, parse_event_input
from sealtrail.export.evidence import Selection
from sealtrail.export.package import PackageInputs
from sealtrail.export.service_seal import ServiceSeal, load_service_seal, make_package
from sealtrail.ledger.log import Ledger
from sealtrail.verifier import layout
from sealtrail.verifier.results import Status
from sealtrail.verifier.verify import verify_package

TITLE = "Certification packages"
TABLE = "Package build and verify (one stream of N events)"
TABLE_TARGETS = "Package targets"
STREAM = "contract:bench"
BATCH = 1000
MASTER_KEY = bytes(range(32))
TARGET_EVENTS = 1000
TARGET_SECONDS = 2.0
NOT_CHECKED = frozenset({"anchors.receipts", "anchors.chain", "documents.fingerprints"})


@dataclass
class Row:
    n: int
    checkpoints: int
    build: float
    zip_base: float
    verify: float
    hash_base: float
    size: int
    zip_size: int
    verify_ok: bool


def fill(ledger: Ledger, n: int) -> int:
    """Append ``n`` events to one stream, a checkpoint after every batch; return how many."""
    sealed = 0
    for start in range(0, n, BATCH):
        batch = []
        for i in range(start, min(n, start + BATCH)):
            e = c.sample_event(i)
            e["stream"] = STREAM
            batch.append(parse_event_input(e))
        ledger.append(c.TENANT, batch)
        cp, _ = ledger.seal()
        sealed += cp is not None
    return sealed


async def stamp_and_build(
    ledger: Ledger, tsa_dir: Path, seal: ServiceSeal, out: Path
) -> tuple[float, bytes]:
    """Stamp every checkpoint, then time ``make_package`` (the TSA already up)."""
    tsa = load_or_create(tsa_dir).ca_cert
    running = await start_tsa(tsa_dir)
    try:
        client = TimestampClient([running.url], [tsa])
        now = format_time(datetime.now(UTC))
        for cp in c.stores_of(ledger).timestamps.untimestamped():
            ts = await client.timestamp(cp.note.encode())
            c.stores_of(ledger).timestamps.put_timestamp(
                cp.size, ts.token, format_time(ts.gen_time), ts.serial, ts.tsa, now
            )
        from cryptography.hazmat.primitives.serialization import Encoding

        inputs = PackageInputs(
            created_at=now,
            created_by={"operator": "bench"},
            tsa_roots_pem=tsa.public_bytes(Encoding.PEM),
            service_seal_pem=seal.pem(),
            portal_url="https://sealtrail.example",
        )
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with out.open("wb") as f:
            await make_package(
                ledger, c.stores_of(ledger), Selection.of_stream(c.TENANT, STREAM), inputs, seal,
                [running.url], [tsa], f,
            )  # fmt: skip
        return loop.time() - t0, tsa.public_bytes(Encoding.PEM)
    finally:
        await running.runner.cleanup()


def baseline_zip(canonical: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in sorted(canonical):
            z.writestr(name, canonical[name], zipfile.ZIP_DEFLATED, 6)
    return buf.getvalue()


def baseline_hash(data: bytes) -> int:
    z = zipfile.ZipFile(io.BytesIO(data))
    return sum(len(hashlib.sha256(z.read(i)).digest()) for i in z.infolist())


def measure(n: int, root: Path, repeat: int) -> Row:
    from cryptography import x509

    d = root / f"n{n}"
    ledger = c.make_ledger(d, "data")
    try:
        checkpoints = fill(ledger, n)
        seal = load_service_seal(d / "data", MASTER_KEY, now=datetime.now(UTC))
        pkg = d / "package.zip"
        build, tsa_pem = asyncio.run(stamp_and_build(ledger, d / "devtsa", seal, pkg))
        canonical = {layout.event_name(e.index): e.canonical for e in ledger.store.stream(
            c.TENANT, STREAM)}  # fmt: skip
        vkey = ledger.verifier.vkey
    finally:
        ledger.close_sync()
    zip_base, base = c.timed(lambda: baseline_zip(canonical))
    data = pkg.read_bytes()
    roots = [*x509.load_pem_x509_certificates(tsa_pem), seal.ca]
    verify_s, hash_s = [], []
    ok = True
    for _ in range(repeat):
        t, rep = c.timed(lambda: verify_package(data, trust_roots=roots, ledger_key=vkey))
        verify_s.append(t)
        hash_s.append(c.timed(lambda: baseline_hash(base))[0])
        # Offline, no chain and no document included: those are "not checked"; all else passes.
        others = [k for k in rep.checks if k.id not in NOT_CHECKED]
        ok &= not rep.failed() and all(k.status is Status.PASSED for k in others)
    return Row(
        n, checkpoints, build, zip_base, c.median(verify_s), c.median(hash_s), len(data),
        len(base), ok,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = c.arg_parser(__doc__.splitlines()[0])
    p.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        help="stream sizes, comma-separated (default 10,1000,100000; 10,100,1000 with --quick)",
    )
    p.add_argument("--tmp-dir", default=None, help="where the scratch ledgers go")
    p.add_argument("--repeat", type=int, help="verify repetitions (default 3; 1 with --quick)")
    args = p.parse_args(argv)
    sizes = args.sizes or ([10, 100, 1000] if args.quick else [10, 1000, 100_000])
    repeat = args.repeat or (1 if args.quick else 3)
    c.print_header(
        TITLE,
        args.quick,
        [
            f"stream sizes {', '.join(f'{n:,}' for n in sizes)}; a checkpoint every {BATCH:,}"
            " events, each stamped by the development TSA; report sealed PAdES B-T",
            f"verify: median of {repeat} run(s) (1 for 100,000 events), trust roots and ledger"
            " key pinned, no RPC",
        ],
    )
    rows: list[Row] = []
    with c.scratch_dir(args.tmp_dir) as root:
        for n in sizes:
            rows.append(measure(n, root, 1 if n >= 100_000 else repeat))
            r = rows[-1]
            print(f"- {n:,} events: build {r.build:.2f} s, verify {r.verify:.2f} s", flush=True)
    table = []
    for r in rows:
        table.append(
            [
                f"{r.n:,}",
                str(r.checkpoints),
                f"{r.build:.3f}",
                f"{r.zip_base:.3f}",
                c.fmt_ratio(r.build / r.zip_base),
                f"{r.verify:.3f}",
                f"{r.hash_base:.3f}",
                c.fmt_ratio(r.verify / r.hash_base),
                f"{r.size:,}",
                f"{r.size / r.n:,.0f}",
                c.fmt_ratio(r.size / r.zip_size),
                "passed" if r.verify_ok else "FAILED",
            ]
        )
    c.print_table(
        TABLE,
        [
            "events",
            "checkpoints",
            "build s",
            "zip events s",
            "build ratio",
            "verify s",
            "unzip+hash s",
            "verify ratio",
            "package bytes",
            "bytes/event",
            "size vs events zip",
            "checks",
        ],
        table,
    )
    target = next((r for r in rows if r.n == TARGET_EVENTS), None)
    if target is not None:
        c.print_table(
            TABLE_TARGETS,
            ["configuration", "target", "measured", "result"],
            [
                [
                    f"verify_package, {TARGET_EVENTS:,} events, offline",
                    f"< {TARGET_SECONDS:.0f} s",
                    f"{target.verify:.3f} s",
                    c.verdict(target.verify < TARGET_SECONDS),
                ]
            ],
        )
    else:
        print(f"\n(no {TARGET_EVENTS:,}-event run: the target is not measured)")
    c.print_footer()
    return 0 if all(r.verify_ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
