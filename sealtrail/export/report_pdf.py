"""``report.pdf``: the human-readable certificate of evidence, drawn with reportlab.

What it shows: what the package proves and how to check it, the coverage, the event timeline
(who, what, when, which seal and documents, and by when each event provably existed), the
document fingerprints, the checkpoints with their timestamps and anchors, and a QR code to the
public portal entry of the first document fingerprint. It is drawn deterministically
(reportlab's ``invariant`` mode: fixed ids and dates), and sealed afterwards by the service
(:mod:`.service_seal`, PAdES B-T), which makes it tamper-evident on its own.

Its facts — the events it lists with their leaf hashes, the fingerprints, the target checkpoint,
the selection, the log — are embedded in the same PDF, before sealing, as the file
``sealtrail-facts.json`` (docs/FORMAT.md §8.10: the document's EmbeddedFiles name tree and its
associated files ``/AF``, relationship ``/Data``), so the seal covers them and the verifier
compares them with the package (:mod:`sealtrail.verifier.report_facts`). The facts are
canonical JSON, compressed with zlib at its default level: the same evidence draws the same
bytes.

A CJK font is registered when one is installed (Chinese names must render); long timelines
show the first and last events and say how many are left out (all are in ``events/``).
"""

from __future__ import annotations

import io
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCodeWidget  # type: ignore[import-untyped]
from reportlab.graphics.shapes import Drawing  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfdoc, pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle  # type: ignore[import-untyped]

from sealtrail.core.note import NoteVerifier, verify_checkpoint
from sealtrail.core.vmap import map_root_of
from sealtrail.export.evidence import Evidence
from sealtrail.export.package import PackageInputs, fingerprints
from sealtrail.signing.appearance import find_cjk_font
from sealtrail.verifier import report_facts

#: events shown at the head and the tail of a long timeline
TIMELINE_HEAD = 150
TIMELINE_TAIL = 50
_FONT = "SealtrailCJK"


@cache
def _font() -> str:
    path = find_cjk_font()
    if path is None:
        return "Helvetica"
    kwargs: dict[str, Any] = {"subfontIndex": 0} if path.suffix.lower() == ".ttc" else {}
    pdfmetrics.registerFont(TTFont(_FONT, str(path), **kwargs))
    return _FONT


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    font = _font()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontName=font, fontSize=16),
        "h": ParagraphStyle("h", parent=base["Heading2"], fontName=font, fontSize=11),
        "p": ParagraphStyle("p", parent=base["BodyText"], fontName=font, fontSize=8.5),
        "cell": ParagraphStyle(
            "c", parent=base["BodyText"], fontName=font, fontSize=6.5, leading=8
        ),
    }


def _qr(url: str) -> Drawing:
    widget = QrCodeWidget(url, barLevel="M")
    x1, y1, x2, y2 = widget.getBounds()
    size = 32 * mm
    d = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    d.add(widget)
    return d


def _table(rows: list[list[Any]], widths: list[float]) -> Table:
    t = Table(rows, colWidths=widths, repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return t


def facts_of(ev: Evidence) -> bytes:
    """The report's facts file for ``ev`` (docs/FORMAT.md §8.10), canonical JSON."""
    target = verify_checkpoint(ev.target.note, NoteVerifier.from_vkey(ev.verifier_key))
    return report_facts.facts_bytes(
        report_facts.facts_object(
            origin=ev.origin,
            verifier_key=ev.verifier_key,
            selection=ev.selection.to_json(),
            target_size=ev.target.size,
            target_root=ev.target.root,
            map_root=map_root_of(target.extensions),
            events=[(e.index, e.leaf_hash) for e in ev.events],
            documents=fingerprints(ev),
            unsealed=ev.unsealed,
        )
    )


class _Catalog(pdfdoc.PDFCatalog):  # type: ignore[misc]
    """reportlab's document catalog, with the associated files ``/AF`` (ISO 32000-2 §14.13)."""

    __NoDefault__ = (*pdfdoc.PDFCatalog.__NoDefault__, "AF")


def _attach(facts: bytes) -> Any:
    """A reportlab page callback embedding ``facts`` as ``sealtrail-facts.json``: an
    EmbeddedFile stream (FlateDecode, ``/Subtype /application#2Fjson``, ``/Params /Size``), its
    file specification (``/F`` and ``/UF`` the name, ``/AFRelationship /Data``), listed in the
    catalog's ``/Names /EmbeddedFiles`` and ``/AF``. Run once, on the first page."""
    name = report_facts.FACTS_NAME

    def attach(canv: Any, _doc: Any) -> None:
        doc = canv._doc
        stream = pdfdoc.PDFStream(
            pdfdoc.PDFDictionary(
                {
                    "Type": "/EmbeddedFile",
                    "Subtype": "/" + report_facts.FACTS_MIME.replace("/", "#2F"),
                    "Params": pdfdoc.PDFDictionary({"Size": len(facts)}),
                }
            ),
            content=facts,
            filters=[pdfdoc.PDFZCompress],
        )
        ref = doc.Reference(stream)
        spec = doc.Reference(
            pdfdoc.PDFDictionary(
                {
                    "Type": "/Filespec",
                    "F": pdfdoc.PDFString(name),
                    "UF": pdfdoc.PDFString(name),
                    "EF": pdfdoc.PDFDictionary({"F": ref, "UF": ref}),
                    "Desc": pdfdoc.PDFString("What this report lists, machine-readable"),
                    "AFRelationship": "/Data",
                }
            )
        )
        catalog = _Catalog()
        catalog.__dict__.update(doc.Catalog.__dict__)
        tree = pdfdoc.PDFDictionary({"Names": pdfdoc.PDFArray([pdfdoc.PDFString(name), spec])})
        catalog.Names = pdfdoc.PDFDictionary({"EmbeddedFiles": tree})
        catalog.AF = pdfdoc.PDFArray([spec])
        doc.Catalog = doc._catalog = catalog

    return attach


def render_report(ev: Evidence, inputs: PackageInputs) -> bytes:
    """The unsigned report PDF for ``ev``, its facts embedded (deterministic for the same
    evidence and inputs)."""
    return draw_report(ev, inputs, facts_of(ev))


def draw_report(ev: Evidence, inputs: PackageInputs, facts: bytes | None) -> bytes:
    """The unsigned report PDF for ``ev`` with ``facts`` embedded as ``sealtrail-facts.json``
    (None: none, as reports made before the facts existed)."""
    st = _styles()

    def P(text: object, style: str = "p") -> Paragraph:
        return Paragraph(escape(str(text)), st[style])

    def C(text: object) -> Paragraph:
        return Paragraph(escape(str(text)), st["cell"])

    sel = ev.selection.to_json()
    what = (
        f"stream “{sel['stream']}” of tenant {sel['tenant']}"
        if sel["kind"] == "stream"
        else f"events of tenants {', '.join(sel['tenants'])} matching {sel['filters']}"
    )
    flow: list[Flowable] = [
        P("Certificate of evidence — Sealtrail", "title"),
        P(
            f"This package covers the {what}: {len(ev.events)} events, log indices "
            f"{ev.events[0].index}–{ev.events[-1].index}"
            + (
                f" ({ev.unsealed} newer events were not yet sealed and are not included)"
                if ev.unsealed
                else ""
            )
            + f". Made {inputs.created_at} for "
            + ", ".join(f"{k} {v}" for k, v in sorted(inputs.created_by.items()))
            + "."
        ),
        P(
            "What it proves. Each event below is recorded, byte for byte, in the append-only "
            f"log {ev.origin}: its inclusion proof leads to checkpoint {ev.target.size}, "
            "signed with the ledger's Ed25519 key. Within each stream the events form a hash "
            "chain, so none between the first and the last was dropped or altered. Each "
            "checkpoint carries an RFC 3161 timestamp, and anchored checkpoints are recorded "
            "on a blockchain: an event existed no later than the time of the earliest "
            "checkpoint that holds it. Check it all with `sealtrail verify` or by hand "
            "(VERIFY.md in this package) — neither needs the operator's database."
        ),
        Spacer(1, 3 * mm),
        P("Timeline", "h"),
    ]
    times = {s: t.gen_time for s, t in ev.timestamps.items()}
    events = list(ev.events)
    shown = events
    if len(events) > TIMELINE_HEAD + TIMELINE_TAIL:
        shown = events[:TIMELINE_HEAD] + events[-TIMELINE_TAIL:]
    rows: list[list[Any]] = [
        [C(h) for h in ("#", "recorded (UTC)", "event", "who", "seal / documents", "existed by")]
    ]
    for i, e in enumerate(shown):
        if i == TIMELINE_HEAD and len(shown) < len(events):
            rows.append(
                [C("…"), C(f"{len(events) - len(shown)} more events in events/"), "", "", "", ""]
            )
        b = e.body()
        actor = b["actor"]
        who = " / ".join(
            x for x in (actor["name"] or actor["id"], actor["org"], actor["role"]) if x
        )
        seal = b["attributes"].get("seal_id")
        docs = "; ".join(f"{d['name'] or ''} {d['sha256'][:16]}…" for d in b["documents"])
        rows.append(
            [
                C(e.index),
                C(b["recorded_at"]),
                C(f"{b['type']} · {b['stream']}"),
                C(who),
                C(" ".join(x for x in (f"seal {seal}" if seal else "", docs) if x)),
                C(times.get(ev.witness[e.index], "not stamped")),
            ]
        )
    width = A4[0] - 30 * mm
    flow.append(_table(rows, [w * width for w in (0.07, 0.17, 0.2, 0.2, 0.2, 0.16)]))
    flow += [Spacer(1, 3 * mm), P("Document fingerprints (SHA-256)", "h")]
    fps = fingerprints(ev)
    flow += [P(d) for d in fps] or [P("The events name no document.")]
    flow += [Spacer(1, 3 * mm), P("Checkpoints, timestamps and anchors", "h")]
    crow: list[list[Any]] = [
        [C(h) for h in ("size", "root (hex)", "timestamp (RFC 3161)", "anchor")]
    ]
    for c in ev.checkpoints:
        ts = ev.timestamps.get(c.size)
        a = ev.anchors.get(c.size)
        anchor = ev.anchor_status.get(c.size, "off")
        if a is not None:
            anchor = (
                f"{a.status}: chain {a.chain_id}, block {a.block_number}, "
                f"tx 0x{(a.tx_hash or b'').hex()}, contract {a.contract}"
            )
        stamp = f"{ts.gen_time} serial {ts.serial} {ts.tsa}" if ts else "pending"
        crow.append([C(c.size), C(c.root.hex()), C(stamp), C(anchor)])
    flow.append(_table(crow, [w * width for w in (0.08, 0.32, 0.3, 0.3)]))
    flow.append(P(f"Target checkpoint {ev.target.size}: {ev.target_reason}."))
    flow.append(P(f"Ledger verifier key: {ev.verifier_key}"))
    if inputs.portal_url and fps:
        url = f"{inputs.portal_url.rstrip('/')}/portal/#/fingerprint/{fps[0]}"
        flow += [Spacer(1, 3 * mm), P(f"Public portal entry: {url}"), _qr(url)]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title="Sealtrail certificate of evidence",
        author="Sealtrail",
        invariant=1,
    )
    if facts is None:
        doc.build(flow)
    else:
        doc.build(flow, onFirstPage=_attach(facts))
    return buf.getvalue()
