"""Validating the signatures of a PDF: a frozen report per signature, after pyHanko's split of
*intact* (the signed bytes are unchanged), *valid* (the signature checks) and *trusted* (the
signer's chain reaches a trust root).

For each signature the report also gives the timestamp (present, valid, trusted, time), the
coverage (entire file / entire revision / partial) and what changed in the file after it was
signed, from pyHanko's difference analysis of the later incremental updates: nothing, validation
data (a DSS), form filling (which includes later signatures), annotations, or other changes —
the last is how incremental-update and shadow attacks show (ISO 32000-1 §12.8.2.2, and Mladenov
et al., "Shadow Attacks", NDSS 2021), and is never allowed.

Statuses follow ETSI EN 319 102-1 §5.1.3: *failed* when something is proven wrong (bytes
changed, bad signature, a disallowed modification, a broken timestamp), *indeterminate* when
the signature may be right but cannot be shown to be so here (no chain to a trust root, no
timestamp, an untrusted TSA), *passed* otherwise. Every non-passing status carries
machine-readable reason codes (``REASON_*``). Validation time is a parameter.

Each signature report gives its PAdES baseline level (ETSI EN 319 142-1 §6), as the file shows
it: ``B-B`` (no valid signature timestamp), ``B-T``, ``B-LT`` (the DSS holds the signer's
certificate), ``B-LTA`` (and a later document timestamp, intact, valid and chaining to a TSA root,
covers the signature's revision and the DSS). It describes the file, not a verdict:
``status`` says whether the signature passed.

Every signature report also says *who*: the signer certificate's subject and issuer (RFC 4514),
its SHA-256, and the trust root its path was built to (none when untrusted). Which seal of
which tenant a certificate belongs to is seal administration's business
(:mod:`sealtrail.seals.trust`), matched on that SHA-256, never on names.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_timestamp
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.authority import AuthorityWithCert

from sealtrail.signing.errors import InvalidPdfError
from sealtrail.signing.formats import REMARKS_KEY, asn1_cert
from sealtrail.signing.pdfinput import DEFAULT_MAX_PDF_BYTES, PARSE_ERRORS, open_pdf

log = logging.getLogger("sealtrail.signing")

REASON_NO_SIGNATURES = "no_signatures"
REASON_NOT_INTACT = "signature_not_intact"
REASON_INVALID = "signature_invalid"
REASON_UNTRUSTED = "certificate_untrusted"
REASON_REVOKED = "certificate_revoked"
REASON_TIMESTAMP_MISSING = "timestamp_missing"
REASON_TIMESTAMP_INVALID = "timestamp_invalid"
REASON_TIMESTAMP_UNTRUSTED = "timestamp_untrusted"
REASON_MODIFIED = "modified_after_signing"
REASON_PARTIAL_COVERAGE = "partial_coverage"
REASON_UNREADABLE = "signature_unreadable"

_FAILING = frozenset(
    {
        REASON_NOT_INTACT,
        REASON_INVALID,
        REASON_REVOKED,
        REASON_TIMESTAMP_INVALID,
        REASON_MODIFIED,
        REASON_PARTIAL_COVERAGE,
        REASON_UNREADABLE,
    }
)


class Status(enum.Enum):
    """Outcome of a check (ETSI EN 319 102-1: TOTAL-PASSED, TOTAL-FAILED, INDETERMINATE)."""

    PASSED = "passed"
    FAILED = "failed"
    INDETERMINATE = "indeterminate"


class Coverage(enum.Enum):
    """How much of the file a signature's byte range covers."""

    ENTIRE_FILE = "entire-file"
    ENTIRE_REVISION = "entire-revision"  # later incremental updates follow
    PARTIAL = "partial"  # not a whole revision: the signature proves little


class Modification(enum.Enum):
    """The most serious kind of change made after the signature (pyHanko's levels)."""

    NONE = "none"
    VALIDATION_DATA = "validation-data"
    FORM_FILLING = "form-filling"
    ANNOTATIONS = "annotations"
    OTHER = "other"


_LEVELS = {
    ModificationLevel.NONE: Modification.NONE,
    ModificationLevel.LTA_UPDATES: Modification.VALIDATION_DATA,
    ModificationLevel.FORM_FILLING: Modification.FORM_FILLING,
    ModificationLevel.ANNOTATIONS: Modification.ANNOTATIONS,
    ModificationLevel.OTHER: Modification.OTHER,
}


@dataclass(frozen=True)
class TimestampCheck:
    """The signature timestamp (RFC 3161 token in the CMS unsigned attributes)."""

    present: bool
    valid: bool = False  # intact and cryptographically sound
    trusted: bool = False  # the TSA certificate chains to a TSA trust root
    time: datetime | None = None
    tsa_subject: str | None = None


@dataclass(frozen=True)
class SignatureReport:
    """What was found about one signature; ``status`` and ``reasons`` sum it up."""

    field_name: str
    signer_subject: str
    seal_remarks: str
    reason: str
    location: str
    intact: bool
    valid: bool
    trusted: bool
    revoked: bool
    timestamp: TimestampCheck
    coverage: Coverage
    modification: Modification
    modification_allowed: bool
    modification_detail: str
    status: Status
    reasons: tuple[str, ...]
    #: the signer certificate's subject and issuer, RFC 4514 ("" when unreadable)
    subject: str = ""
    issuer: str = ""
    #: SHA-256 of the signer certificate's DER, hex ("" when unreadable)
    certificate_sha256: str = ""
    #: the trust root the signer's path was built to, RFC 4514 and SHA-256 of its DER; None
    #: when no path to a given root was found
    trust_root_subject: str | None = None
    trust_root_sha256: str | None = None
    #: the PAdES baseline level the file shows for this signature (module docstring); "" when
    #: the signature is unreadable
    level: str = ""
    #: document timestamps (B-LTA archive chain) after this signature that validate, oldest
    #: first: their genTimes
    archive_times: tuple[datetime, ...] = ()

    def distrusted(self, reason: str) -> SignatureReport:
        """This report with ``trusted`` false and ``reason`` added (e.g. the root is not one
        allowed for the certificate's tenant, or the seal was revoked before signing)."""
        reasons = tuple(dict.fromkeys((*self.reasons, reason)))
        revoked = self.revoked or reason == REASON_REVOKED
        return dataclasses.replace(
            self, trusted=False, revoked=revoked, reasons=reasons, status=_judge(reasons)
        )


@dataclass(frozen=True)
class PdfValidationReport:
    """Every signature of a PDF, in the order they were made, and the overall status."""

    signatures: tuple[SignatureReport, ...]
    status: Status
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True only when every signature passed (intact, valid, trusted, timestamped, no
        disallowed modification after it) and there is at least one."""
        return self.status is Status.PASSED

    def with_signatures(self, signatures: Sequence[SignatureReport]) -> PdfValidationReport:
        """The report with ``signatures`` instead (same count), overall status recomputed."""
        return summarise(signatures)


def summarise(signatures: Sequence[SignatureReport]) -> PdfValidationReport:
    """A report over ``signatures``: ``no_signatures`` when empty, else the worst status."""
    if not signatures:
        return PdfValidationReport((), Status.INDETERMINATE, (REASON_NO_SIGNATURES,))
    reasons = tuple(dict.fromkeys(r for rep in signatures for r in rep.reasons))
    return PdfValidationReport(tuple(signatures), _judge(reasons), reasons)


def _text(obj: Any, key: str) -> str:
    try:
        value = obj.get(key)
    except PARSE_ERRORS:
        return ""
    return str(value) if value is not None else ""


def _remarks(sig_object: Any) -> str:
    try:
        app = sig_object["/Prop_Build"]["/App"]
        return str(app.get(REMARKS_KEY, ""))
    except PARSE_ERRORS:
        return ""


def _coverage(level: SignatureCoverageLevel | None) -> Coverage:
    if level is SignatureCoverageLevel.ENTIRE_FILE:
        return Coverage.ENTIRE_FILE
    if level is SignatureCoverageLevel.ENTIRE_REVISION:
        return Coverage.ENTIRE_REVISION
    return Coverage.PARTIAL


def _modification(status: PdfSignatureStatus) -> tuple[Modification, bool, str]:
    diff = status.diff_result
    level = status.modification_level
    if isinstance(diff, SuspiciousModification):
        return Modification.OTHER, False, f"disallowed change after signing: {diff}"
    if level is None:  # pyHanko skipped the analysis (no later revision to compare)
        return Modification.NONE, True, "no change after signing"
    mod = _LEVELS.get(level, Modification.OTHER)
    allowed = bool(status.docmdp_ok) and mod is not Modification.OTHER
    changed = sorted(diff.changed_form_fields) if diff is not None else []
    detail = {
        Modification.NONE: "no change after signing",
        Modification.VALIDATION_DATA: "validation data (DSS) added after signing",
        Modification.FORM_FILLING: "form fields filled or signed after signing",
        Modification.ANNOTATIONS: "annotations added or changed after signing",
        Modification.OTHER: "content changed after signing",
    }[mod]
    if changed:
        detail += f" (fields: {', '.join(changed)})"
    if not allowed:
        detail += "; not allowed by the document's modification policy"
    return mod, allowed, detail


def _timestamp(status: PdfSignatureStatus) -> TimestampCheck:
    ts = status.timestamp_validity
    if ts is None:
        return TimestampCheck(present=False)
    return TimestampCheck(
        present=True,
        valid=bool(ts.intact and ts.valid),
        trusted=bool(ts.trusted),
        time=ts.timestamp,
        tsa_subject=ts.signing_cert.subject.human_friendly,
    )


def _judge(reasons: Sequence[str]) -> Status:
    if not reasons:
        return Status.PASSED
    if any(r in _FAILING for r in reasons):
        return Status.FAILED
    return Status.INDETERMINATE


def _who(status: PdfSignatureStatus) -> dict[str, Any]:
    """Subject, issuer and SHA-256 of the signer certificate; the trust root of its path."""
    der = status.signing_cert.dump()
    out: dict[str, Any] = {"certificate_sha256": hashlib.sha256(der).hexdigest()}
    try:
        cert = x509.load_der_x509_certificate(der)
        out["subject"] = cert.subject.rfc4514_string()
        out["issuer"] = cert.issuer.rfc4514_string()
    except ValueError:  # cryptography is stricter than asn1crypto: fall back to its names
        out["subject"] = status.signing_cert.subject.human_friendly
        out["issuer"] = status.signing_cert.issuer.human_friendly
    path = status.validation_path
    authority = None if path is None else path.trust_anchor.authority
    if status.trusted and isinstance(authority, AuthorityWithCert):
        anchor = authority.certificate
        out["trust_root_sha256"] = hashlib.sha256(anchor.dump()).hexdigest()
        try:
            out["trust_root_subject"] = x509.load_der_x509_certificate(
                anchor.dump()
            ).subject.rfc4514_string()
        except ValueError:
            out["trust_root_subject"] = anchor.subject.human_friendly
    return out


def _report(embedded: Any, status: PdfSignatureStatus) -> SignatureReport:
    sig = embedded.sig_object
    ts = _timestamp(status)
    coverage = _coverage(status.coverage)
    mod, allowed, detail = _modification(status)
    revoked = bool(getattr(status, "revoked", False))
    reasons: list[str] = []
    if not status.intact:
        reasons.append(REASON_NOT_INTACT)
    elif not status.valid:
        reasons.append(REASON_INVALID)
    if revoked:
        reasons.append(REASON_REVOKED)
    elif not status.trusted:
        reasons.append(REASON_UNTRUSTED)
    if not ts.present:
        reasons.append(REASON_TIMESTAMP_MISSING)
    elif not ts.valid:
        reasons.append(REASON_TIMESTAMP_INVALID)
    elif not ts.trusted:
        reasons.append(REASON_TIMESTAMP_UNTRUSTED)
    if coverage is Coverage.PARTIAL:
        reasons.append(REASON_PARTIAL_COVERAGE)
    if not allowed:
        reasons.append(REASON_MODIFIED)
    return SignatureReport(
        field_name=str(embedded.field_name),
        signer_subject=status.signing_cert.subject.human_friendly,
        seal_remarks=_remarks(sig),
        reason=_text(sig, "/Reason"),
        location=_text(sig, "/Location"),
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        revoked=revoked,
        timestamp=ts,
        coverage=coverage,
        modification=mod,
        modification_allowed=allowed,
        modification_detail=detail,
        status=_judge(reasons),
        reasons=tuple(reasons),
        **_who(status),
    )


def _unreadable(embedded: Any, e: BaseException) -> SignatureReport:
    return SignatureReport(
        field_name=str(getattr(embedded, "field_name", "?")),
        signer_subject="",
        seal_remarks="",
        reason="",
        location="",
        intact=False,
        valid=False,
        trusted=False,
        revoked=False,
        timestamp=TimestampCheck(present=False),
        coverage=Coverage.PARTIAL,
        modification=Modification.OTHER,
        modification_allowed=False,
        modification_detail=f"signature cannot be read: {type(e).__name__}: {e}"[:300],
        status=Status.FAILED,
        reasons=(REASON_UNREADABLE,),
    )


def _context(
    reader: Any,
    roots: Sequence[x509.Certificate],
    at_time: datetime | None,
) -> ValidationContext:
    kwargs: dict[str, Any] = {
        "trust_roots": [asn1_cert(c) for c in roots],
        "allow_fetching": False,
        "revocation_mode": "soft-fail",
    }
    if at_time is not None:
        kwargs["moment"] = at_time
    try:  # B-LT: use the certificates and CRLs/OCSP responses embedded in the DSS
        return DocumentSecurityStore.read_dss(reader).as_validation_context(kwargs)
    except NoDSSFoundError:
        return ValidationContext(**kwargs)


async def async_validate_pdf(
    pdf: bytes,
    trust_roots: Sequence[x509.Certificate],
    tsa_trust_roots: Sequence[x509.Certificate],
    *,
    at_time: datetime | None = None,
    max_pdf_bytes: int = DEFAULT_MAX_PDF_BYTES,
) -> PdfValidationReport:
    """Validate every signature in ``pdf`` against the given roots, at ``at_time`` (default now).

    Requires an aware ``at_time`` if given. Raises :class:`InvalidPdfError` for a malformed or
    oversized file; a file without signatures gives an ``indeterminate`` report with reason
    ``no_signatures``; a signature pyHanko cannot read gives a ``failed`` one.
    """
    if at_time is not None and at_time.utcoffset() is None:
        raise ValueError("at_time must be timezone-aware")
    opened = open_pdf(pdf, max_bytes=max_pdf_bytes)
    reader = opened.reader
    try:
        embedded_sigs = list(reader.embedded_regular_signatures)
        signer_vc = _context(reader, trust_roots, at_time)
    except PARSE_ERRORS as e:
        raise InvalidPdfError(f"unreadable signatures: {e}") from e
    usage = KeyUsageConstraints(
        key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
    )
    reports: list[SignatureReport] = []
    for embedded in embedded_sigs:
        ts_vc = ValidationContext(
            trust_roots=[asn1_cert(c) for c in tsa_trust_roots], allow_fetching=False
        )
        try:
            status = await async_validate_pdf_signature(
                embedded, signer_vc, ts_vc, key_usage_settings=usage
            )
            report = _report(embedded, status)
            archive = await _archive_times(reader, embedded, tsa_trust_roots, at_time)
            level = _level(report, _in_dss(reader, status), archive)
        except Exception as e:  # hostile input: report it, never crash
            log.info("signature %s unreadable: %s: %s", embedded.field_name, type(e).__name__, e)
            reports.append(_unreadable(embedded, e))
            continue
        reports.append(dataclasses.replace(report, level=level, archive_times=archive))
    return summarise(reports)


def _in_dss(reader: Any, status: PdfSignatureStatus) -> bool:
    """Whether the document's DSS holds the signer's certificate (B-LT)."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return False
    want = status.signing_cert.issuer_serial
    return want in dss.certs


async def _archive_times(
    reader: Any,
    embedded: Any,
    tsa_trust_roots: Sequence[x509.Certificate],
    at_time: datetime | None,
) -> tuple[datetime, ...]:
    """genTimes of the document timestamps after ``embedded``'s revision that are intact,
    valid and chain to ``tsa_trust_roots`` (at ``at_time``, default now), oldest first."""
    times: list[datetime] = []
    for stamp in reader.embedded_timestamp_signatures:
        if stamp.signed_revision <= embedded.signed_revision:
            continue
        kwargs: dict[str, Any] = {
            "trust_roots": [asn1_cert(c) for c in tsa_trust_roots],
            "allow_fetching": False,
        }
        if at_time is not None:
            kwargs["moment"] = at_time
        st = await async_validate_pdf_timestamp(stamp, ValidationContext(**kwargs), skip_diff=True)
        if st.intact and st.valid and st.trusted and st.timestamp is not None:
            times.append(st.timestamp)
    return tuple(times)


def _level(report: SignatureReport, in_dss: bool, archive: Sequence[datetime]) -> str:
    if not (report.timestamp.present and report.timestamp.valid):
        return "B-B"
    if not in_dss:
        return "B-T"
    return "B-LTA" if archive else "B-LT"


def validate_pdf(
    pdf: bytes,
    trust_roots: Sequence[x509.Certificate],
    tsa_trust_roots: Sequence[x509.Certificate],
    *,
    at_time: datetime | None = None,
    max_pdf_bytes: int = DEFAULT_MAX_PDF_BYTES,
) -> PdfValidationReport:
    """:func:`async_validate_pdf` for callers without an event loop.

    Requires that no event loop is running in this thread.
    """
    return asyncio.run(
        async_validate_pdf(
            pdf, trust_roots, tsa_trust_roots, at_time=at_time, max_pdf_bytes=max_pdf_bytes
        )
    )


__all__ = [
    "Coverage",
    "Modification",
    "PdfValidationReport",
    "SignatureReport",
    "Status",
    "TimestampCheck",
    "async_validate_pdf",
    "summarise",
    "validate_pdf",
]
