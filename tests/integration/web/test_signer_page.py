"""The signer's page (issue 16) in headless Chromium.

Part 1 drives the real page (its HTML, scripts, styles and security headers from
``sealtrail.web``) against a stand-in of the signer's HTTP contract (signer_stub.py) that
renders real page images: on a 360-px phone with touch input and on a desktop with a mouse, in
English and 简体中文 — the pad's export, the fields' overlays, the pages seen, wrong codes until
locked, decline, invalid links, the language switch, a session that ended.

Screenshots of every step go to tests/integration/web/artifacts/.
"""

from __future__ import annotations

import base64
import io
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image

from sealtrail.anchoring.devtsa import CA_CERT_FILE

from ...unit.signing.pdfs import make_pdf
from .conftest import screenshot
from .signer_stub import SignerStub, StubEnvelope, StubSigner

pytestmark = pytest.mark.browser

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


@pytest.fixture(scope="module")
def stub() -> Iterator[SignerStub]:
    s = SignerStub()
    try:
        yield s
    finally:
        s.close()


def envelope(
    stub: SignerStub, *, kind: str = "individual", pages: int = 3, **kw: Any
) -> StubSigner:
    """A new envelope with one signer (fields on page 2) and a fresh link; its signer."""
    signer = StubSigner(
        token=secrets.token_urlsafe(24),
        name="Zhang Wei" if kind == "individual" else "Acme Ltd",
        kind=kind,
        fields=[dict(FIELD), {"page": pages, "box": [60, 60, 200, 120]}],
    )
    stub.add(StubEnvelope(title="Logistics agreement 物流协议 2026-118", pdf=make_pdf(pages),
                          signers=[signer], **kw))  # fmt: skip
    return signer


def context_for(lang: str) -> dict[str, Any]:
    return {"locale": lang}


def button(page: Any, lang: str, what: str) -> Any:
    return page.get_by_role("button", name=NAMES[lang][what], exact=True)


def open_and_verify(
    page: Any, stub: SignerStub, signer: StubSigner, lang: str, shots: str = ""
) -> None:
    """Open the link, ask for a code, type it (as read from the stub), verify."""
    page.goto(f"{stub.url}/sign/{signer.token}")
    page.locator("#intro-h").wait_for()
    if shots:
        screenshot(page, f"{shots}-1-invitation")
    button(page, lang, "send").click()
    page.locator("#send-status").filter(has_text=signer.address_masked).wait_for()
    assert signer.codes, "no code was asked for"
    page.get_by_label(NAMES[lang]["code"], exact=True).fill(signer.codes[-1])
    if shots:
        screenshot(page, f"{shots}-2-identity")
    button(page, lang, "verify").click()
    page.locator("figure.page img").first.wait_for()


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


# ------------------------------------------------------------------ part 1: the page on its own


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_phone_signs_with_a_finger(stub: SignerStub, new_page: Any, lang: str) -> None:
    signer = envelope(stub)
    page = new_page(**PHONE_360, **context_for(lang))
    shots = f"signer-phone-{lang}"
    page.goto(f"{stub.url}/sign/{signer.token}")
    page.locator("#intro-h").wait_for()
    # (1) who asks whom to sign what, and nothing of the document
    assert "Logistics agreement" in page.locator("#intro-h").inner_text()
    assert "Zhang Wei" in page.locator("#intro-ask").inner_text()
    assert page.locator("figure.page").count() == 0
    assert not any(
        "/document" in p or "/pages/" in p for _, p in stub.requests if signer.token in p
    )
    assert page.evaluate("document.documentElement.lang") == lang
    no_horizontal_scroll(page)
    # (2) identity, (3) the document
    open_and_verify(page, stub, signer, lang, shots)
    assert page.locator("figure.page").count() == 3
    load_all_pages(page)
    no_horizontal_scroll(page)
    # the field's overlay sits on the field: PDF points from the bottom-left → CSS from the top
    fig = page.locator("figure.page[data-page='2']")
    img, field = fig.locator("img").bounding_box(), fig.locator(".field").bounding_box()
    x1, y1, x2, y2 = FIELD["box"]
    k = img["width"] / A4[0]
    assert abs(field["x"] - (img["x"] + x1 * k)) < 1.5
    assert abs(field["y"] - (img["y"] + (A4[1] - y2) * k)) < 1.5
    assert abs(field["width"] - (x2 - x1) * k) < 1.5
    assert abs(field["height"] - (y2 - y1) * k) < 1.5
    fig.scroll_into_view_if_needed()
    page.locator("ol.steps li[data-step=document][aria-current=step]").wait_for()
    screenshot(page, f"{shots}-3-document")
    # pages seen are reported, in batches, each page once
    page.locator("#pad").scroll_into_view_if_needed()
    page.wait_for_timeout(1800)
    seen = [p for batch in signer.viewed for p in batch]
    assert sorted(seen) == [1, 2, 3], signer.viewed
    assert len(signer.viewed) < 3, signer.viewed  # batched
    # (4) a signature drawn with a finger; intent is required
    pad = page.get_by_label(NAMES[lang]["pad"], exact=True)
    assert pad.evaluate("c => getComputedStyle(c).touchAction") == "none"
    draw_touch(page)
    assert pad.get_attribute("data-strokes") == "2"
    page.locator("ol.steps li[data-step=sign][aria-current=step]").wait_for()
    button(page, lang, "sign").click()
    page.locator("#sign-status").filter(has_text=NAMES[lang]["intent"]).wait_for()
    assert signer.signature is None
    screenshot(page, f"{shots}-4-signature")
    page.get_by_label(NAMES[lang]["intent"], exact=True).check()
    button(page, lang, "sign").click()
    # (5) done
    download = page.get_by_role("link", name=NAMES[lang]["download"], exact=True)
    download.wait_for()
    screenshot(page, f"{shots}-5-done")
    assert signer.signature is not None
    assert signer.signature["kind"] == "drawn"
    assert signer.language == lang
    size, bbox = png_ink(base64.b64decode(signer.signature["png_base64"]))
    assert size[0] <= 2000
    assert size[1] <= 1000
    # trimmed to the ink: a margin of a few pixels at most on every side
    assert bbox[0] < 40
    assert bbox[1] < 40
    assert size[0] - bbox[2] < 40
    assert size[1] - bbox[3] < 40
    with page.expect_download() as d:
        download.click()
    assert open(d.value.path(), "rb").read() == stub.find(signer.token)[0].pdf  # noqa: SIM115
    assert signer.downloads == 1
    no_horizontal_scroll(page)


def test_pages_taller_than_a_landscape_phone_are_seen(stub: SignerStub, new_page: Any) -> None:
    signer = envelope(stub, pages=3)
    page = new_page(**{**PHONE_360, "viewport": {"width": 740, "height": 360}}, locale="en-US")
    open_and_verify(page, stub, signer, "en")
    heights = page.eval_on_selector_all("figure.page", "fs => fs.map(f => f.offsetHeight)")
    assert min(heights) > 2 * 360  # no page can be half on screen
    assert not signer.viewed
    for n in (1, 2, 3):
        page.evaluate(
            "n => document.querySelector(`figure.page[data-page='${n}']`).scrollIntoView()", n
        )
        page.wait_for_timeout(300)
    page.wait_for_timeout(1800)
    assert sorted(p for batch in signer.viewed for p in batch) == [1, 2, 3]
    no_horizontal_scroll(page)
    screenshot(page, "signer-landscape-en-3-document")


def field_on_its_box(page: Any, n: int, box: list[float]) -> None:
    """The overlay of the field ``box`` (PDF points) on page ``n`` sits where the box is."""
    fig = page.locator(f"figure.page[data-page='{n}']")
    img, field = fig.locator("img").bounding_box(), fig.locator(".field").first.bounding_box()
    k = img["width"] / A4[0]
    assert abs(field["x"] - (img["x"] + box[0] * k)) < 1.5
    assert abs(field["y"] - (img["y"] + (A4[1] - box[3]) * k)) < 1.5
    assert abs(field["width"] - (box[2] - box[0]) * k) < 1.5


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_zooming_pages_on_a_phone(stub: SignerStub, new_page: Any, lang: str) -> None:
    signer = envelope(stub, pages=2)
    page = new_page(**PHONE_360, **context_for(lang))
    open_and_verify(page, stub, signer, lang)
    load_all_pages(page)
    zoom_in = page.get_by_role("button", name="Zoom in" if lang == "en" else "放大", exact=True)
    zoom_in.click()
    zoom_in.click()  # 200 %
    assert page.locator("#zoom-level").inner_text() == "200%"
    box = page.locator("#pages")
    sizes = box.evaluate("b => [b.scrollWidth, b.clientWidth]")
    assert sizes[0] > 1.8 * sizes[1]  # the pages scroll sideways in their box...
    no_horizontal_scroll(page)  # ...and the page itself does not
    img = page.locator("figure.page[data-page='2'] img")
    img.scroll_into_view_if_needed()
    page.wait_for_function("i => i.complete && i.naturalWidth >= 1200", arg=img.element_handle())
    page.locator("figure.page[data-page='2'] .field").first.scroll_into_view_if_needed()
    field_on_its_box(page, 2, FIELD["box"])
    screenshot(page, f"signer-phone-{lang}-3-zoomed")
    page.get_by_role("button", name="Zoom out" if lang == "en" else "缩小", exact=True).click()
    assert page.locator("#zoom-level").inner_text() == "150%"


TABLET = {"viewport": {"width": 820, "height": 1180}, "is_mobile": True, "has_touch": True,
          "device_scale_factor": 2}  # fmt: skip


def test_tablet_signs_with_a_finger_and_a_reload_keeps_the_session(
    stub: SignerStub, new_page: Any
) -> None:
    signer = envelope(stub, pages=2)
    page = new_page(**TABLET, **context_for("en"))
    open_and_verify(page, stub, signer, "en", "signer-tablet-en")
    page.reload()  # the session cookie holds: no second code
    page.locator("figure.page img").first.wait_for()
    assert page.locator("#identity").is_hidden()
    assert signer.sends == 1
    load_all_pages(page)
    field_on_its_box(page, 2, FIELD["box"])
    draw_touch(page)
    page.get_by_label(NAMES["en"]["intent"], exact=True).check()
    no_horizontal_scroll(page)
    screenshot(page, "signer-tablet-en-4-signature")
    button(page, "en", "sign").click()
    page.get_by_role("link", name="Download", exact=True).wait_for()
    assert signer.signature is not None
    assert signer.signature["kind"] == "drawn"


def test_desktop_types_a_name_in_a_style(stub: SignerStub, new_page: Any) -> None:
    signer = envelope(stub, pages=1)
    page = new_page(**DESKTOP, **context_for("en"))
    open_and_verify(page, stub, signer, "en", "signer-desktop-en")
    load_all_pages(page)
    page.get_by_role("tab", name="Type").click()
    page.get_by_label("Your name as it will appear").fill("Zhang Wei 张伟")
    page.get_by_label("Blue ink").check()
    page.get_by_label(NAMES["en"]["intent"]).check()
    screenshot(page, "signer-desktop-en-4-typed")
    button(page, "en", "sign").click()
    page.get_by_role("link", name="Download", exact=True).wait_for()
    screenshot(page, "signer-desktop-en-5-done")
    assert signer.signature == {"kind": "typed", "text": "Zhang Wei 张伟", "style": "blue"}


def test_desktop_draws_with_the_mouse_clears_and_redraws(stub: SignerStub, new_page: Any) -> None:
    signer = envelope(stub, pages=1)
    page = new_page(**DESKTOP, **context_for("zh-CN"))
    open_and_verify(page, stub, signer, "zh-CN", "signer-desktop-zh")
    draw_mouse(page)
    page.get_by_role("button", name="清除").click()
    page.get_by_label(NAMES["zh-CN"]["intent"]).check()
    button(page, "zh-CN", "sign").click()
    page.locator("#sign-status").filter(has_text="请先在框内写下您的签名").wait_for()
    assert signer.signature is None
    draw_mouse(page, span=0.92)  # the whole width: the export is scaled down to 2000 px
    screenshot(page, "signer-desktop-zh-4-signature")
    button(page, "zh-CN", "sign").click()
    page.get_by_role("link", name="下载", exact=True).wait_for()
    screenshot(page, "signer-desktop-zh-5-done")
    assert signer.signature is not None
    size, bbox = png_ink(base64.b64decode(signer.signature["png_base64"]))
    assert size[0] <= 2000
    assert size[1] <= 1000
    assert size[0] > 3 * size[1]  # one wide zigzag, trimmed to the ink (the pad is taller)
    # nothing cut off: a margin on every side
    assert bbox[0] > 0
    assert bbox[1] > 0
    assert bbox[2] < size[0]
    assert bbox[3] < size[1]


def test_enterprise_chooses_a_seal(stub: SignerStub, new_page: Any) -> None:
    signer = envelope(stub, kind="enterprise", pages=1)
    page = new_page(**PHONE_360, **context_for("zh-CN"))
    open_and_verify(page, stub, signer, "zh-CN")
    assert page.locator("#methods").is_hidden()  # one method: no tabs
    assert page.get_by_label(NAMES["zh-CN"]["pad"]).is_hidden()
    page.get_by_label("Acme Ltd 公章").check()
    page.get_by_label(NAMES["zh-CN"]["intent"]).check()
    screenshot(page, "signer-phone-zh-CN-4-seal")
    no_horizontal_scroll(page)
    button(page, "zh-CN", "sign").click()
    page.get_by_role("link", name="下载", exact=True).wait_for()
    assert signer.signature == {"kind": "seal", "seal_id": "seal-official"}


def test_an_enterprise_without_an_address_is_told_why_no_code_comes(
    stub: SignerStub, new_page: Any
) -> None:
    signer = envelope(stub, kind="enterprise", pages=1)
    signer.address_masked = ""
    page = new_page(**PHONE_360, **context_for("zh-CN"))
    page.goto(f"{stub.url}/sign/{signer.token}")
    button(page, "zh-CN", "send").click()
    page.locator("#send-status").filter(has_text="未提供接收验证码的地址").wait_for()
    assert page.locator("#error").is_hidden()
    assert not signer.codes


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_wrong_codes_until_locked(stub: SignerStub, new_page: Any, lang: str) -> None:
    signer = envelope(stub, pages=1)
    page = new_page(**PHONE_360, **context_for(lang))
    page.goto(f"{stub.url}/sign/{signer.token}")
    button(page, lang, "send").click()
    page.locator("#send-status").filter(has_text=signer.address_masked).wait_for()
    assert button(page, lang, "send").is_disabled()  # resend countdown
    page.locator("#resend-status").filter(has_text="30").wait_for()
    page.locator("#resend-status").filter(has_text="29").wait_for()  # it counts down
    code = page.get_by_label(NAMES[lang]["code"], exact=True)
    wrong = "000000" if signer.codes[-1] != "000000" else "111111"
    for left in (4, 3, 2, 1):
        code.fill(wrong)
        button(page, lang, "verify").click()
        page.locator("#verify-status").filter(has_text=str(left)).wait_for()
    screenshot(page, f"signer-phone-{lang}-2-wrong-code")
    code.fill(wrong)
    button(page, lang, "verify").click()
    page.locator("body[data-locked=true]").wait_for()
    assert page.locator("#resend-status").inner_text() == ""
    screenshot(page, f"signer-phone-{lang}-2-locked")
    assert signer.locked
    assert button(page, lang, "verify").is_disabled()
    assert button(page, lang, "send").is_disabled()
    assert page.locator("figure.page").count() == 0


def test_decline_with_a_reason(stub: SignerStub, new_page: Any) -> None:
    signer = envelope(stub, pages=1)
    page = new_page(**PHONE_360, **context_for("en"))
    # before identity there is nothing to decline with
    page.goto(f"{stub.url}/sign/{signer.token}")
    page.locator("#intro-h").wait_for()
    assert button(page, "en", "decline").is_hidden()
    open_and_verify(page, stub, signer, "en")
    button(page, "en", "decline").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Confirm decline").click()
    dialog.locator("#decline-status").filter(has_text="Give a reason").wait_for()
    assert signer.decline_reason is None
    dialog.get_by_label("Reason").fill("The delivery date is wrong.")
    screenshot(page, "signer-phone-en-6-decline")
    dialog.get_by_role("button", name="Confirm decline").click()
    page.locator("#declined").wait_for()
    screenshot(page, "signer-phone-en-6-declined")
    assert signer.decline_reason == "The delivery date is wrong."
    assert signer.state == "declined"
    assert page.locator("#signing").is_hidden()


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_invalid_links_show_one_view(stub: SignerStub, new_page: Any) -> None:
    live = envelope(stub, pages=1)
    voided = envelope(stub, pages=1, state="voided")
    tampered = live.token[:-1] + ("A" if live.token[-1] != "A" else "B")
    ok_status, ok_body = _fetch(f"{stub.url}/sign/{live.token}")
    assert ok_status == 200
    texts = set()
    for lang in ("en", "zh-CN"):
        for token in (voided.token, tampered, secrets.token_urlsafe(24), "x"):
            status, body = _fetch(f"{stub.url}/sign/{token}")
            assert status == 404
            assert body == ok_body
            page = new_page(**PHONE_360, **context_for(lang))
            page.goto(f"{stub.url}/sign/{token}")
            page.locator("#invalid").wait_for()
            assert page.locator("#intro").is_hidden()
            assert page.locator("#identity").is_hidden()
            texts.add((lang, page.locator("main").inner_text()))
        screenshot(page, f"signer-phone-{lang}-invalid")
    assert len(texts) == 2, texts  # one message per language, whatever the reason
    # a 200 page whose API answers 404 (the link died meanwhile) shows the same view
    page = new_page(**DESKTOP)
    page.route("**/v1/sign/*", lambda route: route.fulfill(status=404, body="{}"))
    page.goto(f"{stub.url}/sign/{live.token}")
    page.locator("#invalid").wait_for()


def test_language_is_switched_and_remembered(stub: SignerStub, new_page: Any) -> None:
    signer = envelope(stub, pages=1)
    page = new_page(**DESKTOP, **context_for("en-GB"))
    page.goto(f"{stub.url}/sign/{signer.token}")
    for what in ("send", "verify"):
        button(page, "en", what).wait_for()
    page.get_by_label("Language").select_option("zh-CN")
    for what in ("send", "verify"):
        button(page, "zh-CN", what).wait_for()
    assert page.get_by_label("验证码", exact=True).is_visible()
    assert "邀请" in page.locator("#intro-ask").inner_text()
    page.reload()
    button(page, "zh-CN", "send").wait_for()
    open_and_verify(page, stub, signer, "zh-CN")
    for what in ("sign", "decline"):
        assert button(page, "zh-CN", what).is_visible()
    assert page.get_by_label("签名板", exact=True).is_visible()
    assert page.get_by_label(NAMES["zh-CN"]["intent"], exact=True).is_visible()
    page.get_by_label("语言").select_option("en")
    for what in ("sign", "decline"):
        assert button(page, "en", what).is_visible()
    assert page.get_by_label("Signature pad", exact=True).is_visible()
    assert page.locator("figure.page img").get_attribute("alt") == "Page 1 of 1"


def test_not_yet_this_signers_turn(stub: SignerStub, new_page: Any) -> None:
    signer = envelope(stub, pages=1, order="sequential")
    signer.turn = False
    page = new_page(**PHONE_360, **context_for("zh-CN"))
    open_and_verify(page, stub, signer, "zh-CN")
    assert "尚未轮到您签署" in page.locator("#intro-note").inner_text()
    page.get_by_role("tab", name="输入姓名").click()
    page.get_by_label(NAMES["zh-CN"]["intent"]).check()
    button(page, "zh-CN", "sign").click()
    page.locator("#sign-status").filter(has_text="您现在不能签署").wait_for()
    screenshot(page, "signer-phone-zh-CN-4-not-your-turn")
    assert signer.signature is None


def test_a_refused_request_is_shown_and_cleared_on_retry(stub: SignerStub, new_page: Any) -> None:
    signer = envelope(stub, pages=1)
    page = new_page(**PHONE_360, **context_for("en"))
    page.goto(f"{stub.url}/sign/{signer.token}")
    page.locator("#intro-h").wait_for()
    broken = {"on": True}

    def code_route(route: Any) -> None:
        if broken["on"]:
            # a 4xx: the browser tests fail on any 5xx the console logs
            body = '{"title": "refused", "status": 400, "detail": "try later"}'
            route.fulfill(status=400, content_type="application/problem+json", body=body)
        else:
            route.continue_()

    page.route("**/v1/sign/*/code", code_route)
    button(page, "en", "send").click()
    page.locator("#error").filter(has_text="400").wait_for()
    assert "try later" in page.locator("#error").inner_text()
    assert button(page, "en", "send").is_enabled()  # the signer can try again
    broken["on"] = False
    button(page, "en", "send").click()
    page.locator("#send-status").filter(has_text=signer.address_masked).wait_for()
    assert page.locator("#error").is_hidden()
    assert signer.sends == 1


def test_ended_session_asks_for_identity_again(stub: SignerStub, new_page: Any) -> None:
    signer = envelope(stub, pages=1)
    page = new_page(**DESKTOP, **context_for("en"))
    open_and_verify(page, stub, signer, "en")
    signer.session = None  # the server forgot the session (expired)
    draw_mouse(page)
    page.get_by_label(NAMES["en"]["intent"]).check()
    button(page, "en", "sign").click()
    page.locator("#verify-status").filter(has_text="session has ended").wait_for()
    assert button(page, "en", "send").is_visible()
    assert signer.signature is None


# ------------------------------------------------------------------ part 2: against the service
#
# The real service (envelopes, links, codes by SMTP to a local aiosmtpd, PAdES B-T signing with
# the tenant CA's signer certificate and the development TSA, the ledger), driven from the page
# as a signer would: an individual on a phone with touch, an enterprise's seal keeper on a
# desktop, in both languages.

ALICE = "alice@example.com"
KEEPER = "keeper@other.example"
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Mobile Safari/537.36 sealtrail-test"
)
CEREMONY = [
    "envelope:link-opened",
    "envelope:code-sent",
    "envelope:identity-verified",
    "envelope:document-viewed",
    "envelope:intent-confirmed",
    "envelope:signed",
]


@pytest.fixture(scope="module")
def inbox() -> Iterator[Any]:
    from ...smtp import smtp_server

    with smtp_server() as box:
        yield box


@pytest.fixture(scope="module")
def svc(provisioned: Any, tmp_path_factory: pytest.TempPathFactory, inbox: Any) -> Iterator[Any]:
    from ..conftest import _service_factory

    factory, started = _service_factory(provisioned, tmp_path_factory.mktemp("signpage"))
    yield factory(smtp_url=inbox.url, smtp_from="sign@acme.example")
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def api(svc: Any) -> Any:
    from ..api.client import Api

    return Api(svc)


@pytest.fixture(scope="module")
def other_seal(api: Any) -> str:
    """An active seal of tenant ``other`` (the enterprise signer), made by its admin."""
    from ..service import cli

    if "adm_other" not in api.svc.keys:
        made = cli(api.svc.data_dir, "keys", "create", "--tenant", "other", "--role", "admin")
        api.svc.keys["adm_other"] = made["key"]
    body = {"tenant": "other", "kind": "contract", "name": "Other Corp", "purpose": "合同专用章"}
    r = api.post("/v1/seals", body, key="adm_other")
    assert r.status == 201, r
    return str(r.json()["id"])


def create_envelope(api: Any, signers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body = {
        "title": "Logistics handover 物流交接单",
        "document": {"name": "handover.pdf", "pdf_base64": base64.b64encode(make_pdf(2)).decode()},
        "order": "sequential",
        "signers": signers,
        **extra,
    }
    r = api.post("/v1/envelopes", body, key="int_sub1")
    assert r.status == 201, r
    return dict(r.json())


def alice_spec(email: str = ALICE) -> dict[str, Any]:
    return {"kind": "individual", "name": "Alice Zhang", "email": email,
            "fields": [{"page": 1, "box": [100, 100, 260, 160]}]}  # fmt: skip


def keeper_spec() -> dict[str, Any]:
    return {"kind": "enterprise", "tenant": "other", "name": "Other Corp", "email": KEEPER,
            "fields": [{"page": 2, "box": [300, 100, 440, 240]}]}  # fmt: skip


def token_of(signer: dict[str, Any]) -> str:
    return str(signer["sign_url"]).rsplit("/sign/", 1)[1]


def verify_from_mail(page: Any, inbox: Any, address: str, lang: str, shots: str = "") -> None:
    """Send a code from the page, read it from the SMTP server, type it, verify."""
    before = len(inbox.to(address))
    button(page, lang, "send").click()
    code = inbox.last_code(address, before + 1)
    page.locator("#send-status").filter(has_text="@").wait_for()
    page.get_by_label(NAMES[lang]["code"], exact=True).fill(code)
    if shots:
        screenshot(page, f"{shots}-2-identity")
    button(page, lang, "verify").click()
    page.locator("figure.page img").first.wait_for()


def events_of(api: Any, env_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/v1/streams/envelope:{env_id}", "aud_hq", params={"tenant": "sub1"})
    assert r.status == 200, r
    assert r.json()["chain_intact"]
    return list(r.json()["events"])


def pdfsig(pdf: bytes, tmp: Any) -> str:
    import shutil
    import subprocess

    if not (shutil.which("pdfsig") and shutil.which("certutil")):
        pytest.fail("pdfsig and certutil are needed (apt-get install poppler-utils libnss3-tools)")
    db = tmp / "nss"
    db.mkdir(exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True)
    doc = tmp / "signed.pdf"
    doc.write_bytes(pdf)
    run = subprocess.run(["pdfsig", "-nssdir", f"sql:{db}", str(doc)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    return run.stdout + run.stderr


def pyhanko_signatures(pdf: bytes, tsa_root_pem: bytes) -> list[Any]:
    """The PDF's signatures, each intact, valid and time-stamped by the service's TSA (trusted:
    its root pinned) for pyHanko — which runs its own asyncio loop, hence in a thread, since
    Playwright's sync API holds this thread's loop."""
    import concurrent.futures

    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    _, _, der = pem.unarmor(tsa_root_pem)
    tsa_root = asn1_x509.Certificate.load(der)

    def check() -> list[Any]:
        out = []
        for s in PdfFileReader(io.BytesIO(pdf)).embedded_signatures:
            status = validate_pdf_signature(
                s, ValidationContext(trust_roots=[]),
                ts_validation_context=ValidationContext(trust_roots=[tsa_root]),
            )  # fmt: skip
            assert status.intact, status.pretty_print_details()
            assert status.valid, status.pretty_print_details()
            ts = status.timestamp_validity
            assert ts is not None, "PAdES B-T: a signature timestamp"
            assert ts.intact, ts
            assert ts.valid, ts
            assert ts.trusted, ts
            out.append(s)
        return out

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(check).result(timeout=120)


def test_two_signers_sign_from_the_page(
    svc: Any, api: Any, inbox: Any, other_seal: str, new_page: Any, tmp_path: Any
) -> None:
    import hashlib
    import json
    import zipfile

    deadline = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    env = create_envelope(api, [alice_spec(), keeper_spec()], expires_at=deadline)
    env_id = env["id"]
    alice_token, keeper_token = token_of(env["signers"][0]), token_of(env["signers"][1])

    # Alice, on a phone, in Chinese, draws with a finger
    phone = new_page(**PHONE_360, locale="zh-CN", user_agent=PHONE_UA)
    phone.goto(f"{svc.url}/sign/{alice_token}")
    phone.locator("#intro-h").wait_for()
    assert "Acme Shanghai" in phone.locator("#intro-ask").inner_text()
    assert phone.locator("figure.page").count() == 0
    screenshot(phone, "e2e-phone-zh-CN-1-invitation")
    verify_from_mail(phone, inbox, ALICE, "zh-CN", "e2e-phone-zh-CN")
    load_all_pages(phone)
    no_horizontal_scroll(phone)
    fig = phone.locator("figure.page[data-page='1']")
    img, field = fig.locator("img").bounding_box(), fig.locator(".field").bounding_box()
    k = img["width"] / A4[0]
    assert abs(field["x"] - (img["x"] + 100 * k)) < 1.5
    assert abs(field["y"] - (img["y"] + (A4[1] - 160) * k)) < 1.5
    screenshot(phone, "e2e-phone-zh-CN-3-document")
    draw_touch(phone)
    phone.get_by_label(NAMES["zh-CN"]["intent"], exact=True).check()
    screenshot(phone, "e2e-phone-zh-CN-4-signature")
    button(phone, "zh-CN", "sign").click()
    download = phone.get_by_role("link", name=NAMES["zh-CN"]["download"], exact=True)
    download.wait_for(timeout=120_000)
    screenshot(phone, "e2e-phone-zh-CN-5-done")
    with phone.expect_download() as d:
        download.click()
    partly = open(d.value.path(), "rb").read()  # noqa: SIM115
    tsa_root = (svc.data_dir / "devtsa" / CA_CERT_FILE).read_bytes()
    assert len(pyhanko_signatures(partly, tsa_root)) == 1

    # the keeper of Other Corp's seals, on a desktop, in English, chooses the seal
    desk = new_page(**DESKTOP, locale="en-US")
    desk.goto(f"{svc.url}/sign/{keeper_token}")
    desk.locator("#intro-h").wait_for()
    screenshot(desk, "e2e-desktop-en-1-invitation")
    verify_from_mail(desk, inbox, KEEPER, "en", "e2e-desktop-en")
    load_all_pages(desk)
    desk.get_by_label("Other Corp").check()
    desk.get_by_label(NAMES["en"]["intent"], exact=True).check()
    screenshot(desk, "e2e-desktop-en-4-seal")
    button(desk, "en", "sign").click()
    download = desk.get_by_role("link", name="Download", exact=True)
    download.wait_for(timeout=120_000)
    assert "Every signer has signed" in desk.locator("#done-text").inner_text()
    screenshot(desk, "e2e-desktop-en-5-done")
    with desk.expect_download() as d:
        download.click()
    final = open(d.value.path(), "rb").read()  # noqa: SIM115

    # the signed PDF: two PAdES B-T signatures, valid for pyHanko and for poppler's pdfsig
    sigs = pyhanko_signatures(final, tsa_root)
    assert len(sigs) == 2
    assert sigs[0].signer_cert.subject.native["common_name"] == "Alice Zhang"
    # trusted as well in the envelope's trust context (every party's CA): the service's word
    v = api.get(f"/v1/envelopes/{env_id}/validation", "int_sub1")
    assert v.status == 200, v
    assert len(v.json()["signatures"]) == 2
    for s in v.json()["signatures"]:
        assert s["intact"], s
        assert s["valid"], s
    out = pdfsig(final, tmp_path)
    assert out.count("Signature is Valid") == 2, out
    assert "Alice Zhang" in out

    # every step is an event of the envelope's stream, per signer, in order
    events = events_of(api, env_id)
    # (by the actor: the enterprise's "envelope:signed" names no "signer" attribute)
    for who in (0, 1):
        actor = f"signer:{env_id}:{who}"
        mine = [e["type"] for e in events if e["actor"]["id"] == actor]
        steps = [t for t in mine if t in CEREMONY]
        assert set(steps) == set(CEREMONY), (who, mine)
        assert sorted(CEREMONY, key=steps.index) == CEREMONY, (who, mine)
    assert events[-1]["type"] == "download"
    assert [e["type"] for e in events].index("envelope:completed") > max(
        i for i, e in enumerate(events) if e["type"] == "envelope:signed"
    )
    viewed = [e for e in events if e["type"] == "envelope:document-viewed"
              and e["attributes"].get("signer") == 0]  # fmt: skip
    # attributes are strings: the pages seen, comma-separated
    assert sorted({int(p) for e in viewed for p in e["attributes"]["pages"].split(",")}) == [1, 2]
    intent = next(e for e in events if e["type"] == "envelope:intent-confirmed"
                  and e["attributes"].get("signer") == 0)  # fmt: skip
    assert intent["attributes"]["language"] == "zh-CN"
    opened = next(e for e in events if e["type"] == "envelope:link-opened")
    assert opened["attributes"]["user_agent"] == PHONE_UA
    assert opened["attributes"]["email_sha256"] == hashlib.sha256(ALICE.encode()).hexdigest()
    assert ALICE not in json.dumps(events)
    assert any(e["type"] == "download" for e in events)

    # ... and in the envelope's certification package, which verifies
    r = api.get(f"/v1/streams/envelope:{env_id}/package", "aud_hq", params={"tenant": "sub1"},
                timeout=120)  # fmt: skip
    assert r.status == 200, r
    with zipfile.ZipFile(io.BytesIO(r.body)) as z:
        packaged = [json.loads(z.read(n)) for n in z.namelist() if n.startswith("events/")]
    packaged.sort(key=lambda e: e["index"])
    assert [e["type"] for e in packaged] == [e["type"] for e in events][: len(packaged)]
    assert {t for t in CEREMONY} <= {e["type"] for e in packaged}
    report = api.request("POST", "/v1/public/packages/verify", body=r.body,
                         content_type="application/zip", timeout=120)  # fmt: skip
    assert report.status == 200, report
    failed = [c for c in report.json()["checks"] if c["status"] == "failed"]
    assert not failed, failed


def test_decline_from_the_page_ends_the_envelope(
    svc: Any, api: Any, inbox: Any, new_page: Any
) -> None:
    env = create_envelope(api, [alice_spec("decline@example.com"), keeper_spec()])
    token = token_of(env["signers"][0])
    page = new_page(**PHONE_360, locale="en-US")
    page.goto(f"{svc.url}/sign/{token}")
    page.locator("#intro-h").wait_for()
    assert button(page, "en", "decline").is_hidden()  # only after identity
    verify_from_mail(page, inbox, "decline@example.com", "en")
    button(page, "en", "decline").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Reason").fill("The delivery date is wrong. 交货日期有误。")
    screenshot(page, "e2e-phone-en-6-decline")
    dialog.get_by_role("button", name="Confirm decline").click()
    page.locator("#declined").wait_for()
    screenshot(page, "e2e-phone-en-6-declined")
    got = api.get(f"/v1/envelopes/{env['id']}", "int_sub1")
    assert got.json()["status"] == "declined", got
    declined = [e for e in events_of(api, env["id"]) if e["type"] == "envelope:declined"]
    assert len(declined) == 1
    # every link of a declined envelope is dead: the same invalid view, for both signers
    for t in (token, token_of(env["signers"][1])):
        other = new_page(**DESKTOP, locale="zh-CN")
        other.goto(f"{svc.url}/sign/{t}")
        other.locator("#invalid").wait_for()
        assert other.locator("#invalid-h").inner_text() == "此链接无效"


def test_wrong_codes_lock_the_link(svc: Any, api: Any, inbox: Any, new_page: Any) -> None:
    address = "lock@example.com"
    env = create_envelope(api, [alice_spec(address)])
    page = new_page(**PHONE_360, locale="zh-CN")
    page.goto(f"{svc.url}/sign/{token_of(env['signers'][0])}")
    button(page, "zh-CN", "send").click()
    right = inbox.last_code(address, 1)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    code = page.get_by_label("验证码", exact=True)
    for left in (4, 3, 2, 1):
        code.fill(wrong)
        button(page, "zh-CN", "verify").click()
        page.locator("#verify-status").filter(has_text=f"还可尝试 {left} 次").wait_for()
    code.fill(wrong)
    button(page, "zh-CN", "verify").click()
    page.locator("body[data-locked=true]").wait_for()
    assert "已被锁定" in page.locator("#verify-status").inner_text()
    screenshot(page, "e2e-phone-zh-CN-2-locked")
    # the right code no longer opens it: the server refuses, not only the page
    r = api.post(f"/v1/sign/{token_of(env['signers'][0])}/verify", {"code": right})
    assert r.status == 423, r
    assert int(r.headers["Retry-After"]) > 0
    failed = [e for e in events_of(api, env["id"]) if e["type"] == "envelope:identity-failed"]
    assert len(failed) == 5
    assert page.locator("figure.page").count() == 0


def test_a_link_past_its_deadline_shows_the_invalid_view(
    svc: Any, api: Any, inbox: Any, new_page: Any
) -> None:
    import time

    deadline = datetime.now(UTC) + timedelta(seconds=4)
    env = create_envelope(api, [alice_spec("late@example.com")], expires_at=deadline.isoformat())
    token = token_of(env["signers"][0])
    page = new_page(**DESKTOP, locale="en-US")
    page.goto(f"{svc.url}/sign/{token}")
    page.locator("#intro-h").wait_for()  # live: the invitation
    time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.5)
    # the page was opened in time; the next call to the server finds the link expired
    button(page, "en", "send").click()
    page.locator("#invalid").wait_for()
    assert page.locator("#identity").is_hidden()
    screenshot(page, "e2e-desktop-en-expired")
    assert not inbox.to("late@example.com")  # no code was sent
    page.reload()
    page.locator("#invalid").wait_for()
    got = api.get(f"/v1/envelopes/{env['id']}", "int_sub1")
    assert got.json()["status"] == "expired", got
    assert any(e["type"] == "envelope:expired" for e in events_of(api, env["id"]))


def test_a_link_reused_after_signing_cannot_sign_again(
    svc: Any, api: Any, inbox: Any, new_page: Any
) -> None:
    address = "again@example.com"
    env = create_envelope(api, [alice_spec(address), keeper_spec()])
    token = token_of(env["signers"][0])
    page = new_page(**DESKTOP, locale="en-US")
    page.goto(f"{svc.url}/sign/{token}")
    verify_from_mail(page, inbox, address, "en")
    page.get_by_role("tab", name="Type").click()
    page.get_by_label("Slanted").check()
    page.get_by_label(NAMES["en"]["intent"], exact=True).check()
    button(page, "en", "sign").click()
    page.get_by_role("link", name="Download", exact=True).wait_for(timeout=120_000)
    # the same link again, in another browser: it says it is signed, and offers no signing
    again = new_page(**PHONE_360, locale="en-US")
    again.goto(f"{svc.url}/sign/{token}")
    again.locator("#done").wait_for()
    assert "You have signed" in again.locator("#done-text").inner_text()
    assert again.locator("#signing").is_hidden()
    assert again.locator("#identity").is_hidden()
    screenshot(again, "e2e-phone-en-reused")
    # and the server refuses a second signature, replayed with the first browser's session
    status = page.evaluate(
        """async (token) => (await fetch(`/v1/sign/${token}/sign`, {
            method: "POST", headers: {"Content-Type": "application/json"},
            body: JSON.stringify({intent: true, language: "en",
                                  signature: {kind: "typed", text: "Alice", style: "ink"}}),
        })).status""",
        token,
    )
    assert status == 409
    signed = [e for e in events_of(api, env["id"]) if e["type"] == "envelope:signed"]
    assert len(signed) == 1


def test_the_page_is_served_with_the_strict_headers(svc: Any, api: Any) -> None:
    env = create_envelope(api, [alice_spec("headers@example.com")])
    live = api.get(f"/sign/{token_of(env['signers'][0])}")
    dead = api.get(f"/sign/{secrets.token_urlsafe(24)}")
    assert live.status == 200
    assert dead.status == 404
    assert live.body == dead.body  # the status is the only difference
    for r in (live, dead):
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "no-referrer"  # the token stays in the URL bar
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    # nothing inline for the CSP to refuse, nothing fetched from elsewhere
    html = live.body.decode()
    assert "<script>" not in html
    assert " style=" not in html
    assert "http://" not in html
    assert "https://" not in html


def test_page_helper_takes_the_apps_frame_ancestors() -> None:
    """``routes.page(name, status)`` builds the response without the app; the app set up with
    ``frame_ancestors`` sends it with its own page headers (and no X-Frame-Options)."""
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from sealtrail.web import routes as web_routes

    from ..loop_thread import LoopThread

    async def run(ancestors: tuple[str, ...]) -> tuple[int, dict[str, str], bytes]:
        app = web.Application()
        web_routes.setup(app, ancestors)

        async def handler(request: web.Request) -> web.Response:
            return web_routes.page("sign", 404)

        app.router.add_get("/sign/{token}", handler)
        async with TestClient(TestServer(app)) as client:
            r = await client.get("/sign/x")
            return r.status, dict(r.headers), await r.read()

    lt = LoopThread()
    try:
        status, strict, body = lt.run(run(()))
        _, framed, body2 = lt.run(run(("https://oa.example",)))
    finally:
        lt.close()
    assert status == 404
    assert body == body2 == (web_routes.STATIC / "sign.html").read_bytes()
    assert strict["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in strict["Content-Security-Policy"]
    assert "X-Frame-Options" not in framed
    assert framed["Content-Security-Policy"].endswith("frame-ancestors https://oa.example")
    assert framed["Content-Type"] == "text/html; charset=utf-8"


def test_the_services_page_takes_frame_ancestors(start_service: Any) -> None:
    """An operator's frame_ancestors (an OA portal embedding the page) applies to /sign/{token}
    as to the portal: the CSP names the origin, X-Frame-Options is left out."""
    oa = "https://oa.corp.example"
    framed = start_service(frame_ancestors=oa)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{framed.url}/sign/{secrets.token_urlsafe(24)}", timeout=10)
    assert e.value.code == 404
    headers = e.value.headers
    assert headers["Content-Security-Policy"].endswith(f"frame-ancestors {oa}")
    assert headers["X-Frame-Options"] is None
    assert headers["Referrer-Policy"] == "no-referrer"
