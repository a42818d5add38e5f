"""Seal appearances: the picture stamped on a page, generated with Pillow or uploaded as a PNG.

Generated seals follow the classic Chinese official seal (公章) in red on a transparent
background:

* round (organisation and contract seals): a double ring, the organisation name along the upper
  arc, a five-pointed star in the centre, the seal's purpose in a straight line below the star,
  and an optional code (e.g. the unified social credit code) along the lower arc;
* square (legal-person and personal seals): a square frame with the name laid out in a grid.

Names are usually Chinese, so the text needs a font with CJK glyphs: an installed TrueType CJK
font (:mod:`sealtrail.signing.fonts`; the README installs ``fonts-wqy-zenhei``), or the one
passed as ``font_path``. Without one, or when a character of the text has no glyph in the font,
generating raises :class:`~sealtrail.signing.errors.MissingGlyphError` — never a picture of
empty boxes.

The appearance is only a picture: what binds a seal to a document is the signature
(:mod:`sealtrail.signing.sign`).
"""

from __future__ import annotations

import enum
import io
import logging
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from sealtrail.signing import fonts
from sealtrail.signing.errors import AppearanceError

log = logging.getLogger("sealtrail.signing")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: Fonts with CJK glyphs, by Debian package (first found wins).
CJK_FONT_CANDIDATES: tuple[Path, ...] = fonts.CJK_FONT_CANDIDATES

SEAL_RED = (218, 26, 32, 255)
MAX_NAME_CHARS = 40
MAX_LINE_CHARS = 24
MIN_SIZE, MAX_SIZE = 100, 2000

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


class SealKind(enum.Enum):
    """What a seal stands for; the values are the API's spelling."""

    ORGANIZATION = "organization"
    CONTRACT = "contract"
    LEGAL_PERSON = "legal-person"
    PERSONAL = "personal"

    @property
    def is_round(self) -> bool:
        """Organisation and contract seals are round; legal-person and personal seals square."""
        return self in (SealKind.ORGANIZATION, SealKind.CONTRACT)


@dataclass(frozen=True)
class PngInfo:
    """What :func:`validate_png` found in an acceptable upload."""

    width: int
    height: int
    mode: str
    size_bytes: int


def find_cjk_font() -> Path | None:
    """The first installed font of :data:`CJK_FONT_CANDIDATES`, or None."""
    return fonts.find_truetype_cjk_font()


def _font_file(font_path: Path | None) -> fonts.CjkFont:
    """The font to draw with: ``font_path``, else the installed CJK font (MissingGlyphError
    when there is none)."""
    return fonts.cjk_font(pdf=False) if font_path is None else fonts.picture_font(font_path)


def _load_font(font_path: Path | None, size: int) -> Font:
    path = _font_file(font_path).path
    assert path is not None  # cjk_font(pdf=False) never gives the CID font
    try:
        return ImageFont.truetype(str(path), size)
    except OSError as e:
        raise AppearanceError(f"cannot load font {path}: {e}") from e


def _check_text(what: str, text: str, max_chars: int, *, required: bool) -> str:
    text = text.strip()
    if required and not text:
        raise AppearanceError(f"{what} is empty, want 1 to {max_chars} characters")
    if len(text) > max_chars:
        raise AppearanceError(f"{what} has {len(text)} characters, want at most {max_chars}")
    for ch in text:
        if unicodedata.category(ch).startswith("C"):
            raise AppearanceError(f"{what} contains control character U+{ord(ch):04X}")
    return text


def _glyph(ch: str, font: Font, angle: float) -> Image.Image:
    """One character in seal red on a transparent tile, rotated ``angle`` degrees anticlockwise."""
    left, top, right, bottom = font.getbbox(ch)
    side = int(max(right - left, bottom - top, 1) * 1.5) + 4
    tile = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(tile)
    draw.text((side / 2, side / 2), ch, font=font, fill=SEAL_RED, anchor="mm")
    return tile.rotate(angle, resample=Image.Resampling.BILINEAR)


def _paste_centered(canvas: Image.Image, tile: Image.Image, x: float, y: float) -> None:
    canvas.alpha_composite(tile, (round(x - tile.width / 2), round(y - tile.height / 2)))


def _text_on_arc(
    canvas: Image.Image, text: str, font: Font, radius: float, span: float, *, upper: bool
) -> None:
    """Lay ``text`` along an arc of ``span`` degrees centred on the top (or bottom) of the seal.

    Upper arc: read left to right, tops outward. Lower arc: read left to right, tops inward.
    """
    c = canvas.width / 2
    n = len(text)
    step = span / (n - 1) if n > 1 else 0.0
    for i, ch in enumerate(text):
        if upper:  # from 90° + span/2 down to 90° - span/2
            a = 90 + span / 2 - i * step
            rotation = a - 90
        else:  # from 270° - span/2 up to 270° + span/2
            a = 270 - span / 2 + i * step
            rotation = a - 270
        rad = math.radians(a)
        _paste_centered(
            canvas,
            _glyph(ch, font, rotation),
            c + radius * math.cos(rad),
            c - radius * math.sin(rad),
        )


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, outer: float) -> None:
    inner = outer * 0.382  # the regular pentagram's ratio
    points = []
    for k in range(10):
        r = outer if k % 2 == 0 else inner
        a = math.radians(90 + k * 36)
        points.append((cx + r * math.cos(a), cy - r * math.sin(a)))
    draw.polygon(points, fill=SEAL_RED)


def _fit_font(font_path: Path | None, text: str, start: int, max_width: float) -> Font:
    size = start
    font = _load_font(font_path, size)
    while size > 8 and font.getlength(text) > max_width:
        size = int(size * 0.9)
        font = _load_font(font_path, size)
    return font


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _round_seal(
    name: str, purpose: str, code: str, size: int, font_path: Path | None
) -> Image.Image:
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    c = size / 2
    ring = max(2, round(size * 0.03))
    draw.ellipse(
        (ring / 2, ring / 2, size - ring / 2, size - ring / 2), outline=SEAL_RED, width=ring
    )
    _star(draw, c, c, size * 0.16)
    name_font = _load_font(font_path, round(size * 0.11))
    # Longer names get a wider arc (up to 240°), as on real seals.
    span = min(240.0, 40.0 + 16.0 * len(name))
    _text_on_arc(canvas, name, name_font, size * 0.36, span, upper=True)
    if purpose:
        font = _fit_font(font_path, purpose, round(size * 0.075), size * 0.5)
        draw.text((c, c + size * 0.26), purpose, font=font, fill=SEAL_RED, anchor="mm")
    if code:
        code_font = _load_font(font_path, round(size * 0.05))
        code_span = min(120.0, 6.0 * len(code))
        _text_on_arc(canvas, code, code_font, size * 0.40, code_span, upper=False)
    return canvas


def _square_seal(name: str, size: int, font_path: Path | None) -> Image.Image:
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    frame = max(2, round(size * 0.04))
    draw.rectangle(
        (frame / 2, frame / 2, size - frame / 2, size - frame / 2), outline=SEAL_RED, width=frame
    )
    # Traditional layout: a grid, columns read top to bottom, right to left.
    n = len(name)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    inner = size - 4 * frame
    cell = inner / max(cols, rows)
    font = _load_font(font_path, max(8, round(cell * 0.85)))
    x0 = (size - cols * cell) / 2
    y0 = (size - rows * cell) / 2
    for i, ch in enumerate(name):
        col, row = divmod(i, rows)
        x = x0 + (cols - 1 - col) * cell + cell / 2
        y = y0 + row * cell + cell / 2
        draw.text((x, y), ch, font=font, fill=SEAL_RED, anchor="mm")
    return canvas


def generate_seal(
    kind: SealKind,
    name: str,
    *,
    purpose: str = "",
    code: str = "",
    size: int = 400,
    font_path: Path | None = None,
) -> bytes:
    """A PNG (RGBA, transparent background) of a generated seal of ``kind``.

    Requires ``name`` of 1 to 40 characters and, for round seals, ``purpose`` and ``code`` of at
    most 24 (square seals show the name only; a purpose or code for them is an error), and
    ``100 <= size <= 2000`` pixels. Raises :class:`AppearanceError` otherwise, and its subclass
    MissingGlyphError when no CJK font is installed or the font lacks a character's glyph.
    """
    if not isinstance(kind, SealKind):
        raise TypeError(f"kind must be a SealKind, got {type(kind).__name__}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise AppearanceError(f"size {size}, want {MIN_SIZE} to {MAX_SIZE} pixels")
    name = _check_text("seal name", name, MAX_NAME_CHARS, required=True)
    purpose = _check_text("seal purpose", purpose, MAX_LINE_CHARS, required=False)
    code = _check_text("seal code", code, MAX_LINE_CHARS, required=False)
    font = _font_file(font_path)
    for what, text in (("seal name", name), ("seal purpose", purpose), ("seal code", code)):
        fonts.check_glyphs(what, text, font)
    if kind.is_round:
        return _png(_round_seal(name, purpose, code, size, font_path))
    if purpose or code:
        raise AppearanceError(f"a {kind.value} seal is square and shows its name only")
    return _png(_square_seal(name, size, font_path))


def validate_png(data: bytes, *, max_bytes: int, max_pixels: int) -> PngInfo:
    """Check an uploaded seal picture; return what it is, or raise :class:`AppearanceError`.

    Accepted: at most ``max_bytes`` bytes, a real PNG (magic number, and the whole image
    decodes), at most ``max_pixels`` pixels (checked from the header before decoding, against
    decompression bombs), with an alpha channel (or a transparency chunk) and at least one pixel
    that is not fully opaque, so the seal does not hide the text under it.
    Requires ``max_bytes > 0`` and ``max_pixels > 0``.
    """
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    if max_bytes <= 0 or max_pixels <= 0:
        raise ValueError("max_bytes and max_pixels must be positive")
    if len(data) > max_bytes:
        raise AppearanceError(f"image of {len(data)} bytes, want at most {max_bytes}")
    if not bytes(data[:8]) == PNG_MAGIC:
        raise AppearanceError("not a PNG image (bad magic number)")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise AppearanceError(
                    f"image of {width}×{height} = {width * height} pixels, "
                    f"want at most {max_pixels}"
                )
            img.load()
            mode = img.mode
            has_alpha = mode in ("RGBA", "LA", "PA") or "transparency" in img.info
            if not has_alpha:
                raise AppearanceError(
                    f"image mode {mode} has no transparency, want an alpha channel (RGBA)"
                )
            extrema = img.convert("RGBA").getchannel("A").getextrema()
            low = extrema[0] if isinstance(extrema, tuple) else extrema
    except AppearanceError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise AppearanceError(f"PNG does not decode: {e}") from e
    if low == 255:
        raise AppearanceError("image is fully opaque, want a transparent background")
    return PngInfo(width, height, mode, len(data))
