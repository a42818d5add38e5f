"""The service seal in the data directory: made once, reused, renewed when expired, and
repaired when a crash left a key that does not match its certificate."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from sealtrail.export.service_seal import SEAL_DIR, load_service_seal
from sealtrail.signing.errors import KeyProtectionError

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
RAW = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo


def _pub(key: object) -> bytes:
    return key.public_key().public_bytes(*RAW)  # type: ignore[attr-defined]


def test_made_once_then_reused(tmp_path: Path) -> None:
    master = secrets.token_bytes(32)
    first = load_service_seal(tmp_path, master, now=NOW)
    again = load_service_seal(tmp_path, master, now=NOW + timedelta(days=1))
    assert again.key.certificate == first.key.certificate
    assert (tmp_path / SEAL_DIR / "seal.key").stat().st_mode & 0o077 == 0
    assert b"PRIVATE" not in (tmp_path / SEAL_DIR / "seal.key").read_bytes()  # encrypted
    with pytest.raises(KeyProtectionError):
        load_service_seal(tmp_path, secrets.token_bytes(32), now=NOW)


def test_expired_certificate_is_renewed_under_the_same_ca(tmp_path: Path) -> None:
    master = secrets.token_bytes(32)
    first = load_service_seal(tmp_path, master, now=NOW)
    later = first.key.certificate.not_valid_after_utc + timedelta(days=1)
    renewed = load_service_seal(tmp_path, master, now=later)
    assert renewed.key.certificate != first.key.certificate
    assert renewed.ca == first.ca
    assert _pub(renewed.key.key) == renewed.key.certificate.public_key().public_bytes(*RAW)


def test_a_key_left_unmatched_by_a_crash_is_repaired(tmp_path: Path) -> None:
    master = secrets.token_bytes(32)
    load_service_seal(tmp_path, master, now=NOW)
    other = tmp_path / "other"
    load_service_seal(other, master, now=NOW)
    # The crash: the renewal replaced seal.key (here: another seal's key blob under the same
    # master key) but died before replacing seal.pem.
    (tmp_path / SEAL_DIR / "seal.key").write_bytes((other / SEAL_DIR / "seal.key").read_bytes())
    repaired = load_service_seal(tmp_path, master, now=NOW)
    assert _pub(repaired.key.key) == repaired.key.certificate.public_key().public_bytes(*RAW)
    again = load_service_seal(tmp_path, master, now=NOW)
    assert again.key.certificate == repaired.key.certificate
