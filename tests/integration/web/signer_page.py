"""Shared by the signer's page tests (test_signer_page.py and test_signer_page_devices.py, both
against the real service): viewports, the accessible names the issue fixes in both languages,
the page's gestures (touch and mouse on the pad), links, codes read from the SMTP server, and the
envelope's ledger stream."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any, TypeVar

from PIL import Image

from .conftest import screenshot

T = TypeVar("T")

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


def token_of(signer: dict[str, Any]) -> str:
    """The link token in a signer's ``sign_url`` (only in the 201 answer of POST /v1/envelopes)."""
    return str(signer["sign_url"]).rsplit("/sign/", 1)[1]


def verify_from_mail(page: Any, inbox: Any, address: str, lang: str, shots: str = "",
                     grouped: bool = False) -> str:  # fmt: skip
    """Send a code from the page, read it from the SMTP server, type it (``grouped``: in two
    groups, as a person reads it off a phone), verify; the code."""
    before = len(inbox.to(address))
    button(page, lang, "send").click()
    code = inbox.last_code(address, before + 1)
    page.locator("#send-status").filter(has_text="@").wait_for()
    page.get_by_label(NAMES[lang]["code"], exact=True).fill(
        f"{code[:3]} {code[3:]}" if grouped else code
    )
    if shots:
        screenshot(page, f"{shots}-2-identity")
    button(page, lang, "verify").click()
    page.locator("figure.page img").first.wait_for()
    return code


def events_of(api: Any, env_id: str) -> list[dict[str, Any]]:
    """The envelope's ledger stream (tenant sub1, read by its auditor), chain checked."""
    r = api.get(f"/v1/streams/envelope:{env_id}", "aud_hq", params={"tenant": "sub1"})
    assert r.status == 200, r
    assert r.json()["chain_intact"]
    return list(r.json()["events"])


def wait_until(fn: Callable[[], T | None], what: str, timeout: float = 15) -> T:
    """``fn()`` once it is truthy (polled), or an AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
