"""The seal service end to end: a real ``sealtrail serve`` (its own development TSA over HTTP),
real SQLite, real PDFs from reportlab, real signatures, validated by the service and by pdfsig.

One service is shared by the module; every test makes its own seals, so they do not depend on
each other. The last test audits the whole ledger.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader

from ...unit.signing.pdfs import make_pdf
from ..api.client import Api, Resp, assert_problem
from ..service import SEALTRAIL, Service

PDFSIG = shutil.which("pdfsig")
SEEN: list[bytes] = []  # every response body of this module (no private key may appear)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _seen(r: Resp) -> Resp:
    SEEN.append(r.body)
    return r


def pdf_post(api: Api, path: str, pdf: bytes, key: str, **params: Any) -> Resp:
    return _seen(
        api.request("POST", path, key=key, body=pdf, content_type="application/pdf",
                    params=params or None, timeout=60)
    )  # fmt: skip


def make_seal(api: Api, tenant: str, kind: str = "contract", **extra: Any) -> dict[str, Any]:
    body = {"tenant": tenant, "kind": kind, "name": f"Acme {tenant}", **extra}
    if kind in ("contract", "organization"):
        body.setdefault("purpose", "合同专用章")
    r = _seen(api.post("/v1/seals", body, key="adm_hq"))
    assert r.status == 201, r
    return r.json()


def new_key(api: Api, tenant: str, role: str = "integrator") -> tuple[str, str]:
    r = api.post("/v1/keys", {"tenant": tenant, "role": role}, key="adm_hq")
    assert r.status == 201, r
    return r.json()["id"], r.json()["key"]


def stream_types(api: Api, stream: str, tenant: str) -> list[dict[str, Any]]:
    r = api.get(f"/v1/streams/{stream}", "aud_hq", params={"tenant": tenant})
    assert r.status == 200, r
    assert r.json()["chain_intact"]
    return r.json()["events"]


@pytest.fixture(scope="module")
def api(module_service: Service) -> Api:
    return Api(module_service)


def test_seal_lifecycle_is_in_the_ledger_and_gates_signing(api: Api) -> None:
    seal = make_seal(api, "sub1", remarks="purchase contracts only")
    assert seal["status"] == "active"
    assert seal["source"] == "internal-ca"
    assert "key" not in seal
    assert "private" not in str(seal).lower()
    png = api.get(f"/v1/seals/{seal['id']}/appearance", "int_sub1")
    assert png.status == 200, png
    assert png.body.startswith(b"\x89PNG"), png
    pdf = make_pdf(1)
    r = _seen(api.post(f"/v1/seals/{seal['id']}/suspend", {"reason": "lost key card"},
                       key="adm_hq"))  # fmt: skip
    assert r.status == 200, r
    assert r.json()["status"] == "suspended", r
    assert_problem(pdf_post(api, f"/v1/seals/{seal['id']}/sign", pdf, "int_sub1"), 409)
    r = api.post(f"/v1/seals/{seal['id']}/resume", {}, key="adm_hq")
    assert r.status == 200, r
    assert pdf_post(api, f"/v1/seals/{seal['id']}/sign", pdf, "int_sub1").status == 200
    r = api.post(f"/v1/seals/{seal['id']}/revoke", {"reason": "company renamed"}, key="adm_hq")
    assert r.json()["status"] == "revoked", r
    assert_problem(pdf_post(api, f"/v1/seals/{seal['id']}/sign", pdf, "int_sub1"), 409)
    assert_problem(api.post(f"/v1/seals/{seal['id']}/resume", {}, key="adm_hq"), 409)
    # Other tenants do not see the seal; integrators may not manage seals.
    assert_problem(api.get(f"/v1/seals/{seal['id']}", "int_other"), 404)
    assert_problem(api.post("/v1/seals", {"kind": "personal", "name": "X"}, key="int_sub1"), 403)
    events = stream_types(api, f"seal:{seal['id']}", "sub1")
    types = [e["type"] for e in events]
    assert types == ["seal:created", "seal:suspended", "seal:resumed", "seal-use:used",
                     "seal:revoked"]  # fmt: skip
    assert events[0]["attributes"]["cert_sha256"] == seal["certificate"]["sha256"]
    assert events[1]["attributes"]["reason"] == "lost key card"


def test_direct_sealing_validates_here_and_in_pdfsig(api: Api, tmp_path: Path) -> None:
    seal = make_seal(api, "sub1", remarks="仅限采购合同")
    pdf = make_pdf(2)
    r = pdf_post(api, f"/v1/seals/{seal['id']}/sign", pdf, "int_sub1", page=1,
                 box="100,100,250,250", reason="approved")  # fmt: skip
    assert r.status == 200, r
    assert r.content_type == "application/pdf", r
    signed = r.body
    assert signed.startswith(pdf)  # an incremental update
    v = pdf_post(api, "/v1/pdf/validate", signed, "aud_hq")
    assert v.status == 200, v
    report = v.json()
    assert report["ok"], report
    assert report["status"] == "passed", report
    (sig,) = report["signatures"]
    assert sig["remarks"] == "仅限采购合同"
    assert sig["timestamp"]["trusted"]
    assert sig["seal"] == {"id": seal["id"], "tenant": "sub1"}
    assert sig["trust_root"]["kind"] == "internal-ca"
    # Another tenant's key does not trust sub1's internal CA, and may not ask for all
    # (the public route validates against every root, naming the seal's tenant).
    other = pdf_post(api, "/v1/pdf/validate", signed, "aud_other").json()
    assert not other["ok"]
    assert "certificate_untrusted" in other["reasons"]
    assert_problem(pdf_post(api, "/v1/pdf/validate", signed, "aud_other", scope="all"), 403)
    assert pdf_post(api, "/v1/public/pdf/validate", signed, None).json()["ok"]
    used = stream_types(api, f"seal:{seal['id']}", "sub1")[-1]
    assert used["type"] == "seal-use:used"
    assert [d["sha256"] for d in used["documents"]] == [_sha(pdf), _sha(signed)]
    if PDFSIG:
        (tmp_path / "s.pdf").write_bytes(signed)
        out = subprocess.run([PDFSIG, str(tmp_path / "s.pdf")], capture_output=True, text=True)
        assert "Signature is Valid." in out.stdout, out.stdout


def test_b_lt_embeds_the_certificates_and_the_cas_crl(api: Api, tmp_path: Path) -> None:
    revoked = make_seal(api, "sub1")  # revoked before: the embedded CRL must list it
    r = api.post(f"/v1/seals/{revoked['id']}/revoke", {"reason": "retired"}, key="adm_hq")
    assert r.status == 200, r
    seal = make_seal(api, "sub1")
    pdf = make_pdf(1)
    bt = pdf_post(api, f"/v1/seals/{seal['id']}/sign", pdf, "int_sub1")
    lt = pdf_post(api, f"/v1/seals/{seal['id']}/sign", pdf, "int_sub1", level="B-LT")
    assert lt.status == 200, lt
    assert b"/DSS" not in bt.body
    assert b"/DSS" in lt.body  # the document security store (ETSI EN 319 142-1 §5.4)
    assert b"/CRLs" in lt.body
    report = pdf_post(api, "/v1/pdf/validate", lt.body, "aud_hq").json()
    assert report["ok"], report
    assert not report["signatures"][0]["revoked"]
    dss = PdfFileReader(io.BytesIO(lt.body)).root["/DSS"]
    crls = [x509.load_der_x509_crl(c.get_object().data) for c in dss["/CRLs"]]
    listed = {format(r.serial_number, "x") for crl in crls for r in crl}
    assert revoked["certificate"]["serial"] in listed
    assert seal["certificate"]["serial"] not in listed
    assert_problem(pdf_post(api, f"/v1/seals/{seal['id']}/sign", pdf, "int_sub1", level="B-B"), 400)
    if PDFSIG:
        (tmp_path / "lt.pdf").write_bytes(lt.body)
        out = subprocess.run([PDFSIG, str(tmp_path / "lt.pdf")], capture_output=True, text=True)
        assert "Signature is Valid." in out.stdout, out.stdout


def test_seal_use_approval_flow(api: Api) -> None:
    seal = make_seal(api, "sub1", kind="organization")
    approver_id, approver = new_key(api, "sub1")
    api.svc.keys["approver"] = approver
    requester_id = _key_id(api, "int_sub1")  # an approver too: still not of its own request
    r = api.request(
        "PUT",
        "/v1/seal-policy",
        key="adm_hq",
        json_body={
            "tenant": "sub1",
            "controlled": [seal["id"]],
            "approvers": [approver_id, requester_id],
        },
    )
    assert r.status == 200, r
    pdf, other_pdf = make_pdf(1), make_pdf(3)
    path = f"/v1/seals/{seal['id']}/sign"
    assert_problem(pdf_post(api, path, pdf, "int_sub1"), 409)  # controlled: needs approval

    def ask(doc: bytes) -> str:
        r = api.post("/v1/seal-requests", {"seal": seal["id"], "document_sha256": _sha(doc),
                                           "purpose": "tender bond"}, key="int_sub1")  # fmt: skip
        assert r.status == 201, r
        assert r.json()["status"] == "pending", r
        return str(r.json()["id"])

    rejected = ask(pdf)
    assert_problem(api.post(f"/v1/seal-requests/{rejected}/approve", {}, key="int_sub1"), 403)
    assert_problem(api.post(f"/v1/seal-requests/{rejected}/approve", {}, key="int_sub2"), 404)
    r = api.post(f"/v1/seal-requests/{rejected}/reject", {"reason": "no budget"}, key="approver")
    assert r.status == 200, r
    assert r.json()["status"] == "rejected", r
    assert_problem(pdf_post(api, path, pdf, "int_sub1", request=rejected), 409)
    assert_problem(api.post(f"/v1/seal-requests/{rejected}/approve", {}, key="approver"), 409)

    approved = ask(pdf)
    assert api.post(f"/v1/seal-requests/{approved}/approve", {}, key="approver").status == 200
    assert_problem(pdf_post(api, path, other_pdf, "int_sub1", request=approved), 409)  # doc
    assert_problem(pdf_post(api, path, pdf, "approver", request=approved), 403)  # not requester
    assert pdf_post(api, path, pdf, "int_sub1", request=approved).status == 200
    assert_problem(pdf_post(api, path, pdf, "int_sub1", request=approved), 409)  # used once
    assert api.get(f"/v1/seal-requests/{approved}", "aud_hq").json()["status"] == "used"

    events = stream_types(api, f"seal:{seal['id']}", "sub1")
    flow = [(e["type"], e["attributes"].get("request_id")) for e in events[1:]]
    assert flow == [
        ("seal-use:requested", rejected), ("seal-use:rejected", rejected),
        ("seal-use:requested", approved), ("seal-use:approved", approved),
        ("seal-use:used", approved),
    ]  # fmt: skip
    assert all(e["documents"][0]["sha256"] == _sha(pdf) for e in events[1:])


def _key_id(api: Api, name: str) -> str:
    return api.svc.keys[name].split("_")[1]


def test_hq_auditor_sees_subsidiary_usage_not_the_reverse(api: Api) -> None:
    seal = make_seal(api, "sub2", kind="legal-person")
    assert pdf_post(api, f"/v1/seals/{seal['id']}/sign", make_pdf(1), "int_sub2").status == 200
    hq = api.get("/v1/seal-uses", "aud_hq", params={"tenant": "sub2"})
    assert hq.status == 200, hq
    assert any(u["seal"] == seal["id"] for u in hq.json()["uses"]), hq
    assert_problem(api.get("/v1/seal-uses", "aud_sub1", params={"tenant": "hq"}), 404)
    assert_problem(api.get("/v1/seal-uses", "aud_sub1", params={"tenant": "sub2"}), 404)
    own = api.get("/v1/seal-uses", "aud_sub1").json()["uses"]
    assert own
    assert all(u["tenant"] == "sub1" for u in own)


def _envelope(api: Api, order: str, *seals: str) -> dict[str, Any]:
    r = api.request("POST", "/v1/envelopes", key="int_sub1", body=make_pdf(2),
                    content_type="application/pdf",
                    params=[("title", "minutes.pdf"), ("order", order),
                            *(("signer", s) for s in seals)])  # type: ignore[arg-type] # fmt: skip
    assert r.status == 201, r
    return r.json()


def _sign(api: Api, env: dict[str, Any], seal: dict[str, Any], key: str) -> Resp:
    return _seen(api.post(f"/v1/envelopes/{env['id']}/sign", {"seal": seal["id"]}, key=key,
                          timeout=60))  # fmt: skip


def accept(api: Api, env: dict[str, Any], position: int, seal: dict[str, Any], key: str,
           **extra: Any) -> Resp:  # fmt: skip
    path = f"/v1/envelopes/{env['id']}/invitations/{position}/accept"
    return _seen(api.post(path, {"seal": seal["id"], **extra}, key=key))


def test_envelope_in_order_two_signers(api: Api, tmp_path: Path) -> None:
    a, b = make_seal(api, "sub1"), make_seal(api, "sub2", kind="personal")
    env = _envelope(api, "sequential", a["id"], "tenant:sub2")  # sub2: another tenant, invited
    assert env["signers"][1] == {
        "position": 1, "party": "sub2", "invitation": "invited", "seal": None, "key_id": None,
        "status": "pending", "signed_by": None, "signed_at": None, "before_sha256": None,
        "after_sha256": None,
    }  # fmt: skip
    assert_problem(_sign(api, env, b, "int_sub2"), 400)  # not a signer before it accepts
    r = accept(api, env, 1, b, "int_sub2")
    assert r.status == 200, r
    assert r.json()["signers"][1]["invitation"] == "accepted", r
    assert_problem(_sign(api, env, b, "int_sub2"), 409)  # not its turn
    assert _sign(api, env, a, "int_sub1").status == 200
    assert_problem(_sign(api, env, a, "int_sub1"), 409)  # signed already
    done = _sign(api, env, b, "int_sub2").json()
    assert done["status"] == "completed"
    assert done["signatures"] == 2
    assert done["signers"][0]["after_sha256"] == done["signers"][1]["before_sha256"]
    r = api.get(f"/v1/envelopes/{env['id']}/document", "int_sub2")
    assert r.status == 200, r
    assert _sha(r.body) == done["current_sha256"], r
    report = pdf_post(api, "/v1/pdf/validate", r.body, "aud_hq").json()
    assert report["ok"], report
    assert len(report["signatures"]) == 2, report
    assert api.get(f"/v1/envelopes/{env['id']}", "aud_hq").status == 200
    assert_problem(api.get(f"/v1/envelopes/{env['id']}", "aud_other"), 404)
    events = stream_types(api, f"envelope:{env['id']}", "sub1")
    assert [e["type"] for e in events] == ["envelope:created", "envelope:invitation-accepted",
        "envelope:signed", "envelope:signed", "envelope:completed", "download", "view"]  # fmt: skip
    assert events[1]["attributes"]["seal_id"] == b["id"]
    assert events[2]["documents"][1]["sha256"] == events[3]["documents"][0]["sha256"]
    assert events[5]["documents"][0]["sha256"] == done["current_sha256"]
    if PDFSIG:
        (tmp_path / "e.pdf").write_bytes(r.body)
        out = subprocess.run([PDFSIG, str(tmp_path / "e.pdf")], capture_output=True, text=True)
        assert out.stdout.count("Signature is Valid.") == 2, out.stdout


def test_envelope_parallel_signers_any_order(api: Api) -> None:
    a, b = make_seal(api, "sub1", kind="legal-person"), make_seal(api, "sub2")
    env = _envelope(api, "parallel", a["id"], "tenant:sub2")
    assert accept(api, env, 1, b, "int_sub2", key_id=_key_id(api, "int_sub2")).status == 200
    assert _sign(api, env, b, "int_sub2").status == 200
    done = _sign(api, env, a, "int_sub1").json()
    assert done["status"] == "completed", done


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"", "application/pdf", 400),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nendobj\ntrailer\n%%EOF", "application/pdf", 400),
        (b"not a pdf at all", "application/pdf", 400),
        (make_pdf(1)[:600], "application/pdf", 400),  # truncated
        (make_pdf(1), "text/plain", 415),  # (JSON is the envelopes' other form)
        (b"%PDF-" + b"0" * (8 * 1024 * 1024), "application/pdf", 413),
    ],
    ids=["empty", "no-xref", "not-pdf", "truncated", "wrong-type", "oversized"],
)
def test_bad_pdf_is_a_clear_4xx(api: Api, body: bytes, content_type: str, status: int) -> None:
    for path in ("/v1/pdf/validate", "/v1/envelopes?signer=x"):
        r = api.request("POST", path, key="int_sub1", body=body, content_type=content_type)
        assert_problem(r, status)


def test_private_keys_never_leave(api: Api, module_service: Service) -> None:
    master = (module_service.data_dir / "seal.key").read_text().strip()
    assert (module_service.data_dir / "seal.key").stat().st_mode & 0o077 == 0
    for body in [*SEEN, module_service.log().encode()]:
        assert b"PRIVATE KEY" not in body
        assert master.encode() not in body
        assert base64.b64encode(bytes.fromhex(master)) not in body


def test_audit_stays_clean(module_service: Service) -> None:
    r = subprocess.run([SEALTRAIL, "--data-dir", str(module_service.data_dir), "audit"],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
