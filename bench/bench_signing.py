"""PDF seals per second (1-page and 100-page PDFs) and validation time, against baselines.

Measured in the same run, on the same PDFs (drawn with reportlab), with the same seal key (ECDSA
P-256 from the internal CA) and the development TSA over local HTTP:

* SHA-256 of the PDF — the floor: what hashing the document alone costs;
* pyHanko, no timestamp — ``signers.sign_pdf`` with the same key, PAdES B-B, invisible: the
  cost of the signature itself and the incremental update;
* ``sign_pdf`` B-T (ours) — visible seal PNG, remarks, RFC 3161 token over HTTP, chain checked
  before signing;
* ``sign_pdf`` B-LT (ours) — B-T plus the DSS (certificates and CRL) in a second update;
* ``validate_pdf`` — full validation of the B-T output (integrity, chain, timestamp, difference
  analysis).

Signatures are made one after another (not concurrently). The targets are provisional (the
issue sets none): at least 1 B-T seal per second and validation within 1 s on a 100-page PDF.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as c
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from sealtrail.anchoring.devtsa import RunningTsa, start_tsa
from sealtrail.signing import pki
from sealtrail.signing.appearance import SealKind, generate_seal
from sealtrail.signing.sign import (
    Placement,
    SignatureLevel,
    SigningPolicy,
    _simple_signer,
    sign_pdf,
)
from sealtrail.signing.validate import validate_pdf

TITLE = "PDF sealing"
TABLE = "Seals per second (sequential)"
TABLE_VALIDATION = "Validation time"
TABLE_TARGETS = "Sealing targets"
TARGET_BT_PER_S = 1.0
TARGET_VALIDATE_S = 1.0


def make_pdf(pages: int) -> bytes:
    out = io.BytesIO()
    cv = canvas.Canvas(out, pagesize=A4, invariant=True)
    for i in range(pages):
        cv.setFont("Helvetica", 11)
        for line in range(40):
            cv.drawString(
                60, 780 - 18 * line, f"Page {i + 1}, clause {line + 1}: the parties agree."
            )
        cv.showPage()
    cv.save()
    return out.getvalue()


class TsaThread:
    """The development TSA served from its own event loop thread."""

    def __init__(self, directory: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.running: RunningTsa = asyncio.run_coroutine_threadsafe(
            start_tsa(directory), self.loop
        ).result(60)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.running.close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def main(argv: list[str] | None = None) -> int:
    p = c.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--signatures", type=int, help="signatures per configuration (default 10)")
    p.add_argument("--pages", type=int, default=100, help="pages of the large PDF (default 100)")
    args = p.parse_args(argv)
    n = args.signatures or (2 if args.quick else 10)
    sizes = [1, 10 if args.quick else args.pages]
    c.print_header(
        TITLE,
        args.quick,
        [
            f"{n} signatures per configuration, one after another; PDFs of {sizes} pages",
            "seal key ECDSA P-256 (internal CA); development TSA (RSA 2048) over local HTTP",
        ],
    )
    now = datetime.now(UTC)
    ca = pki.create_internal_ca("Bench Ltd", now=now)
    seal = pki.issue_seal_certificate(
        ca, seal_name="Bench Ltd", kind=SealKind.CONTRACT, seal_id="bench", now=now
    )
    png = generate_seal(SealKind.CONTRACT, "Bench Ltd", purpose="Contracts")
    with tempfile.TemporaryDirectory(prefix="sealtrail-bench-") as tmp:
        tsa = TsaThread(Path(tmp) / "tsa")
        try:
            policy = SigningPolicy(
                timestamper_urls=(tsa.running.url,),
                trust_roots=(ca.certificate,),
                tsa_trust_roots=(tsa.running.tsa.ca_cert,),
                crls=(pki.issue_crl(ca, [], now=now),),
            )
            rows, vrows, results = run(n, sizes, seal, png, policy)
        finally:
            tsa.close()
    c.print_table(
        TABLE,
        ["PDF", "bytes", "path", "signatures/s", "ms each", "baseline", "ratio"],
        rows,
    )
    c.print_table(TABLE_VALIDATION, ["PDF", "signatures", "seconds", "vs B-T signing"], vrows)
    big = sizes[-1]
    bt_rate, validate_s = results[big]
    c.print_table(
        TABLE_TARGETS,
        ["configuration", "target", "measured", "result"],
        [
            [
                f"sign_pdf B-T, {big} pages",
                f"≥ {TARGET_BT_PER_S:.0f} seal/s",
                f"{bt_rate:.2f}/s",
                c.verdict(bt_rate >= TARGET_BT_PER_S),
            ],
            [
                f"validate_pdf, {big} pages",
                f"≤ {TARGET_VALIDATE_S:.0f} s",
                f"{validate_s:.3f} s",
                c.verdict(validate_s <= TARGET_VALIDATE_S),
            ],
        ],
    )
    c.print_footer()
    return 0


def run(
    n: int,
    sizes: list[int],
    seal: pki.CertifiedKey,
    png: bytes,
    policy: SigningPolicy,
) -> tuple[list[list[object]], list[list[object]], dict[int, tuple[float, float]]]:
    rows: list[list[object]] = []
    vrows: list[list[object]] = []
    results: dict[int, tuple[float, float]] = {}
    raw_signer = _simple_signer(seal)
    for pages in sizes:
        pdf = make_pdf(pages)
        label = f"{pages} page{'s' if pages > 1 else ''}"

        def sha(pdf: bytes = pdf) -> None:
            hashlib.sha256(pdf).digest()

        def plain(pdf: bytes = pdf) -> bytes:
            w = IncrementalPdfFileWriter(io.BytesIO(pdf))
            meta = signers.PdfSignatureMetadata(
                field_name="Plain", subfilter=fields.SigSeedSubFilter.PADES
            )
            out: bytes = signers.sign_pdf(w, meta, signer=raw_signer).getvalue()
            return out

        def ours(level: SignatureLevel, pdf: bytes = pdf) -> bytes:
            return sign_pdf(
                pdf,
                seal,
                Placement("Seal", page=0, box=(380, 60, 530, 210)),
                policy,
                appearance_png=png,
                remarks="benchmark",
                level=level,
            )

        t_sha = sum(c.timed(sha)[0] for _ in range(n)) / n
        t_plain = sum(c.timed(plain)[0] for _ in range(n)) / n
        bt_times, lt_times = [], []
        signed = b""
        for _ in range(n):
            t, signed = c.timed(lambda: ours(SignatureLevel.B_T))
            bt_times.append(t)
            lt_times.append(c.timed(lambda: ours(SignatureLevel.B_LT))[0])
        t_bt, t_lt = c.median(bt_times), c.median(lt_times)
        for path, t, base, ratio in [
            ("SHA-256 of the PDF", t_sha, "—", ""),
            ("pyHanko, no timestamp (B-B)", t_plain, "SHA-256", c.fmt_ratio(t_plain / t_sha)),
            ("sign_pdf B-T (ours)", t_bt, "pyHanko B-B", c.fmt_ratio(t_bt / t_plain)),
            ("sign_pdf B-LT (ours)", t_lt, "pyHanko B-B", c.fmt_ratio(t_lt / t_plain)),
        ]:
            rows.append(
                [
                    label,
                    f"{len(pdf):,}",
                    path,
                    f"{c.rate(1, t):,.2f}",
                    f"{t * 1e3:.3f}",
                    base,
                    ratio,
                ]
            )
        v_times = []
        for _ in range(max(1, n // 2)):
            t, report = c.timed(
                lambda signed=signed: validate_pdf(
                    signed, policy.trust_roots, policy.tsa_trust_roots
                )
            )
            if not report.ok:
                raise SystemExit(f"validation of our own seal failed: {report}")
            v_times.append(t)
        t_v = c.median(v_times)
        vrows.append([label, "1 (B-T)", f"{t_v:.3f}", c.fmt_ratio(t_v / t_bt)])
        results[pages] = (c.rate(1, t_bt), t_v)
    return rows, vrows, results


if __name__ == "__main__":
    sys.exit(main())
