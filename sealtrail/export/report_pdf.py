"""``report.pdf``: the human-readable certificate of evidence (电子证据证书), drawn with reportlab.

In 简体中文 and English (``PackageInputs.language``: ``zh-CN``, ``en`` or ``both``), times in
``PackageInputs.timezone`` with their offset (:mod:`.report_text`). It shows: a cover (what is
certified, for whom, by which operator, under which ledger key; a mark in both languages when the
timestamps come from the development TSA or the anchors from a development chain); the ceremony
as a timeline per party (name, organisation, role; the seal's registered picture next to each
seal use when the caller gives one; document fingerprints); every event's timeline; the document
fingerprints; the checkpoints with their RFC 3161 times and anchors, and how to check each by
hand; what the evidence proves, mapped to the Electronic Signature Law Art. 13 and the SPC
Online Litigation Rules Arts. 16–19, and what it does not prove (completeness, docs/FORMAT.md
§8.9); a QR code to the public portal entry of the first document fingerprint. Every page's
footer has "第 x 页 共 y 页 / page x of y" and the SHA-256 of the embedded facts file with the
target checkpoint (the package's own digest cannot be printed: it is computed after the report
is in the ZIP).

It is drawn deterministically (reportlab's ``invariant`` mode: fixed ids and dates), and sealed
afterwards by the service (:mod:`.service_seal`, PAdES B-T), which makes it tamper-evident on its
own.

Its facts — the events it lists with their leaf hashes, the fingerprints, the target checkpoint,
the selection, the log — are embedded in the same PDF, before sealing, as the file
``sealtrail-facts.json`` (docs/FORMAT.md §8.10: the document's EmbeddedFiles name tree and its
associated files ``/AF``, relationship ``/Data``), so the seal covers them and the verifier
compares them with the package (:mod:`sealtrail.verifier.report_facts`). The facts are
canonical JSON, compressed with zlib at its default level: the same evidence draws the same
bytes.

Fonts never fail silently (:mod:`sealtrail.signing.fonts`): an installed TrueType CJK font is
embedded, else reportlab's built-in ``STSong-Light``; every string is checked against the font's
character map before it is drawn, and a missing glyph raises
:class:`~sealtrail.signing.errors.MissingGlyphError`. Long timelines show the first and last
events and say how many are left out (all are in ``events/``).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from functools import cache, partial
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.graphics.barcode.qr import QrCodeWidget  # type: ignore[import-untyped]
from reportlab.graphics.shapes import Drawing  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfdoc, pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas as rl_canvas  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Flowable,
    Image,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from sealtrail.core.event import Event
from sealtrail.core.note import NoteVerifier, verify_checkpoint
from sealtrail.core.vmap import map_root_of
from sealtrail.export import report_text as rt
from sealtrail.export.evidence import Evidence
from sealtrail.export.package import PackageInputs, fingerprints
from sealtrail.signing import fonts
from sealtrail.verifier import report_facts

#: events shown at the head and the tail of a long timeline
TIMELINE_HEAD = 150
TIMELINE_TAIL = 50
#: at most this many parties, and events per party, in the ceremony section
MAX_PARTIES = 40
MAX_PARTY_EVENTS = 40
_FONT = "SealtrailCJK"
_SEAL_SIZE = 12 * mm
_WARN = colors.HexColor("#b00020")


@cache
def _font() -> tuple[str, fonts.CjkFont]:
    """The registered font name and its glyph coverage (an embedded TrueType CJK font, else
    the built-in CID font ``STSong-Light``)."""
    font = fonts.cjk_font(pdf=True)
    if font.path is None:
        pdfmetrics.registerFont(UnicodeCIDFont(fonts.CID_FONT))
        return fonts.CID_FONT, font
    kwargs: dict[str, Any] = {"subfontIndex": 0} if font.path.suffix.lower() == ".ttc" else {}
    pdfmetrics.registerFont(TTFont(_FONT, str(font.path), **kwargs))
    return _FONT, font


def _styles(name: str) -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontName=name, fontSize=18, leading=24),
        "sub": ParagraphStyle("s", parent=base["Title"], fontName=name, fontSize=10, leading=13),
        "h": ParagraphStyle("h", parent=base["Heading2"], fontName=name, fontSize=11),
        "h3": ParagraphStyle("h3", parent=base["Heading3"], fontName=name, fontSize=9),
        "p": ParagraphStyle(
            "p", parent=base["BodyText"], fontName=name, fontSize=8.5, wordWrap="CJK"
        ),
        "warn": ParagraphStyle(
            "w",
            parent=base["BodyText"],
            fontName=name,
            fontSize=10,
            leading=14,
            textColor=_WARN,
            borderColor=_WARN,
            borderWidth=1,
            borderPadding=4,
        ),
        "cell": ParagraphStyle(
            "c",
            parent=base["BodyText"],
            fontName=name,
            fontSize=6.5,
            leading=8,
            wordWrap="CJK",
        ),
    }


def _qr(url: str) -> Drawing:
    widget = QrCodeWidget(url, barLevel="M")
    x1, y1, x2, y2 = widget.getBounds()
    size = 32 * mm
    d = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    d.add(widget)
    return d


def _table(rows: list[list[Any]], widths: list[float], *, header: bool = True) -> Table:
    t = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")))
    t.setStyle(TableStyle(style))
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


class _FooterCanvas(rl_canvas.Canvas):  # type: ignore[misc]
    """A canvas that holds its pages until the end, to print "page x of y" and ``footer`` on
    each (the page count is known only then)."""

    def __init__(self, *args: Any, footer: Callable[[int, int], list[str]], font: str, **kw: Any):
        super().__init__(*args, **kw)
        self._footer = footer
        self._footer_font = font
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for i, state in enumerate(self._pages, 1):
            self.__dict__.update(state)
            self.setFont(self._footer_font, 6.5)
            self.setFillColor(colors.grey)
            for n, line in enumerate(self._footer(i, total)):
                self.drawCentredString(A4[0] / 2, (10 - 3 * n) * mm, line)
            super().showPage()
        super().save()


def dev_services(ev: Evidence) -> tuple[bool, tuple[int, ...]]:
    """(whether a timestamp of the package comes from the development TSA, the development
    chain ids its anchors are on) — what the cover marks in both languages."""
    dev_tsa = any(
        t.token is not None and rt.is_dev_tsa_token(t.token) for t in ev.timestamps.values()
    )
    chains = sorted({a.chain_id for a in ev.anchors.values() if a.chain_id in rt.DEV_CHAIN_IDS})
    return dev_tsa, tuple(chains)


def _party(e: Event) -> tuple[str, str, str]:
    actor = e.body()["actor"]
    return (str(actor["name"] or actor["id"]), str(actor["org"] or ""), str(actor["role"] or ""))


def _seal_image(picture: bytes | None) -> Image | None:
    """The seal picture as a flowable, or None when there is none or it does not decode."""
    if not picture:
        return None
    try:
        reader = ImageReader(io.BytesIO(picture))
        w, h = reader.getSize()
    except Exception:  # a picture the registry holds but that does not decode: left out
        return None
    if w <= 0 or h <= 0:
        return None
    scale = _SEAL_SIZE / max(w, h)
    return Image(io.BytesIO(picture), width=w * scale, height=h * scale)


def draw_report(ev: Evidence, inputs: PackageInputs, facts: bytes | None) -> bytes:
    """The unsigned report PDF for ``ev`` with ``facts`` embedded as ``sealtrail-facts.json``
    (None: none, as reports made before the facts existed).

    Raises ValueError for an unknown ``inputs.language`` or ``inputs.timezone``, and
    MissingGlyphError when a string to draw has a character the font cannot draw."""
    lang = inputs.language
    if lang not in rt.LANGUAGES:
        raise ValueError(f"report language {lang!r}, want one of {', '.join(rt.LANGUAGES)}")
    tz: ZoneInfo = rt.zone(inputs.timezone)
    font_name, font = _font()
    st = _styles(font_name)

    def checked(text: object) -> str:
        s = str(text)
        fonts.check_glyphs("report text", s, font)
        return escape(s)

    def P(text: object, style: str = "p") -> Paragraph:
        return Paragraph(checked(text), st[style])

    def C(text: object) -> Paragraph:
        return Paragraph(checked(text), st["cell"])

    def T(key: str, **fmt: object) -> str:
        return rt.text(key, lang, **fmt)

    def when(stamp: str | None) -> str:
        return rt.local_time(stamp, tz)

    width = A4[0] - 30 * mm
    sel = ev.selection.to_json()
    if sel["kind"] == "stream":
        what = rt.pair(
            f"租户 {sel['tenant']} 的事件流“{sel['stream']}”",
            f"stream “{sel['stream']}” of tenant {sel['tenant']}",
            lang,
        )
    else:
        tenants = ", ".join(sel["tenants"])
        what = rt.pair(
            f"租户 {tenants} 中符合 {sel['filters']} 的事件",
            f"events of tenants {tenants} matching {sel['filters']}",
            lang,
        )
    count = rt.pair(
        f"共 {len(ev.events)} 个事件，日志序号 {ev.events[0].index}–{ev.events[-1].index}"
        + (f"（另有 {ev.unsealed} 个较新的事件尚未封存，未收入）" if ev.unsealed else ""),
        f"{len(ev.events)} events, log indices {ev.events[0].index}–{ev.events[-1].index}"
        + (f" ({ev.unsealed} newer events not yet sealed, not included)" if ev.unsealed else ""),
        lang,
    )
    facts_digest = hashlib.sha256(facts).hexdigest() if facts is not None else None

    # -- cover
    flow: list[Flowable] = [
        P(T("title"), "title"),
        P(T("subtitle"), "sub"),
        Spacer(1, 4 * mm),
    ]
    dev_tsa, dev_chains = dev_services(ev)
    if dev_tsa or dev_chains:
        lines = [T("dev")]
        if dev_tsa:
            lines.append(T("dev_tsa"))
        for chain in dev_chains:
            lines.append(T("dev_chain", chain=chain))
        flow += [Paragraph("<br/>".join(checked(x) for x in lines), st["warn"]), Spacer(1, 4 * mm)]
    who = ", ".join(f"{k} {v}" for k, v in sorted(inputs.created_by.items()))
    digest_note = rt.pair(
        "每页页脚印有嵌入本 PDF 的 sealtrail-facts.json 的 SHA-256 与目标检查点；证据包（ZIP）"
        "本身的摘要在报告放入包后才计算，故不能印在报告上。",
        "Every page's footer shows the SHA-256 of sealtrail-facts.json, embedded in this PDF, "
        "and the target checkpoint; the package's (ZIP's) own digest is computed after the "
        "report is in it, so it cannot be printed here.",
        lang,
    )
    cover = [
        [C(T("certified")), C(f"{what}; {count}")],
        [C(T("for")), C(who)],
        [C(T("operator")), C(ev.origin)],
        [C(T("ledger_key")), C(ev.verifier_key)],
        [C(T("made")), C(when(inputs.created_at))],
        [C(T("timezone")), C(inputs.timezone)],
        [C(T("digest_note")), C(digest_note)],
    ]
    flow.append(_table(cover, [0.22 * width, 0.78 * width], header=False))

    # -- the ceremony, by party
    times = {s: t.gen_time for s, t in ev.timestamps.items()}
    flow += [Spacer(1, 4 * mm), P(T("parties"), "h")]
    parties: dict[tuple[str, str, str], list[Event]] = {}
    for e in ev.events:
        parties.setdefault(_party(e), []).append(e)
    pictures = False
    for (name, org, role), evs in list(parties.items())[:MAX_PARTIES]:
        flow.append(P(" · ".join(x for x in (name, org, role) if x), "h3"))
        rows: list[list[Any]] = [
            [C(T(h)) for h in ("recorded", "event", "seal_docs", "existed_by")] + [C("")]
        ]
        for e in evs[:MAX_PARTY_EVENTS]:
            b = e.body()
            seal = b["attributes"].get("seal_id")
            picture = None
            if isinstance(seal, str) and inputs.seal_picture is not None:
                picture = _seal_image(inputs.seal_picture(e.tenant, seal))
                pictures = pictures or picture is not None
            docs = "; ".join(f"{d['name'] or ''} {d['sha256']}" for d in b["documents"])
            rows.append(
                [
                    C(when(b["recorded_at"])),
                    C(f"{b['type']} · {b['stream']} · #{e.index}"),
                    C(" ".join(x for x in (f"{T('seal')} {seal}" if seal else "", docs) if x)),
                    C(when(times[ev.witness[e.index]]) if ev.witness[e.index] in times
                      else T("not_stamped")),
                    picture or "",
                ]
            )  # fmt: skip
        if len(evs) > MAX_PARTY_EVENTS:
            rows.append([C("…"), C(T("more_events", n=len(evs) - MAX_PARTY_EVENTS)), "", "", ""])
        flow.append(_table(rows, [w * width for w in (0.19, 0.25, 0.3, 0.19, 0.07)]))
    if len(parties) > MAX_PARTIES:
        left = sum(len(v) for v in list(parties.values())[MAX_PARTIES:])
        flow.append(P(T("more_events", n=left)))
    if pictures:
        flow.append(P(T("seal_picture")))

    # -- every event
    flow += [Spacer(1, 4 * mm), P(T("timeline"), "h")]
    events = list(ev.events)
    shown = events
    if len(events) > TIMELINE_HEAD + TIMELINE_TAIL:
        shown = events[:TIMELINE_HEAD] + events[-TIMELINE_TAIL:]
    rows = [[C(T(h)) for h in ("n", "recorded", "event", "who", "seal_docs", "existed_by")]]
    for i, e in enumerate(shown):
        if i == TIMELINE_HEAD and len(shown) < len(events):
            rows.append([C("…"), C(T("more_events", n=len(events) - len(shown))), "", "", "", ""])
        b = e.body()
        seal = b["attributes"].get("seal_id")
        docs = "; ".join(f"{d['name'] or ''} {d['sha256'][:16]}…" for d in b["documents"])
        rows.append(
            [
                C(e.index),
                C(when(b["recorded_at"])),
                C(f"{b['type']} · {b['stream']}"),
                C(" / ".join(x for x in _party(e) if x)),
                C(" ".join(x for x in (f"{T('seal')} {seal}" if seal else "", docs) if x)),
                C(when(times[ev.witness[e.index]]) if ev.witness[e.index] in times
                  else T("not_stamped")),
            ]
        )  # fmt: skip
    flow.append(_table(rows, [w * width for w in (0.07, 0.17, 0.2, 0.2, 0.18, 0.18)]))

    # -- documents
    flow += [Spacer(1, 4 * mm), P(T("documents"), "h")]
    fps = fingerprints(ev)
    flow += [P(d) for d in fps] or [P(T("no_documents"))]

    # -- checkpoints, timestamps, anchors, and how to check them
    flow += [Spacer(1, 4 * mm), P(T("checkpoints"), "h")]
    crow: list[list[Any]] = [[C(T(h)) for h in ("size", "root", "timestamp", "anchor")]]
    for c in ev.checkpoints:
        ts = ev.timestamps.get(c.size)
        a = ev.anchors.get(c.size)
        anchor = ev.anchor_status.get(c.size, "off")
        if a is not None:
            anchor = (
                f"{a.status}: chain {a.chain_id}, block {a.block_number}, "
                f"tx 0x{(a.tx_hash or b'').hex()}, contract {a.contract}"
            )
        stamp = f"{when(ts.gen_time)} serial {ts.serial} {ts.tsa}" if ts else T("pending")
        crow.append([C(c.size), C(c.root.hex()), C(stamp), C(anchor)])
    flow.append(_table(crow, [w * width for w in (0.08, 0.32, 0.3, 0.3)]))
    flow.append(P(T("target", size=ev.target.size, reason=ev.target_reason)))
    flow += [P(T("howto"), "h3")] + [
        P("· " + T(k)) for k in ("howto_checkpoint", "howto_tst", "howto_anchor", "howto_tool")
    ]

    # -- what this proves, and what not
    flow += [Spacer(1, 4 * mm), P(T("proves"), "h"), P(T("not_advice"))]
    prow: list[list[Any]] = [
        [C(rt.pair(zh, en, lang)) for zh, en in (("依据", "Provision"), ("证明内容", "Shown"))]
    ]
    for law, zh, en in rt.PROVES:
        prow.append([C(law), C(rt.pair(zh, en, lang))])
    flow.append(_table(prow, [0.3 * width, 0.7 * width]))
    flow += [Spacer(1, 3 * mm), P(T("not_proven"), "h3")]
    flow += [P("· " + rt.pair(zh, en, lang)) for zh, en in _not_proven(ev)]

    if inputs.portal_url and fps:
        url = f"{inputs.portal_url.rstrip('/')}/portal/#/fingerprint/{fps[0]}"
        flow += [Spacer(1, 3 * mm), P(f"{T('portal')}: {url}"), _qr(url)]

    def footer(page: int, total: int) -> list[str]:
        lines = [f"{T('page', x=page, y=total)} · {T('checkpoint_short')} {ev.target.size}"]
        if facts_digest is not None:
            lines.append(f"{T('facts_digest')} {facts_digest}")
        for line in lines:
            fonts.check_glyphs("report footer", line, font)
        return lines

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=17 * mm,
        title="Sealtrail certificate of evidence / 电子证据证书",
        author="Sealtrail",
        invariant=1,
    )
    maker = partial(_FooterCanvas, footer=footer, font=font_name)
    if facts is None:
        doc.build(flow, canvasmaker=maker)
    else:
        doc.build(flow, onFirstPage=_attach(facts), canvasmaker=maker)
    return buf.getvalue()


def _not_proven(ev: Evidence) -> list[tuple[str, str]]:
    """What this package does not prove: the completeness results of its map proofs
    (docs/FORMAT.md §8.9), pending stamps and anchors, and what no package proves."""
    out: list[tuple[str, str]] = []
    if ev.maps is None:
        out.append(
            (
                f"完整性：检查点 {ev.target.size} 早于可验证映射，本包不能证明收齐了全部事件。",
                f"Completeness: checkpoint {ev.target.size} predates the verifiable map; this "
                "package cannot prove it holds every event.",
            )
        )
    else:
        if ev.selection.kind != "stream":
            out.append(
                (
                    "完整性：查询导出的证据包不证明任何事件流完整，只证明其文件的事件。",
                    "Completeness: a query package proves no stream complete, only its "
                    "documents' events.",
                )
            )
        unproven = len(fingerprints(ev)) - sum(1 for d in ev.maps.documents if d.members)
        if unproven > 0:
            out.append(
                (
                    f"完整性：有 {unproven} 个文件的全部事件未在本包中逐一列出。",
                    f"Completeness: for {unproven} documents, not every event naming them is "
                    "listed in this package.",
                )
            )
    if ev.unsealed:
        out.append(
            (
                f"{ev.unsealed} 个较新的事件尚未封存，不在本包中。",
                f"{ev.unsealed} newer events were not yet sealed and are not in this package.",
            )
        )
    unstamped = [c.size for c in ev.checkpoints if c.size not in ev.timestamps]
    if unstamped:
        out.append(
            (
                f"检查点 {unstamped} 尚无 RFC 3161 时间戳。",
                f"Checkpoints {unstamped} have no RFC 3161 timestamp yet.",
            )
        )
    if not any(a.status == "final" for a in ev.anchors.values()):
        out.append(
            (
                "本包中没有已最终确认的区块链锚定。",
                "No checkpoint of this package has a final blockchain anchor.",
            )
        )
    return out + list(rt.NEVER_PROVEN)
