"""Untrusted PDF input: size limits, and parsing that fails with :class:`InvalidPdfError`.

Every PDF that reaches signing or validation passes :func:`open_pdf` first, which turns whatever
pyHanko's parser (or the Python underneath it) throws at a malformed file into one clear error,
so a hostile upload can cost a 400, never a crash. Sizes are checked before any parsing.
"""

from __future__ import annotations

import io
import logging
import zlib
from dataclasses import dataclass

from pyhanko.pdf_utils import misc
from pyhanko.pdf_utils.reader import PdfFileReader

from sealtrail.signing.errors import InvalidPdfError, PdfTooLargeError

log = logging.getLogger("sealtrail.signing")

#: Default cap on an uploaded PDF (bytes); the service configures its own.
DEFAULT_MAX_PDF_BYTES = 50 * 1024 * 1024
#: Most pages we sign or validate in one file.
MAX_PAGES = 10_000
#: ISO 32000-1 §7.5.2: the header must be near the start; readers accept it within 1 KiB.
_HEADER_WINDOW = 1024

#: What the parser may throw at a hostile file, besides its own PdfError.
PARSE_ERRORS: tuple[type[BaseException], ...] = (
    misc.PdfError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    AssertionError,
    UnicodeError,
    RecursionError,
    zlib.error,
    EOFError,
    OverflowError,
    NotImplementedError,
)


@dataclass(frozen=True)
class OpenedPdf:
    """A parsed PDF: its bytes, a reader over them, and its page and signature counts."""

    data: bytes
    reader: PdfFileReader
    pages: int
    signatures: int


def check_size(data: bytes, max_bytes: int) -> None:
    """Raise unless ``0 < len(data) <= max_bytes``. Requires ``max_bytes > 0``."""
    if not isinstance(data, bytes):
        raise TypeError(f"PDF must be bytes, got {type(data).__name__}")
    if max_bytes <= 0:
        raise ValueError("max_bytes must be positive")
    if not data:
        raise InvalidPdfError("empty file, want a PDF")
    if len(data) > max_bytes:
        raise PdfTooLargeError(f"PDF of {len(data)} bytes, want at most {max_bytes}")


def open_pdf(data: bytes, *, max_bytes: int = DEFAULT_MAX_PDF_BYTES) -> OpenedPdf:
    """Parse ``data`` as an unencrypted PDF of at most ``max_bytes`` bytes and ``MAX_PAGES``.

    Raises :class:`PdfTooLargeError` or :class:`InvalidPdfError` (no header, broken
    cross-reference table or trailer, encrypted, no pages, unreadable signature fields).
    """
    check_size(data, max_bytes)
    if b"%PDF-" not in data[:_HEADER_WINDOW]:
        raise InvalidPdfError("no %PDF- header in the first 1024 bytes: not a PDF")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            raise InvalidPdfError("encrypted PDF: decrypt it before sealing")
        root = reader.root
        pages = int(root["/Pages"]["/Count"])
        signatures = len(reader.embedded_regular_signatures)
        # Touch every revision's xref data now, rather than midway through signing.
        _ = reader.xrefs.total_revisions
    except InvalidPdfError:
        raise
    except PARSE_ERRORS as e:
        log.info("rejected a malformed PDF: %s: %s", type(e).__name__, e)
        raise InvalidPdfError(f"malformed PDF: {_short(e)}") from e
    if not 0 < pages <= MAX_PAGES:
        raise InvalidPdfError(f"PDF has {pages} pages, want 1 to {MAX_PAGES}")
    return OpenedPdf(data, reader, pages, signatures)


def _short(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."
