"""CJK fonts for what Sealtrail draws (the report, generated seal pictures), and the glyph check.

Chinese names must never come out as empty boxes. :func:`cjk_font` picks, in order:

1. an installed TrueType CJK font (:data:`CJK_FONT_CANDIDATES`; the README and CI install
   ``fonts-wqy-zenhei``): it is embedded (subset) in the PDF, so the report renders the same on
   any reader;
2. for PDFs only, reportlab's built-in CID font ``STSong-Light`` (Adobe-GB1, no file needed):
   not embedded, the reader supplies a Song face — every PDF reader that handles Chinese does.

Pillow has no built-in CJK font, so a seal picture needs (1) — or an OpenType CJK font with
CFF outlines, which Pillow (FreeType) draws but reportlab cannot embed: Noto CJK
(``fonts-noto-cjk``, :data:`PICTURE_ONLY_CANDIDATES`), whose character map is read here
(:func:`sfnt_cmap`). Without any, generating a seal picture is an error, not a picture of boxes.

:func:`check_glyphs` is the check made at creation: every character of a string must be in the
chosen font's character map (TrueType ``cmap``; for ``STSong-Light``, GBK, which Adobe-GB1
covers) — a missing glyph raises :class:`MissingGlyphError` naming the character, rather than
drawing a box (``.notdef``).
"""

from __future__ import annotations

import struct
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase.ttfonts import TTFontFile  # type: ignore[import-untyped]

from sealtrail.signing.errors import MissingGlyphError

#: Fonts with CJK glyphs (TrueType outlines: reportlab embeds only those), by Debian package;
#: the first found wins.
CJK_FONT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),  # fonts-wqy-zenhei
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),  # fonts-wqy-microhei
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),  # fonts-arphic-uming
    Path("/usr/share/fonts/truetype/arphic/ukai.ttc"),  # fonts-arphic-ukai
)
#: CJK fonts with CFF outlines (OpenType collections): seal pictures only, after the above
PICTURE_ONLY_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),  # fonts-noto-cjk
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),  # fonts-noto-cjk
)
#: reportlab's built-in Simplified Chinese CID font (no file; not embedded)
CID_FONT = "STSong-Light"


@dataclass(frozen=True)
class CjkFont:
    """A font able to draw Chinese: a TrueType file (``path``) or the CID font (``path`` None).

    ``chars``: the code points its character map covers (None for the CID font: GBK decides).
    """

    path: Path | None
    chars: frozenset[int] | None

    @property
    def name(self) -> str:
        """A short name for messages: the file's name or ``STSong-Light``."""
        return CID_FONT if self.path is None else self.path.name

    def covers(self, ch: str) -> bool:
        """Whether the font has a glyph for the character ``ch``."""
        if ch in "\n\t":
            return True
        if self.chars is not None:
            return ord(ch) in self.chars
        try:
            ch.encode("gbk")
        except UnicodeEncodeError:
            return False
        return True


@cache
def _cmap(path: Path) -> frozenset[int]:
    kwargs = {"subfontIndex": 0} if path.suffix.lower() == ".ttc" else {}
    return frozenset(TTFontFile(str(path), **kwargs).charToGlyph)


def sfnt_cmap(data: bytes) -> frozenset[int]:
    """The code points of the Unicode character map of an OpenType/TrueType font or of the first
    face of a collection (``ttcf``), whatever its outlines (OpenType ``cmap``: a format 12
    subtable (3, 10) or (0, 4..6), else a format 4 one (3, 1) or (0, 3)). ValueError if ``data``
    is not such a font."""
    try:
        base = 0
        if data[:4] == b"ttcf":
            (base,) = struct.unpack_from(">I", data, 12)
        (n,) = struct.unpack_from(">H", data, base + 4)
        tables = {
            data[base + 12 + 16 * i : base + 16 + 16 * i]: struct.unpack_from(
                ">I", data, base + 20 + 16 * i
            )[0]
            for i in range(n)
        }
        cmap = tables[b"cmap"]
        (count,) = struct.unpack_from(">H", data, cmap + 2)
        subs: dict[int, int] = {}  # format → offset, preferring full-repertoire ones
        for i in range(count):
            pid, eid, off = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
            (fmt,) = struct.unpack_from(">H", data, cmap + off)
            if (pid, eid) in ((3, 10), (0, 4), (0, 6)) and fmt == 12:
                subs.setdefault(12, cmap + off)
            elif (pid, eid) in ((3, 1), (0, 3)) and fmt == 4:
                subs.setdefault(4, cmap + off)
        chars: set[int] = set()
        if 12 in subs:
            (groups,) = struct.unpack_from(">I", data, subs[12] + 12)
            for g in range(groups):
                lo, hi, _ = struct.unpack_from(">III", data, subs[12] + 16 + 12 * g)
                chars.update(range(lo, hi + 1))
        elif 4 in subs:
            t = subs[4]
            (segx2,) = struct.unpack_from(">H", data, t + 6)
            ends = struct.unpack_from(f">{segx2 // 2}H", data, t + 14)
            starts = struct.unpack_from(f">{segx2 // 2}H", data, t + 16 + segx2)
            deltas = struct.unpack_from(f">{segx2 // 2}h", data, t + 16 + 2 * segx2)
            ro_at = t + 16 + 3 * segx2
            ranges = struct.unpack_from(f">{segx2 // 2}H", data, ro_at)
            for k, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
                for c in range(lo, min(hi, 0xFFFE) + 1):
                    if ranges[k] == 0:
                        gid = (c + deltas[k]) & 0xFFFF
                    else:
                        at = ro_at + 2 * k + ranges[k] + 2 * (c - lo)
                        (gid,) = struct.unpack_from(">H", data, at)
                        gid = (gid + deltas[k]) & 0xFFFF if gid else 0
                    if gid:
                        chars.add(c)
        else:
            raise ValueError("no Unicode cmap subtable of format 4 or 12")
        return frozenset(chars)
    except (struct.error, KeyError, IndexError) as e:
        raise ValueError(f"not an OpenType font: {e!r}") from None


@cache
def _any_cmap(path: Path) -> frozenset[int]:
    return sfnt_cmap(path.read_bytes())


def picture_font(path: Path) -> CjkFont:
    """The font at ``path`` for a seal picture (Pillow): TrueType or CFF outlines, a ``.ttc``
    collection's first face, with its character map. Raises MissingGlyphError if it cannot be
    read."""
    try:
        return CjkFont(path, _any_cmap(path))
    except (OSError, ValueError) as e:
        raise MissingGlyphError(f"cannot read the font {path}: {e}") from None


def truetype_font(path: Path) -> CjkFont:
    """The TrueType font at ``path`` (a ``.ttc`` collection: its first face) with its character
    map. Raises MissingGlyphError if it cannot be read or is not TrueType."""
    try:
        return CjkFont(path, _cmap(path))
    except Exception as e:  # reportlab raises TTFError and plain errors for bad files
        raise MissingGlyphError(f"cannot read the font {path}: {e}") from None


def find_truetype_cjk_font() -> Path | None:
    """The first installed font of :data:`CJK_FONT_CANDIDATES`, or None."""
    for path in CJK_FONT_CANDIDATES:
        if path.is_file():
            return path
    return None


def cjk_font(*, pdf: bool) -> CjkFont:
    """The font to draw Chinese with (module docstring): an installed TrueType CJK font, else,
    for a PDF (``pdf``), the CID font, or for a picture an installed CFF one
    (:data:`PICTURE_ONLY_CANDIDATES`). Raises MissingGlyphError when there is none (pictures)."""
    path = find_truetype_cjk_font()
    if path is not None:
        return truetype_font(path)
    if pdf:
        return CjkFont(None, None)
    for path in PICTURE_ONLY_CANDIDATES:
        if path.is_file():
            return picture_font(path)
    raise MissingGlyphError(
        "no CJK font is installed (apt-get install fonts-wqy-zenhei, or fonts-noto-cjk): "
        "Chinese text would be drawn as empty boxes"
    )


def check_glyphs(what: str, text: str, font: CjkFont) -> None:
    """Raise MissingGlyphError if a character of ``text`` has no glyph in ``font``.

    ``what`` names the text in the message (e.g. ``actor name``); the character is given by
    code point and Unicode name."""
    for ch in text:
        if not font.covers(ch):
            name = unicodedata.name(ch, "unnamed")
            raise MissingGlyphError(
                f"{what}: the font {font.name} has no glyph for U+{ord(ch):04X} {name} "
                f"(in {text[:40]!r}); it would be drawn as an empty box"
            )
