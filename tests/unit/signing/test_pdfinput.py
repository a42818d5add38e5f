"""Untrusted PDF input: every malformed or oversized file is an InvalidPdfError, never a crash."""

from __future__ import annotations

import pytest

from sealtrail.signing.errors import InvalidPdfError, PdfTooLargeError
from sealtrail.signing.pdfinput import open_pdf

from .pdfs import make_pdf


def test_real_pdf_opens() -> None:
    opened = open_pdf(make_pdf(3))
    assert opened.pages == 3
    assert opened.signatures == 0


def _mutations() -> dict[str, bytes]:
    good = make_pdf(2)
    xref = good.rindex(b"xref")
    return {
        "empty": b"",
        "garbage": b"\x00\xffnot a pdf at all" * 100,
        "header-only": b"%PDF-1.7\n",
        "truncated-half": good[: len(good) // 2],
        "truncated-before-trailer": good[: good.rindex(b"trailer")],
        "xref-garbled": good[:xref] + b"xref\n0 9\nGARBAGE GARBAGE\n" + good[xref + 30 :],
        "startxref-points-nowhere": good[: good.rindex(b"startxref")]
        + b"startxref\n99999999\n%%EOF\n",
        "no-header": good.replace(b"%PDF-", b"%XXX-", 1),
    }


@pytest.mark.parametrize("name", list(_mutations()))
def test_malformed_pdf_is_invalid_pdf_error(name: str) -> None:
    with pytest.raises(InvalidPdfError):
        open_pdf(_mutations()[name])


def test_oversized_pdf_refused_before_parsing() -> None:
    data = make_pdf(1)
    with pytest.raises(PdfTooLargeError, match=f"PDF of {len(data)} bytes, want at most 100"):
        open_pdf(data, max_bytes=100)


def test_huge_garbage_refused_by_size() -> None:
    with pytest.raises(PdfTooLargeError):
        open_pdf(b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024), max_bytes=1024 * 1024)


def test_encrypted_pdf_refused() -> None:
    with pytest.raises(InvalidPdfError, match="encrypted"):
        open_pdf(make_pdf(1, encrypt="secret"))


def test_wrong_type_is_type_error() -> None:
    with pytest.raises(TypeError):
        open_pdf("%PDF-1.7")  # type: ignore[arg-type]
