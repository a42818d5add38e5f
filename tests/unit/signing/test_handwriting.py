"""Signer's marks (sealtrail/signing/handwriting.py), the per-signer certificate
(pki.issue_signer_certificate) and page rendering (pages.py): real Pillow, pdfium, cryptography."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from PIL import Image, ImageDraw

from sealtrail.signing import handwriting, pages, pki
from sealtrail.signing.errors import AppearanceError, CertificateError, InvalidPdfError

from .pdfs import make_pdf

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def png(w: int = 400, h: int = 150, bg: tuple[int, int, int, int] = (0, 0, 0, 0)) -> bytes:
    img = Image.new("RGBA", (w, h), bg)
    ImageDraw.Draw(img).line([(10, h - 10), (w - 10, 10)], fill=(0, 0, 80, 255), width=5)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def test_drawn_png_is_reencoded_transparent_and_cropped() -> None:
    out = handwriting.drawn_appearance(png(bg=(255, 255, 255, 255)))
    img = Image.open(io.BytesIO(out))
    assert img.mode == "RGBA"
    assert img.getpixel((0, 0))[3] == 0  # the white background became transparent
    assert img.size[0] <= 400
    assert img.getchannel("A").getextrema()[1] == 255  # ink kept


def test_drawn_png_loses_its_text_chunks() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "operator-was-here")
    img = Image.open(io.BytesIO(png()))
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info)
    assert b"operator-was-here" in buf.getvalue()
    assert b"operator-was-here" not in handwriting.drawn_appearance(buf.getvalue())


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"GIF89a" + b"\x00" * 100, "not a PNG"),
        (png(2001, 100), "2001×100"),
        (png(100, 1001), "100×1001"),
        (png(15, 100), "15×100"),
        (png()[:120], "does not decode"),
        (png(bg=(0, 0, 0, 0))[:8] + b"\x00" * 300_000, "bytes"),
        (png(400, 150, (0, 0, 0, 0)).replace(b"IDAT", b"IDAX"), "decode"),
    ],
    ids=["gif", "too-wide", "too-tall", "too-small", "truncated", "too-big", "bad-chunk"],
)
def test_bad_drawings_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(AppearanceError, match=why):
        handwriting.drawn_appearance(data)


def test_an_empty_pad_is_refused() -> None:
    empty = io.BytesIO()
    Image.new("RGBA", (300, 100), (255, 255, 255, 255)).save(empty, format="PNG")
    with pytest.raises(AppearanceError, match="empty"):
        handwriting.drawn_appearance(empty.getvalue())


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    # a valid PNG header claiming 60000 × 60000 pixels: refused before anything decodes
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))  # fmt: skip

    head = b"\x89PNG\r\n\x1a\n" + chunk(
        b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 6, 0, 0, 0)
    )
    bomb = head + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")
    with pytest.raises(AppearanceError, match=r"decompression bomb|60000×60000"):
        handwriting.drawn_appearance(bomb)


def test_typed_names_render_in_each_style_including_chinese() -> None:
    seen = set()
    for style in handwriting.TYPED_STYLES:
        out = handwriting.typed_appearance("王小明 Wang", style.id)
        img = Image.open(io.BytesIO(out))
        assert img.mode == "RGBA"
        assert img.getchannel("A").getextrema() == (0, 255)
        seen.add(hashlib.sha256(out).hexdigest())
    assert len(seen) == len(handwriting.TYPED_STYLES)
    with pytest.raises(AppearanceError, match="style"):
        handwriting.typed_appearance("Wang", "comic")
    with pytest.raises(AppearanceError, match="text"):
        handwriting.typed_appearance("   ", "ink")
    with pytest.raises(AppearanceError, match="text"):
        handwriting.typed_appearance("x" * 41, "ink")


def test_signer_certificate_binds_name_identity_and_envelope() -> None:
    ca = pki.create_internal_ca("sub1", now=NOW)
    digest = hashlib.sha256(b"alice@example.com").hexdigest()
    ck = pki.issue_signer_certificate(
        ca, name="Alice Zhang", identity_sha256=digest, envelope_id="env-0011223344556677",
        position=1, now=NOW,
    )  # fmt: skip
    cert = ck.certificate
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Alice Zhang"
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == (
        "env-0011223344556677/1"
    )
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    assert f"urn:sealtrail:identity:email-sha256:{digest}" in uris
    assert "urn:sealtrail:envelope:env-0011223344556677:1" in uris
    cert.verify_directly_issued_by(ca.certificate)
    other = pki.create_internal_ca("other", now=NOW)
    with pytest.raises(ValueError):  # noqa: PT011
        cert.verify_directly_issued_by(other.certificate)
    # a fresh key per signature
    again = pki.issue_signer_certificate(ca, name="Alice Zhang", identity_sha256=digest,
                                         envelope_id="env-0011223344556677", position=1,
                                         now=NOW)  # fmt: skip
    assert again.certificate.public_key() != cert.public_key()
    with pytest.raises(ValueError, match="identity_sha256"):
        pki.issue_signer_certificate(ca, name="A", identity_sha256="XYZ", envelope_id="e",
                                     position=0, now=NOW)  # fmt: skip
    with pytest.raises(CertificateError):
        pki.issue_signer_certificate(ca, name="A", identity_sha256=digest, envelope_id="e",
                                     position=0, now=NOW + timedelta(days=4000))  # fmt: skip


def test_pages_are_sized_and_rendered() -> None:
    pdf = make_pdf(3)
    sizes = pages.page_sizes(pdf)
    assert len(sizes) == 3
    assert sizes[0] == pytest.approx((595.2756, 841.8898), abs=0.01)
    img = Image.open(io.BytesIO(pages.render_page(pdf, 2, 500)))
    assert img.size[0] == 500
    assert Image.open(io.BytesIO(pages.render_page(pdf, 1, 10))).size[0] == pages.MIN_WIDTH
    assert Image.open(io.BytesIO(pages.render_page(pdf, 1, 99999))).size[0] == pages.MAX_WIDTH
    with pytest.raises(InvalidPdfError):
        pages.render_page(pdf, 4)
    with pytest.raises(InvalidPdfError):
        pages.page_sizes(b"%PDF-1.7 nothing else")
