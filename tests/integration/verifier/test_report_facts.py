"""report.pdf's machine-readable facts (FORMAT.md §8.10) against the package (issue 14).

The forger is the operator: it holds the service seal's key, so it can draw and seal a report
of its own; what it cannot do is make that report list anything but what the package proves
(``report.facts``), nor change the facts after sealing without the difference showing."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import shutil
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from sealtrail.anchoring.devtsa import start_tsa
from sealtrail.core.canonical import canonicalize
from sealtrail.core.note import NoteVerifier, verify_checkpoint
from sealtrail.core.vmap import map_root_of
from sealtrail.export.report_pdf import draw_report, facts_of, render_report
from sealtrail.export.service_seal import seal_report
from sealtrail.verifier import layout, report_facts
from sealtrail.verifier.results import Overall, Policy, Status, VerificationReport
from sealtrail.verifier.verify import verify_package

from ..service import SEALTRAIL
from .conftest import Built
from .ledgerkit import Kit, run

ANCHORS_ACCEPTED = Policy(accept=("anchors.",))  # no chain in these tests


def _reseal(kit: Kit, pdf: bytes) -> bytes:
    """``pdf`` sealed with the service seal, as the operator (who holds its key) can."""

    async def go() -> bytes:
        running = await start_tsa(kit.tsa_dir)
        try:
            return await seal_report(pdf, kit.seal, [running.url], [kit.tsa_ca])
        finally:
            await running.runner.cleanup()

    result: bytes = run(go())
    return result


def _with_report(built: Built, report: bytes) -> bytes:
    """The package with ``report.pdf`` replaced, the manifest's hash of it rewritten."""
    files = layout.read_zip(built.data)
    files[layout.REPORT_PDF] = report
    m = json.loads(files[layout.MANIFEST])
    m["files"][layout.REPORT_PDF] = hashlib.sha256(report).hexdigest()
    files[layout.MANIFEST] = canonicalize(m)
    return layout.zip_bytes(files)


def _verify(built: Built, data: bytes) -> VerificationReport:
    return verify_package(data, trust_roots=built.roots, ledger_key=built.ledger_key)


def _report(built: Built) -> bytes:
    return layout.read_zip(built.data)[layout.REPORT_PDF]


def _facts(built: Built) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(facts_of(built.evidence))
    return obj


def _forged(built: Built, facts: bytes | None) -> VerificationReport:
    """The package whose report is re-drawn with ``facts`` and re-sealed by the operator."""
    pdf = draw_report(built.evidence, built.kit.inputs(), facts)
    rep = _verify(built, _with_report(built, _reseal(built.kit, pdf)))
    assert rep.check("report.signature").status is Status.PASSED, rep.to_text()
    return rep


def test_genuine_package_passes_report_facts(built: Built) -> None:
    rep = _verify(built, built.data)
    c = rep.check("report.facts")
    assert c.status is Status.PASSED, rep.to_text()
    assert c.detail == "the report lists the package's 5 events, 1 fingerprints and checkpoint 7"
    assert rep.verdict(ANCHORS_ACCEPTED) is Overall.PASSED


def test_facts_sit_in_the_signed_revision_and_are_canonical(built: Built) -> None:
    report = _report(built)
    cap = report_facts.facts_cap(5, 1)
    found = report_facts.embedded_facts(report, cap)
    assert found.signed == found.latest == facts_of(built.evidence)
    assert found.revision is not None
    assert found.revision >= 0
    assert canonicalize(json.loads(found.signed)) == found.signed
    facts = _facts(built)
    ev = built.evidence
    note = verify_checkpoint(ev.target.note, NoteVerifier.from_vkey(ev.verifier_key))
    map_root = map_root_of(note.extensions)
    assert map_root is not None  # the SQLite ledger seals its map into every checkpoint
    assert facts["target"] == {"size": 7, "root": ev.target.root.hex(), "map_root": map_root.hex()}
    assert [e["index"] for e in facts["events"]] == [e.index for e in ev.events]
    assert facts["events"][0]["leaf_hash"] == ev.events[0].leaf_hash.hex()
    assert facts["documents"] == [built.fingerprint]
    assert facts["selection"] == {"kind": "stream", "tenant": "sub1", "stream": ev.events[0].stream}
    assert facts["log"] == {"origin": ev.origin, "verifier_key": ev.verifier_key}
    # drawing is deterministic, facts included
    assert render_report(ev, built.kit.inputs()) == render_report(ev, built.kit.inputs())


@pytest.mark.skipif(shutil.which("pdfdetach") is None, reason="poppler's pdfdetach is missing")
def test_pdfdetach_extracts_the_same_facts(built: Built, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(_report(built))
    listed = subprocess.run(["pdfdetach", "-list", pdf], capture_output=True, text=True,
                            check=True).stdout  # fmt: skip
    assert "1: sealtrail-facts.json" in listed
    out = tmp_path / "facts.json"
    subprocess.run(["pdfdetach", "-savefile", "sealtrail-facts.json", "-o", out, pdf], check=True)
    assert out.read_bytes() == facts_of(built.evidence)


def test_resealed_report_listing_one_event_fewer_fails(built: Built) -> None:
    fewer = dataclasses.replace(built.evidence, events=built.evidence.events[:-1])
    pdf = render_report(fewer, built.kit.inputs())
    rep = _verify(built, _with_report(built, _reseal(built.kit, pdf)))
    assert rep.check("report.signature").status is Status.PASSED  # the operator's own seal
    c = rep.check("report.facts")
    assert c.status is Status.FAILED, rep.to_text()
    assert c.reason == "report_differs"
    assert "the package holds event 6, which the report does not list" in c.detail
    assert rep.status is Overall.FAILED


def test_resealed_report_with_another_event_leaf_hash_fails(built: Built) -> None:
    facts = _facts(built)
    facts["events"][2]["leaf_hash"] = "00" * 32
    c = _forged(built, canonicalize(facts)).check("report.facts")
    assert c.status is Status.FAILED
    assert "event 4 with leaf hash " + "00" * 32 in c.detail


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        (("target", "root"), "ab" * 32, "target checkpoint root is " + "ab" * 32),
        (("target", "size"), 5, "target checkpoint size is 5, the package proves 7"),
        (("target", "map_root"), "cd" * 32, "target checkpoint map_root is " + "cd" * 32),
        (("log", "origin"), "other.example/log", "log origin is 'other.example/log'"),
        (("selection", "stream"), "contract:other", "selection differs"),
        (("documents",), [], "the package's events name document fingerprint"),
        (("coverage", "unsealed"), 1, "coverage unsealed is 1, the package's is 0"),
    ],
)
def test_resealed_report_with_a_wrong_fact_fails_naming_it(
    built: Built, path: tuple[str, ...], value: Any, words: str
) -> None:
    facts = _facts(built)
    obj = facts
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value
    c = _forged(built, canonicalize(facts)).check("report.facts")
    assert c.status is Status.FAILED
    assert c.reason == "report_differs"
    assert words in c.detail, c.detail


def _append_update(report: bytes, facts: bytes, *, replace: bool) -> bytes:
    """An incremental update after the seal: facts embedded anew (``replace``: the name tree's
    entry re-pointed to them; else a plain pyHanko embedding)."""
    w = IncrementalPdfFileWriter(io.BytesIO(report), strict=False)
    stream = embed.EmbeddedFileObject.from_file_data(w, facts, mime_type="application/json")
    spec = embed.FileSpec(
        file_spec_string=report_facts.FACTS_NAME,
        file_name=report_facts.FACTS_NAME,
        embedded_data=stream,
        af_relationship=generic.pdf_name("/Data"),
    )
    if replace:
        names = w.root["/Names"]
        names["/EmbeddedFiles"] = generic.DictionaryObject(
            {
                generic.pdf_name("/Names"): generic.ArrayObject(
                    [
                        generic.pdf_string(report_facts.FACTS_NAME),
                        w.add_object(spec.as_pdf_object()),
                    ]
                )
            }
        )
        w.update_container(names)
    else:
        embed.embed_file(w, spec)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def test_facts_replaced_by_an_update_after_sealing_fail(built: Built) -> None:
    facts = _facts(built)
    facts["events"] = facts["events"][:-1]  # the forger's wish
    forged = _append_update(_report(built), canonicalize(facts), replace=True)
    assert report_facts.embedded_facts(forged, 10**6).latest == canonicalize(facts)
    rep = _verify(built, _with_report(built, forged))
    c = rep.check("report.facts")
    assert c.status is Status.FAILED, rep.to_text()
    assert "replaced or removed by an update after the report's seal" in c.detail
    assert rep.status is Overall.FAILED


def test_facts_added_by_an_update_to_a_report_without_them_fail(built: Built) -> None:
    old = _reseal(built.kit, draw_report(built.evidence, built.kit.inputs(), None))
    forged = _append_update(old, facts_of(built.evidence), replace=False)
    found = report_facts.embedded_facts(forged, 10**6)
    assert found.signed is None
    assert found.latest == facts_of(built.evidence)
    rep = _verify(built, _with_report(built, forged))
    c = rep.check("report.facts")
    assert c.status is Status.FAILED, rep.to_text()
    assert "not in the revision the report's seal signs" in c.detail


def test_old_report_without_facts_is_not_checked_and_not_accepted(
    built: Built, tmp_path: Path
) -> None:
    rep = _forged(built, None)
    c = rep.check("report.facts")
    assert c.status is Status.NOT_CHECKED
    assert c.reason == "no_facts"
    assert "predates machine-readable facts" in c.detail
    assert rep.ok
    assert rep.verdict(ANCHORS_ACCEPTED) is Overall.INCOMPLETE
    pkg = tmp_path / "old.zip"
    pdf = draw_report(built.evidence, built.kit.inputs(), None)
    pkg.write_bytes(_with_report(built, _reseal(built.kit, pdf)))
    roots = tmp_path / "roots.pem"
    roots.write_bytes(built.kit.tsa_ca_pem + built.kit.seal.pem())
    r = subprocess.run(
        [SEALTRAIL, "verify", pkg, "--trust-root", roots, "--ledger-key", built.ledger_key,
         "--offline"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert r.returncode == 8, r.stdout + r.stderr
    assert "report.facts" in r.stdout


def _typed(built: Built, **changes: Any) -> bytes:
    """The genuine facts with top-level members changed (types the parser must refuse)."""
    return json.dumps({**_facts(built), **changes}).encode()


@pytest.mark.parametrize(
    ("make", "words"),
    [
        pytest.param(lambda b: b"not json", "invalid JSON", id="not-json"),
        pytest.param(lambda b: b"[" * 20_000 + b"]" * 20_000, "nesting", id="deep"),
        pytest.param(lambda b: b'{"x":"' + b"a" * 400_000 + b'"}', "larger than", id="over-cap"),
        pytest.param(lambda b: b" " * 30_000_000, "larger than", id="inflates-past-the-cap"),
        pytest.param(
            lambda b: b'{"version":1,"version":1}', "duplicate object key", id="duplicate-key"
        ),
        pytest.param(lambda b: _typed(b, version=True), "version is not 1", id="bool-version"),
        pytest.param(lambda b: _typed(b, events="all"), "events is not", id="events-string"),
        pytest.param(lambda b: _typed(b, target=[7]), "target is not an object", id="target-list"),
        pytest.param(lambda b: _typed(b, extra=1), "the facts has keys", id="extra-key"),
    ],
)
def test_malformed_facts_fail_without_an_exception(built: Built, make: Any, words: str) -> None:
    rep = _forged(built, make(built))
    c = rep.check("report.facts")
    assert c.status is Status.FAILED, rep.to_text()
    assert c.reason == "malformed"
    assert "sealtrail-facts.json" in c.detail
    assert words in c.detail, c.detail


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda f: f["events"].reverse(), "events[1].index is out of order"),
        (lambda f: f["events"][0].update(index=-1), "events[0].index is out of order"),
        (lambda f: f["events"][0].update(leaf_hash="AB" * 32), "events[0].leaf_hash"),
        (lambda f: f["target"].update(size=True), "target.size"),
        (lambda f: f["documents"].append(f["documents"][0]), "documents[1] is out of order"),
        (lambda f: f.update(version=2), "version is not 1"),
        (lambda f: f["coverage"].pop("unsealed"), "coverage has keys"),
        (lambda f: f.update(events=[]), "events is not a non-empty array"),
    ],
)
def test_facts_of_the_wrong_shape_are_malformed(built: Built, mutate: Any, words: str) -> None:
    """Parsing alone (no PDF): every member's type, range and order is checked."""
    facts = _facts(built)
    mutate(facts)
    with pytest.raises(report_facts.FactsUnreadable, match=words.replace("[", r"\[")):
        report_facts.parse_facts(json.dumps(facts).encode(), 10**6)


def test_true_is_not_one_in_the_selection(built: Built) -> None:
    facts = _facts(built)
    want = _facts(built)
    facts["selection"]["x"] = True
    want["selection"]["x"] = 1
    assert "selection differs" in str(report_facts.first_difference(facts, want))
    assert report_facts.first_difference(want, json.loads(json.dumps(want))) is None


def _before_sealing(built: Built, change: Any) -> VerificationReport:
    """The report drawn with its genuine facts, then ``change(writer)`` made in an incremental
    update *before* the operator seals it (so the seal covers the hostile structure)."""
    pdf = render_report(built.evidence, built.kit.inputs())
    w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    change(w)
    out = io.BytesIO()
    w.write(out)
    return _verify(built, _with_report(built, _reseal(built.kit, out.getvalue())))


def _tree(w: IncrementalPdfFileWriter) -> Any:
    return w.root["/Names"]["/EmbeddedFiles"]


def _duplicate_entry(w: IncrementalPdfFileWriter) -> None:
    arr = _tree(w)["/Names"]
    arr.append(generic.pdf_string(report_facts.FACTS_NAME))
    arr.append(arr.raw_get(1))
    w.update_container(w.root["/Names"])


def _cyclic_kids(w: IncrementalPdfFileWriter) -> None:
    names = w.root["/Names"]
    node = generic.DictionaryObject()
    ref = w.add_object(node)
    node[generic.pdf_name("/Kids")] = generic.ArrayObject([ref])
    names[generic.pdf_name("/EmbeddedFiles")] = ref
    w.update_container(names)


def _hex_filter(w: IncrementalPdfFileWriter) -> None:
    spec = _tree(w)["/Names"][1]
    data = _embedded_data(w)
    stream = generic.StreamObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/EmbeddedFile"),
            generic.pdf_name("/Filter"): generic.pdf_name("/ASCIIHexDecode"),
        },
        encoded_data=data.hex().encode() + b">",
    )
    ref = w.add_object(stream)
    spec["/EF"] = generic.DictionaryObject({generic.pdf_name("/F"): ref})
    w.update_container(spec)


def _second_stream(w: IncrementalPdfFileWriter, encoded: bytes) -> Any:
    stream = generic.StreamObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/EmbeddedFile"),
            generic.pdf_name("/Filter"): generic.pdf_name("/FlateDecode"),
        },
        encoded_data=encoded,
    )
    return w.add_object(stream)


def _split_ef(w: IncrementalPdfFileWriter) -> None:
    """/EF /F keeps the genuine facts, /UF (what some readers show) gets others."""
    spec = _tree(w)["/Names"][1]
    other = _embedded_data(w).replace(b'"unsealed":0', b'"unsealed":9')
    spec["/EF"][generic.pdf_name("/UF")] = _second_stream(w, zlib.compress(other))
    w.update_container(spec)


def _truncated_deflate(w: IncrementalPdfFileWriter) -> None:
    spec = _tree(w)["/Names"][1]
    ref = _second_stream(w, zlib.compress(_embedded_data(w))[:-6])
    spec["/EF"] = generic.DictionaryObject({generic.pdf_name("/F"): ref})
    w.update_container(spec)


def _embedded_data(w: IncrementalPdfFileWriter) -> bytes:
    spec = _tree(w)["/Names"][1]
    data: bytes = spec["/EF"]["/F"].data
    return data


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_duplicate_entry, "2 embedded files are named sealtrail-facts.json"),
        (_cyclic_kids, "too large or too deep"),
        (_hex_filter, "is not supported"),
        (_split_ef, "/EF /F and /UF streams differ"),
        (_truncated_deflate, "truncated or trailing deflate data"),
    ],
)
def test_hostile_embedding_under_the_seal_fails(built: Built, change: Any, words: str) -> None:
    rep = _before_sealing(built, change)
    assert rep.check("report.signature").status is Status.PASSED, rep.to_text()
    c = rep.check("report.facts")
    assert c.status is Status.FAILED, rep.to_text()
    assert c.reason == "malformed"
    assert words in c.detail, c.detail


def test_an_unsealed_report_with_matching_facts_is_blocked_never_passed(built: Built) -> None:
    report = _report(built)
    # a byte the seal signs, outside the facts: the description of their file specification
    broken = report.replace(b"What this report lists", b"What this report liste", 1)
    assert broken != report
    rep = _verify(built, _with_report(built, broken))
    assert rep.check("report.signature").status is Status.FAILED
    c = rep.check("report.facts")
    assert c.status is Status.NOT_CHECKED, rep.to_text()
    assert c.reason == "blocked"


def test_the_hand_check_of_verify_md_finds_the_difference(built: Built, tmp_path: Path) -> None:
    from sealtrail.export.handcheck import _FACTS_SCRIPT

    fewer = dataclasses.replace(built.evidence, events=built.evidence.events[:-1])
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    for name, data in layout.read_zip(built.data).items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_bytes(data)
    for facts, want in ((facts_of(built.evidence), "report facts OK"),
                        (facts_of(fewer), "report facts DIFFER")):  # fmt: skip
        (pkg / "sealtrail-facts.json").write_bytes(facts)
        r = subprocess.run(["bash", "-e", "-c", _FACTS_SCRIPT], cwd=pkg, capture_output=True,
                           text=True, check=True)  # fmt: skip
        assert want in r.stdout, r.stdout + r.stderr
    assert "DIFFERS: events" in r.stdout


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler's pdftoppm is missing")
def test_the_facts_change_nothing_visible_but_the_footer_digest(
    built: Built, tmp_path: Path
) -> None:
    pages = []
    facts = facts_of(built.evidence)
    for n, f in enumerate((None, facts)):
        pdf = tmp_path / f"r{n}.pdf"
        pdf.write_bytes(draw_report(built.evidence, built.kit.inputs(), f))
        # A4 at 50 dpi is 413 x 585 pixels; the footer is the bottom 17 mm (33 pixels)
        crop = ["-x", "0", "-y", "0", "-W", "413", "-H", "550"]
        subprocess.run(["pdftoppm", "-png", "-r", "50", *crop, pdf, tmp_path / f"p{n}"],
                       check=True)  # fmt: skip
        pages.append(sorted(p.read_bytes() for p in tmp_path.glob(f"p{n}*.png")))
    assert pages[0] == pages[1]
    assert len(pages[0]) >= 1
    text = subprocess.run(["pdftotext", tmp_path / "r1.pdf", "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    digest = hashlib.sha256(facts).hexdigest()
    assert text.count(digest) == len(pages[1])  # on every page
