"""A PDF's pages for a reader: their sizes in points, and each page as a PNG (pypdfium2).

The signer's page shows every page as an image rendered here, so a phone needs no PDF viewer
and nothing is fetched from elsewhere (PDF.js would be a large script to serve and audit; a
server-side render is one call and gives every device the same pixels).
"""

from __future__ import annotations

import io
import threading

import pypdfium2 as pdfium  # type: ignore[import-untyped]

from sealtrail.signing.errors import InvalidPdfError

MIN_WIDTH = 320
MAX_WIDTH = 1600
DEFAULT_WIDTH = 1000
#: pdfium is not thread-safe: one render at a time per process
_LOCK = threading.Lock()


def page_sizes(pdf: bytes) -> list[tuple[float, float]]:
    """(width, height) in PDF points of each page, in order; InvalidPdfError if it will not
    open."""
    with _LOCK:
        try:
            doc = pdfium.PdfDocument(pdf)
        except pdfium.PdfiumError as e:
            raise InvalidPdfError(f"the PDF does not open: {e}") from e
        try:
            return [(float(w), float(h)) for w, h in (doc[i].get_size() for i in range(len(doc)))]
        finally:
            doc.close()


def render_page(pdf: bytes, number: int, width: int = DEFAULT_WIDTH) -> bytes:
    """Page ``number`` (1-based) as a PNG ``width`` pixels wide (clamped to
    :data:`MIN_WIDTH`..:data:`MAX_WIDTH`). Requires 1 ≤ number ≤ the page count (else
    InvalidPdfError)."""
    width = max(MIN_WIDTH, min(MAX_WIDTH, width))
    with _LOCK:
        try:
            doc = pdfium.PdfDocument(pdf)
        except pdfium.PdfiumError as e:
            raise InvalidPdfError(f"the PDF does not open: {e}") from e
        try:
            if not 1 <= number <= len(doc):
                raise InvalidPdfError(f"page {number}, want 1 to {len(doc)}")
            page = doc[number - 1]
            w, _h = page.get_size()
            bitmap = page.render(scale=width / w)
            image = bitmap.to_pil()
        finally:
            doc.close()
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
