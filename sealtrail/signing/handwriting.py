"""A signer's mark: a handwritten signature drawn on a pad, or a typed name in a chosen style.

Both become a PNG with a transparent background, the appearance PAdES signing draws in each of
the signer's fields (:func:`sealtrail.signing.sign.sign_pdf`'s ``appearance_png``).

**Drawn.** The pad's PNG is checked before anything decodes it: at most
:data:`MAX_DRAWN_BYTES`, the PNG magic number, at most :data:`MAX_DRAWN_WIDTH` ×
:data:`MAX_DRAWN_HEIGHT` pixels (read from the header, so a decompression bomb is refused
unopened), and the whole image must decode. It is then redrawn: converted to RGBA, near-white
pixels made transparent (a pad that paints a white background still yields ink on glass), and
re-encoded — so no chunk of the uploaded file (text, metadata) reaches the PDF.

**Typed.** The name is drawn with the CJK font (:mod:`.fonts`, so Chinese names render) in one
of :data:`TYPED_STYLES`: ink colour and slant differ, the font is the installed one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFont

from sealtrail.signing import fonts
from sealtrail.signing.appearance import PNG_MAGIC
from sealtrail.signing.errors import AppearanceError

MAX_DRAWN_BYTES = 256 * 1024
MAX_DRAWN_WIDTH = 2000
MAX_DRAWN_HEIGHT = 1000
MIN_DRAWN_SIDE = 16
MAX_TYPED_CHARS = 40
#: a pixel whose R, G and B are all at least this is background
_WHITE = 235


@dataclass(frozen=True)
class TypedStyle:
    """A style a typed signature may be drawn in."""

    id: str
    label_en: str
    label_zh: str
    ink: tuple[int, int, int]
    slant: float  # horizontal shear, 0 = upright


TYPED_STYLES: tuple[TypedStyle, ...] = (
    TypedStyle("ink", "Black ink", "黑色墨迹", (20, 20, 20), 0.0),
    TypedStyle("blue", "Blue ink", "蓝色墨迹", (20, 50, 160), 0.0),
    TypedStyle("italic", "Slanted", "斜体", (20, 20, 20), 0.25),
)


def style(style_id: str) -> TypedStyle:
    """The style ``style_id``; AppearanceError for an unknown one."""
    for s in TYPED_STYLES:
        if s.id == style_id:
            return s
    raise AppearanceError(
        f"style {style_id[:20]!r}: want one of {', '.join(s.id for s in TYPED_STYLES)}"
    )


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def drawn_appearance(data: bytes) -> bytes:
    """The appearance for a drawn signature (module docstring); AppearanceError when ``data``
    is too large, not a PNG, of the wrong size, does not decode, or holds no ink."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    if len(data) > MAX_DRAWN_BYTES:
        raise AppearanceError(f"drawing of {len(data)} bytes, want at most {MAX_DRAWN_BYTES}")
    if bytes(data[:8]) != PNG_MAGIC:
        raise AppearanceError("drawing: not a PNG image (bad magic number)")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            w, h = img.size
            if not (
                MIN_DRAWN_SIDE <= w <= MAX_DRAWN_WIDTH and MIN_DRAWN_SIDE <= h <= MAX_DRAWN_HEIGHT
            ):
                raise AppearanceError(
                    f"drawing of {w}×{h} pixels, want {MIN_DRAWN_SIDE}..{MAX_DRAWN_WIDTH} × "
                    f"{MIN_DRAWN_SIDE}..{MAX_DRAWN_HEIGHT}"
                )
            img.load()
            rgba = img.convert("RGBA")
    except AppearanceError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise AppearanceError(f"drawing: PNG does not decode: {e}") from e
    r, g, b, a = rgba.split()
    lightest = ImageChops.darker(ImageChops.darker(r, g), b)  # per pixel, min(R, G, B)
    white = lightest.point(lambda v: 255 if v >= _WHITE else 0)
    alpha = ImageChops.subtract(a, white)  # white pixels become transparent
    if alpha.getbbox() is None:
        raise AppearanceError("drawing: the pad is empty, draw a signature")
    clean = Image.merge("RGBA", (r, g, b, alpha))
    box = clean.getbbox()
    if box is not None:  # crop to the ink, with a margin
        x1, y1, x2, y2 = box
        m = 8
        clean = clean.crop((max(0, x1 - m), max(0, y1 - m), min(w, x2 + m), min(h, y2 + m)))
    return _png(clean)


def typed_appearance(text: str, style_id: str) -> bytes:
    """The appearance for ``text`` typed in style ``style_id``; AppearanceError for an empty
    or too long text or an unknown style, MissingGlyphError for a character the font lacks."""
    chosen = style(style_id)
    if not isinstance(text, str):
        raise AppearanceError("text: want a string")
    text = text.strip()
    if not 1 <= len(text) <= MAX_TYPED_CHARS or not text.isprintable():
        raise AppearanceError(f"text: want 1 to {MAX_TYPED_CHARS} printable characters")
    font_file = fonts.cjk_font(pdf=False)
    fonts.check_glyphs("text", text, font_file)
    assert font_file.path is not None
    try:
        font = ImageFont.truetype(str(font_file.path), 96)
    except OSError as e:
        raise AppearanceError(f"cannot load font {font_file.path}: {e}") from e
    left, top, right, bottom = font.getbbox(text)
    width, height = int(right - left) + 80, int(bottom - top) + 60
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((40 - left, 30 - top), text, font=font, fill=(*chosen.ink, 255))
    if chosen.slant:
        extra = int(height * chosen.slant)
        image = image.transform(
            (width + extra, height),
            Image.Transform.AFFINE,
            (1, chosen.slant, -extra, 0, 1, 0),
            resample=Image.Resampling.BICUBIC,
        )
    return _png(image)
