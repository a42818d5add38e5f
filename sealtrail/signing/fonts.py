"""CJK fonts for what Sealtrail draws (the report, generated seal pictures), and the glyph check.

Chinese names must never come out as empty boxes. :func:`cjk_font` picks, in order:

1. an installed TrueType CJK font (:data:`CJK_FONT_CANDIDATES`; the README and CI install
   ``fonts-wqy-zenhei``): it is embedded (subset) in the PDF, so the report renders the same on
   any reader;
2. for PDFs only, reportlab's built-in CID font ``STSong-Light`` (Adobe-GB1, no file needed):
   not embedded, the reader supplies a Song face — every PDF reader that handles Chinese does.

Pillow has no built-in CJK font, so a seal picture needs (1); without it, generating a seal
picture is an error, not a picture of boxes.

:func:`check_glyphs` is the check made at creation: every character of a string must be in the
chosen font's character map (TrueType ``cmap``; for ``STSong-Light``, GBK, which Adobe-GB1
covers) — a missing glyph raises :class:`MissingGlyphError` naming the character, rather than
drawing a box (``.notdef``).
"""

from __future__ import annotations

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
    for a PDF (``pdf``), the CID font. Raises MissingGlyphError when there is none (pictures)."""
    path = find_truetype_cjk_font()
    if path is not None:
        return truetype_font(path)
    if pdf:
        return CjkFont(None, None)
    raise MissingGlyphError(
        "no CJK TrueType font is installed (apt-get install fonts-wqy-zenhei): Chinese text "
        "would be drawn as empty boxes"
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
