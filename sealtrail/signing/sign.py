"""Sealing a PDF: a PAdES signature (B-T, B-LT or B-LTA) made with pyHanko, as an incremental
update.

One call adds one signature, so a PDF signed by one party can be sealed by the next without
disturbing earlier signatures (each is its own incremental update, ISO 32000-1 §7.5.6).

Profile (ETSI EN 319 142-1):

* **B-T**: ``/SubFilter /ETSI.CAdES.detached``, SHA-256, the signer's certificate chain in the
  CMS, and a signature timestamp (RFC 3161) from the first configured TSA that answers.
  Before the signature is written, pyHanko validates the signer's chain and the timestamp
  against ``trust_roots`` and ``tsa_trust_roots``: a seal whose certificate does not chain to
  them, or a token from an untrusted TSA, is refused rather than written.
* **B-LT**: B-T plus the validation data (certificates, and the CRLs passed in ``crls``) in the
  document security store (DSS, ETSI EN 319 142-1 §5.4), written in a further incremental
  update.
* **B-LTA**: B-LT plus a document timestamp (``/SubFilter /ETSI.RFC3161``, ETSI EN 319 142-1
  §5.5) over the whole file, DSS included, from the same TSA, followed by the DSS of that
  timestamp's own chain. :mod:`sealtrail.signing.archive` renews that timestamp later.

The development PKI publishes no OCSP responder; the DSS then holds the certificates and the
CRLs given in ``crls`` (none for the service seal: its CA issues none), and pyHanko is never
allowed to fetch.

**Where the seal's remarks go.** The remarks (scope of use, authorised object) are written into
the signature dictionary, in the build properties as ``/Prop_Build /App /SealtrailRemarks``
(a text string, next to ``/Name /Sealtrail``). The signature dictionary lies inside the signed
byte range (only ``/Contents`` is excluded), so the remarks are covered by the signature and a
changed remark breaks it. :mod:`sealtrail.signing.validate` reads them back into its report.
``/Reason`` and ``/Location`` carry the reason and location, as every PDF reader shows them.

The visible appearance is the seal PNG alone (as the background of pyHanko's text stamp, with
no text over it); without a PNG the stamp shows "Sealed <time>" in a thin frame.
"""

from __future__ import annotations

import asyncio
import enum
import io
import logging
from dataclasses import dataclass
from typing import Any

from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from PIL import Image
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers.pdf_byterange import BuildProps
from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError
from pyhanko_certvalidator.registry import SimpleCertificateStore

from sealtrail.signing.appearance import validate_png
from sealtrail.signing.errors import (
    InvalidPdfError,
    SignatureFieldError,
    SigningError,
    SigningTimestampError,
)
from sealtrail.signing.formats import APP_NAME, REMARKS_KEY, asn1_cert, asn1_crl_of
from sealtrail.signing.pdfinput import DEFAULT_MAX_PDF_BYTES, PARSE_ERRORS, open_pdf
from sealtrail.signing.pki import CertifiedKey

log = logging.getLogger("sealtrail.signing")

MAX_TEXT_CHARS = 1000
#: document timestamp fields are named ``SealtrailArchive<n>``, n counting from 1
ARCHIVE_FIELD_PREFIX = "SealtrailArchive"
MAX_APPEARANCE_BYTES = 2 * 1024 * 1024
MAX_APPEARANCE_PIXELS = 4_000_000

Box = tuple[int, int, int, int]


class _EmbeddedRevocationNotice(logging.Filter):
    """Drops pyHanko's warning that B-LT data is embedded without fetching: Sealtrail never
    lets the signer fetch; it embeds the CRLs it passes (``SigningPolicy.crls``) on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_EmbeddedRevocationNotice())


class SignatureLevel(enum.Enum):
    """The PAdES baseline level to produce (ETSI EN 319 142-1 §6)."""

    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"


@dataclass(frozen=True)
class Placement:
    """Where the signature goes.

    ``box`` given: a new visible field on ``page`` (0-based) with corners ``(x1, y1, x2, y2)`` in
    PDF points from the page's lower left. ``box`` None: the existing empty signature field
    named by ``field_name`` if the document has one, else a new invisible field.
    """

    field_name: str
    page: int = 0
    box: Box | None = None


@dataclass(frozen=True)
class SigningPolicy:
    """Who may be trusted while signing: TSAs to ask, and the roots their answers must reach.

    ``timestamper_urls`` are tried in order until one answers (at least one required).
    ``trust_roots`` are the roots the seal's certificate must chain to; ``tsa_trust_roots``
    those of the TSAs; ``crls`` revocation data to embed at B-LT.
    """

    timestamper_urls: tuple[str, ...]
    trust_roots: tuple[x509.Certificate, ...]
    tsa_trust_roots: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    tsa_timeout: float = 10.0
    max_pdf_bytes: int = DEFAULT_MAX_PDF_BYTES


def _simple_signer(signer: CertifiedKey) -> signers.SimpleSigner:
    key_info = asn1_keys.PrivateKeyInfo.load(
        signer.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    registry = SimpleCertificateStore()  # type: ignore[no-untyped-call]
    for cert in signer.chain:
        registry.register(asn1_cert(cert))
    return signers.SimpleSigner(
        signing_cert=asn1_cert(signer.certificate),
        signing_key=key_info,
        cert_registry=registry,
    )


class _RemarksBuildProps(BuildProps):
    """Build properties that also carry the seal's remarks (module docstring)."""

    remarks: str

    def __init__(self, remarks: str) -> None:
        super().__init__(name=APP_NAME)
        object.__setattr__(self, "remarks", remarks)

    def as_pdf_object(self) -> generic.DictionaryObject:
        props = super().as_pdf_object()
        if self.remarks:
            props[generic.NameObject(REMARKS_KEY)] = generic.TextStringObject(self.remarks)
        return props


def _check_text(what: str, text: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be str, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"{what} has {len(text)} characters, want at most {MAX_TEXT_CHARS}")
    return text


def _stamp_style(appearance_png: bytes | None) -> TextStampStyle:
    if appearance_png is None:
        return TextStampStyle(stamp_text="Sealed %(ts)s", border_width=1)
    validate_png(appearance_png, max_bytes=MAX_APPEARANCE_BYTES, max_pixels=MAX_APPEARANCE_PIXELS)
    image = Image.open(io.BytesIO(appearance_png))
    image.load()
    return TextStampStyle(
        stamp_text="",  # the seal alone: text would cross the star; the time is in the report
        background=PdfImage(image),
        background_opacity=1.0,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins(),
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
        ),
        border_width=0,
    )


def _field_spec(opened_fields: set[str], placement: Placement, pages: int) -> Any:
    """The new field's spec, or None to sign the existing empty field of that name."""
    name = placement.field_name
    if not name or "." in name:
        raise SignatureFieldError(f"field name {name!r}, want a non-empty name without '.'")
    if placement.box is None:
        if name in opened_fields:
            return None
        return fields.SigFieldSpec(name)  # invisible
    if name in opened_fields:
        raise SignatureFieldError(f"field {name!r} already exists; sign it without a box")
    if not 0 <= placement.page < pages:
        raise SignatureFieldError(f"page {placement.page}, want 0 to {pages - 1}")
    x1, y1, x2, y2 = placement.box
    if not (x2 > x1 and y2 > y1):
        raise SignatureFieldError(f"box {placement.box}, want x1 < x2 and y1 < y2")
    box = (round(x1), round(y1), round(x2), round(y2))
    return fields.SigFieldSpec(name, on_page=placement.page, box=box)


def _existing_fields(reader: Any) -> tuple[set[str], set[str]]:
    """(all signature field names, names of the already signed ones)."""
    names: set[str] = set()
    signed: set[str] = set()
    for name, value, _ref in fields.enumerate_sig_fields(reader, filled_status=None):
        names.add(name)
        if value is not None:
            signed.add(name)
    return names, signed


async def async_sign_pdf(
    pdf: bytes,
    signer: CertifiedKey,
    placement: Placement,
    policy: SigningPolicy,
    *,
    appearance_png: bytes | None = None,
    reason: str = "",
    location: str = "",
    remarks: str = "",
    level: SignatureLevel = SignatureLevel.B_T,
) -> bytes:
    """``pdf`` with one more signature by ``signer``, appended as an incremental update.

    Requires at least one TSA URL in ``policy``, a ``signer`` whose certificate chains to
    ``policy.trust_roots``, and reason, location and remarks of at most 1000 characters.
    Raises :class:`InvalidPdfError` for a malformed or oversized PDF,
    :class:`~sealtrail.signing.errors.AppearanceError` for a bad PNG,
    :class:`SignatureFieldError` for a bad placement, :class:`SigningTimestampError` when no TSA
    gave a trusted token, :class:`SigningError` for anything else pyHanko refuses.
    """
    if not policy.timestamper_urls:
        raise ValueError("policy.timestamper_urls is empty: B-T needs a TSA")
    reason, location, remarks = (
        _check_text("reason", reason),
        _check_text("location", location),
        _check_text("remarks", remarks),
    )
    opened = open_pdf(pdf, max_bytes=policy.max_pdf_bytes)
    try:
        names, signed = _existing_fields(opened.reader)
    except PARSE_ERRORS as e:
        raise InvalidPdfError(f"unreadable form fields: {e}") from e
    if placement.field_name in signed:
        raise SignatureFieldError(f"field {placement.field_name!r} is already signed")
    spec = _field_spec(names, placement, opened.pages)
    style = _stamp_style(appearance_png)
    vc = ValidationContext(
        trust_roots=[asn1_cert(c) for c in (*policy.trust_roots, *policy.tsa_trust_roots)],
        other_certs=[asn1_cert(c) for c in signer.chain],
        crls=[asn1_crl_of(c) for c in policy.crls],
        allow_fetching=False,
    )
    meta = signers.PdfSignatureMetadata(
        field_name=placement.field_name,
        reason=reason or None,
        location=location or None,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        embed_validation_info=level is not SignatureLevel.B_T,
        use_pades_lta=level is SignatureLevel.B_LTA,
        timestamp_field_name=ARCHIVE_FIELD_PREFIX + "1" if level is SignatureLevel.B_LTA else None,
        validation_context=vc,
        app_build_props=_RemarksBuildProps(remarks),
        signer_key_usage={"non_repudiation"},
    )
    simple_signer = _simple_signer(signer)
    failures: list[str] = []
    for url in policy.timestamper_urls:
        pdf_signer = signers.PdfSigner(
            meta,
            simple_signer,
            timestamper=HTTPTimeStamper(url, timeout=policy.tsa_timeout),
            stamp_style=style,
            new_field_spec=spec,
        )
        try:
            writer = IncrementalPdfFileWriter(io.BytesIO(opened.data), strict=False)
            out = await pdf_signer.async_sign_pdf(writer, output=io.BytesIO())
        except TimestampRequestError as e:
            failures.append(f"{url}: {e}")
            log.warning("TSA %s failed: %s", url, e)
            continue
        except (PathBuildingError, PathValidationError) as e:
            raise SigningError(f"certificate does not validate for signing: {e}") from e
        except PyHankoSigningError as e:
            if _is_timestamp_trouble(e):
                failures.append(f"{url}: {e}")
                continue
            raise SigningError(f"pyHanko refused to sign: {e}") from e
        except PARSE_ERRORS as e:
            raise InvalidPdfError(f"cannot sign this PDF: {e}") from e
        data: bytes = out.getvalue()
        return data
    raise SigningTimestampError("no TSA gave a trusted timestamp: " + "; ".join(failures))


def _is_timestamp_trouble(e: BaseException) -> bool:
    chain: BaseException | None = e
    while chain is not None:
        if isinstance(chain, TimestampRequestError) or "timestamp" in str(chain).lower():
            return True
        chain = chain.__cause__ or chain.__context__
    return False


def sign_pdf(
    pdf: bytes,
    signer: CertifiedKey,
    placement: Placement,
    policy: SigningPolicy,
    *,
    appearance_png: bytes | None = None,
    reason: str = "",
    location: str = "",
    remarks: str = "",
    level: SignatureLevel = SignatureLevel.B_T,
) -> bytes:
    """:func:`async_sign_pdf` for callers without an event loop (CLI, benchmarks, scripts).

    Requires that no event loop is running in this thread.
    """
    return asyncio.run(
        async_sign_pdf(
            pdf,
            signer,
            placement,
            policy,
            appearance_png=appearance_png,
            reason=reason,
            location=location,
            remarks=remarks,
            level=level,
        )
    )
