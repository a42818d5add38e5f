"""Generated seals (round and square, CJK text) and validation of uploaded PNGs."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from sealtrail.signing import appearance, fonts
from sealtrail.signing.appearance import SealKind, generate_seal, validate_png
from sealtrail.signing.errors import AppearanceError, MissingGlyphError

LIMITS = {"max_bytes": 1_000_000, "max_pixels": 2_000_000}
needs_cjk_font = pytest.mark.skipif(  # .ci/run installs one: under CI, missing fails
    appearance.find_cjk_font() is None and not os.environ.get("CI"),
    reason="no CJK font installed (apt-get install fonts-wqy-zenhei)",
)


def _image(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def test_kind_values_are_the_api_spelling() -> None:
    assert [k.value for k in SealKind] == ["organization", "contract", "legal-person", "personal"]
    assert SealKind("legal-person") is SealKind.LEGAL_PERSON


@pytest.mark.parametrize("kind", list(SealKind))
def test_generated_seal_is_a_valid_transparent_red_png(kind: SealKind) -> None:
    data = generate_seal(kind, "杭州示例科技有限公司" if kind.is_round else "李雷之印", size=300)
    info = validate_png(data, **LIMITS)
    assert (info.width, info.height, info.mode) == (300, 300, "RGBA")
    img = _image(data)
    if kind.is_round:  # corners outside the ring are transparent, the centre star is red
        assert img.getpixel((2, 2))[3] == 0
        r, g, b, a = img.getpixel((150, 150))
        assert a == 255
        assert r > 200
        assert g < 60
        assert b < 60
    else:  # the square frame is red to the edge
        assert img.getpixel((10, 150))[3] == 255
    colours = {px[:3] for px in img.get_flattened_data() if px[3] == 255}
    assert colours == {appearance.SEAL_RED[:3]}  # only seal red, no white background


def test_round_seal_with_purpose_and_code() -> None:
    plain = generate_seal(SealKind.CONTRACT, "Acme Ltd")
    full = generate_seal(
        SealKind.CONTRACT, "Acme Ltd", purpose="合同专用章", code="91330100MA2ABCDE1X"
    )
    validate_png(full, **LIMITS)
    # The purpose sits below the star, the code along the lower arc: both add red pixels there.
    lower_plain = _image(plain).crop((0, 250, 400, 400)).getchannel("A").histogram()[255]
    lower_full = _image(full).crop((0, 250, 400, 400)).getchannel("A").histogram()[255]
    assert lower_full > lower_plain


@needs_cjk_font
def test_cjk_names_render_as_distinct_glyphs() -> None:
    # With a CJK font, different characters give different pixels; Pillow's fallback font
    # would draw the same empty box for both.
    a = generate_seal(SealKind.LEGAL_PERSON, "李雷之印")
    b = generate_seal(SealKind.LEGAL_PERSON, "韩梅之印")
    assert _image(a).tobytes() != _image(b).tobytes()
    # and each glyph draws more than a box outline would
    ink = _image(a).getchannel("A").histogram()[255]
    assert ink > 10_000


def test_without_cjk_font_generating_is_an_error_not_boxes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "CJK_FONT_CANDIDATES", ())
    monkeypatch.setattr(fonts, "PICTURE_ONLY_CANDIDATES", ())
    with pytest.raises(MissingGlyphError, match="no CJK font is installed"):
        generate_seal(SealKind.ORGANIZATION, "Acme Ltd", purpose="Contracts")


WQY = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


@pytest.mark.skipif(not WQY.is_file(), reason="fonts-wqy-zenhei is not installed")
def test_sfnt_cmap_reads_what_reportlab_reads() -> None:
    got = fonts.sfnt_cmap(WQY.read_bytes())
    # reportlab adds U+00A0 (as the space's glyph) when a font lacks it (ttfonts.py)
    assert got == fonts._cmap(WQY) - {0xA0}
    assert ord("韩") in got
    assert 0x20000 not in got  # beyond the BMP: not in this font


@pytest.mark.parametrize(
    "mutation",
    ["empty", "truncated-header", "wrong-magic", "no-cmap-table"],
)
def test_unreadable_font_is_refused(tmp_path: Path, mutation: str) -> None:
    data = WQY.read_bytes() if WQY.is_file() else b"ttcf" + bytes(64)
    bad = {
        "empty": b"",
        "truncated-header": data[:20],
        "wrong-magic": b"\x00" * 64,
        "no-cmap-table": data.replace(b"cmap", b"xmap", 1),
    }[mutation]
    path = tmp_path / f"{mutation}.ttc"
    path.write_bytes(bad)
    with pytest.raises(MissingGlyphError, match="cannot read the font"):
        fonts.picture_font(path)


def test_a_cff_only_machine_still_makes_seal_pictures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without TrueType CJK fonts, a picture uses a PICTURE_ONLY_CANDIDATES font (Noto CJK when
    installed, else the TrueType file standing in for it); the report keeps the CID font."""
    stand_in = NOTO_CJK if NOTO_CJK.is_file() else WQY
    if not stand_in.is_file():
        pytest.skip("no CJK font installed to stand in")
    monkeypatch.setattr(fonts, "CJK_FONT_CANDIDATES", ())
    monkeypatch.setattr(fonts, "PICTURE_ONLY_CANDIDATES", (Path("/nonexistent.ttc"), stand_in))
    assert fonts.cjk_font(pdf=True).path is None  # reportlab cannot embed CFF: STSong-Light
    assert fonts.cjk_font(pdf=False).path == stand_in
    png = generate_seal(SealKind.LEGAL_PERSON, "韩梅之印")
    assert _image(png).getchannel("A").histogram()[255] > 10_000
    with pytest.raises(MissingGlyphError, match="U\\+20000"):
        generate_seal(SealKind.LEGAL_PERSON, "韩\U00020000")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": SealKind.ORGANIZATION, "name": ""}, "seal name is empty"),
        ({"kind": SealKind.ORGANIZATION, "name": "x" * 41}, "41 characters, want at most 40"),
        ({"kind": SealKind.ORGANIZATION, "name": "Acme\x07"}, "control character U\\+0007"),
        ({"kind": SealKind.ORGANIZATION, "name": "Acme", "size": 50}, "size 50"),
        ({"kind": SealKind.PERSONAL, "name": "李雷", "purpose": "x"}, "square"),
        ({"kind": SealKind.CONTRACT, "name": "Acme", "code": "1" * 25}, "at most 24"),
    ],
)
def test_bad_seal_text_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(AppearanceError, match=message):
        generate_seal(**kwargs)  # type: ignore[arg-type]


def test_kind_must_be_a_seal_kind() -> None:
    with pytest.raises(TypeError):
        generate_seal("organization", "Acme")  # type: ignore[arg-type]


# -- uploads ------------------------------------------------------------------------------------


def _transparent(size: tuple[int, int] = (64, 64)) -> Image.Image:
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    img.paste((200, 0, 0, 255), (8, 8, 56, 56))
    return img


def test_uploaded_transparent_png_accepted() -> None:
    data = _png(_transparent())
    info = validate_png(data, **LIMITS)
    assert (info.width, info.height, info.size_bytes) == (64, 64, len(data))


def test_palette_png_with_transparency_accepted() -> None:
    img = _transparent().convert("P", palette=Image.Palette.ADAPTIVE)
    img.info["transparency"] = img.getpixel((0, 0))
    out = io.BytesIO()
    img.save(out, format="PNG", transparency=img.getpixel((0, 0)))
    assert validate_png(out.getvalue(), **LIMITS).mode == "P"


def _negatives() -> dict[str, tuple[bytes, str]]:
    good = _png(_transparent())
    jpeg = io.BytesIO()
    _transparent().convert("RGB").save(jpeg, format="JPEG")
    return {
        "not-a-png-jpeg": (jpeg.getvalue(), "not a PNG"),
        "not-a-png-garbage": (b"hello world" * 10, "not a PNG"),
        "magic-only": (appearance.PNG_MAGIC, "does not decode"),
        "truncated": (good[: len(good) // 2], "does not decode"),
        "corrupted-idat": (good[:60] + bytes(len(good) - 72) + good[-12:], "does not decode"),
        "no-alpha-rgb": (_png(_transparent().convert("RGB")), "no transparency"),
        "fully-opaque-rgba": (_png(Image.new("RGBA", (32, 32), (200, 0, 0, 255))), "opaque"),
    }


@pytest.mark.parametrize("name", list(_negatives()))
def test_bad_upload_refused(name: str) -> None:
    data, message = _negatives()[name]
    with pytest.raises(AppearanceError, match=message):
        validate_png(data, **LIMITS)


def test_upload_too_many_bytes() -> None:
    data = _png(_transparent())
    with pytest.raises(AppearanceError, match=f"{len(data)} bytes, want at most 100"):
        validate_png(data, max_bytes=100, max_pixels=10**6)


def test_upload_too_many_pixels_checked_before_decoding() -> None:
    data = _png(_transparent((2000, 1000)))
    with pytest.raises(AppearanceError, match="2000×1000 = 2000000 pixels, want at most 1000000"):
        validate_png(data, max_bytes=10**7, max_pixels=10**6)
