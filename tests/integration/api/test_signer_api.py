"""The signer's API against a real service: a real SMTP server (aiosmtpd) receives the codes,
real PDFs are signed with real certificates and timestamps, and the signed PDF is checked by
pyHanko and by poppler's pdfsig.

Tenants (tests/integration/service.py): ``hq`` with ``sub1`` and ``sub2``, and ``other``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from ...smtp import Inbox
from ...unit.signing.pdfs import make_pdf
from ..conftest import Provisioned, _service_factory
from ..service import Service
from .client import Api, Resp, assert_problem, seal_of_other

PDFSIG = shutil.which("pdfsig")
CERTUTIL = shutil.which("certutil")
ALICE = "alice@example.com"
KEEPER = "keeper@other.example"
A4 = (595.2756, 841.8898)


@pytest.fixture(scope="module")
def svc(
    provisioned: Provisioned, tmp_path_factory: pytest.TempPathFactory, inbox: Inbox
) -> Iterator[Service]:
    factory, started = _service_factory(provisioned, tmp_path_factory.mktemp("signer"))
    yield factory(smtp_url=inbox.url, smtp_from="sign@acme.example")
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def api(svc: Service) -> Api:
    return Api(svc)


def pad_png(width: int = 600, height: int = 200, *, opaque: bool = False) -> bytes:
    """A signature as a pad draws it: a stroke on a transparent (or white) background."""
    bg = (255, 255, 255, 255) if opaque else (0, 0, 0, 0)
    img = Image.new("RGBA", (width, height), bg)
    ImageDraw.Draw(img).line(
        [(20, height - 40), (width // 3, 30), (width // 2, height - 30), (width - 20, 40)],
        fill=(10, 10, 60, 255), width=6,
    )  # fmt: skip
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def create(
    api: Api, signers: list[dict[str, Any]], *, order: str = "sequential", pages: int = 2,
    key: str = "int_sub1", **extra: Any,
) -> Resp:  # fmt: skip
    body = {
        "title": "Logistics handover",
        "document": {"name": "handover.pdf",
                     "pdf_base64": base64.b64encode(make_pdf(pages)).decode()},
        "order": order,
        "signers": signers,
        **extra,
    }  # fmt: skip
    return api.post("/v1/envelopes", body, key=key)


def individual(email: str = ALICE, name: str = "Alice Zhang", page: int = 1) -> dict[str, Any]:
    return {"kind": "individual", "name": name, "email": email,
            "fields": [{"page": page, "box": [100, 100, 260, 160]}]}  # fmt: skip


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def token_of(signer: dict[str, Any]) -> str:
    return str(signer["sign_url"]).rsplit("/sign/", 1)[1]


class Signer:
    """One signer's side of the conversation (the session cookie kept)."""

    def __init__(self, api: Api, token: str, address: str, inbox: Inbox) -> None:
        self.api, self.token, self.address, self.inbox = api, token, address, inbox
        self.cookie: str | None = None

    def path(self, rest: str = "") -> str:
        return f"/v1/sign/{self.token}{rest}"

    def headers(self) -> dict[str, str]:
        h = {"User-Agent": "Mozilla/5.0 (iPhone) test"}
        if self.cookie:
            h["Cookie"] = f"st_sign={self.cookie}"
        return h

    def get(self, rest: str = "", **kw: Any) -> Resp:
        return self.api.get(self.path(rest), headers=self.headers(), **kw)

    def post(self, rest: str, obj: Any = None, **kw: Any) -> Resp:
        return self.api.post(self.path(rest), {} if obj is None else obj,
                             headers=self.headers(), **kw)  # fmt: skip

    def send_code(self) -> str:
        before = len(self.inbox.to(self.address))
        r = self.post("/code")
        assert r.status == 202, r
        return self.inbox.last_code(self.address, before + 1)

    def verify(self, code: str) -> Resp:
        r = self.post("/verify", {"code": code})
        if r.status == 200:
            cookie = r.headers["Set-Cookie"]
            self.cookie = cookie.split("st_sign=", 1)[1].split(";", 1)[0]
        return r

    def login(self) -> None:
        r = self.verify(self.send_code())
        assert r.status == 200, r

    def sign_drawn(self, png: bytes | None = None) -> Resp:
        sig = {"kind": "drawn", "png_base64": base64.b64encode(png or pad_png()).decode()}
        return self.post("/sign", {"intent": True, "language": "en", "signature": sig},
                         timeout=120)  # fmt: skip


def events_of(api: Api, env_id: str, tenant: str = "sub1") -> list[dict[str, Any]]:
    r = api.get(f"/v1/streams/envelope:{env_id}", "aud_hq", params={"tenant": tenant})
    assert r.status == 200, r
    assert r.json()["chain_intact"]
    return list(r.json()["events"])


def _pdfsig(pdf: bytes, tmp_path: Path) -> str:
    db = tmp_path / "nss"
    db.mkdir(exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True)
    doc = tmp_path / "signed.pdf"
    doc.write_bytes(pdf)
    run = subprocess.run(["pdfsig", "-nssdir", f"sql:{db}", str(doc)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    return run.stdout + run.stderr


def test_two_signers_sign_in_order_with_codes_from_the_mail(
    api: Api, inbox: Inbox, tmp_path: Path
) -> None:
    seal = seal_of_other(api)
    r = create(api, [
        individual(),
        {"kind": "enterprise", "tenant": "other", "email": KEEPER,
         "fields": [{"page": 2, "box": [300, 100, 440, 240]}]},
    ], expires_at=in_days(30))  # fmt: skip
    assert r.status == 201, r
    env = r.json()
    assert env["state"] == "sent"
    assert [s["kind"] for s in env["signers"]] == ["individual", "enterprise"]
    alice = Signer(api, token_of(env["signers"][0]), ALICE, inbox)
    keeper = Signer(api, token_of(env["signers"][1]), KEEPER, inbox)

    # the page, and the link's JSON: who asks whom, nothing of the document
    page = api.get(f"/sign/{alice.token}")
    assert page.status == 200, page
    assert page.content_type == "text/html", page
    info = alice.get()
    assert info.status == 200, info
    j = info.json()
    assert j["envelope"]["title"] == "Logistics handover"
    assert j["envelope"]["from"] == {"tenant": "sub1", "name": "Acme Shanghai"}
    assert j["signer"]["address_masked"] == "a***@example.com"
    assert j["signer"] == {**j["signer"], "kind": "individual", "state": "pending",
                           "verified": False, "turn": True}  # fmt: skip
    assert "sha256" not in info.body.decode()
    assert "pdf" not in info.body.decode().lower()
    assert {s["id"] for s in j["typed_styles"]} >= {"ink"}
    # nothing of the document without a session
    assert_problem(alice.get("/document"), 401)
    assert keeper.get().json()["signer"]["turn"] is False  # sequential: Alice first

    alice.login()
    assert alice.get().json()["signer"]["verified"] is True
    doc = alice.get("/document")
    assert doc.status == 200, doc
    d = doc.json()
    assert [p["number"] for p in d["pages"]] == [1, 2]
    assert d["fields"] == [{"page": 1, "box": [100.0, 100.0, 260.0, 160.0]}]
    png = alice.get("/pages/1.png", params={"width": 400})
    assert png.status == 200, png
    assert png.content_type == "image/png", png
    assert png.headers["Cache-Control"] == "private, no-store"
    assert Image.open(io.BytesIO(png.body)).size[0] == 400
    assert alice.post("/viewed", {"pages": [1, 2]}).status == 204

    # out of turn: the keeper may verify but not sign yet
    keeper.login()
    by_seal = {"kind": "seal", "seal_id": seal}
    assert_problem(
        keeper.post("/sign", {"intent": True, "language": "en", "signature": by_seal}), 409
    )

    signed = alice.sign_drawn()
    assert signed.status == 200, signed
    assert signed.json() == {"signer_state": "signed", "envelope_state": "partly_signed",
                             "download": f"/v1/sign/{alice.token}/download"}  # fmt: skip
    assert_problem(alice.sign_drawn(), 409)  # signing twice

    seals = keeper.get("/seals").json()["seals"]
    assert seal in [s["id"] for s in seals]
    done = keeper.post(
        "/sign", {"intent": True, "language": "zh-CN", "signature": by_seal}, timeout=120
    )
    assert done.status == 200, done
    assert done.json()["envelope_state"] == "completed"

    pdf = keeper.get("/download")
    assert pdf.status == 200, pdf
    assert pdf.content_type == "application/pdf", pdf
    assert pdf.body.startswith(b"%PDF")
    env_id = env["id"]
    got = api.get(f"/v1/envelopes/{env_id}", "int_sub1")
    assert got.status == 200, got
    assert got.json()["status"] == "completed"

    # the service's own validation in the envelope's trust context
    v = api.get(f"/v1/envelopes/{env_id}/validation", "int_sub1")
    assert v.status == 200, v
    sigs = v.json()["signatures"]
    assert len(sigs) == 2, v
    assert all(s["intact"] and s["valid"] for s in sigs), v
    # the individual's certificate chains to the creator's tenant CA: trusted in context
    assert sigs[0]["trusted"], sigs[0]
    assert sigs[0]["trust_root"]["tenant"] == "sub1", sigs[0]
    assert "CN=Alice Zhang" in sigs[0]["subject"] or "Alice Zhang" in str(sigs[0]), sigs[0]

    # pyHanko, independently
    _pyhanko_checks(pdf.body)
    if PDFSIG and CERTUTIL:
        out = _pdfsig(pdf.body, tmp_path)
        assert out.count("Signature is Valid") == 2, out
        assert "Alice Zhang" in out, out
    elif os.environ.get("CI"):
        raise AssertionError("pdfsig missing in CI")

    types = [(e["type"], e["attributes"].get("signer")) for e in events_of(api, env_id)]
    ceremony = [
        "envelope:link-opened", "envelope:code-sent", "envelope:identity-verified",
        "envelope:document-viewed", "envelope:intent-confirmed", "envelope:signed",
    ]  # fmt: skip
    for t in ceremony:
        assert (t, 0) in types, (t, types)
    assert ("envelope:signed", 1) in types or any(t == "envelope:signed" for t, _ in types)
    assert ("envelope:completed", None) in types
    assert ("download", 1) in types
    opened = next(e for e in events_of(api, env_id) if e["type"] == "envelope:link-opened")
    assert opened["attributes"]["email_sha256"] == hashlib.sha256(ALICE.encode()).hexdigest()
    assert opened["attributes"]["user_agent"] == "Mozilla/5.0 (iPhone) test"
    assert opened["attributes"]["client_ip"] == "127.0.0.1"
    assert ALICE not in str(events_of(api, env_id))


def _pyhanko_checks(pdf: bytes) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature

    reader = PdfFileReader(io.BytesIO(pdf))
    sigs = reader.embedded_signatures
    assert len(sigs) == 2
    for s in sigs:
        status = validate_pdf_signature(s)
        assert status.intact, status.pretty_print_details()
        assert status.valid, status.pretty_print_details()
        assert status.timestamp_validity is not None, "B-T: a signature timestamp"
    cert = sigs[0].signer_cert
    assert cert.subject.native["common_name"] == "Alice Zhang"
    sans = [g.native for g in cert.subject_alt_name_value]
    digest = hashlib.sha256(ALICE.encode()).hexdigest()
    assert f"urn:sealtrail:identity:email-sha256:{digest}" in sans


def _one(api: Api, email: str, **extra: Any) -> tuple[dict[str, Any], str]:
    r = create(api, [individual(email)], **extra)
    assert r.status == 201, r
    return r.json(), token_of(r.json()["signers"][0])


def test_wrong_codes_lock_the_link(api: Api, inbox: Inbox) -> None:
    env, token = _one(api, "lock@example.com")
    s = Signer(api, token, "lock@example.com", inbox)
    code = s.send_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        r = s.verify(wrong)
        assert_problem(r, 400)
        assert r.json()["attempts_left"] == left, r
    r = s.verify(wrong)
    assert_problem(r, 423)
    assert 800 < int(r.headers["Retry-After"]) <= 900
    # locked: even the right code, and a new code, are refused
    assert_problem(s.verify(code), 423)
    assert_problem(s.post("/code"), 423)
    assert_problem(s.verify("12345"), 423)
    failed = [e for e in events_of(api, env["id"]) if e["type"] == "envelope:identity-failed"]
    assert [e["attributes"]["locked"] for e in failed] == [False] * 4 + [True]
    assert s.cookie is None


def test_malformed_codes_count_as_wrong(api: Api, inbox: Inbox) -> None:
    _env, token = _one(api, "malformed@example.com")
    s = Signer(api, token, "malformed@example.com", inbox)
    s.send_code()
    for bad in ("12345", "1234567", "abcdef", None):  # and a number, the fifth
        r = s.verify(bad)  # type: ignore[arg-type]
        assert_problem(r, 400)
    assert_problem(s.verify(123456), 423)  # type: ignore[arg-type]


def test_a_code_is_used_once(api: Api, inbox: Inbox) -> None:
    _env, token = _one(api, "once@example.com")
    s = Signer(api, token, "once@example.com", inbox)
    code = s.send_code()
    assert s.verify(code).status == 200
    first = s.cookie
    r = s.verify(code)
    assert_problem(r, 400)
    assert r.json()["attempts_left"] == 4
    assert s.cookie == first


def test_code_sending_is_rate_limited_per_link_and_address(api: Api, inbox: Inbox) -> None:
    address = "busy@example.com"
    _env, token = _one(api, address)
    s = Signer(api, token, address, inbox)
    s.send_code()
    again = s.post("/code")
    assert_problem(again, 429)
    assert 1 <= int(again.headers["Retry-After"]) <= 60
    # the same address on other envelopes' links: 3 asks a minute in all (refused ones count)
    others = [Signer(api, _one(api, address)[1], address, inbox) for _ in range(2)]
    assert others[0].post("/code").status == 202
    assert_problem(others[1].post("/code"), 429)
    assert len(inbox.to(address)) == 2


def test_the_session_is_the_links_own(api: Api, inbox: Inbox) -> None:
    _e1, t1 = _one(api, "own1@example.com")
    _e2, t2 = _one(api, "own2@example.com")
    a = Signer(api, t1, "own1@example.com", inbox)
    a.login()
    b = Signer(api, t2, "own2@example.com", inbox)
    b.cookie = a.cookie  # replayed on another link
    assert_problem(b.get("/document"), 401)
    a.cookie = "x" * 43  # forged
    assert_problem(a.get("/document"), 401)


def test_invalid_links_all_answer_the_same_404(api: Api, inbox: Inbox, svc: Service) -> None:
    env, token = _one(api, "void@example.com")
    voided = api.post(f"/v1/envelopes/{env['id']}/void", {"reason": "wrong counterparty"},
                      key="int_sub1")  # fmt: skip
    assert voided.status == 200, voided
    assert voided.json()["state"] == "voided"
    _e2, live = _one(api, "live@example.com")
    tampered = live[:-2] + ("AA" if live[-2:] != "AA" else "BB")
    unknown = base64.urlsafe_b64encode(os.urandom(24)).decode().rstrip("=")
    _e3, soon = _one(api, "soon@example.com", expires_at=in_days(2 / 86400))
    import time

    time.sleep(2.5)
    pages = {t: api.get(f"/sign/{t}") for t in (token, tampered, unknown, soon, "short")}
    bodies = {(r.status, r.body) for r in pages.values()}
    assert len(bodies) == 1, pages
    assert next(iter(bodies))[0] == 404
    assert api.get(f"/sign/{live}").status == 200
    jsons = [api.get(f"/v1/sign/{t}") for t in (token, tampered, unknown, soon, "short")]
    assert {(r.status, r.body) for r in jsons} == {(jsons[0].status, jsons[0].body)}, jsons
    assert_problem(jsons[0], 404)
    # every step of a dead link is the same 404, session or not
    for rest in ("/code", "/verify", "/sign", "/decline"):
        assert_problem(api.post(f"/v1/sign/{token}{rest}", {}), 404)
    # the expired envelope says so, once
    got = api.get(f"/v1/envelopes/{_e3['id']}", "int_sub1").json()
    assert got["status"] == "expired"
    api.get(f"/v1/sign/{soon}")
    expired = [e for e in events_of(api, _e3["id"]) if e["type"] == "envelope:expired"]
    assert len(expired) == 1
    # tokens never reach the log
    log = svc.log()
    for t in (token, live, tampered, unknown, soon):
        assert t not in log
    assert "/v1/sign/*" in log
    assert "/sign/*" in log
    metrics = api.get("/metrics").body.decode()
    assert 'route="/v1/sign/{token}"' in metrics
    for t in (token, live, tampered, unknown, soon):
        assert t not in metrics


def test_drawn_signatures_are_checked(api: Api, inbox: Inbox) -> None:
    _env, token = _one(api, "pad@example.com")
    s = Signer(api, token, "pad@example.com", inbox)
    s.login()

    def drawn(data: bytes) -> Resp:
        return s.post("/sign", {"intent": True, "language": "en", "signature": {
            "kind": "drawn", "png_base64": base64.b64encode(data).decode()}})  # fmt: skip

    jpeg = io.BytesIO()
    Image.new("RGB", (300, 100), "white").save(jpeg, format="JPEG")
    r = drawn(jpeg.getvalue())
    assert_problem(r, 400)
    assert r.json()["type"].endswith("invalid_appearance"), r
    assert_problem(drawn(pad_png(2001, 200)), 400)
    assert_problem(drawn(pad_png(600, 1001)), 400)
    assert_problem(drawn(pad_png(10, 10)), 400)
    big = pad_png(600, 200)
    assert_problem(drawn(big + os.urandom(300 * 1024)), 400)  # > 256 KiB
    assert_problem(drawn(pad_png(600, 200)[:200]), 400)  # truncated
    empty = io.BytesIO()
    Image.new("RGBA", (300, 100), (0, 0, 0, 0)).save(empty, format="PNG")
    assert_problem(drawn(empty.getvalue()), 400)
    no_intent = s.post("/sign", {"intent": False, "language": "en", "signature": {
        "kind": "drawn", "png_base64": base64.b64encode(big).decode()}})  # fmt: skip
    assert_problem(no_intent, 400)
    seal = s.post("/sign", {"intent": True, "signature": {"kind": "seal", "seal_id": "x"}})
    assert_problem(seal, 400)
    ok = s.sign_drawn(pad_png(opaque=True))  # a white background is made transparent
    assert ok.status == 200, ok
    assert ok.json()["envelope_state"] == "completed"


def test_typed_signatures_in_a_parallel_envelope(api: Api, inbox: Inbox) -> None:
    r = create(api, [individual("wang@example.com", "王小明", 1),
                     individual("li@example.com", "Li Lei", 2)], order="parallel")  # fmt: skip
    assert r.status == 201, r
    env = r.json()
    wang = Signer(api, token_of(env["signers"][0]), "wang@example.com", inbox)
    li = Signer(api, token_of(env["signers"][1]), "li@example.com", inbox)
    li.login()
    assert li.get().json()["signer"]["turn"] is True  # parallel: anyone first
    typed = {"kind": "typed", "text": "Li Lei", "style": "italic"}
    first = li.post("/sign", {"intent": True, "language": "en", "signature": typed}, timeout=120)
    assert first.status == 200, first
    assert first.json()["envelope_state"] == "partly_signed"
    wang.login()
    bad = {"kind": "typed", "text": "王小明", "style": "comic-sans"}
    assert_problem(wang.post("/sign", {"intent": True, "signature": bad}), 400)
    zh = {"kind": "typed", "text": "王小明", "style": "ink"}
    last = wang.post("/sign", {"intent": True, "language": "zh-CN", "signature": zh},
                     timeout=120)  # fmt: skip
    assert last.status == 200, last
    assert last.json()["envelope_state"] == "completed"
    # the last signer may still download; the link then shows "signed"
    assert wang.get().json()["signer"]["state"] == "signed"
    assert wang.get("/download").status == 200
    intents = [e for e in events_of(api, env["id"]) if e["type"] == "envelope:intent-confirmed"]
    assert [e["attributes"]["language"] for e in intents] == ["en", "zh-CN"]


def test_decline_ends_the_envelope(api: Api, inbox: Inbox) -> None:
    r = create(api, [individual("dec1@example.com"), individual("dec2@example.com")])
    env = r.json()
    first = Signer(api, token_of(env["signers"][0]), "dec1@example.com", inbox)
    second = token_of(env["signers"][1])
    first.login()
    assert_problem(first.post("/decline", {"reason": ""}), 400)
    assert_problem(first.post("/decline", {"reason": "x" * 501}), 400)
    d = first.post("/decline", {"reason": "The quantity is wrong"})
    assert d.status == 200, d
    assert d.json() == {"signer_state": "declined", "envelope_state": "declined"}
    assert_problem(first.sign_drawn(), 404)
    assert api.get(f"/sign/{second}").status == 404
    declined = [e for e in events_of(api, env["id"]) if e["type"] == "envelope:declined"]
    assert [e["attributes"]["reason"] for e in declined] == ["The quantity is wrong"]
    got = api.get(f"/v1/envelopes/{env['id']}", "int_sub1").json()
    assert got["status"] == "declined"


def test_the_database_holds_no_token_and_no_code(api: Api, inbox: Inbox, svc: Service) -> None:
    """An operator reading its own database finds neither a usable link nor a live code."""
    import sqlite3

    env, token = _one(api, "db@example.com")
    s = Signer(api, token, "db@example.com", inbox)
    code = s.send_code()
    con = sqlite3.connect(f"file:{svc.data_dir / 'ledger.db'}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT token_hash, session FROM envelope_links WHERE envelope_id = ?", (env["id"],)
        ).fetchall()
        dump = "\n".join(con.iterdump())
    finally:
        con.close()
    assert [bytes(r[0]) for r in rows] == [hashlib.sha256(token.encode()).digest()]
    assert token not in dump
    assert code not in rows[0][1]  # only SHA-256(salt ‖ code) is kept
    assert s.verify(code).status == 200


def test_a_signed_pdf_altered_afterwards_fails_validation(api: Api, inbox: Inbox) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature

    _env, token = _one(api, "flip@example.com")
    s = Signer(api, token, "flip@example.com", inbox)
    s.login()
    assert s.sign_drawn().status == 200
    pdf = s.get("/download").body
    i = pdf.index(b"1000 EUR")
    tampered = pdf[:i] + b"9" + pdf[i + 1 :]
    (sig,) = PdfFileReader(io.BytesIO(tampered)).embedded_signatures
    assert not validate_pdf_signature(sig).intact
    v = api.request("POST", f"/v1/envelopes/{_env['id']}/validate", key="int_sub1",
                    body=tampered, content_type="application/pdf")  # fmt: skip
    assert v.status == 200, v
    assert not v.json()["ok"]


def test_parallel_signers_on_two_workers_both_land(
    api: Api, inbox: Inbox, svc: Service, tmp_path: Path
) -> None:
    """Two processes on one database sign one parallel envelope at once: the store's
    compare-and-swap makes the loser sign the newer revision; both signatures stand."""
    import threading

    from ..service import start

    second = start(svc.data_dir, tmp_path / "second.log", smtp_url=inbox.url,
                   checkpoint_interval="0.5", checkpoint_size="50")  # fmt: skip
    second.keys = dict(svc.keys)
    try:
        pair = [individual("par1@example.com", "Par One", 1),
                individual("par2@example.com", "Par Two", 2)]  # fmt: skip
        r = create(api, pair, order="parallel")
        env = r.json()
        one = Signer(api, token_of(env["signers"][0]), "par1@example.com", inbox)
        two = Signer(Api(second), token_of(env["signers"][1]), "par2@example.com", inbox)
        one.login()
        two.login()
        results: dict[str, Resp] = {}

        def go(name: str, s: Signer) -> None:
            results[name] = s.sign_drawn()

        threads = [threading.Thread(target=go, args=(n, s)) for n, s in (("1", one), ("2", two))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert results["1"].status == 200, results
        assert results["2"].status == 200, results
        states = {results[k].json()["envelope_state"] for k in results}
        assert states == {"partly_signed", "completed"}, results
        pdf = one.get("/download").body
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import validate_pdf_signature

        sigs = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
        assert len(sigs) == 2
        assert all(validate_pdf_signature(s).intact for s in sigs)
        names = {s.signer_cert.subject.native["common_name"] for s in sigs}
        assert names == {"Par One", "Par Two"}
    finally:
        second.stop()


def test_parallel_guesses_do_not_get_more_tries(api: Api, inbox: Inbox) -> None:
    """Twenty wrong codes at once: each try must win the link's compare-and-swap, so at most
    five are counted and the link ends locked (the others are refused, never counted twice)."""
    from concurrent.futures import ThreadPoolExecutor

    env, token = _one(api, "race@example.com")
    s = Signer(api, token, "race@example.com", inbox)
    code = s.send_code()
    wrong = [f"{(int(code) + k) % 10**6:06d}" for k in range(1, 21)]
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(s.verify, wrong))
    assert all(a.status in (400, 409, 423) for a in answers), answers
    assert not [a for a in answers if a.status == 200]
    for _ in range(5):  # losers of the swap were not counted: finish the five
        if s.verify(wrong[0]).status == 423:
            break
    assert_problem(s.verify(code), 423)
    failed = [e for e in events_of(api, env["id"]) if e["type"] == "envelope:identity-failed"]
    assert [e["attributes"]["locked"] for e in failed] == [False] * 4 + [True]


def test_a_controlled_seal_signs_from_the_link_once_approved(api: Api, inbox: Inbox) -> None:
    from ..signing.test_seal_service import make_seal, new_key

    seal = make_seal(api, "sub2")
    approver_id, approver = new_key(api, "sub2")
    r = api.request("PUT", "/v1/seal-policy", key="adm_hq",
                    json_body={"tenant": "sub2", "controlled": [seal["id"]],
                               "approvers": [approver_id]})  # fmt: skip
    assert r.status == 200, r
    keeper_mail = "keeper@sub2.example"
    made = create(api, [{"kind": "enterprise", "tenant": "sub2", "email": keeper_mail,
                         "fields": [{"page": 1, "box": [300, 300, 440, 440]}]}])  # fmt: skip
    assert made.status == 201, made
    eid = made.json()["id"]
    keeper = Signer(api, token_of(made.json()["signers"][0]), keeper_mail, inbox)
    keeper.login()
    by_seal = {"intent": True, "language": "en",
               "signature": {"kind": "seal", "seal_id": seal["id"]}}  # fmt: skip
    first = keeper.post("/sign", by_seal)
    assert_problem(first, 409)
    assert first.json()["type"].endswith("approval_required"), first
    req = api.post(f"/v1/envelopes/{eid}/seal-requests",
                   {"seal": seal["id"], "purpose": "handover"}, key="int_sub2")  # fmt: skip
    assert req.status == 201, req
    assert_problem(keeper.post("/sign", by_seal), 409)  # still pending
    ok = api.post(f"/v1/seal-requests/{req.json()['id']}/approve", {},
                  headers={"Authorization": f"Bearer {approver}"})  # fmt: skip
    assert ok.status == 200, ok
    done = keeper.post("/sign", by_seal, timeout=120)
    assert done.status == 200, done
    assert done.json()["envelope_state"] == "completed"
    used = api.get(f"/v1/seal-requests/{req.json()['id']}", "aud_hq").json()
    assert used["status"] == "used"
    types = [e["type"] for e in events_of(api, eid)]
    assert types.count("envelope:invitation-accepted") == 1
    assert "envelope:signed" in types
