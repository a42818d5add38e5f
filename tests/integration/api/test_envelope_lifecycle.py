"""The envelope lifecycle over HTTP (issue 16): the JSON form of POST /v1/envelopes, the inbox
(GET /v1/envelopes with filters and cursor paging), void, expiry, reminders and the links
e-mailed through a real SMTP server; the ceremony in the envelope's certification package,
checked by ``sealtrail verify`` and listed in its report.

Tenants (tests/integration/service.py): ``hq`` with ``sub1`` and ``sub2``, and ``other``.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ...smtp import Inbox
from ...unit.signing.pdfs import make_pdf
from ..conftest import Provisioned, _service_factory
from ..service import SEALTRAIL, Service
from .client import Api, assert_problem
from .test_signer_api import Signer, create, events_of, in_days, individual, token_of

PDFTOTEXT = shutil.which("pdftotext")


@pytest.fixture(scope="module")
def svc(
    provisioned: Provisioned, tmp_path_factory: pytest.TempPathFactory, inbox: Inbox
) -> Iterator[Service]:
    factory, started = _service_factory(provisioned, tmp_path_factory.mktemp("lifecycle"))
    yield factory(smtp_url=inbox.url, public_url="https://sign.acme.example/base/")
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def api(svc: Service) -> Api:
    return Api(svc)


def test_created_envelope_answers_with_links_under_the_public_url(api: Api) -> None:
    r = create(api, [individual("p1@example.com"),
                     {"kind": "enterprise", "tenant": "other",
                      "fields": [{"page": 2, "box": [50, 50, 150, 150]}]}])  # fmt: skip
    assert r.status == 201, r
    env = r.json()
    assert env["state"] == "sent"
    assert env["id"].startswith("env-")
    for s in env["signers"]:
        assert s["sign_url"].startswith("https://sign.acme.example/base/sign/")
        assert len(token_of(s)) >= 32  # ≥ 192 bits, URL-safe base64
        assert s["state"] == "pending"
    assert env["signers"][0]["email_masked"] == "p***@example.com"
    assert env["signers"][1]["tenant"] == "other"
    # the link is shown once: never in a later read
    got = api.get(f"/v1/envelopes/{env['id']}", "int_sub1").json()
    assert "sign_url" not in json.dumps(got)
    listed = api.get("/v1/envelopes", "int_sub1").json()["envelopes"]
    assert "sign_url" not in json.dumps(listed)
    # the invited enterprise sees its invitation as before (issue 15)
    inv = api.get("/v1/envelope-invitations", "aud_other").json()["invitations"]
    assert env["id"] in [i["envelope"] for i in inv]


@pytest.mark.parametrize(
    ("signer", "why"),
    [
        ({"kind": "individual", "name": "A", "email": "a@example.com",
          "fields": [{"page": 3, "box": [10, 10, 100, 100]}]}, "page"),
        ({"kind": "individual", "name": "A", "email": "a@example.com",
          "fields": [{"page": 1, "box": [500, 10, 700, 100]}]}, "box"),
        ({"kind": "individual", "name": "A", "email": "a@example.com",
          "fields": [{"page": 1, "box": [100, 100, 50, 150]}]}, "box"),
        ({"kind": "individual", "name": "A", "email": "a@example.com",
          "fields": [{"page": 1, "box": [10, 10, 100, "x"]}]}, "box"),
        ({"kind": "individual", "name": "A", "email": "a@example.com", "fields": []}, "fields"),
        ({"kind": "individual", "name": "A", "email": "not-an-address",
          "fields": [{"page": 1, "box": [10, 10, 100, 100]}]}, "email"),
        ({"kind": "individual", "email": "a@example.com",
          "fields": [{"page": 1, "box": [10, 10, 100, 100]}]}, "name"),
        ({"kind": "individual", "name": "A",
          "fields": [{"page": 1, "box": [10, 10, 100, 100]}]}, "email"),
        ({"kind": "robot", "fields": []}, "kind"),
        ({"kind": "enterprise", "tenant": "bad tenant!",
          "fields": [{"page": 1, "box": [10, 10, 100, 100]}]}, "tenant"),
        ({"kind": "individual", "name": "A", "email": "a@example.com", "extra": 1,
          "fields": [{"page": 1, "box": [10, 10, 100, 100]}]}, "extra"),
    ],
)  # fmt: skip
def test_bad_signers_are_refused_before_anything_is_stored(
    api: Api, signer: dict[str, Any], why: str
) -> None:
    before = len(api.get("/v1/envelopes", "int_sub1", params={"limit": 200}).json()["envelopes"])
    r = create(api, [signer])
    assert_problem(r, 400)
    assert why in r.json()["detail"], r
    after = len(api.get("/v1/envelopes", "int_sub1", params={"limit": 200}).json()["envelopes"])
    assert before == after


def test_bad_bodies_are_refused(api: Api) -> None:
    good = [individual("q@example.com")]
    assert_problem(create(api, good, order="random"), 400)
    assert_problem(create(api, good, expires_at="yesterday"), 400)
    assert_problem(create(api, good, expires_at="2020-01-01T00:00:00Z"), 400)
    assert_problem(create(api, good, expires_at=in_days(400)), 400)
    assert_problem(create(api, good, deliver="sms"), 400)
    assert_problem(create(api, []), 400)
    assert_problem(create(api, good, key="aud_hq"), 403)
    body = {"document": {"name": "x.pdf", "pdf_base64": "%%%"}, "signers": good}
    assert_problem(api.post("/v1/envelopes", body, key="int_sub1"), 400)
    not_pdf = base64.b64encode(b"hello, not a PDF").decode()
    body = {"document": {"name": "x.pdf", "pdf_base64": not_pdf}, "signers": good}
    assert_problem(api.post("/v1/envelopes", body, key="int_sub1"), 400)
    # the raw-PDF form is still the other content type
    raw = api.request("POST", "/v1/envelopes", key="int_sub1", body=make_pdf(1),
                      content_type="application/pdf",
                      params=[("signer", "tenant:other")])  # type: ignore[arg-type]  # fmt: skip
    assert raw.status == 201, raw


def test_inbox_filters_and_pages(api: Api, inbox: Inbox) -> None:
    made = []
    for i in range(5):
        r = create(api, [individual(f"inbox{i}@example.com", f"Inbox {i}")], key="int_sub2")
        assert r.status == 201, r
        made.append(r.json()["id"])
        time.sleep(0.01)
    api.post(f"/v1/envelopes/{made[1]}/void", {"reason": "duplicate"}, key="int_sub2")
    everything = api.get("/v1/envelopes", "int_sub2", params={"limit": 200}).json()["envelopes"]
    ids = [e["id"] for e in everything]
    assert ids[:5] == made[::-1]  # newest first
    # paging: two at a time, nothing lost or repeated
    seen, cursor = [], None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/v1/envelopes", "int_sub2", params=params).json()
        seen += [e["id"] for e in page["envelopes"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    voided = api.get("/v1/envelopes", "int_sub2", params={"state": "voided"}).json()
    assert [e["id"] for e in voided["envelopes"]] == [made[1]]
    assert voided["envelopes"][0]["ended_reason"] == "duplicate"
    by_signer = api.get("/v1/envelopes", "int_sub2", params={"signer": "inbox3@example.com"})
    assert [e["id"] for e in by_signer.json()["envelopes"]] == [made[3]]
    created = {e["id"]: e["created_at"] for e in everything}
    window = api.get("/v1/envelopes", "int_sub2",
                     params={"from": created[made[1]], "to": created[made[3]]}).json()  # fmt: skip
    assert [e["id"] for e in window["envelopes"]] == [made[2], made[1]]
    # another tenant sees none of them; sub1's HQ auditor sees its subsidiaries'
    other = api.get("/v1/envelopes", "int_other", params={"limit": 200}).json()["envelopes"]
    assert not set(made) & {e["id"] for e in other}
    hq = api.get("/v1/envelopes", "aud_hq", params={"limit": 200}).json()["envelopes"]
    assert set(made) <= {e["id"] for e in hq}
    for bad in ({"state": "lost"}, {"limit": 0}, {"limit": 500}, {"cursor": "@@@"},
                {"from": "monday"}, {"color": "red"}):  # fmt: skip
        assert_problem(api.get("/v1/envelopes", "int_sub2", params=bad), 400)


def test_void_is_the_creators_and_ends_the_links(api: Api, inbox: Inbox) -> None:
    r = create(api, [individual("v@example.com")])
    env = r.json()
    token = token_of(env["signers"][0])
    s = Signer(api, token, "v@example.com", inbox)
    s.login()
    assert_problem(api.post(f"/v1/envelopes/{env['id']}/void", {"reason": "x"},
                            key="int_other"), 404)  # fmt: skip
    assert_problem(api.post(f"/v1/envelopes/{env['id']}/void", {"reason": ""},
                            key="int_sub1"), 400)  # fmt: skip
    ok = api.post(f"/v1/envelopes/{env['id']}/void", {"reason": "terms changed"}, key="int_sub1")
    assert ok.status == 200, ok
    assert ok.json()["state"] == "voided"
    assert_problem(api.post(f"/v1/envelopes/{env['id']}/void", {"reason": "again"},
                            key="int_sub1"), 409)  # fmt: skip
    assert_problem(s.sign_drawn(), 404)  # void, then sign: refused
    voided = [e for e in events_of(api, env["id"]) if e["type"] == "envelope:voided"]
    assert [e["attributes"]["reason"] for e in voided] == ["terms changed"]


def test_links_are_mailed_and_reminders_sent(api: Api, inbox: Inbox) -> None:
    r = create(api, [individual("m1@example.com"), individual("m2@example.com")],
               deliver="email")  # fmt: skip
    assert r.status == 201, r
    env = r.json()
    assert env["delivered"] == 2
    (mail,) = inbox.wait_for("m1@example.com", 1)
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert env["signers"][0]["sign_url"] in text
    assert env["signers"][1]["sign_url"] not in text
    rem = api.post(f"/v1/envelopes/{env['id']}/remind", {}, key="int_sub1")
    assert rem.status == 200, rem
    assert rem.json() == {"reminded": [0]}  # sequential: only the signer whose turn it is
    inbox.wait_for("m1@example.com", 2)
    assert len(inbox.to("m2@example.com")) == 1
    types = [e["type"] for e in events_of(api, env["id"])]
    assert "envelope:reminded" in types
    # new links: mailed and returned; the first link stops working
    old = token_of(env["signers"][0])
    fresh = api.post(f"/v1/envelopes/{env['id']}/remind", {"new_links": True}, key="int_sub1")
    assert fresh.status == 200, fresh
    (link,) = fresh.json()["links"]
    assert link["position"] == 0
    assert link["sign_url"] != env["signers"][0]["sign_url"]
    (_, _, third) = inbox.wait_for("m1@example.com", 3)
    assert link["sign_url"] in third.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert api.get(f"/sign/{old}").status == 404
    assert api.get(f"/sign/{token_of(link)}").status == 200
    assert_problem(api.post(f"/v1/envelopes/{env['id']}/remind", {"new_links": "yes"},
                            key="int_sub1"), 400)  # fmt: skip
    renewed = [e for e in events_of(api, env["id"]) if e["type"] == "envelope:link-renewed"]
    assert [e["attributes"]["signer"] for e in renewed] == [0]


def test_expired_envelope_is_expired_when_read(api: Api) -> None:
    r = create(api, [individual("late@example.com")], expires_at=in_days(1.5 / 86400))
    env = r.json()
    time.sleep(2)
    direct = api.get(f"/v1/envelopes/{env['id']}", "int_sub1").json()
    assert (direct["status"], direct["state"]) == ("expired", "expired")
    listed = api.get("/v1/envelopes", "int_sub1", params={"state": "expired"}).json()
    assert env["id"] in [e["id"] for e in listed["envelopes"]]
    for _ in range(3):
        api.get(f"/v1/envelopes/{env['id']}", "int_sub1")
        api.get(f"/v1/sign/{token_of(env['signers'][0])}")
    expired = [e for e in events_of(api, env["id"]) if e["type"] == "envelope:expired"]
    assert len(expired) == 1
    assert_problem(api.post(f"/v1/envelopes/{env['id']}/void", {"reason": "x"},
                            key="int_sub1"), 409)  # fmt: skip


def test_the_ceremony_is_in_the_package_and_its_report(
    api: Api, inbox: Inbox, svc: Service, tmp_path: Path
) -> None:
    r = create(api, [individual("pk1@example.com", "Pat One"),
                     individual("pk2@example.com", "Pat Two", 2)])  # fmt: skip
    env = r.json()
    one = Signer(api, token_of(env["signers"][0]), "pk1@example.com", inbox)
    two = Signer(api, token_of(env["signers"][1]), "pk2@example.com", inbox)
    for s in (one, two):
        s.get()
        s.login()
        assert s.post("/viewed", {"pages": [1, 2]}).status == 204
        assert s.sign_drawn().status == 200
    assert two.get("/download").status == 200
    events = events_of(api, env["id"])
    api.wait_for_checkpoint(max(e["index"] for e in events) + 1)
    pkg = api.get(f"/v1/streams/envelope:{env['id']}/package", "aud_hq",
                  params={"tenant": "sub1"}, timeout=120)  # fmt: skip
    assert pkg.status == 200, pkg
    z = zipfile.ZipFile(io.BytesIO(pkg.body))
    names = z.namelist()
    every = [json.loads(z.read(n)) for n in sorted(names) if n.startswith("events/")]
    # (the package also holds other streams' events naming the same document)
    in_package = [e for e in every if e["stream"] == f"envelope:{env['id']}"]
    types = [(e["type"], e["attributes"].get("signer")) for e in in_package]
    want = [("envelope:link-opened", 0), ("envelope:code-sent", 0),
            ("envelope:identity-verified", 0), ("envelope:document-viewed", 0),
            ("envelope:intent-confirmed", 0), ("envelope:signed", 0)]  # fmt: skip
    got = [t for t in types if t[1] == 0]
    assert got == want, types
    path = tmp_path / "envelope.zip"
    path.write_bytes(pkg.body)
    run = subprocess.run([SEALTRAIL, "verify", str(path), "--json", "--accept", "anchors."],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    report = json.loads(run.stdout)
    assert not [c for c in report["checks"] if c["status"] == "failed"], report
    assert report["coverage"]["events"] == len(every)
    if PDFTOTEXT:
        (tmp_path / "report.pdf").write_bytes(z.read("report.pdf"))
        text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "report.pdf"), "-"],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert "Pat One" in text
        assert "Pat Two" in text
        assert text.index("Pat One") < text.index("Pat Two")
        first = text[text.index("Pat One") : text.index("Pat Two")]
        steps = ("link-opened", "code-sent", "identity-verified", "document-viewed",
                 "intent-confirmed", "envelope:signed")  # fmt: skip
        order = [first.find(t) for t in steps]
        assert -1 not in order, first
        assert order == sorted(order), first


def test_sdk_creates_lists_and_voids(api: Api, svc: Service) -> None:
    import asyncio

    from sealtrail.sdk.client import AsyncClient, Client
    from sealtrail.sdk.errors import ApiError

    c = Client(svc.url, svc.keys["int_sub2"])
    signer = {"kind": "individual", "name": "Sdk Signer", "email": "sdk@example.com",
              "fields": [{"page": 1, "box": [100, 100, 200, 150]}]}  # fmt: skip
    env = c.create_envelope(make_pdf(1), "SDK envelope", [signer], expires_at=in_days(3))
    assert env["state"] == "sent"
    assert env["signers"][0]["sign_url"].startswith("https://sign.acme.example/base/sign/")
    assert env["expires_at"] is not None
    found = list(c.envelopes(page_size=2, signer="sdk@example.com"))
    assert [e["id"] for e in found] == [env["id"]]
    assert c.remind_envelope(env["id"]) == {"reminded": [0]}
    relinked = c.remind_envelope(env["id"], new_links=True)
    assert [x["position"] for x in relinked["links"]] == [0]
    voided = c.void_envelope(env["id"], "made by mistake")
    assert voided["state"] == "voided"
    with pytest.raises(ApiError) as err:
        c.void_envelope(env["id"], "again")
    assert err.value.http_status == 409
    with pytest.raises(TypeError):
        c.create_envelope(make_pdf(1), "mixed", ["tenant:other", signer])  # type: ignore[list-item]

    async def run() -> tuple[dict[str, Any], list[str], dict[str, Any]]:
        async with AsyncClient(svc.url, svc.keys["int_sub2"]) as a:
            made = await a.create_envelope(make_pdf(1), "async", [signer])
            ids = [e["id"] async for e in a.envelopes(state="sent")]
            gone = await a.void_envelope(made["id"], "async void")
            return made, ids, gone

    made, ids, gone = asyncio.run(run())
    assert made["id"] in ids
    assert gone["state"] == "voided"


def test_cli_lists_and_voids_on_the_data_dir(api: Api, svc: Service) -> None:
    from ..service import cli

    r = create(api, [individual("cli@example.com", "Cli Signer")], key="int_sub2")
    env = r.json()
    listed = cli(svc.data_dir, "envelopes", "list", "--tenant", "sub2", "--state", "sent")
    assert env["id"] in [e["id"] for e in listed["envelopes"]]
    assert "sign_url" not in json.dumps(listed)
    done = cli(svc.data_dir, "envelopes", "void", env["id"], "--reason", "operator stop")
    assert done["state"] == "voided"
    got = api.get(f"/v1/envelopes/{env['id']}", "int_sub2").json()
    assert got["state"] == "voided"
    voided = [e for e in events_of(api, env["id"], "sub2") if e["type"] == "envelope:voided"]
    assert [e["actor"]["id"] for e in voided] == ["cli:operator"]
    with pytest.raises(RuntimeError, match="voided"):
        cli(svc.data_dir, "envelopes", "void", env["id"], "--reason", "again")


def test_an_unread_envelope_expires_in_the_background(api: Api) -> None:
    from .client import poll

    r = create(api, [individual("bg@example.com")], key="int_sub2",
               expires_at=in_days(1.5 / 86400))  # fmt: skip
    env_id = r.json()["id"]

    def expired() -> list[dict[str, Any]] | None:
        # the stream only: reading the envelope itself would expire it on read
        found = [e for e in events_of(api, env_id, "sub2") if e["type"] == "envelope:expired"]
        return found or None

    (event,) = poll(expired, 15, "the background expiry")
    assert event["actor"]["id"] == "sealtrail"
    got = api.get(f"/v1/envelopes/{env_id}", "int_sub2").json()
    assert got["state"] == "expired"
    assert len(expired() or []) == 1
