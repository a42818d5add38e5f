"""Build a package from a real ledger, verify it: every check passes (anchors: not checked,
as no chain is configured — never passed), with independent tools agreeing."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from sealtrail.core.event import parse_event_input
from sealtrail.export.evidence import Selection
from sealtrail.export.package import package_files
from sealtrail.export.report_pdf import facts_of, render_report
from sealtrail.ledger.store import EventQuery
from sealtrail.verifier import layout
from sealtrail.verifier.results import Overall, Status
from sealtrail.verifier.verify import verify_package

from ..service import SEALTRAIL, env_for
from .conftest import STREAM, Built
from .ledgerkit import MASTER_KEY, run


def test_round_trip_all_passed_except_anchors(built: Built) -> None:
    rep = verify_package(built.data, trust_roots=built.roots, ledger_key=built.ledger_key)
    statuses = {c.id: c.status for c in rep.checks}
    not_checked = {k for k, v in statuses.items() if v is Status.NOT_CHECKED}
    assert not rep.failed(), rep.to_text()
    assert not_checked == {"anchors.receipts", "anchors.chain"}, rep.to_text()
    assert rep.status is Overall.INCOMPLETE
    assert rep.ok
    assert rep.check("anchors.receipts").reason == "not_anchored"
    assert rep.check("events.inclusion").count == 5
    assert rep.check("checkpoints.consistency").count == 2
    assert [e.type for e in rep.timeline] == ["initiate", "approve", "sign", "view", "download"]
    assert all(e.existed_by for e in rep.timeline)
    assert rep.timeline[0].actor == "李雷"


def test_unpinned_roots_are_not_checked_never_passed(built: Built) -> None:
    rep = verify_package(built.data)
    assert rep.check("trust.roots").status is Status.NOT_CHECKED
    assert rep.check("trust.ledger_key").status is Status.NOT_CHECKED
    assert rep.status is Overall.INCOMPLETE


def test_wrong_pinned_ledger_key_fails(built: Built) -> None:
    from sealtrail.core.note import NoteSigner

    other = NoteSigner.generate(built.kit.ledger.origin).verifier().vkey
    rep = verify_package(built.data, ledger_key=other)
    assert rep.check("trust.ledger_key").status is Status.FAILED


def test_package_is_deterministic_for_the_same_inputs(built: Built) -> None:
    ev = built.evidence
    inputs = built.kit.inputs({built.fingerprint: b"%PDF-1.7 the contract, signed\n"})
    assert render_report(ev, inputs) == render_report(ev, inputs)
    report = zipfile.ZipFile(io.BytesIO(built.data)).read("report.pdf")
    a = layout.zip_bytes(package_files(ev, inputs, report))
    b = layout.zip_bytes(package_files(ev, inputs, report))
    assert a == b == built.data
    names = zipfile.ZipFile(io.BytesIO(a)).namelist()
    assert names == sorted(names, key=str.encode)
    assert {i.date_time for i in zipfile.ZipFile(io.BytesIO(a)).infolist()} == {
        (1980, 1, 1, 0, 0, 0)
    }


def test_openssl_ts_verify_accepts_every_token(built: Built, tmp_path: Path) -> None:
    z = zipfile.ZipFile(io.BytesIO(built.data))
    z.extractall(tmp_path)
    ca = tmp_path / "certs/tsa-roots.pem"
    tokens = sorted((tmp_path / "checkpoints").glob("*.tst"))
    assert len(tokens) == 3
    for tst in tokens:
        note = tst.with_suffix(".note")
        r = subprocess.run(
            ["openssl", "ts", "-verify", "-data", note, "-in", tst, "-token_in", "-CAfile", ca],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert "Verification: OK" in r.stdout, r.stderr


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler's pdfsig is not installed")
def test_pdfsig_finds_a_valid_signature_on_the_report(built: Built, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(zipfile.ZipFile(io.BytesIO(built.data)).read("report.pdf"))
    out = subprocess.run(["pdfsig", pdf], capture_output=True, text=True, check=False).stdout
    assert "Signature is Valid" in out, out
    assert "Sealtrail service seal" in out


_HAS_PDF_TOOLS = all(shutil.which(t) for t in ("pdfsig", "pdfdetach", "certutil"))


@pytest.mark.parametrize("name", ["VERIFY.md", "VERIFY.zh-CN.md"])
def test_hand_check_commands_of_verify_md_succeed(built: Built, tmp_path: Path, name: str) -> None:
    (tmp_path / "downloaded-name-1a2b3c.zip").write_bytes(built.data)
    text = zipfile.ZipFile(io.BytesIO(built.data)).read(name).decode()
    blocks = [b.split("```", 1)[0] for b in text.split("```sh\n")[1:]]
    skip: tuple[str, ...] = ("RPC=", "curl", "sha256sum contract")
    if not _HAS_PDF_TOOLS:  # the facts as pdfdetach would save them; no pdfsig steps
        skip += ("pdfdetach", "pdfsig", "certutil", "rm -rf nssdb")
    script = "\n".join(
        line for b in blocks for line in b.splitlines() if not line.startswith(skip)
    )  # fmt: skip
    if not _HAS_PDF_TOOLS:
        script = script.replace("cd pkg", "cd pkg; cp ../facts.json sealtrail-facts.json")
        (tmp_path / "facts.json").write_bytes(facts_of(built.evidence))
    r = subprocess.run(["bash", "-e", "-c", script, "verify", "downloaded-name-1a2b3c.zip"],
                       cwd=tmp_path, capture_output=True, text=True, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "files OK" in r.stdout
    assert "Signature Verified Successfully" in r.stdout
    assert "stream chains OK" in r.stdout
    assert "all proofs OK" in r.stdout
    assert r.stdout.count("Verification: OK") == 3
    assert "all 5 events here" in r.stdout
    assert "map proofs OK" in r.stdout
    assert "report facts OK" in r.stdout
    leaf = built.evidence.events[0].leaf_hash.hex()
    assert f"{leaf}  -" in r.stdout
    if _HAS_PDF_TOOLS:
        assert "Signature is Valid" in r.stdout
        assert "Certificate is Trusted" in r.stdout, r.stdout


def test_verify_md_chain_check_catches_a_reordered_stream(built: Built, tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    zipfile.ZipFile(io.BytesIO(built.data)).extractall(pkg)
    text = (pkg / "VERIFY.md").read_text()
    block = next(b.split("```", 1)[0] for b in text.split("```sh\n")[1:] if 'e["prev"]' in b)
    streams = json.loads((pkg / "streams.json").read_text())
    streams[0]["events"][1:3] = streams[0]["events"][2:0:-1]  # swap two events
    (pkg / "streams.json").write_text(json.dumps(streams))
    r = subprocess.run(["bash", "-e", "-c", block], cwd=pkg, capture_output=True, text=True,
                       check=False)  # fmt: skip
    assert "CHAIN BROKEN" in r.stdout, r.stdout + r.stderr
    assert "chain links FAILED" in r.stdout


def test_query_package_reports_partial_streams_not_checked(built: Built) -> None:
    kit = built.kit
    sel = Selection.of_query(EventQuery(("sub1", "other"), type="view"), {"type": "view"})
    data, ev = run(kit.package(sel))
    assert {e.type for e in ev.events} == {"view"}
    rep = verify_package(data, trust_roots=built.roots)
    assert not rep.failed(), rep.to_text()
    assert rep.check("streams.chains").reason == "partial_streams"


def test_unsealed_events_are_left_out_and_counted(built: Built, tmp_path: Path) -> None:
    kit = built.kit
    kit.ledger.append("sub1", [parse_event_input(
        {"stream": "contract:late", "type": "view", "actor": {"id": "u"}})])  # fmt: skip
    kit.seal_checkpoint()
    kit.ledger.append("sub1", [parse_event_input(
        {"stream": "contract:late", "type": "view", "actor": {"id": "u"}})])  # fmt: skip
    data, ev = run(kit.package(Selection.of_stream("sub1", "contract:late")))
    assert len(ev.events) == 1
    assert ev.unsealed == 1
    rep = verify_package(data, trust_roots=built.roots)
    assert rep.coverage["unsealed"] == 1
    assert rep.check("timestamps.tokens").status is Status.NOT_CHECKED  # new checkpoint unstamped


def test_cli_export_then_verify_after_the_data_directory_is_deleted(
    built: Built, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(built.kit.data_dir, data)
    shutil.copytree(built.kit.tsa_dir, data / "devtsa")
    out = tmp_path / "package.zip"
    env = env_for(seal_key=MASTER_KEY.hex())
    r = subprocess.run(
        [SEALTRAIL, "--data-dir", str(data), "export", "--stream", STREAM, "--tenant", "sub1",
         "-o", str(out), "--json"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "export: writing" in r.stderr  # progress on stderr
    exported = json.loads(r.stdout)
    assert exported["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    roots = tmp_path / "roots.pem"
    roots.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in built.roots))
    vkey = (data / "ledger.pub").read_text().strip()
    shutil.rmtree(data)  # no database, no keys: the package alone
    args = [SEALTRAIL, "verify", str(out), "--trust-root", str(roots), "--ledger-key", vkey]
    # nothing failed, but the checkpoints were never anchored: incomplete, exit 8 — a script
    # can tell it from a package whose every claim was checked
    r = subprocess.run([*args, "--json"], capture_output=True, text=True, check=False,
                       cwd=tmp_path, env=env)  # fmt: skip
    assert r.returncode == 8, r.stdout + r.stderr
    assert json.loads(r.stdout)["verdict"] == "incomplete"
    assert r.stderr.strip().splitlines() == [
        "sealtrail: error: incomplete: not checked: anchors.receipts, anchors.chain"
    ]
    # --offline accepts only the chain lookup: a checkpoint never anchored is still incomplete
    r = subprocess.run([*args, "--offline"], capture_output=True, text=True, check=False,
                       cwd=tmp_path, env=env)  # fmt: skip
    assert r.returncode == 8, r.stdout + r.stderr
    assert "not checked: anchors.receipts" in r.stderr
    # a notary whose policy accepts no anchoring at all says so, and gets exit 0
    r = subprocess.run([*args, "--accept", "anchors.", "--json"], capture_output=True,
                       text=True, check=False, cwd=tmp_path, env=env)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert (report["status"], report["verdict"]) == ("incomplete", "passed")
    assert report["policy"] == {"accept": ["anchors."]}
    assert report["package_sha256"] == exported["sha256"]
    failed = [c for c in report["checks"] if c["status"] == "failed"]
    assert not failed
    assert report["coverage"]["events"] == 5


def test_cli_verify_exits_1_with_one_line_error_on_a_tampered_package(
    built: Built, tmp_path: Path
) -> None:
    files = layout.read_zip(built.data)
    files["streams.json"] = files["streams.json"].replace(b"sub1", b"sub2")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(layout.zip_bytes(files))
    r = subprocess.run([SEALTRAIL, "verify", str(bad)], capture_output=True, text=True,
                       check=False)  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "sealtrail: error: manifest.files failed: streams.json: SHA-256 differs from the manifest"
    ]
    assert "FAIL  manifest.files" in r.stdout
