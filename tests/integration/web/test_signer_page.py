"""The signer's page (issue 16) in headless Chromium against the real service: envelopes,
links, one-time codes mailed to a local SMTP server (aiosmtpd, tests/smtp.py), PAdES B-T
signing with the tenant CA's signer certificate and the development TSA, the ledger and the
certification package — driven from the page as signers would: an individual on a phone with
touch (简体中文), an enterprise's seal keeper on a desktop (English); decline, wrong codes until
locked, a deadline passing, a link reused after signing; the page's headers. The signed PDF is
checked with pyHanko and poppler's pdfsig. test_signer_page_devices.py covers the page's
own behaviour on devices, also against the real service.

Screenshots of every step go to tests/integration/web/artifacts/.
"""

from __future__ import annotations

import base64
import io
import secrets
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sealtrail.anchoring.devtsa import CA_CERT_FILE

from ...unit.signing.pdfs import make_pdf
from .conftest import screenshot
from .signer_page import (
    A4,
    DESKTOP,
    NAMES,
    PHONE_360,
    button,
    draw_touch,
    events_of,
    load_all_pages,
    no_horizontal_scroll,
    token_of,
    verify_from_mail,
)

pytestmark = pytest.mark.browser

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
    # each signature names its signer as every ceremony event does, the enterprise's too
    signed = [e for e in events if e["type"] == "envelope:signed"]
    assert [(e["attributes"]["signer"], e["attributes"]["signer_kind"]) for e in signed] == [
        (0, "individual"),
        (1, "enterprise"),
    ]
    assert signed[1]["attributes"]["seal_id"] == other_seal
    # and carries the same ceremony attributes (client, user agent, identity hash, time)
    for e in signed:
        assert {"client_ip", "user_agent", "email_sha256"} <= set(e["attributes"]), e
        assert e.get("occurred_at"), e
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
    assert again.locator("#document").is_hidden()
    # no session in this browser: the download waits for the code step (offered under it)
    assert again.get_by_role("link", name="Download").is_hidden()
    assert "To download" in again.locator("#identity-where").inner_text()
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
