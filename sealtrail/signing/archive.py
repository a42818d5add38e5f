"""PAdES B-LTA archive timestamps: reading a PDF's archive state, and renewing it.

A B-LTA PDF (:class:`~sealtrail.signing.sign.SignatureLevel`) ends with a document timestamp
(ETSI EN 319 142-1 §5.5) over the whole file, the DSS included. That timestamp keeps the
signatures and validation data before it provable only while its own TSA certificate is valid
and its hash algorithm is strong. *Renewing* (ETSI EN 319 142-1 §5.5, "the archive time-stamp
chain") appends, as one more incremental update, the DSS of the last document timestamp (its
TSA's certificates, and CRLs when the caller has them) and a new document timestamp over the
whole file — before the last one's TSA certificate expires, or when its hash algorithm is
deprecated. Earlier signatures and timestamps are untouched: the new one covers them.

:func:`archive_state` reads what the renewal decision needs; :func:`renewal_reason` makes the
decision (a pure function of the state, the time and the policy); :func:`async_renew_archive`
does the renewal. Nothing here reads the clock: the time is a parameter.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

from sealtrail.signing.errors import InvalidPdfError, SigningError, SigningTimestampError
from sealtrail.signing.formats import asn1_cert, asn1_crl_of
from sealtrail.signing.pdfinput import DEFAULT_MAX_PDF_BYTES, PARSE_ERRORS, open_pdf
from sealtrail.signing.sign import ARCHIVE_FIELD_PREFIX

log = logging.getLogger("sealtrail.signing")

#: the digest used for a new archive timestamp unless the caller names another
DEFAULT_ARCHIVE_DIGEST = "sha256"
#: digests a new archive timestamp may use
ARCHIVE_DIGESTS = frozenset({"sha256", "sha384", "sha512"})
_READ_ERRORS: tuple[type[BaseException], ...] = (*PARSE_ERRORS, AttributeError)


@dataclass(frozen=True)
class ArchiveState:
    """The last document timestamp of a PDF: when, by whom, until when, with which digest."""

    #: how many document timestamps the file holds
    count: int
    #: the last one's genTime, and its TSA certificate's notAfter (both aware, UTC)
    gen_time: datetime
    tsa_not_after: datetime
    #: the digest over the document (the message imprint's algorithm), lower case
    digest: str
    #: the TSA certificate's SHA-256 (hex)
    tsa_certificate_sha256: str


def archive_state(pdf: bytes, *, max_pdf_bytes: int = DEFAULT_MAX_PDF_BYTES) -> ArchiveState | None:
    """The state of ``pdf``'s last document timestamp, or None when it has none (B-T, B-LT).

    Raises :class:`InvalidPdfError` for a malformed file or an unreadable timestamp."""
    reader = open_pdf(pdf, max_bytes=max_pdf_bytes).reader
    try:
        stamps = list(reader.embedded_timestamp_signatures)
        if not stamps:
            return None
        last = stamps[-1]
        tst_info = last.signed_data["encap_content_info"]["content"].parsed
        gen_time = tst_info["gen_time"].native
        digest = str(tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native).lower()
        cert = last.signer_cert
        not_after = cert["tbs_certificate"]["validity"]["not_after"].native
        sha = cert.sha256.hex()
    except _READ_ERRORS as e:
        raise InvalidPdfError(f"unreadable document timestamp: {e}") from e
    return ArchiveState(len(stamps), gen_time, not_after, digest, sha)


def renewal_reason(
    state: ArchiveState | None,
    now: datetime,
    margin: timedelta,
    deprecated: Collection[str] = (),
) -> str | None:
    """Why ``state`` must be renewed at ``now``, or None when it need not be.

    ``no_archive_timestamp``: none yet (the file is not B-LTA); ``certificate_expiring``: the
    last TSA certificate expires within ``margin`` of ``now`` (or already has: renewing then is
    too late to prove anything new, but is still reported so an operator sees it);
    ``digest_deprecated``: its digest is one of ``deprecated``. Requires an aware ``now``."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if state is None:
        return "no_archive_timestamp"
    if state.digest in {d.lower() for d in deprecated}:
        return "digest_deprecated"
    if state.tsa_not_after - margin <= now:
        return "certificate_expiring"
    return None


def _context(
    roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    at: datetime,
) -> ValidationContext:
    return ValidationContext(
        trust_roots=[asn1_cert(c) for c in roots],
        crls=[asn1_crl_of(c) for c in crls],
        allow_fetching=False,
        moment=at,
        best_signature_time=at,
    )


async def async_renew_archive(
    pdf: bytes,
    tsa_urls: Sequence[str],
    tsa_roots: Sequence[x509.Certificate],
    *,
    at: datetime,
    digest: str = DEFAULT_ARCHIVE_DIGEST,
    crls: Sequence[x509.CertificateRevocationList] = (),
    tsa_timeout: float = 10.0,
    max_pdf_bytes: int = DEFAULT_MAX_PDF_BYTES,
) -> bytes:
    """``pdf`` with its archive timestamp chain renewed at ``at`` (module docstring).

    The last document timestamp (if any) must validate at ``at`` against ``tsa_roots``: a
    renewal after its certificate expired would prove nothing, and is refused with
    :class:`SigningError`. Its chain (and ``crls``) go into the DSS, then a new document
    timestamp with ``digest`` from the first of ``tsa_urls`` that answers with a token chaining
    to ``tsa_roots`` (else :class:`SigningTimestampError`). Requires an aware ``at``."""
    if at.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
    if digest not in ARCHIVE_DIGESTS:
        raise ValueError(f"digest {digest!r}, want one of {sorted(ARCHIVE_DIGESTS)}")
    if not tsa_urls:
        raise ValueError("tsa_urls is empty: a renewal needs a TSA")
    opened = open_pdf(pdf, max_bytes=max_pdf_bytes)
    reader = opened.reader
    vc = _context(tsa_roots, crls, at)
    try:
        stamps = list(reader.embedded_timestamp_signatures)
        names = {str(s.field_name) for s in reader.embedded_signatures}
    except PARSE_ERRORS as e:
        raise InvalidPdfError(f"unreadable signatures: {e}") from e
    writer = IncrementalPdfFileWriter(io.BytesIO(opened.data), strict=False)
    if stamps:
        last = stamps[-1]
        try:
            status = await async_validate_pdf_timestamp(last, vc, skip_diff=True)
        except Exception as e:  # hostile input: never let pyHanko's exceptions escape
            raise SigningError(f"last archive timestamp unreadable: {type(e).__name__}") from e
        if not (status.intact and status.valid and status.trusted):
            raise SigningError(
                f"last archive timestamp does not validate at {at.isoformat()}: intact "
                f"{status.intact}, valid {status.valid}, trusted {status.trusted}"
            )
        DocumentSecurityStore.supply_dss_in_writer(
            writer,
            last.pkcs7_content,
            paths=(status.validation_path,),
            validation_context=vc,
        )
    n = len(stamps) + 1
    while f"{ARCHIVE_FIELD_PREFIX}{n}" in names:
        n += 1
    failures: list[str] = []
    for url in tsa_urls:
        stamper = PdfTimeStamper(
            HTTPTimeStamper(url, timeout=tsa_timeout), field_name=f"{ARCHIVE_FIELD_PREFIX}{n}"
        )
        out = io.BytesIO()
        attempt = IncrementalPdfFileWriter(io.BytesIO(_written(writer)), strict=False)
        try:
            await stamper.async_timestamp_pdf(attempt, digest, vc, output=out)
        except TimestampRequestError as e:
            failures.append(f"{url}: {e}")
            log.warning("TSA %s failed during an archive renewal: %s", url, e)
            continue
        except PyHankoSigningError as e:
            failures.append(f"{url}: {e}")
            continue
        except PARSE_ERRORS as e:
            raise InvalidPdfError(f"cannot timestamp this PDF: {e}") from e
        return out.getvalue()
    raise SigningTimestampError("no TSA gave a trusted archive timestamp: " + "; ".join(failures))


def _written(writer: IncrementalPdfFileWriter) -> bytes:
    buf = io.BytesIO()
    writer.write(buf)  # type: ignore[no-untyped-call]
    return buf.getvalue()


__all__ = [
    "ARCHIVE_DIGESTS",
    "ArchiveState",
    "archive_state",
    "async_renew_archive",
    "renewal_reason",
]
