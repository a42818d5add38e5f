"""Real PDFs for the signing tests, drawn with reportlab (uncompressed, so tests can find text)."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

CONTRACT_LINE = b"The parties agree to pay 1000 EUR."


def make_pdf(pages: int = 1, *, encrypt: str | None = None) -> bytes:
    """A PDF of ``pages`` A4 pages, page i saying "Page i" and a contract line."""
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, pageCompression=0, encrypt=encrypt, invariant=True)
    for i in range(pages):
        c.setFont("Helvetica", 14)
        c.drawString(72, 760, f"Page {i + 1} of {pages}")
        c.drawString(72, 730, CONTRACT_LINE.decode())
        c.showPage()
    c.save()
    return out.getvalue()
