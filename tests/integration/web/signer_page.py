"""Shared by the signer's page tests (test_signer_page.py against the service,
test_signer_page_stub.py against a stand-in of its API): viewports, the accessible names the
issue fixes in both languages, and the page's gestures (touch and mouse on the pad)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

PHONE_360 = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
             "device_scale_factor": 2}  # fmt: skip
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
#: the accessible names the issue fixes, per language
NAMES = {
    "en": {"send": "Send code", "code": "Code", "verify": "Verify", "pad": "Signature pad",
           "sign": "Sign", "decline": "Decline", "download": "Download",
           "intent": "I have read the document and agree to sign"},
    "zh-CN": {"send": "发送验证码", "code": "验证码", "verify": "验证", "pad": "签名板",
              "sign": "签署", "decline": "拒签", "download": "下载",
              "intent": "我已阅读本文件并同意签署"},
}  # fmt: skip
A4 = (595.2756, 841.8898)
FIELD = {"page": 2, "box": [340, 90, 540, 170]}


def context_for(lang: str) -> dict[str, Any]:
    return {"locale": lang}


def button(page: Any, lang: str, what: str) -> Any:
    return page.get_by_role("button", name=NAMES[lang][what], exact=True)


def load_all_pages(page: Any) -> None:
    """Scroll every page into view and wait until its image is decoded (they load lazily)."""
    for fig in page.locator("figure.page").all():
        fig.scroll_into_view_if_needed()
        page.wait_for_function(
            "f => f.querySelector('img').complete && f.querySelector('img').naturalWidth > 0",
            arg=fig.element_handle(),
        )


def draw_touch(page: Any) -> None:
    """A signature drawn with a finger: CDP touch events (Chromium turns them into pointer events
    of pointerType "touch"), two strokes."""
    pad = page.locator("#pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    cdp = page.context.new_cdp_session(page)
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    for stroke in (
        [(0.15 + 0.05 * i, 0.6 - 0.3 * ((i % 4) / 3)) for i in range(12)],
        [(0.3 + 0.04 * i, 0.35 + 0.02 * i) for i in range(10)],
    ):
        pts = [{"x": x0 + fx * w, "y": y0 + fy * h} for fx, fy in stroke]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [pts[0]]})
        for p in pts[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [p]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def draw_mouse(page: Any, span: float = 0.4) -> None:
    """A zigzag drawn with the mouse across ``span`` of the pad's width."""
    pad = page.locator("#pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    x0, w, h = box["x"] + 0.04 * box["width"], span * box["width"], box["height"]
    page.mouse.move(x0, box["y"] + h * 0.6)
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x0 + w * i / 20, box["y"] + h * (0.6 - 0.25 * (i % 3) / 2))
    page.mouse.up()


def no_horizontal_scroll(page: Any) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"horizontal scrolling: content {widths[0]} px > {widths[1]} px"


def png_ink(raw: bytes) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """(size, bounding box of the ink) of a drawn signature PNG."""
    assert raw.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(raw)) as im:
        im.load()
        alpha = im.convert("RGBA").getchannel("A")
        bbox = alpha.getbbox()
        assert bbox is not None, "the PNG has no ink"
        return im.size, bbox


def field_on_its_box(page: Any, n: int, box: list[float]) -> None:
    """The overlay of the field ``box`` (PDF points) on page ``n`` sits where the box is."""
    fig = page.locator(f"figure.page[data-page='{n}']")
    img, field = fig.locator("img").bounding_box(), fig.locator(".field").first.bounding_box()
    k = img["width"] / A4[0]
    assert abs(field["x"] - (img["x"] + box[0] * k)) < 1.5
    assert abs(field["y"] - (img["y"] + (A4[1] - box[3]) * k)) < 1.5
    assert abs(field["width"] - (box[2] - box[0]) * k) < 1.5


TABLET = {"viewport": {"width": 820, "height": 1180}, "is_mobile": True, "has_touch": True,
          "device_scale_factor": 2}  # fmt: skip
