"""The Python SDK's seal, seal-request and envelope methods against a live service (its own
development TSA): what the SDK returns is what the service stored, failures arrive as ApiError
with the problem's status, and state-changing calls are sent once."""

from __future__ import annotations

import hashlib

import pytest

from sealtrail.sdk.client import ApiError, Client

from ...unit.signing.pdfs import make_pdf
from ..service import Service


@pytest.fixture(scope="module")
def clients(module_service: Service) -> dict[str, Client]:
    return {
        name: Client(module_service.url, module_service.keys[name], timeout=60)
        for name in ("adm_hq", "int_sub1", "int_sub2", "aud_hq", "aud_other")
    }


def test_seal_lifecycle_and_signing(clients: dict[str, Client]) -> None:
    admin, integrator = clients["adm_hq"], clients["int_sub1"]
    seal = admin.create_seal("contract", "Acme sub1", tenant="sub1", purpose="合同专用章")
    assert seal["status"] == "active"
    assert integrator.seal(seal["id"]) == seal
    assert seal["id"] in [s["id"] for s in integrator.seals(status="active")]
    signed = integrator.sign_pdf(seal["id"], make_pdf(1), reason="SDK test")
    assert signed.startswith(b"%PDF")
    assert b"/ByteRange" in signed
    assert admin.set_seal_status(seal["id"], "suspend", "lost")["status"] == "suspended"
    with pytest.raises(ApiError) as e:
        integrator.sign_pdf(seal["id"], make_pdf(1))
    assert e.value.status == 409
    with pytest.raises(ValueError, match="verb"):
        admin.set_seal_status(seal["id"], "delete")
    with pytest.raises(ApiError) as e:
        clients["aud_other"].seal(seal["id"])  # another tenant: absent
    assert e.value.status == 404


def test_seal_requests(clients: dict[str, Client], module_service: Service) -> None:
    admin, integrator = clients["adm_hq"], clients["int_sub1"]
    seal = admin.create_seal("organization", "Acme org", tenant="sub1", purpose="公章")
    admin_key_id = module_service.keys["adm_hq"].split("_")[1]
    policy = admin.set_seal_policy([seal["id"]], [admin_key_id], tenant="sub1")
    assert policy["controlled"] == [seal["id"]]
    assert admin.seal_policy("sub1") == policy
    pdf = make_pdf(2)
    doc = hashlib.sha256(pdf).hexdigest()
    with pytest.raises(ApiError) as e:  # controlled: needs an approved request
        integrator.sign_pdf(seal["id"], pdf)
    assert e.value.status == 409
    req = integrator.create_seal_request(seal["id"], doc, "tender bond")
    assert req["status"] == "pending"
    assert req["document_sha256"] == doc
    assert integrator.seal_request(req["id"]) == req
    assert req["id"] in [r["id"] for r in clients["aud_hq"].seal_requests(status="pending")]
    with pytest.raises(ApiError) as e:  # never the requester
        integrator.decide_seal_request(req["id"], approve=True)
    assert e.value.status in (403, 409)
    decided = admin.decide_seal_request(req["id"], approve=False, reason="no budget")
    assert decided["status"] == "rejected"
    assert decided["decision_reason"] == "no budget"
    again = integrator.create_seal_request(seal["id"], doc, "tender bond, again")
    assert admin.decide_seal_request(again["id"], approve=True)["status"] == "approved"
    assert integrator.sign_pdf(seal["id"], pdf, request=again["id"]).startswith(b"%PDF")
    assert integrator.seal_request(again["id"])["status"] == "used"


def test_envelope_two_parties(clients: dict[str, Client]) -> None:
    admin, one, two = clients["adm_hq"], clients["int_sub1"], clients["int_sub2"]
    a = admin.create_seal("contract", "Acme sub1", tenant="sub1", purpose="合同专用章")
    b = admin.create_seal("personal", "Wang Fang", tenant="sub2")
    env = one.create_envelope(make_pdf(2), "minutes.pdf", [a["id"], "tenant:sub2"])
    assert env["status"] == "open"
    assert [s["party"] for s in env["signers"]] == ["sub1", "sub2"]
    assert env["id"] in [i["envelope"] for i in two.envelope_invitations()]
    accepted = two.answer_invitation(env["id"], 1, seal_id=b["id"])
    assert accepted["signers"][1]["invitation"] == "accepted"
    assert one.sign_envelope(env["id"], a["id"])["signatures"] == 1
    with pytest.raises(ApiError) as e:  # signed already: sent once, refused
        one.sign_envelope(env["id"], a["id"])
    assert e.value.status == 409
    done = two.sign_envelope(env["id"], b["id"], reason="agreed")
    assert done["status"] == "completed"
    pdf = two.envelope_document(env["id"])
    assert hashlib.sha256(pdf).hexdigest() == done["current_sha256"]
    report = clients["aud_hq"].envelope_validation(env["id"])
    assert report["ok"], report
    assert len(report["signatures"]) == 2
    assert clients["aud_hq"].envelope(env["id"])["status"] == "completed"


def test_declined_invitation_ends_the_envelope(clients: dict[str, Client]) -> None:
    admin, one, two = clients["adm_hq"], clients["int_sub1"], clients["int_sub2"]
    a = admin.create_seal("contract", "Acme sub1", tenant="sub1", purpose="合同专用章")
    env = one.create_envelope(make_pdf(1), "offer.pdf", [a["id"], "tenant:sub2"], order="parallel")
    out = two.answer_invitation(env["id"], 1, decline_reason="wrong counterparty")
    assert out["status"] == "declined"
    with pytest.raises(ApiError) as e:
        one.sign_envelope(env["id"], a["id"])
    assert e.value.status == 409
