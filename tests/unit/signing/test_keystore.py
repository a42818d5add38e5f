"""Seal keys encrypted at rest: round trips, and every way a blob fails to open says the same."""

from __future__ import annotations

import logging

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sealtrail.signing.errors import KeyProtectionError
from sealtrail.signing.keystore import NONCE_BYTES, KeyProtector

MASTER = bytes(range(32))
OTHER_MASTER = bytes(range(1, 33))
SEAL_ID = b"seal-42"


def _der(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_round_trip(kind: str) -> None:
    k = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    blob = KeyProtector(MASTER).seal(k, SEAL_ID)
    assert _der(k) not in blob
    assert _der(KeyProtector(MASTER).open(blob, SEAL_ID)) == _der(k)


def test_each_seal_uses_a_fresh_nonce(key: ec.EllipticCurvePrivateKey) -> None:
    p = KeyProtector(MASTER)
    assert p.seal(key, SEAL_ID) != p.seal(key, SEAL_ID)


def _fails_alike(blob: bytes, ad: bytes = SEAL_ID, master: bytes = MASTER) -> str:
    with pytest.raises(KeyProtectionError) as info:
        KeyProtector(master).open(blob, ad)
    return str(info.value)


def test_wrong_master_key(key: ec.EllipticCurvePrivateKey) -> None:
    blob = KeyProtector(MASTER).seal(key, SEAL_ID)
    message = _fails_alike(blob, master=OTHER_MASTER)
    assert MASTER.hex() not in message
    assert OTHER_MASTER.hex() not in message


def test_wrong_associated_data(key: ec.EllipticCurvePrivateKey) -> None:
    blob = KeyProtector(MASTER).seal(key, SEAL_ID)
    assert _fails_alike(blob, ad=b"seal-43") == _fails_alike(blob, master=OTHER_MASTER)


@pytest.mark.parametrize(
    "where", ["version", "nonce", "ciphertext-first", "ciphertext-middle", "tag-last"]
)
def test_tampered_blob(key: ec.EllipticCurvePrivateKey, where: str) -> None:
    blob = bytearray(KeyProtector(MASTER).seal(key, SEAL_ID))
    index = {
        "version": 0,
        "nonce": 1,
        "ciphertext-first": 1 + NONCE_BYTES,
        "ciphertext-middle": len(blob) // 2,
        "tag-last": len(blob) - 1,
    }[where]
    blob[index] ^= 0x01
    _fails_alike(bytes(blob))


@pytest.mark.parametrize("length", [0, 1, 28])
def test_truncated_blob(key: ec.EllipticCurvePrivateKey, length: int) -> None:
    blob = KeyProtector(MASTER).seal(key, SEAL_ID)
    _fails_alike(blob[:length])


def test_master_key_length_error_reveals_only_the_length() -> None:
    secret = b"sixteen byte key"
    with pytest.raises(KeyProtectionError, match="master key of 16 bytes, want 32") as info:
        KeyProtector(secret)
    assert "sixteen" not in str(info.value)


def test_master_key_type_and_ad_preconditions(key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(TypeError):
        KeyProtector(MASTER.hex())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="associated_data"):
        KeyProtector(MASTER).seal(key, b"")


def test_no_key_material_in_repr_or_logs(
    key: ec.EllipticCurvePrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    p = KeyProtector(MASTER)
    assert repr(p) == "KeyProtector(<master key hidden>)"
    with caplog.at_level(logging.DEBUG):
        blob = p.seal(key, SEAL_ID)
        with pytest.raises(KeyProtectionError):
            KeyProtector(OTHER_MASTER).open(blob, SEAL_ID)
    for record in caplog.records:
        assert MASTER.hex() not in record.getMessage()
