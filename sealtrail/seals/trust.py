"""Trust lists for seal certificates: which roots a seal's certificate may chain to, checked when
a PKCS#12 is imported and used, with attribution, when a PDF is validated.

Trust is configured, never self-declared (DESIGN.md "Invariants"). Three kinds of root:

* ``configured`` — the operator's trust list (settings ``seal_ca_files``, ``seal_ca_dir``):
  imported seal certificates of any tenant may chain to these;
* ``tenant-ca`` — CAs a tenant brings (``seal_tenant_ca_dir/<tenant>/*.pem``): that tenant's
  imported seals only;
* ``internal-ca`` — a tenant's internal CA (:mod:`sealtrail.signing.pki`): that tenant's
  internal seals only.

The top of an imported chain is never a root by itself: that was the forged-seal attack (a
self-signed certificate copying another tenant's seal subject validated as trusted). An import
whose certificate chains to none of its tenant's roots is refused, unless the tenant is allowed
*self-declared* seals; those are stored with source ``self-declared`` and, being no root, are
always reported as untrusted.

A validated signature is attributed by the SHA-256 of its certificate (never by names): when
it belongs to a registered seal, the result names the seal and its tenant, its trust root must
be one allowed for that tenant, and a seal revoked before the signing time is reported revoked.

Time is a parameter; only :func:`load_trust_list` does I/O (reading the configured PEM files).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)

from sealtrail.core.errors import ConfigError
from sealtrail.seals.errors import SealCertificateUntrustedError
from sealtrail.seals.store import SealStore
from sealtrail.signing import pki
from sealtrail.signing.formats import asn1_cert
from sealtrail.signing.pdfinput import DEFAULT_MAX_PDF_BYTES
from sealtrail.signing.validate import (
    REASON_REVOKED,
    REASON_UNTRUSTED,
    PdfValidationReport,
    SignatureReport,
    validate_pdf,
)

#: root scopes (module docstring)
CONFIGURED = "configured"
TENANT_CA = "tenant-ca"
INTERNAL_CA = "internal-ca"
#: what :func:`check_import` answers for a certificate that chains to no root of its tenant
SELF_DECLARED = "self-declared"
#: what a seal CA directory's PEM files are called, and the most one may hold
_PEM_SUFFIXES = (".pem", ".crt")
_MAX_PEM_BYTES = 1024 * 1024


def sha256_of(cert: x509.Certificate) -> str:
    """SHA-256 of a certificate's DER, hex."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@dataclass(frozen=True)
class TrustList:
    """The configured CAs for imported seal certificates (module docstring).

    ``common``: any tenant's; ``per_tenant``: tenant id → that tenant's own CAs;
    ``self_declared``: tenants allowed seals that chain to none of them.
    """

    common: tuple[x509.Certificate, ...] = ()
    per_tenant: Mapping[str, tuple[x509.Certificate, ...]] = field(default_factory=dict)
    self_declared: frozenset[str] = frozenset()

    def import_roots(self, tenant: str) -> tuple[x509.Certificate, ...]:
        """The roots an imported seal certificate of ``tenant`` may chain to."""
        return self.common + tuple(self.per_tenant.get(tenant, ()))


@dataclass(frozen=True)
class TrustRoot:
    """A root a PDF signature may chain to, with whose seals it vouches for."""

    certificate: x509.Certificate
    scope: str  # configured, tenant-ca, internal-ca
    tenant: str | None  # None for configured roots
    sha256: str

    def allows(self, tenant: str) -> bool:
        """Whether this root may vouch for a seal of ``tenant``."""
        return self.scope == CONFIGURED or self.tenant == tenant


@dataclass(frozen=True)
class SealRef:
    """What attribution needs of a registered seal (never its name or remarks)."""

    id: str
    tenant: str
    source: str
    status: str
    status_at: str | None


@dataclass(frozen=True)
class Attribution:
    """Who a signature is, beyond its certificate: the registered seal (if any) and the
    trust root (if trusted)."""

    seal: SealRef | None
    root: TrustRoot | None


@dataclass(frozen=True)
class AttributedReport:
    """A validation report and, per signature in the same order, its attribution."""

    report: PdfValidationReport
    attributions: tuple[Attribution, ...]


def _load_pem(path: Path) -> list[x509.Certificate]:
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_PEM_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"cannot read seal CA file {path}: {e.strerror or e}") from None
    if len(data) > _MAX_PEM_BYTES:
        raise ConfigError(f"seal CA file {path} is larger than {_MAX_PEM_BYTES} bytes")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigError(f"seal CA file {path}: want PEM certificates") from None
    for c in certs:
        try:
            is_ca = c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise ConfigError(
                f"seal CA file {path}: {c.subject.rfc4514_string()[:200]} is not a CA "
                "certificate (basicConstraints cA=TRUE); a seal certificate is never its own root"
            )
    return certs


def _pem_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise ConfigError(f"seal CA directory {directory} does not exist")
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in _PEM_SUFFIXES)


def load_trust_list(
    files: Iterable[Path],
    directory: Path | None,
    tenant_dir: Path | None,
    self_declared: Iterable[str],
) -> TrustList:
    """The trust list from settings: PEM ``files`` and the PEM files of ``directory`` (any
    tenant's), ``tenant_dir/<tenant>/`` (that tenant's), and the tenants allowed self-declared
    seals. Raises ConfigError for an unreadable file or a certificate that is not a CA."""
    paths = list(files) + ([] if directory is None else _pem_files(directory))
    common = {sha256_of(c): c for p in paths for c in _load_pem(p)}
    per_tenant: dict[str, tuple[x509.Certificate, ...]] = {}
    if tenant_dir is not None:
        if not tenant_dir.is_dir():
            raise ConfigError(f"seal tenant CA directory {tenant_dir} does not exist")
        for sub in sorted(p for p in tenant_dir.iterdir() if p.is_dir()):
            certs = {sha256_of(c): c for p in _pem_files(sub) for c in _load_pem(p)}
            if certs:
                per_tenant[sub.name] = tuple(certs.values())
    return TrustList(tuple(common.values()), per_tenant, frozenset(self_declared))


async def _validate_path(
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    at_time: datetime,
) -> None:
    vc = ValidationContext(
        trust_roots=[asn1_cert(r) for r in roots],
        moment=at_time,
        allow_fetching=False,
        revocation_mode="soft-fail",  # CRLs/OCSP embedded or cached only; none are fetched
    )
    validator = CertificateValidator(
        asn1_cert(cert), intermediate_certs=[asn1_cert(c) for c in chain], validation_context=vc
    )
    await validator.async_validate_path()


def check_import(bundle: pki.CertifiedKey, tenant: str, trust: TrustList, at_time: datetime) -> str:
    """How a PKCS#12 import of ``tenant`` is trusted: ``configured`` or ``tenant-ca`` when its
    certificate has a valid path (RFC 5280 §6: validity, CA constraints and key usage of every
    certificate, revocation where data is at hand) to a root of the trust list allowed for
    ``tenant``; ``self-declared`` when it has none and the tenant allows that.

    Raises :class:`SealCertificateUntrustedError` naming why otherwise (no path to a configured
    root, an expired or revoked certificate on the path). Requires an aware ``at_time``; the
    key and usage of the certificate itself are :func:`pki.check_signing_certificate`'s.
    """
    cert = bundle.certificate
    who = f"seal certificate {cert.subject.rfc4514_string()[:200]!r}"
    issuer = cert.issuer.rfc4514_string()[:200]
    # a self-signed certificate has no path to any root: seal certificates are never CAs, and
    # configured roots always are (load_trust_list), so it can only be self-declared
    self_signed = cert.issuer == cert.subject
    lists = (
        ()
        if self_signed
        else ((CONFIGURED, trust.common), (TENANT_CA, trust.per_tenant.get(tenant, ())))
    )
    for scope, roots in lists:
        current = [r for r in roots if r.not_valid_before_utc <= at_time <= r.not_valid_after_utc]
        expired = [r for r in roots if r not in current]
        issuers = {cert.issuer, *(c.issuer for c in bundle.chain)}
        for r in expired:
            # RFC 5280 §6 does not check a trust anchor's own validity: we do
            if r.subject in issuers:
                raise SealCertificateUntrustedError(
                    f"{who}: the configured CA {r.subject.rfc4514_string()[:200]!r} it chains to "
                    f"is not valid at {at_time.isoformat()} (valid "
                    f"{r.not_valid_before_utc.isoformat()} to {r.not_valid_after_utc.isoformat()})"
                )
        if not current:
            continue
        try:
            asyncio.run(_validate_path(cert, bundle.chain, current, at_time))
            return scope
        except PathBuildingError:
            continue  # no path to these roots: try the next list
        except RevokedError:
            raise SealCertificateUntrustedError(f"{who}: revoked (issuer {issuer!r})") from None
        except (ExpiredError, NotYetValidError) as e:
            raise SealCertificateUntrustedError(
                f"{who}: a certificate on its path is not valid at {at_time.isoformat()}: {e}"
            ) from None
        except (PathValidationError, ValidationError) as e:
            raise SealCertificateUntrustedError(
                f"{who}: its path to a configured CA does not validate: {e}"
            ) from None
    if tenant in trust.self_declared:
        return SELF_DECLARED
    what = "is self-signed" if self_signed else f"is issued by {issuer!r}"
    raise SealCertificateUntrustedError(
        f"{who} {what} and chains to no CA trusted for seals of tenant {tenant!r}: add its "
        "CA to seal_ca_files / seal_ca_dir (any tenant) or seal_tenant_ca_dir/<tenant>/, or "
        "allow self-declared seals for the tenant (self_declared_seal_tenants; never trusted)"
    )


def validation_roots(
    seals: SealStore, trust: TrustList, tenants: Collection[str] | None = None
) -> tuple[TrustRoot, ...]:
    """The roots to validate PDFs against for ``tenants`` (all when None): the configured
    list, those tenants' own CAs and their internal CAs, without duplicates (the first kind
    listed wins)."""
    out: dict[str, TrustRoot] = {}

    def add(cert: x509.Certificate, scope: str, tenant: str | None) -> None:
        sha = sha256_of(cert)
        out.setdefault(sha, TrustRoot(cert, scope, tenant, sha))

    for c in trust.common:
        add(c, CONFIGURED, None)
    for tenant, certs in sorted(trust.per_tenant.items()):
        if tenants is None or tenant in tenants:
            for c in certs:
                add(c, TENANT_CA, tenant)
    for ca in seals.cas(tenants):
        add(x509.load_der_x509_certificate(ca.certificate), INTERNAL_CA, ca.tenant)
    return tuple(out.values())


def seal_index(seals: SealStore) -> dict[str, SealRef]:
    """Every registered seal by the SHA-256 of its certificate (the attribution key)."""
    out: dict[str, SealRef] = {}
    for s in seals.seals(None, None):
        sha = hashlib.sha256(s.certificate).hexdigest()
        out[sha] = SealRef(s.id, s.tenant, s.source, s.status, s.status_at)
    return out


def _signing_time(sig: SignatureReport) -> datetime | None:
    ts = sig.timestamp
    return ts.time if ts.present and ts.valid and ts.trusted else None


def _attribute_one(
    sig: SignatureReport, roots: Mapping[str, TrustRoot], index: Mapping[str, SealRef]
) -> tuple[SignatureReport, Attribution]:
    ref = index.get(sig.certificate_sha256) if sig.certificate_sha256 else None
    root = roots.get(sig.trust_root_sha256 or "") if sig.trusted else None
    if sig.trusted and root is None:
        sig = sig.distrusted(REASON_UNTRUSTED)  # a root we were not given: never trusted
    if ref is not None:
        if root is not None and (ref.source == SELF_DECLARED or not root.allows(ref.tenant)):
            # another tenant's CA vouching for this tenant's seal, or a self-declared seal
            sig, root = sig.distrusted(REASON_UNTRUSTED), None
        if ref.status == "revoked":
            when = _signing_time(sig)
            revoked_at = datetime.fromisoformat(ref.status_at) if ref.status_at else None
            if when is None or revoked_at is None or when >= revoked_at:
                sig, root = sig.distrusted(REASON_REVOKED), None
    return sig, Attribution(ref, root)


def attribute(
    report: PdfValidationReport, roots: Sequence[TrustRoot], index: Mapping[str, SealRef]
) -> AttributedReport:
    """``report`` with each signature attributed to a registered seal and a trust root, and
    downgraded where the attribution shows it must be (module docstring). ``roots`` must be
    the roots ``report`` was validated against."""
    by_sha = {r.sha256: r for r in roots}
    pairs = [_attribute_one(s, by_sha, index) for s in report.signatures]
    if not pairs:
        return AttributedReport(report, ())
    return AttributedReport(
        report.with_signatures([p[0] for p in pairs]), tuple(p[1] for p in pairs)
    )


def validate_attributed(
    pdf: bytes,
    roots: Sequence[TrustRoot],
    index: Mapping[str, SealRef],
    tsa_roots: Sequence[x509.Certificate],
    *,
    at_time: datetime,
    max_pdf_bytes: int = DEFAULT_MAX_PDF_BYTES,
) -> AttributedReport:
    """Validate ``pdf`` against exactly ``roots`` and attribute every signature (the function
    envelopes and counterparties use with their own trust context). Requires no running event
    loop in this thread and an aware ``at_time``."""
    report = validate_pdf(
        pdf,
        [r.certificate for r in roots],
        tsa_roots,
        at_time=at_time,
        max_pdf_bytes=max_pdf_bytes,
    )
    return attribute(report, roots, index)


__all__ = [
    "CONFIGURED",
    "INTERNAL_CA",
    "SELF_DECLARED",
    "TENANT_CA",
    "AttributedReport",
    "Attribution",
    "SealRef",
    "TrustList",
    "TrustRoot",
    "attribute",
    "check_import",
    "load_trust_list",
    "seal_index",
    "validate_attributed",
    "validation_roots",
]
