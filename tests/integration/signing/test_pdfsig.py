"""Cross-check with an independent implementation: poppler's pdfsig (NSS underneath)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from .conftest import Seals, Tsa

PDFSIG = shutil.which("pdfsig")
CERTUTIL = shutil.which("certutil")
# CI (.ci/run) installs them: there a missing tool fails the tests instead of skipping them.
pytestmark = pytest.mark.skipif(
    (PDFSIG is None or CERTUTIL is None) and not os.environ.get("CI"),
    reason="pdfsig/certutil not on PATH (apt-get install -y poppler-utils libnss3-tools)",
)


def _nss_db(tmp_path: Path, seals: Seals | None) -> str:
    """An NSS database trusting the internal CA (or nothing, when ``seals`` is None)."""
    db = tmp_path / "nss"
    db.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True)
    if seals is not None:
        ca = tmp_path / "ca.pem"
        ca.write_bytes(seals.ca.certificate.public_bytes(serialization.Encoding.PEM))
        subprocess.run(
            ["certutil", "-A", "-n", "acme-ca", "-t", "CT,C,C", "-i", str(ca), "-d", f"sql:{db}"],
            check=True,
        )
    return f"sql:{db}"


def _pdfsig(data: bytes, tmp_path: Path, nss: str) -> str:
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(data)
    run = subprocess.run(
        ["pdfsig", "-nssdir", nss, str(pdf)], capture_output=True, text=True, timeout=60
    )
    return run.stdout + run.stderr


def test_pdfsig_valid_and_trusted(signed_bt: bytes, seals: Seals, tmp_path: Path) -> None:
    out = _pdfsig(signed_bt, tmp_path, _nss_db(tmp_path, seals))
    assert "Signature Field Name: AcmeSeal" in out, out
    assert "Signature is Valid" in out, out
    assert "Certificate is Trusted" in out, out
    assert "ETSI.CAdES.detached" in out, out
    assert "Total document signed" in out, out


def test_pdfsig_b_lt_valid_and_trusted(signed_lt: bytes, seals: Seals, tmp_path: Path) -> None:
    out = _pdfsig(signed_lt, tmp_path, _nss_db(tmp_path, seals))
    assert "Signature is Valid" in out, out
    assert "Certificate is Trusted" in out, out


def test_pdfsig_without_the_ca_does_not_trust(signed_bt: bytes, tmp_path: Path) -> None:
    out = _pdfsig(signed_bt, tmp_path, _nss_db(tmp_path, None))
    assert "Signature is Valid" in out, out
    assert "Certificate is Trusted" not in out, out


def test_pdfsig_byte_flipped_is_not_valid(
    signed_bt: bytes, seals: Seals, tmp_path: Path, tsa: Tsa
) -> None:
    i = signed_bt.index(b"1000 EUR")
    tampered = signed_bt[:i] + b"9" + signed_bt[i + 1 :]
    out = _pdfsig(tampered, tmp_path, _nss_db(tmp_path, seals))
    assert "Signature is Valid" not in out, out
    assert "Digest Mismatch" in out or "Invalid" in out, out
