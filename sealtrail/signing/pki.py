"""Seal certificates: Sealtrail's per-tenant internal CA, and PKCS#12 imports from external CAs.

**The internal CA is Sealtrail's own, one per tenant, and is not a public trust anchor.** A
signature made under it proves that the holder of a Sealtrail deployment's seal key signed; a
relying party outside the deployment trusts it only if it chose to import that tenant's CA
certificate (e.g. into Adobe Reader or an NSS database). Seals that must validate anywhere need a
certificate from a public or qualified CA, imported with :func:`import_pkcs12`.

The internal CA also issues CRLs (:func:`issue_crl`, RFC 5280 §5) so that PAdES B-LT signatures
can embed revocation data for seal certificates.

Time is always a parameter (``now`` / ``at_time``, timezone-aware); nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from sealtrail.signing.appearance import SealKind
from sealtrail.signing.errors import CertificateError

#: Private keys a seal may have: what pyHanko, NSS (pdfsig) and Adobe all verify.
SealPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

#: id-kp-documentSigning (RFC 9336 §3.1).
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
#: Adobe Authentic Documents Trust (Adobe's PDF signing EKU).
ADOBE_AUTHENTIC_DOCUMENTS = ObjectIdentifier("1.2.840.113583.1.1.5")
#: Microsoft Document Signing.
MS_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")

#: Extended key usages under which we accept an external certificate for PDF signing.
SIGNING_EKUS = frozenset(
    {
        DOCUMENT_SIGNING,
        ADOBE_AUTHENTIC_DOCUMENTS,
        MS_DOCUMENT_SIGNING,
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    }
)

MAX_PKCS12_BYTES = 64 * 1024
CA_VALIDITY = timedelta(days=10 * 365)
SEAL_VALIDITY = timedelta(days=2 * 365)
_BACKDATE = timedelta(minutes=5)  # tolerate verifiers whose clocks are a little behind ours


@dataclass(frozen=True)
class CertifiedKey:
    """A seal's private key, its certificate, and the chain up to (not always including) a root.

    ``chain`` holds the intermediate and root certificates, issuer first. The key never appears
    in ``repr``.
    """

    key: SealPrivateKey = field(repr=False)
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()


@dataclass(frozen=True)
class InternalCa:
    """A tenant's internal CA: Sealtrail's own, not a public trust anchor (module docstring)."""

    tenant: str
    key: ec.EllipticCurvePrivateKey = field(repr=False)
    certificate: x509.Certificate


def new_seal_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 key, the kind the internal CA certifies."""
    return ec.generate_private_key(ec.SECP256R1())


def _require_aware(name: str, t: datetime) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _key_usage(*, signing: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=signing,  # nonRepudiation
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def create_internal_ca(
    tenant: str, *, now: datetime, validity: timedelta = CA_VALIDITY
) -> InternalCa:
    """A new internal CA for ``tenant`` (a self-signed root, ECDSA P-256, SHA-256).

    Requires a non-empty ``tenant`` and an aware ``now``.
    """
    _require_aware("now", now)
    if not tenant.strip():
        raise ValueError("tenant must not be empty")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, tenant),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Sealtrail internal CA"),
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"{tenant} seal CA (Sealtrail internal, not public)"[:64]
            ),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return InternalCa(tenant, key, cert)


def issue_seal_certificate(
    ca: InternalCa,
    *,
    seal_name: str,
    kind: SealKind,
    seal_id: str,
    now: datetime,
    validity: timedelta = SEAL_VALIDITY,
    key: SealPrivateKey | None = None,
    crl_url: str | None = None,
) -> CertifiedKey:
    """Certify a seal key (a fresh P-256 key unless ``key`` is given) under ``ca``.

    Subject: CN = ``seal_name``, O = the tenant, OU = the seal kind, serialNumber = ``seal_id``.
    keyUsage digitalSignature + nonRepudiation (critical); extKeyUsage id-kp-documentSigning
    (RFC 9336) and emailProtection (what NSS, and so pdfsig, wants of a document signer);
    a CRL distribution point when ``crl_url`` is given. The validity never outlasts the CA's.
    Requires non-empty names, an aware ``now`` inside the CA's validity.
    """
    _require_aware("now", now)
    if not seal_name.strip() or not seal_id.strip():
        raise ValueError("seal_name and seal_id must not be empty")
    if not ca.certificate.not_valid_before_utc <= now < ca.certificate.not_valid_after_utc:
        raise CertificateError(f"the internal CA of {ca.tenant} is not valid at {now.isoformat()}")
    key = key or new_seal_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ca.tenant),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"{kind.value} seal"),
            x509.NameAttribute(NameOID.COMMON_NAME, seal_name[:64]),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, seal_id[:64]),
        ]
    )
    not_after = min(now + validity, ca.certificate.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True, ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
    )
    if crl_url:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    cert = builder.sign(ca.key, hashes.SHA256())
    return CertifiedKey(key, cert, (ca.certificate,))


def issue_signer_certificate(
    ca: InternalCa,
    *,
    name: str,
    identity_sha256: str,
    envelope_id: str,
    position: int,
    now: datetime,
    validity: timedelta = SEAL_VALIDITY,
) -> CertifiedKey:
    """Certify a fresh P-256 key for one individual's signature in one envelope, under ``ca``.

    Subject: CN = ``name`` (the signer's name as the initiator gave it), O = the tenant, OU =
    ``Sealtrail individual signer``, serialNumber = ``<envelope_id>/<position>``. The subject
    alternative name holds two URIs binding the certificate to the verified identity and the
    envelope: ``urn:sealtrail:identity:email-sha256:<hex>`` (SHA-256 of the e-mail address the
    one-time code was sent to, lower-cased) and ``urn:sealtrail:envelope:<envelope_id>:<position>``.
    Key usage and extended key usage as :func:`issue_seal_certificate`. Requires a non-empty
    ``name``, a 64-hex-digit ``identity_sha256`` and an aware ``now`` inside the CA's validity.
    """
    _require_aware("now", now)
    if not name.strip() or not envelope_id.strip():
        raise ValueError("name and envelope_id must not be empty")
    if len(identity_sha256) != 64 or any(c not in "0123456789abcdef" for c in identity_sha256):
        raise ValueError("identity_sha256 must be 64 lower-case hex digits")
    if not ca.certificate.not_valid_before_utc <= now < ca.certificate.not_valid_after_utc:
        raise CertificateError(f"the internal CA of {ca.tenant} is not valid at {now.isoformat()}")
    key = new_seal_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ca.tenant),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Sealtrail individual signer"),
            x509.NameAttribute(NameOID.COMMON_NAME, name[:64]),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"{envelope_id}/{position}"[:64]),
        ]
    )
    san = x509.SubjectAlternativeName(
        [
            x509.UniformResourceIdentifier(
                f"urn:sealtrail:identity:email-sha256:{identity_sha256}"
            ),
            x509.UniformResourceIdentifier(f"urn:sealtrail:envelope:{envelope_id}:{position}"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + validity, ca.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True, ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False,
        )
        .add_extension(san, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return CertifiedKey(key, cert, (ca.certificate,))


def issue_crl(
    ca: InternalCa,
    revoked: Sequence[tuple[int, datetime]],
    *,
    now: datetime,
    next_update: timedelta = timedelta(days=7),
) -> x509.CertificateRevocationList:
    """A CRL of ``ca`` listing ``revoked`` (serial number, revocation time) pairs (RFC 5280 §5).

    Requires an aware ``now``; the CRL is valid from ``now`` to ``now + next_update``.
    """
    _require_aware("now", now)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - _BACKDATE)
        .next_update(now + next_update)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
        .add_extension(x509.CRLNumber(int(now.timestamp())), False)
    )
    for serial, when in revoked:
        _require_aware("revocation time", when)
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(ca.key, hashes.SHA256())


def _same_public_key(key: SealPrivateKey, cert: x509.Certificate) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return bool(key.public_key().public_bytes(*fmt) == cert.public_key().public_bytes(*fmt))


def check_signing_certificate(
    key: SealPrivateKey, cert: x509.Certificate, at_time: datetime
) -> None:
    """Raise :class:`CertificateError` unless ``cert`` can seal with ``key`` at ``at_time``.

    Checks: ``key`` is RSA (≥ 2048 bits) or EC and matches the certificate's public key; the
    certificate is valid at ``at_time``; it is not a CA certificate; its keyUsage, if present,
    allows digitalSignature or nonRepudiation; its extKeyUsage, if present, names one of
    :data:`SIGNING_EKUS`. Requires an aware ``at_time``.
    """
    _require_aware("at_time", at_time)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CertificateError(f"key type {type(key).__name__}, want RSA or EC")
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
        raise CertificateError(f"RSA key of {key.key_size} bits, want at least 2048")
    if not _same_public_key(key, cert):
        raise CertificateError("the private key does not match the certificate's public key")
    if not cert.not_valid_before_utc <= at_time <= cert.not_valid_after_utc:
        raise CertificateError(
            f"certificate valid {cert.not_valid_before_utc.isoformat()} to "
            f"{cert.not_valid_after_utc.isoformat()}, not at {at_time.isoformat()}"
        )
    exts = cert.extensions
    try:
        if exts.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise CertificateError("a CA certificate cannot seal documents")
    except x509.ExtensionNotFound:
        pass
    try:
        ku = exts.get_extension_for_class(x509.KeyUsage).value
        if not (ku.digital_signature or ku.content_commitment):
            raise CertificateError(
                "keyUsage allows neither digitalSignature nor nonRepudiation, want either"
            )
    except x509.ExtensionNotFound:
        pass
    try:
        eku = set(exts.get_extension_for_class(x509.ExtendedKeyUsage).value)
        if not eku & SIGNING_EKUS:
            got = ", ".join(sorted(o.dotted_string for o in eku))
            raise CertificateError(f"extKeyUsage {got} does not allow document signing")
    except x509.ExtensionNotFound:
        pass


def import_pkcs12(data: bytes, password: bytes, *, at_time: datetime) -> CertifiedKey:
    """The key, certificate and chain of a PKCS#12 bundle from an external CA, checked for sealing.

    Requires at most 64 KiB of ``data`` and an aware ``at_time``. Raises
    :class:`CertificateError` for a bundle that does not decrypt or parse (the message does not
    distinguish a wrong password from a damaged file), lacks a key or certificate, or fails
    :func:`check_signing_certificate` at ``at_time``.
    """
    if not isinstance(data, bytes) or not isinstance(password, bytes):
        raise TypeError("data and password must be bytes")
    if len(data) > MAX_PKCS12_BYTES:
        raise CertificateError(f"PKCS#12 of {len(data)} bytes, want at most {MAX_PKCS12_BYTES}")
    try:
        bundle = pkcs12.load_pkcs12(data, password or None)
    except (ValueError, TypeError) as e:
        # cryptography says "Invalid password or PKCS12 data": so do we, and no more.
        raise CertificateError("PKCS#12 does not open: wrong password or damaged file") from e
    key = bundle.key
    if bundle.cert is None or key is None:
        raise CertificateError("PKCS#12 lacks a private key or its certificate")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CertificateError(f"key type {type(key).__name__}, want RSA or EC")
    cert = bundle.cert.certificate
    check_signing_certificate(key, cert, at_time)
    chain = tuple(c.certificate for c in bundle.additional_certs)
    return CertifiedKey(key, cert, chain)


def export_pkcs12(bundle: CertifiedKey, password: bytes, name: str = "seal") -> bytes:
    """``bundle`` as a password-protected PKCS#12 (for tests and migrations; never over the API).

    Requires a non-empty ``password``.
    """
    if not password:
        raise ValueError("password must not be empty")
    return pkcs12.serialize_key_and_certificates(
        name.encode("utf-8"),
        bundle.key,
        bundle.certificate,
        list(bundle.chain) or None,
        serialization.BestAvailableEncryption(password),
    )
