"""The internal CA, seal certificates, CRLs, and PKCS#12 imports from an external CA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sealtrail.signing import pki
from sealtrail.signing.appearance import SealKind
from sealtrail.signing.errors import CertificateError

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ca() -> pki.InternalCa:
    return pki.create_internal_ca("Acme Ltd", now=NOW)


def _external(
    *,
    eku: list[x509.ObjectIdentifier] | None = None,
    ca_flag: bool = False,
    lifetime: timedelta = timedelta(days=365),
) -> tuple[rsa.RSAPrivateKey, x509.Certificate, x509.Certificate]:
    """An RSA end-entity certificate from a stand-in external CA: (key, cert, root)."""
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "External Root CA")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Beta GmbH seal")]))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + lifetime)
        .add_extension(x509.BasicConstraints(ca=ca_flag, path_length=None), critical=True)
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return key, builder.sign(root_key, hashes.SHA256()), root


def _p12(key: pki.SealPrivateKey, cert: x509.Certificate, chain: list[x509.Certificate]) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        b"seal", key, cert, chain, serialization.BestAvailableEncryption(b"s3cret")
    )


def test_internal_ca_is_a_documented_non_public_root(ca: pki.InternalCa) -> None:
    cert = ca.certificate
    assert cert.issuer == cert.subject
    assert "Sealtrail internal" in cert.subject.rfc4514_string()
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign
    assert ku.crl_sign
    assert "key" not in repr(ca).lower().replace("key_", "")  # the key is not in repr


def test_seal_certificate_fields(ca: pki.InternalCa) -> None:
    ck = pki.issue_seal_certificate(
        ca,
        seal_name="Acme 合同专用章",
        kind=SealKind.CONTRACT,
        seal_id="seal-7",
        now=NOW,
        crl_url="http://sealtrail.example/crl/acme.crl",
    )
    cert = ck.certificate
    cert.verify_directly_issued_by(ca.certificate)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Acme 合同专用章"
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "seal-7"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == (
        "contract seal"
    )
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature
    assert ku.value.content_commitment
    assert not ku.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert pki.DOCUMENT_SIGNING in eku
    dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert dp[0].full_name is not None
    assert dp[0].full_name[0].value == "http://sealtrail.example/crl/acme.crl"
    assert cert.not_valid_after_utc - cert.not_valid_before_utc > timedelta(days=700)
    assert ck.chain == (ca.certificate,)
    assert "key=" not in repr(ck)
    pki.check_signing_certificate(ck.key, cert, NOW)


def test_seal_certificate_never_outlasts_the_ca(ca: pki.InternalCa) -> None:
    ck = pki.issue_seal_certificate(
        ca,
        seal_name="Acme",
        kind=SealKind.ORGANIZATION,
        seal_id="s",
        now=NOW,
        validity=timedelta(days=100 * 365),
    )
    assert ck.certificate.not_valid_after_utc == ca.certificate.not_valid_after_utc


def test_ca_outside_its_validity_does_not_issue(ca: pki.InternalCa) -> None:
    with pytest.raises(CertificateError, match="not valid at"):
        pki.issue_seal_certificate(
            ca, seal_name="A", kind=SealKind.PERSONAL, seal_id="s", now=NOW + timedelta(days=4000)
        )


def test_naive_time_is_a_value_error(ca: pki.InternalCa) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pki.create_internal_ca("x", now=datetime(2026, 1, 1))


def test_crl_lists_revoked_seals(ca: pki.InternalCa) -> None:
    ck = pki.issue_seal_certificate(ca, seal_name="A", kind=SealKind.PERSONAL, seal_id="s", now=NOW)
    crl = pki.issue_crl(ca, [(ck.certificate.serial_number, NOW)], now=NOW)
    assert crl.is_signature_valid(ca.key.public_key())
    revoked = crl.get_revoked_certificate_by_serial_number(ck.certificate.serial_number)
    assert revoked is not None
    assert revoked.revocation_date_utc == NOW
    assert crl.next_update_utc == NOW + timedelta(days=7)


def test_import_pkcs12_good() -> None:
    key, cert, root = _external(eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION])
    ck = pki.import_pkcs12(_p12(key, cert, [root]), b"s3cret", at_time=NOW)
    assert ck.certificate == cert
    assert ck.chain == (root,)
    assert isinstance(ck.key, rsa.RSAPrivateKey)


def test_import_pkcs12_wrong_password() -> None:
    key, cert, root = _external()
    with pytest.raises(CertificateError, match="wrong password or damaged") as info:
        pki.import_pkcs12(_p12(key, cert, [root]), b"guess", at_time=NOW)
    assert "guess" not in str(info.value)
    assert "s3cret" not in str(info.value)


def test_import_pkcs12_damaged() -> None:
    key, cert, root = _external()
    data = bytearray(_p12(key, cert, [root]))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(CertificateError, match="wrong password or damaged"):
        pki.import_pkcs12(bytes(data), b"s3cret", at_time=NOW)


def test_import_pkcs12_expired() -> None:
    key, cert, root = _external(lifetime=timedelta(days=30))
    with pytest.raises(CertificateError, match="not at 2027"):
        pki.import_pkcs12(_p12(key, cert, [root]), b"s3cret", at_time=NOW + timedelta(days=60))


def test_check_signing_certificate_key_mismatch(ca: pki.InternalCa) -> None:
    # import_pkcs12 runs this check; no PKCS#12 writer here (cryptography, openssl) will even
    # write a bundle whose key does not match its certificate, so the check is tested directly.
    ck = pki.issue_seal_certificate(ca, seal_name="A", kind=SealKind.PERSONAL, seal_id="s", now=NOW)
    with pytest.raises(CertificateError, match="does not match"):
        pki.check_signing_certificate(ec.generate_private_key(ec.SECP256R1()), ck.certificate, NOW)


def test_import_pkcs12_server_certificate_refused() -> None:
    key, cert, root = _external(eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    with pytest.raises(CertificateError, match="does not allow document signing"):
        pki.import_pkcs12(_p12(key, cert, [root]), b"s3cret", at_time=NOW)


def test_import_pkcs12_ca_certificate_refused() -> None:
    key, cert, root = _external(ca_flag=True)
    with pytest.raises(CertificateError, match="CA certificate"):
        pki.import_pkcs12(_p12(key, cert, [root]), b"s3cret", at_time=NOW)


def test_import_pkcs12_without_key_refused() -> None:
    _key, cert, root = _external()
    data = pkcs12.serialize_key_and_certificates(
        b"x", None, cert, [root], serialization.BestAvailableEncryption(b"s3cret")
    )
    with pytest.raises(CertificateError, match="lacks a private key"):
        pki.import_pkcs12(data, b"s3cret", at_time=NOW)


def test_export_then_import_round_trip(ca: pki.InternalCa) -> None:
    ck = pki.issue_seal_certificate(
        ca, seal_name="A", kind=SealKind.ORGANIZATION, seal_id="s", now=NOW
    )
    back = pki.import_pkcs12(pki.export_pkcs12(ck, b"pw"), b"pw", at_time=NOW)
    assert back.certificate == ck.certificate
    assert back.chain == ck.chain
