"""Small certificate hierarchies for trust-list tests: roots, intermediates, seal certificates,
and the forgeries the tests attack with (self-signed copies of a subject, another key)."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sealtrail.signing import pki

DAY = timedelta(days=1)


def name(cn: str, org: str = "Example Trust Services") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip


def issue(
    subject: x509.Name,
    *,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None = None,
    ca: bool,
    now: datetime,
    key: ec.EllipticCurvePrivateKey | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate of ``subject`` (self-signed without ``issuer``)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    issuer_name, issuer_key = issuer or (subject, key)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - DAY)
        .not_valid_after(not_after or now + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_usage(ca=ca), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    return cert, key


def seal_from(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    cn: str,
    now: datetime,
    chain: tuple[x509.Certificate, ...] = (),
) -> pki.CertifiedKey:
    """A seal certificate issued by ``ca`` (chain: what the PKCS#12 carries)."""
    cert, key = issue(name(cn, "Acme Ltd"), issuer=(ca[0].subject, ca[1]), ca=False, now=now)
    return pki.CertifiedKey(key, cert, chain)


def self_signed_copy(cert: x509.Certificate, now: datetime) -> pki.CertifiedKey:
    """The forgery of issue 15: a self-signed certificate with ``cert``'s subject, another key."""
    forged, key = issue(cert.subject, ca=False, now=now)
    return pki.CertifiedKey(key, forged)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def p12(bundle: pki.CertifiedKey, password: bytes = b"pw") -> bytes:
    return pki.export_pkcs12(bundle, password)
