"""``sealtrail.verifier.Verifier``: trust material pinned once, each purpose apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealtrail.core.errors import NoteError
from sealtrail.core.note import NoteSigner
from sealtrail.verifier import Status, Verifier

from .conftest import Built


def test_fully_pinned_verifier_passes_every_trust_check(built: Built, tmp_path: Path) -> None:
    v = Verifier(
        ledger_keys=[built.ledger_key],
        tsa_roots=[built.kit.tsa_ca],
        seal_roots=[built.kit.seal.ca],
    )
    assert v.pinned
    path = tmp_path / "package.zip"
    path.write_bytes(built.data)
    for source in (built.data, path, str(path)):
        report = v.verify(source)
        assert not report.failed()
        for cid in ("trust.ledger_key", "trust.roots", "report.signature"):
            assert report.check(cid).status is Status.PASSED


def test_unpinned_seal_roots_are_reported_not_checked(built: Built) -> None:
    report = Verifier(ledger_keys=[built.ledger_key], tsa_roots=[built.kit.tsa_ca]).verify(
        built.data
    )
    roots = report.check("trust.roots")
    assert roots.status is Status.NOT_CHECKED
    assert roots.detail.startswith("seal roots taken from the package")
    assert not report.failed()


def test_seal_roots_that_do_not_reach_the_seal_fail_the_report(built: Built) -> None:
    report = Verifier(seal_roots=[built.kit.tsa_ca], tsa_roots=[built.kit.tsa_ca]).verify(
        built.data
    )
    assert report.check("report.signature").status is Status.FAILED


def test_one_of_several_ledger_keys_must_match(built: Built) -> None:
    other = NoteSigner.generate("another.example/log").verifier().vkey
    ok = Verifier(ledger_keys=[other, built.ledger_key]).verify(built.data)
    assert ok.check("trust.ledger_key").status is Status.PASSED
    bad = Verifier(ledger_keys=[other, NoteSigner.generate("x.example/log").verifier().vkey])
    report = bad.verify(built.data)
    assert report.check("trust.ledger_key").status is Status.FAILED
    assert report.check("trust.ledger_key").reason == "untrusted_key"


def test_bad_trust_material_is_refused_at_construction(built: Built) -> None:
    with pytest.raises(NoteError):
        Verifier(ledger_keys=["not a key"])
    with pytest.raises(TypeError, match=r"want cryptography x509\.Certificate"):
        Verifier(tsa_roots=[b"-----BEGIN CERTIFICATE-----"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="seal_roots_pem"):
        Verifier.from_pem(seal_roots_pem=b"garbage")
