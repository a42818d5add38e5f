"""The signer's page (issue 16) in headless Chromium on devices, against the real service (one
``sealtrail serve`` per module, envelopes made through POST /v1/envelopes, codes read from a
real SMTP server): on a 360-px phone with touch input, a landscape phone, a tablet and a
desktop with a mouse, in English and 简体中文 — the pad's export, the fields' overlays, zoom,
the pages seen (as the ledger records them), wrong codes until locked, decline, invalid links
(unknown, tampered, expired, voided, used), the language switch, a session that ended, out of
turn, a refused request. What the page sent is read off the browser's own requests and the
envelope's ledger stream; nothing of the service is stood in for, except one answer altered in
the browser (``page.route``) where a test says so.

Screenshots of every step go to tests/integration/web/artifacts/.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sealtrail.seals.signing_links import masked

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
    events_of,
    field_on_its_box,
    load_all_pages,
    no_horizontal_scroll,
    png_ink,
    token_of,
    verify_from_mail,
    wait_until,
)

pytestmark = pytest.mark.browser

TITLE = "Logistics agreement 物流协议 2026-118"


def fresh_address(tag: str) -> str:
    """A new address per envelope: the service rate-limits codes per address."""
    return f"{tag}-{secrets.token_hex(4)}@example.com"


def individual(address: str | None, pages: int, name: str = "Zhang Wei") -> dict[str, Any]:
    return {"kind": "individual", "name": name, "email": address,
            "fields": [{**FIELD, "page": min(2, pages)},
                       {"page": pages, "box": [60, 60, 200, 120]}]}  # fmt: skip


def envelope(
    api: Any,
    *,
    kind: str = "individual",
    pages: int = 3,
    address: str | None = "",
    signers: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A new envelope made through the API (one signer, fields on page 2 unless ``signers``);
    its 201 answer, with ``address`` set to the signer's address."""
    if address == "":
        address = fresh_address(kind)
    if signers is None:
        if kind == "individual":
            signers = [individual(address, pages)]
        else:
            spec = {"kind": "enterprise", "tenant": "other", "name": "Other Corp",
                    "fields": [{"page": 1, "box": [300, 100, 440, 240]}]}  # fmt: skip
            if address is not None:
                spec["email"] = address
            signers = [spec]
    body = {
        "title": TITLE,
        "document": {"name": "agreement.pdf",
                     "pdf_base64": base64.b64encode(make_pdf(pages)).decode()},
        "order": "parallel",
        "signers": signers,
        **extra,
    }  # fmt: skip
    r = api.post("/v1/envelopes", body, key="int_sub1")
    assert r.status == 201, r
    return {**r.json(), "address": address}


def link(svc: Any, env: dict[str, Any], n: int = 0) -> str:
    return f"{svc.url}/sign/{token_of(env['signers'][n])}"


def sign_requests(page: Any) -> list[dict[str, Any]]:
    """The bodies of the page's POST …/sign requests, as the browser sent them."""
    sent: list[dict[str, Any]] = []

    def seen(req: Any) -> None:
        if req.method == "POST" and req.url.endswith("/sign"):
            sent.append(req.post_data_json)

    page.on("request", seen)
    return sent


def of_type(api: Any, env: dict[str, Any], etype: str) -> list[dict[str, Any]]:
    return [e for e in events_of(api, env["id"]) if e["type"] == etype]


def open_and_verify(
    page: Any, svc: Any, inbox: Any, env: dict[str, Any], lang: str, shots: str = ""
) -> None:
    """Open the link, ask for a code, read it off the SMTP server, type it in two groups (the
    page drops the space), verify."""
    page.goto(link(svc, env))
    page.locator("#intro-h").wait_for()
    if shots:
        screenshot(page, f"{shots}-1-invitation")
    verify_from_mail(page, inbox, env["address"], lang, shots, grouped=True)
    assert masked(env["address"]) in page.locator("#send-status").inner_text()


@pytest.fixture(scope="module", autouse=True)
def signed_early(api: Any, inbox: Any) -> dict[str, Any]:
    """An envelope whose signer signed (a typed name) at the module's start, through the signer
    API as the page calls it, so that by the time a test opens the link on another device the
    60 s before a second code (RESEND_AFTER) have mostly passed."""
    env = envelope(api, pages=1)
    token = token_of(env["signers"][0])
    assert api.post(f"/v1/sign/{token}/code", {}).status == 202
    sent_at = time.monotonic()
    r = api.post(f"/v1/sign/{token}/verify", {"code": inbox.last_code(env["address"], 1)})
    assert r.status == 200, r
    cookie = {"Cookie": r.headers["Set-Cookie"].split(";", 1)[0]}
    body = {"intent": True, "language": "en",
            "signature": {"kind": "typed", "text": "Zhang Wei", "style": "ink"}}  # fmt: skip
    r = api.post(f"/v1/sign/{token}/sign", body, headers=cookie, timeout=120)
    assert r.status == 200, r
    assert r.json()["envelope_state"] == "completed"
    return {**env, "sent_at": sent_at}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_phone_signs_with_a_finger(
    svc: Any, api: Any, inbox: Any, new_page: Any, lang: str
) -> None:
    env = envelope(api)
    page = new_page(**PHONE_360, **context_for(lang))
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    sent = sign_requests(page)
    shots = f"signer-phone-{lang}"
    page.goto(link(svc, env))
    page.locator("#intro-h").wait_for()
    # (1) who asks whom to sign what, and nothing of the document
    assert "Logistics agreement" in page.locator("#intro-h").inner_text()
    assert "Zhang Wei" in page.locator("#intro-ask").inner_text()
    assert "Acme Shanghai" in page.locator("#intro-ask").inner_text()
    assert page.locator("figure.page").count() == 0
    assert not any("/document" in u or "/pages/" in u for u in urls), urls
    assert page.evaluate("document.documentElement.lang") == lang
    no_horizontal_scroll(page)
    # (2) identity, (3) the document
    screenshot(page, f"{shots}-1-invitation")
    verify_from_mail(page, inbox, env["address"], lang, shots, grouped=True)
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
    # pages seen are recorded in the ledger, in batches, each page once
    page.locator("#pad").scroll_into_view_if_needed()
    viewed = wait_until(
        lambda: (
            (v := of_type(api, env, "envelope:document-viewed"))
            and sorted(int(p) for e in v for p in e["attributes"]["pages"].split(",")) == [1, 2, 3]
            and v
        ),
        "pages 1 to 3 recorded as viewed",
    )
    assert len(viewed) < 3, viewed  # batched
    # (4) a signature drawn with a finger; intent is required
    pad = page.get_by_label(NAMES[lang]["pad"], exact=True)
    assert pad.evaluate("c => getComputedStyle(c).touchAction") == "none"
    draw_touch(page)
    assert pad.get_attribute("data-strokes") == "2"
    page.locator("ol.steps li[data-step=sign][aria-current=step]").wait_for()
    button(page, lang, "sign").click()
    page.locator("#sign-status").filter(has_text=NAMES[lang]["intent"]).wait_for()
    assert not sent  # refused in the page: nothing was sent
    screenshot(page, f"{shots}-4-signature")
    page.get_by_label(NAMES[lang]["intent"], exact=True).check()
    button(page, lang, "sign").click()
    # (5) done
    download = page.get_by_role("link", name=NAMES[lang]["download"], exact=True)
    download.wait_for(timeout=120_000)
    screenshot(page, f"{shots}-5-done")
    assert len(sent) == 1
    assert sent[0]["signature"]["kind"] == "drawn"
    assert sent[0]["language"] == lang
    assert sent[0]["intent"] is True
    size, bbox = png_ink(base64.b64decode(sent[0]["signature"]["png_base64"]))
    assert size[0] <= 2000
    assert size[1] <= 1000
    # trimmed to the ink: a margin of a few pixels at most on every side
    assert bbox[0] < 40
    assert bbox[1] < 40
    assert size[0] - bbox[2] < 40
    assert size[1] - bbox[3] < 40
    signed = of_type(api, env, "envelope:signed")
    assert [e["attributes"]["signature"] for e in signed] == ["drawn"]
    intent = of_type(api, env, "envelope:intent-confirmed")
    assert [e["attributes"]["language"] for e in intent] == [lang]
    with page.expect_download() as d:
        download.click()
    got = open(d.value.path(), "rb").read()  # noqa: SIM115
    current = api.get(f"/v1/envelopes/{env['id']}/document", "int_sub1")
    assert current.status == 200, current
    assert got == current.body  # the signed PDF, as the service keeps it
    assert any(e["attributes"].get("signer") == 0 for e in of_type(api, env, "download"))
    no_horizontal_scroll(page)


def test_pages_taller_than_a_landscape_phone_are_seen(
    svc: Any, api: Any, inbox: Any, new_page: Any
) -> None:
    env = envelope(api, pages=3)
    page = new_page(**{**PHONE_360, "viewport": {"width": 740, "height": 360}}, locale="en-US")
    open_and_verify(page, svc, inbox, env, "en")
    heights = page.eval_on_selector_all("figure.page", "fs => fs.map(f => f.offsetHeight)")
    assert min(heights) > 2 * 360  # no page can be half on screen
    page.wait_for_timeout(1800)
    before = {p for e in of_type(api, env, "envelope:document-viewed")
              for p in e["attributes"]["pages"].split(",")}  # fmt: skip
    assert before <= {"1"}, before  # only what was on screen
    for n in (1, 2, 3):
        page.evaluate(
            "n => document.querySelector(`figure.page[data-page='${n}']`).scrollIntoView()", n
        )
        page.wait_for_timeout(300)
    wait_until(
        lambda: sorted(int(p) for e in of_type(api, env, "envelope:document-viewed")
                       for p in e["attributes"]["pages"].split(",")) == [1, 2, 3],
        "pages 1 to 3 recorded as viewed, each once",
    )  # fmt: skip
    no_horizontal_scroll(page)
    screenshot(page, "signer-landscape-en-3-document")


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_zooming_pages_on_a_phone(svc: Any, api: Any, inbox: Any, new_page: Any, lang: str) -> None:
    env = envelope(api, pages=2)
    page = new_page(**PHONE_360, **context_for(lang))
    open_and_verify(page, svc, inbox, env, lang)
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
    # a sharper image, rendered by the service for the wider page
    page.wait_for_function("i => i.complete && i.naturalWidth >= 1200", arg=img.element_handle())
    page.locator("figure.page[data-page='2'] .field").first.scroll_into_view_if_needed()
    field_on_its_box(page, 2, FIELD["box"])
    screenshot(page, f"signer-phone-{lang}-3-zoomed")
    page.get_by_role("button", name="Zoom out" if lang == "en" else "缩小", exact=True).click()
    assert page.locator("#zoom-level").inner_text() == "150%"


def test_tablet_signs_with_a_finger_and_a_reload_keeps_the_session(
    svc: Any, api: Any, inbox: Any, new_page: Any
) -> None:
    env = envelope(api, pages=2)
    page = new_page(**TABLET, **context_for("en"))
    sent = sign_requests(page)
    open_and_verify(page, svc, inbox, env, "en", "signer-tablet-en")
    page.reload()  # the session cookie holds: no second code
    page.locator("figure.page img").first.wait_for()
    assert page.locator("#identity").is_hidden()
    assert len(inbox.to(env["address"])) == 1
    assert len(of_type(api, env, "envelope:code-sent")) == 1
    load_all_pages(page)
    field_on_its_box(page, 2, FIELD["box"])
    draw_touch(page)
    page.get_by_label(NAMES["en"]["intent"], exact=True).check()
    no_horizontal_scroll(page)
    screenshot(page, "signer-tablet-en-4-signature")
    button(page, "en", "sign").click()
    page.get_by_role("link", name="Download", exact=True).wait_for(timeout=120_000)
    assert [s["signature"]["kind"] for s in sent] == ["drawn"]
    assert [e["attributes"]["signature"] for e in of_type(api, env, "envelope:signed")] == ["drawn"]


def test_desktop_types_a_name_in_a_style(svc: Any, api: Any, inbox: Any, new_page: Any) -> None:
    env = envelope(api, pages=1, signers=None)
    page = new_page(**DESKTOP, **context_for("en"))
    sent = sign_requests(page)
    open_and_verify(page, svc, inbox, env, "en", "signer-desktop-en")
    load_all_pages(page)
    page.get_by_role("tab", name="Type").click()
    page.get_by_label("Your name as it will appear").fill("Zhang Wei 张伟")
    page.get_by_label("Blue ink").check()
    page.get_by_label(NAMES["en"]["intent"]).check()
    screenshot(page, "signer-desktop-en-4-typed")
    button(page, "en", "sign").click()
    page.get_by_role("link", name="Download", exact=True).wait_for(timeout=120_000)
    screenshot(page, "signer-desktop-en-5-done")
    assert [s["signature"] for s in sent] == [
        {"kind": "typed", "text": "Zhang Wei 张伟", "style": "blue"}
    ]
    got = api.get(f"/v1/envelopes/{env['id']}", "int_sub1").json()
    assert got["status"] == "completed", got
    assert [e["attributes"]["signature"] for e in of_type(api, env, "envelope:signed")] == ["typed"]


def test_desktop_draws_with_the_mouse_clears_and_redraws(
    svc: Any, api: Any, inbox: Any, new_page: Any
) -> None:
    env = envelope(api, pages=1)
    page = new_page(**DESKTOP, **context_for("zh-CN"))
    sent = sign_requests(page)
    open_and_verify(page, svc, inbox, env, "zh-CN", "signer-desktop-zh")
    draw_mouse(page)
    page.get_by_role("button", name="清除").click()
    page.get_by_label(NAMES["zh-CN"]["intent"]).check()
    button(page, "zh-CN", "sign").click()
    page.locator("#sign-status").filter(has_text="请先在框内写下您的签名").wait_for()
    assert not sent
    draw_mouse(page, span=0.92)  # the whole width: the export is scaled down to 2000 px
    screenshot(page, "signer-desktop-zh-4-signature")
    button(page, "zh-CN", "sign").click()
    page.get_by_role("link", name="下载", exact=True).wait_for(timeout=120_000)
    screenshot(page, "signer-desktop-zh-5-done")
    assert len(sent) == 1
    size, bbox = png_ink(base64.b64decode(sent[0]["signature"]["png_base64"]))
    assert size[0] <= 2000
    assert size[1] <= 1000
    assert size[0] > 3 * size[1]  # one wide zigzag, trimmed to the ink (the pad is taller)
    # nothing cut off: a margin on every side
    assert bbox[0] > 0
    assert bbox[1] > 0
    assert bbox[2] < size[0]
    assert bbox[3] < size[1]
    assert len(of_type(api, env, "envelope:signed")) == 1  # the service took it


def test_enterprise_chooses_a_seal(
    svc: Any, api: Any, inbox: Any, other_seal: str, new_page: Any
) -> None:
    env = envelope(api, kind="enterprise", pages=1)
    page = new_page(**PHONE_360, **context_for("zh-CN"))
    sent = sign_requests(page)
    open_and_verify(page, svc, inbox, env, "zh-CN")
    assert page.locator("#methods").is_hidden()  # one method: no tabs
    assert page.get_by_label(NAMES["zh-CN"]["pad"]).is_hidden()
    page.get_by_label("Other Corp").check()
    page.get_by_label(NAMES["zh-CN"]["intent"]).check()
    screenshot(page, "signer-phone-zh-CN-4-seal")
    no_horizontal_scroll(page)
    button(page, "zh-CN", "sign").click()
    page.get_by_role("link", name="下载", exact=True).wait_for(timeout=120_000)
    assert [s["signature"] for s in sent] == [{"kind": "seal", "seal_id": other_seal}]
    signed = of_type(api, env, "envelope:signed")
    assert len(signed) == 1
    assert signed[0]["attributes"]["seal_id"] == other_seal
    assert signed[0]["attributes"]["signer"] == 0
    assert signed[0]["attributes"]["signer_kind"] == "enterprise"
    assert signed[0]["actor"]["org"] == "other"


def test_an_enterprise_without_an_address_is_told_why_no_code_comes(
    svc: Any, api: Any, inbox: Any, new_page: Any
) -> None:
    env = envelope(api, kind="enterprise", pages=1, address=None)
    assert env["signers"][0]["email_masked"] is None
    mails = len(inbox.messages)
    page = new_page(**PHONE_360, **context_for("zh-CN"))
    page.goto(link(svc, env))
    button(page, "zh-CN", "send").click()
    page.locator("#send-status").filter(has_text="未提供接收验证码的地址").wait_for()
    assert page.locator("#error").is_hidden()
    assert len(inbox.messages) == mails  # nothing was mailed...
    assert not of_type(api, env, "envelope:code-sent")  # ...nor recorded as sent


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_wrong_codes_until_locked(svc: Any, api: Any, inbox: Any, new_page: Any, lang: str) -> None:
    env = envelope(api, pages=1)
    page = new_page(**PHONE_360, **context_for(lang))
    page.goto(link(svc, env))
    button(page, lang, "send").click()
    right = inbox.last_code(env["address"], 1)
    page.locator("#send-status").filter(has_text=masked(env["address"])).wait_for()
    assert button(page, lang, "send").is_disabled()  # resend countdown (RESEND_AFTER)
    first = int(re.findall(r"\d+", page.locator("#resend-status").inner_text())[0])
    assert 55 <= first <= 60, first
    page.locator("#resend-status").filter(has_text=str(first - 1)).wait_for()  # it counts down
    code = page.get_by_label(NAMES[lang]["code"], exact=True)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
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
    assert button(page, lang, "verify").is_disabled()
    assert button(page, lang, "send").is_disabled()
    assert page.locator("figure.page").count() == 0
    # locked in the service, not only in the page: no new code, the right one refused
    token = token_of(env["signers"][0])
    r = api.post(f"/v1/sign/{token}/code", {})
    assert r.status == 423, r
    r = api.post(f"/v1/sign/{token}/verify", {"code": right})
    assert r.status == 423, r
    assert len(inbox.to(env["address"])) == 1
    failed = of_type(api, env, "envelope:identity-failed")
    assert [e["attributes"]["locked"] for e in failed] == [False] * 4 + [True]


def test_decline_with_a_reason(svc: Any, api: Any, inbox: Any, new_page: Any) -> None:
    env = envelope(api, pages=1)
    page = new_page(**PHONE_360, **context_for("en"))
    # before identity there is nothing to decline with
    page.goto(link(svc, env))
    page.locator("#intro-h").wait_for()
    assert button(page, "en", "decline").is_hidden()
    open_and_verify(page, svc, inbox, env, "en")
    button(page, "en", "decline").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Confirm decline").click()
    dialog.locator("#decline-status").filter(has_text="Give a reason").wait_for()
    assert not of_type(api, env, "envelope:declined")
    dialog.get_by_label("Reason").fill("The delivery date is wrong.")
    screenshot(page, "signer-phone-en-6-decline")
    dialog.get_by_role("button", name="Confirm decline").click()
    page.locator("#declined").wait_for()
    screenshot(page, "signer-phone-en-6-declined")
    assert page.locator("#signing").is_hidden()
    declined = of_type(api, env, "envelope:declined")
    assert [e["attributes"]["reason"] for e in declined] == ["The delivery date is wrong."]
    got = api.get(f"/v1/envelopes/{env['id']}", "int_sub1").json()
    assert got["status"] == "declined", got


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _used_link(api: Any, inbox: Any) -> str:
    """A link its signer used up: identity verified and the envelope declined through the
    signer API (the page's own calls, made here over HTTP)."""
    env = envelope(api, pages=1)
    token = token_of(env["signers"][0])
    assert api.post(f"/v1/sign/{token}/code", {}).status == 202
    r = api.post(f"/v1/sign/{token}/verify", {"code": inbox.last_code(env["address"], 1)})
    assert r.status == 200, r
    cookie = r.headers["Set-Cookie"].split(";", 1)[0]
    r = api.post(f"/v1/sign/{token}/decline", {"reason": "used"}, headers={"Cookie": cookie})
    assert r.status == 200, r
    return token


def test_invalid_links_show_one_view(svc: Any, api: Any, inbox: Any, new_page: Any) -> None:
    deadline = datetime.now(UTC) + timedelta(seconds=3)
    expired = token_of(envelope(api, pages=1, expires_at=deadline.isoformat())["signers"][0])
    live = token_of(envelope(api, pages=1)["signers"][0])
    voided_env = envelope(api, pages=1)
    r = api.post(f"/v1/envelopes/{voided_env['id']}/void", {"reason": "wrong counterparty"},
                 key="int_sub1")  # fmt: skip
    assert r.status == 200, r
    voided = token_of(voided_env["signers"][0])
    used = _used_link(api, inbox)
    tampered = live[:-1] + ("A" if live[-1] != "A" else "B")
    time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.5)
    ok_status, ok_body = _fetch(f"{svc.url}/sign/{live}")
    assert ok_status == 200
    texts = set()
    for lang in ("en", "zh-CN"):
        for token in (expired, voided, used, tampered, secrets.token_urlsafe(24), "x"):
            status, body = _fetch(f"{svc.url}/sign/{token}")
            assert (token, status) == (token, 404)
            assert body == ok_body
            page = new_page(**PHONE_360, **context_for(lang))
            page.goto(f"{svc.url}/sign/{token}")
            page.locator("#invalid").wait_for()
            assert page.locator("#intro").is_hidden()
            assert page.locator("#identity").is_hidden()
            texts.add((lang, page.locator("main").inner_text()))
        screenshot(page, f"signer-phone-{lang}-invalid")
    assert len(texts) == 2, texts  # one message per language, whatever the reason
    # a 200 page whose API answers 404 (the link died between the two requests): that one
    # answer is altered in the browser (page.route), since the race cannot be timed for real
    page = new_page(**DESKTOP)
    page.route("**/v1/sign/*", lambda route: route.fulfill(status=404, body="{}"))
    page.goto(f"{svc.url}/sign/{live}")
    page.locator("#invalid").wait_for()


def test_language_is_switched_and_remembered(svc: Any, api: Any, inbox: Any, new_page: Any) -> None:
    env = envelope(api, pages=1)
    page = new_page(**DESKTOP, **context_for("en-GB"))
    page.goto(link(svc, env))
    for what in ("send", "verify"):
        button(page, "en", what).wait_for()
    page.get_by_label("Language").select_option("zh-CN")
    for what in ("send", "verify"):
        button(page, "zh-CN", what).wait_for()
    assert page.get_by_label("验证码", exact=True).is_visible()
    assert "邀请" in page.locator("#intro-ask").inner_text()
    page.reload()
    button(page, "zh-CN", "send").wait_for()
    verify_from_mail(page, inbox, env["address"], "zh-CN")
    for what in ("sign", "decline"):
        assert button(page, "zh-CN", what).is_visible()
    assert page.get_by_label("签名板", exact=True).is_visible()
    assert page.get_by_label(NAMES["zh-CN"]["intent"], exact=True).is_visible()
    page.get_by_label("语言").select_option("en")
    for what in ("sign", "decline"):
        assert button(page, "en", what).is_visible()
    assert page.get_by_label("Signature pad", exact=True).is_visible()
    assert page.locator("figure.page img").get_attribute("alt") == "Page 1 of 1"


def test_not_yet_this_signers_turn(svc: Any, api: Any, inbox: Any, new_page: Any) -> None:
    """A sequential envelope: the second signer opens the link before the first signed; once
    the first has signed (through the page too), it is the second's turn."""
    first_address, second_address = fresh_address("first"), fresh_address("second")
    env = envelope(api, pages=1, order="sequential", address=second_address,
                   signers=[individual(first_address, 1, "Li Na"),
                            individual(second_address, 1)])  # fmt: skip
    page = new_page(**PHONE_360, **context_for("zh-CN"))
    page.goto(link(svc, env, 1))
    page.locator("#intro-h").wait_for()
    verify_from_mail(page, inbox, second_address, "zh-CN")
    assert "尚未轮到您签署" in page.locator("#intro-note").inner_text()
    page.get_by_role("tab", name="输入姓名").click()
    page.get_by_label(NAMES["zh-CN"]["intent"]).check()
    button(page, "zh-CN", "sign").click()
    page.locator("#sign-status").filter(has_text="您现在不能签署").wait_for()
    screenshot(page, "signer-phone-zh-CN-4-not-your-turn")
    assert not of_type(api, env, "envelope:signed")  # the service refused it (409)
    # the first signer signs; then the second's page, reloaded, signs
    first = new_page(**DESKTOP, **context_for("en"))
    first.goto(link(svc, env, 0))
    verify_from_mail(first, inbox, first_address, "en")
    first.get_by_role("tab", name="Type").click()
    first.get_by_label(NAMES["en"]["intent"]).check()
    button(first, "en", "sign").click()
    first.get_by_role("link", name="Download", exact=True).wait_for(timeout=120_000)
    page.reload()
    page.locator("figure.page img").first.wait_for()
    assert "尚未轮到您签署" not in page.locator("#intro-note").inner_text()
    page.get_by_role("tab", name="输入姓名").click()
    page.get_by_label(NAMES["zh-CN"]["intent"]).check()
    button(page, "zh-CN", "sign").click()
    page.get_by_role("link", name="下载", exact=True).wait_for(timeout=120_000)
    signed = of_type(api, env, "envelope:signed")
    assert [e["attributes"]["signer"] for e in signed] == [0, 1]


def test_a_refused_request_is_shown_and_cleared_on_retry(
    svc: Any, api: Any, inbox: Any, new_page: Any
) -> None:
    """The service's refusal of a code request is altered in the browser (``page.route`` on
    that one answer: a 4xx, since the browser tests fail on any 5xx the console logs); the
    retry goes to the service."""
    env = envelope(api, pages=1)
    page = new_page(**PHONE_360, **context_for("en"))
    page.goto(link(svc, env))
    page.locator("#intro-h").wait_for()
    broken = {"on": True}

    def code_route(route: Any) -> None:
        if broken["on"]:
            body = '{"title": "refused", "status": 400, "detail": "try later"}'
            route.fulfill(status=400, content_type="application/problem+json", body=body)
        else:
            route.continue_()

    page.route("**/v1/sign/*/code", code_route)
    button(page, "en", "send").click()
    page.locator("#error").filter(has_text="400").wait_for()
    assert "try later" in page.locator("#error").inner_text()
    assert button(page, "en", "send").is_enabled()  # the signer can try again
    assert not inbox.to(env["address"])
    broken["on"] = False
    button(page, "en", "send").click()
    page.locator("#send-status").filter(has_text=masked(env["address"])).wait_for()
    assert page.locator("#error").is_hidden()
    inbox.wait_for(env["address"], 1)
    assert len(of_type(api, env, "envelope:code-sent")) == 1


def test_ended_session_asks_for_identity_again(
    svc: Any, api: Any, inbox: Any, new_page: Any
) -> None:
    """The session ends as it does when its cookie's Max-Age runs out: the browser drops the
    cookie (set again here to expire in a second), and the service answers 401."""
    env = envelope(api, pages=1)
    page = new_page(**DESKTOP, **context_for("en"))
    open_and_verify(page, svc, inbox, env, "en")
    cookies = [c for c in page.context.cookies() if c["name"] == "st_sign"]
    assert len(cookies) == 1
    assert cookies[0]["httpOnly"]
    assert cookies[0]["sameSite"] == "Strict"
    page.context.add_cookies([{**cookies[0], "expires": time.time() + 1}])
    time.sleep(1.5)
    assert not [c for c in page.context.cookies() if c["name"] == "st_sign"]
    draw_mouse(page)
    page.get_by_label(NAMES["en"]["intent"]).check()
    button(page, "en", "sign").click()
    page.locator("#verify-status").filter(has_text="session has ended").wait_for()
    assert button(page, "en", "send").is_visible()
    assert not of_type(api, env, "envelope:signed")


def test_the_services_page_takes_frame_ancestors(start_service: Any) -> None:
    """A service set up with ``frame_ancestors`` sends the signer's page (live link and
    unknown link alike, the same body) with its own page headers, without X-Frame-Options."""
    from sealtrail.web import routes as web_routes

    from ..api.client import Api

    oa = "https://oa.example"
    framed = start_service(frame_ancestors=oa)
    env = envelope(Api(framed), pages=1)
    for url, want in ((link(framed, env), 200), (f"{framed.url}/sign/x", 404)):
        try:
            r = urllib.request.urlopen(url, timeout=10)
        except urllib.error.HTTPError as e:
            r = e
        assert r.status == want
        assert r.read() == (web_routes.STATIC / "sign.html").read_bytes()
        assert r.headers["X-Frame-Options"] is None
        assert r.headers["Content-Security-Policy"].endswith(f"frame-ancestors {oa}")
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"


def test_the_page_names_no_other_origin(svc: Any) -> None:
    """Nothing fetched from elsewhere: no URL with a scheme in the page, its script and style
    as the service serves them (the CSP would refuse them anyway), and no inline script or
    style for it to refuse."""
    status, html = _fetch(f"{svc.url}/sign/x")
    assert status == 404
    assert 'src="/web/sign.js"' in html.decode()
    assert 'href="/web/sign.css"' in html.decode()
    texts = {"sign.html": html.decode()}
    for name in ("sign.js", "sign-pad.js", "sign.css"):
        status, body = _fetch(f"{svc.url}/web/{name}")
        assert status == 200, name
        texts[name] = body.decode()
    assert 'from "./sign-pad.js"' in texts["sign.js"]
    for name, text in texts.items():
        assert not re.search(r"\b(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), name
        assert "<script>" not in text, name
        assert " style=" not in text, name
        assert "eval(" not in text, name
        assert "innerHTML" not in text, name


def test_a_signer_who_signed_confirms_identity_again_to_download(
    svc: Any, api: Any, inbox: Any, new_page: Any, signed_early: dict[str, Any]
) -> None:
    env = signed_early
    # the same link on another device: signed, nothing to sign, a code before the download
    page = new_page(**PHONE_360, **context_for("zh-CN"))
    page.goto(link(svc, env))
    page.locator("#done").wait_for()
    assert page.get_by_role("link", name="下载").is_hidden()
    assert page.locator("#signing").is_hidden()
    assert "如需下载" in page.locator("#identity-where").inner_text()
    screenshot(page, "signer-phone-zh-CN-5-signed-elsewhere")
    # a second code: RESEND_AFTER (60 s) has passed since the first, sent at the module's
    # start (this test runs last)
    time.sleep(max(0.0, env["sent_at"] + 61 - time.monotonic()))
    button(page, "zh-CN", "send").click()
    code = inbox.last_code(env["address"], 2)
    page.locator("#send-status").filter(has_text=masked(env["address"])).wait_for()
    page.get_by_label("验证码", exact=True).fill(code)
    button(page, "zh-CN", "verify").click()
    download = page.get_by_role("link", name="下载", exact=True)
    download.wait_for()
    assert page.locator("#identity").is_hidden()
    assert page.locator("#signing").is_hidden()
    with page.expect_download() as d:
        download.click()
    assert open(d.value.path(), "rb").read().startswith(b"%PDF")  # noqa: SIM115
