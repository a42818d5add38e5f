"""The signer's page (issue 16) in headless Chromium, against a stand-in of its HTTP contract
(signer_stub.py: the real page, assets and security headers from ``sealtrail.web``, real page
images rendered with pypdfium2): on a 360-px phone with touch input, a landscape phone, a
tablet and a desktop with a mouse, in English and 简体中文 — the pad's export, the fields'
overlays, zoom, the pages seen, wrong codes until locked, decline, invalid links, the language
switch, a session that ended, out of turn, a refused request. test_signer_page.py drives the
same page against the real service.

Screenshots of every step go to tests/integration/web/artifacts/.
"""

from __future__ import annotations

import base64
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from ...unit.signing.pdfs import make_pdf
from .conftest import screenshot
from .signer_page import (
    A4,
    DESKTOP,
    FIELD,
    NAMES,
    PHONE_360,
    TABLET,
    button,
    context_for,
    draw_mouse,
    draw_touch,
    field_on_its_box,
    load_all_pages,
    no_horizontal_scroll,
    png_ink,
)
from .signer_stub import SignerStub, StubEnvelope, StubSigner

pytestmark = pytest.mark.browser


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
    code = signer.codes[-1]
    # typed as a person reads it off a phone: in two groups (the page drops the space)
    page.get_by_label(NAMES[lang]["code"], exact=True).fill(f"{code[:3]} {code[3:]}")
    if shots:
        screenshot(page, f"{shots}-2-identity")
    button(page, lang, "verify").click()
    page.locator("figure.page img").first.wait_for()


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


def test_a_signer_who_signed_confirms_identity_again_to_download(
    stub: SignerStub, new_page: Any
) -> None:
    signer = envelope(stub, pages=1)
    first = new_page(**DESKTOP, **context_for("en"))
    open_and_verify(first, stub, signer, "en")
    first.get_by_role("tab", name="Type").click()
    first.get_by_label(NAMES["en"]["intent"]).check()
    button(first, "en", "sign").click()
    first.get_by_role("link", name="Download", exact=True).wait_for()
    # the same link on another device: signed, nothing to sign, a code before the download
    page = new_page(**PHONE_360, **context_for("zh-CN"))
    page.goto(f"{stub.url}/sign/{signer.token}")
    page.locator("#done").wait_for()
    assert page.get_by_role("link", name="下载").is_hidden()
    assert page.locator("#signing").is_hidden()
    assert "如需下载" in page.locator("#identity-where").inner_text()
    screenshot(page, "signer-phone-zh-CN-5-signed-elsewhere")
    button(page, "zh-CN", "send").click()
    page.locator("#send-status").filter(has_text=signer.address_masked).wait_for()
    page.get_by_label("验证码", exact=True).fill(signer.codes[-1])
    button(page, "zh-CN", "verify").click()
    download = page.get_by_role("link", name="下载", exact=True)
    download.wait_for()
    assert page.locator("#identity").is_hidden()
    assert page.locator("#signing").is_hidden()
    with page.expect_download() as d:
        download.click()
    assert d.value.path().read_bytes().startswith(b"%PDF")
    assert signer.signature == {"kind": "typed", "text": "Zhang Wei", "style": "ink"}


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


def test_the_page_names_no_other_origin() -> None:
    """Nothing fetched from elsewhere: no URL with a scheme in the page, its script and style
    (the CSP would refuse them anyway), and no inline script or style for it to refuse."""
    import re

    from sealtrail.web import routes as web_routes

    for name in ("sign.html", "sign.js", "sign-pad.js", "sign.css"):
        text = (web_routes.STATIC / name).read_text()
        assert not re.search(r"\b(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), name
        assert "<script>" not in text, name
        assert " style=" not in text, name
        assert "eval(" not in text, name
        assert "innerHTML" not in text, name
