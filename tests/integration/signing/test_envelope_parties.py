"""Envelopes across tenants, over HTTP against a real service (real SQLite, real PDFs, real
signatures): invitations instead of naming another tenant's seal, counterparty validation in
the envelope's trust context, and seal-use approvals bound to the signing act.

Tenants (tests/integration/service.py): ``hq`` with ``sub1`` and ``sub2``, and ``other``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from ...unit.signing.pdfs import make_pdf
from ..api.client import Api, Resp, assert_problem
from ..service import Service, cli
from .test_seal_service import _key_id, new_key, pdf_post, stream_types
from .test_seal_service import make_seal as _make_seal


@pytest.fixture(scope="module")
def api(module_service: Service) -> Api:
    """The module's service, with an admin key of ``other`` (made by the CLI)."""
    made = cli(module_service.data_dir, "keys", "create", "--tenant", "other", "--role", "admin")
    module_service.keys["adm_other"] = made["key"]
    return Api(module_service)


def make_seal(api: Api, tenant: str, kind: str = "contract") -> dict[str, Any]:
    """A seal of ``tenant`` (``other``'s made by its own admin)."""
    if tenant != "other":
        return _make_seal(api, tenant, kind)
    body = {"tenant": tenant, "kind": kind, "name": "Other Corp", "purpose": "合同专用章"}
    r = api.post("/v1/seals", body, key="adm_other")
    assert r.status == 201, r
    return dict(r.json())


def _create(api: Api, key: str, order: str, *signers: str) -> Resp:
    return api.request(
        "POST", "/v1/envelopes", key=key, body=make_pdf(2), content_type="application/pdf",
        params=[("title", "supply contract.pdf"), ("order", order),
                *(("signer", s) for s in signers)],  # type: ignore[arg-type]
    )  # fmt: skip


def _sign(api: Api, env_id: str, seal: str, key: str, **extra: Any) -> Resp:
    return api.post(f"/v1/envelopes/{env_id}/sign", {"seal": seal, **extra}, key=key, timeout=60)


def _accept(api: Api, env_id: str, pos: int, seal: str, key: str) -> Resp:
    return api.post(f"/v1/envelopes/{env_id}/invitations/{pos}/accept", {"seal": seal}, key=key)


def _same(a: Resp, b: Resp, a_id: str, b_id: str) -> None:
    assert (a.status, a.content_type) == (b.status, b.content_type), (a, b)
    assert a.body.replace(a_id.encode(), b"{ID}") == b.body.replace(b_id.encode(), b"{ID}"), (a, b)


def test_another_tenants_seal_and_key_are_answered_as_missing_ones(api: Api) -> None:
    """The reported oracle: naming another tenant's seal and key id used to create the envelope
    (201, and it appeared to that tenant) while a made-up key id got 400."""
    theirs = make_seal(api, "other")
    their_key = _key_id(api, "int_other")
    mine = make_seal(api, "sub1")
    real = _create(api, "int_sub1", "sequential", f"{theirs['id']}:{their_key}")
    fake = _create(api, "int_sub1", "sequential", f"seal-{'0' * 16}:{'f' * len(their_key)}")
    assert_problem(real, 400)
    _same(real, fake, theirs["id"], f"seal-{'0' * 16}")
    real = _create(api, "int_sub1", "sequential", theirs["id"])
    fake = _create(api, "int_sub1", "sequential", "seal-0000000000000000")
    _same(real, fake, theirs["id"], "seal-0000000000000000")
    # a key of another tenant on one's own seal: as a key that does not exist
    real = _create(api, "int_sub1", "sequential", f"{mine['id']}:{their_key}")
    fake = _create(api, "int_sub1", "sequential", f"{mine['id']}:{'f' * len(their_key)}")
    _same(real, fake, their_key, "f" * len(their_key))
    assert api.get("/v1/envelope-invitations", "aud_other").json()["invitations"] == []


def test_invitations_confirm_nothing_about_the_party(api: Api) -> None:
    mine = make_seal(api, "sub1")
    real = _create(api, "int_sub1", "parallel", mine["id"], "tenant:other")
    fake = _create(api, "int_sub1", "parallel", mine["id"], "tenant:no-such-tenant")
    assert (real.status, fake.status) == (201, 201), (real, fake)
    a, b = real.json(), fake.json()
    for env in (a, b):
        assert env["signers"][1]["seal"] is None
        assert env["signers"][1]["invitation"] == "invited"
    assert_problem(_create(api, "int_sub1", "parallel", "tenant:bad/party"), 400)
    listed = api.get("/v1/envelope-invitations", "int_other").json()["invitations"]
    assert [(i["envelope"], i["position"], i["from"]) for i in listed if i["envelope"] == a["id"]]\
        == [(a["id"], 1, "sub1")]  # fmt: skip
    assert all(i["envelope"] != b["id"] for i in listed)
    # the invited party sees the envelope; a third tenant does not (as a missing one)
    assert api.get(f"/v1/envelopes/{a['id']}", "aud_other").status == 200
    assert_problem(api.get(f"/v1/envelopes/{a['id']}", "int_sub2"), 404)


def test_invited_party_accepts_with_its_own_seal_and_both_validate_as_trusted(api: Api) -> None:
    mine, theirs = make_seal(api, "sub1"), make_seal(api, "other", kind="personal")
    sub2_seal = make_seal(api, "sub2")
    env = _create(api, "int_sub1", "sequential", mine["id"], "tenant:other").json()
    eid = env["id"]
    # the party cannot accept with a seal it does not own, nor someone else for it
    _same(_accept(api, eid, 1, sub2_seal["id"], "int_other"),
          _accept(api, eid, 1, "seal-0000000000000000", "int_other"),
          sub2_seal["id"], "seal-0000000000000000")  # fmt: skip
    assert_problem(_accept(api, eid, 1, mine["id"], "int_sub1"), 404)  # not sub1's invitation
    assert_problem(_accept(api, eid, 0, theirs["id"], "int_other"), 404)  # slot 0 is no invitation
    r = _accept(api, eid, 1, theirs["id"], "int_other")
    assert r.status == 200, r
    assert_problem(_accept(api, eid, 1, theirs["id"], "int_other"), 409)  # answered already
    assert _sign(api, eid, mine["id"], "int_sub1").status == 200
    done = _sign(api, eid, theirs["id"], "int_other")
    assert done.status == 200, done
    assert done.json()["status"] == "completed"
    assert done.json()["signers"][0]["signed_by"] is None  # sub1's key is sub1's business
    pdf = api.get(f"/v1/envelopes/{eid}/document", "int_other").body
    # Before: each party's own roots leave the other's signature untrusted.
    for key in ("aud_other", "aud_sub1"):
        plain = pdf_post(api, "/v1/pdf/validate", pdf, key).json()
        assert not plain["ok"], plain
        assert "certificate_untrusted" in plain["reasons"], plain
    # In the envelope's trust context every signature is trusted, for every party.
    for key in ("aud_other", "aud_sub1", "int_other", "aud_hq"):
        report = api.get(f"/v1/envelopes/{eid}/validation", key)
        assert report.status == 200, report
        assert report.json()["ok"], report
        assert [s["trusted"] for s in report.json()["signatures"]] == [True, True], report
        copy = pdf_post(api, f"/v1/envelopes/{eid}/validate", pdf, key)
        assert copy.json()["ok"], copy
    # ... but not for a PDF signed by anyone else (a third tenant's seal is no participant)
    stranger = pdf_post(api, f"/v1/seals/{sub2_seal['id']}/sign", make_pdf(1), "int_sub2").body
    assert (
        "certificate_untrusted"
        in pdf_post(api, f"/v1/envelopes/{eid}/validate", stranger, "aud_other").json()["reasons"]
    )
    assert_problem(api.get(f"/v1/envelopes/{eid}/validation", "aud_hq_missing"), 401)
    types = [e["type"] for e in stream_types(api, f"envelope:{eid}", "sub1")]
    assert types[:5] == ["envelope:created", "envelope:invitation-accepted", "envelope:signed",
                         "envelope:signed", "envelope:completed"]  # fmt: skip


def test_a_declined_invitation_ends_the_envelope(api: Api) -> None:
    mine = make_seal(api, "sub1")
    eid = _create(api, "int_sub1", "parallel", mine["id"], "tenant:other").json()["id"]
    r = api.post(f"/v1/envelopes/{eid}/invitations/1/decline", {"reason": "wrong price"},
                 key="int_other")  # fmt: skip
    assert r.status == 200, r
    assert r.json()["status"] == "declined"
    assert r.json()["signers"][1]["invitation"] == "declined"
    assert_problem(_sign(api, eid, mine["id"], "int_sub1"), 409)
    ev = stream_types(api, f"envelope:{eid}", "sub1")[-1]
    assert ev["type"] == "envelope:invitation-declined"
    assert ev["attributes"]["reason"] == "wrong price"
    assert all(i["envelope"] != eid for i in api.get("/v1/envelope-invitations", "int_other")
               .json()["invitations"])  # fmt: skip


def _controlled(api: Api, tenant: str, seal: dict[str, Any]) -> str:
    approver_id, approver = new_key(api, tenant)
    api.svc.keys[f"approver_{tenant}"] = approver
    r = api.request("PUT", "/v1/seal-policy", key="adm_hq",
                    json_body={"tenant": tenant, "controlled": [seal["id"]],
                               "approvers": [approver_id]})  # fmt: skip
    assert r.status == 200, r
    return f"approver_{tenant}"


def test_an_approval_is_bound_to_the_slot_not_to_the_changing_hash(api: Api) -> None:
    """Two signers in a parallel envelope; the other signs first (the PDF's hash changes); the
    approved use still succeeds once and only once; replaying the approval fails."""
    mine = make_seal(api, "sub1", kind="organization")
    theirs = make_seal(api, "sub2")
    approver = _controlled(api, "sub1", mine)
    eid = _create(api, "int_sub1", "parallel", mine["id"], "tenant:sub2").json()["id"]
    assert _accept(api, eid, 1, theirs["id"], "int_sub2").status == 200
    assert_problem(_sign(api, eid, mine["id"], "int_sub1"), 409)  # controlled: approval needed
    r = api.post(f"/v1/envelopes/{eid}/seal-requests",
                 {"seal": mine["id"], "purpose": "supply contract"}, key="int_sub1")  # fmt: skip
    assert r.status == 201, r
    req = r.json()
    assert (req["envelope_id"], req["position"]) == (eid, 0)
    assert_problem(_sign(api, eid, mine["id"], "int_sub1", request=req["id"]), 409)  # pending
    assert api.post(f"/v1/seal-requests/{req['id']}/approve", {}, key=approver).status == 200
    before = api.get(f"/v1/envelopes/{eid}", "int_sub1").json()["current_sha256"]
    assert _sign(api, eid, theirs["id"], "int_sub2").status == 200  # the other signs first
    changed = api.get(f"/v1/envelopes/{eid}", "int_sub1").json()["current_sha256"]
    assert changed != before
    # not usable on a stand-alone document, even the envelope's current one
    doc = api.get(f"/v1/envelopes/{eid}/document", "int_sub1").body
    assert_problem(pdf_post(api, f"/v1/seals/{mine['id']}/sign", doc, "int_sub1",
                            request=req["id"]), 409)  # fmt: skip
    done = _sign(api, eid, mine["id"], "int_sub1", request=req["id"])
    assert done.status == 200, done
    assert done.json()["status"] == "completed"
    assert api.get(f"/v1/seal-requests/{req['id']}", "aud_sub1").json()["status"] == "used"
    # replayed: on another envelope's slot of the same seal, and stand-alone
    eid2 = _create(api, "int_sub1", "parallel", mine["id"]).json()["id"]
    assert_problem(_sign(api, eid2, mine["id"], "int_sub1", request=req["id"]), 409)
    assert_problem(pdf_post(api, f"/v1/seals/{mine['id']}/sign", make_pdf(1), "int_sub1",
                            request=req["id"]), 409)  # fmt: skip
    used = [u for u in api.get("/v1/seal-uses", "aud_sub1").json()["uses"]
            if u["request_id"] == req["id"]]  # fmt: skip
    assert len(used) == 1
    assert (used[0]["envelope_id"], used[0]["before_sha256"]) == (eid, changed)
    assert used[0]["after_sha256"] == done.json()["current_sha256"]
    assert hashlib.sha256(doc).hexdigest() == changed


def test_a_document_approval_cannot_sign_an_envelope_slot(api: Api) -> None:
    mine = make_seal(api, "sub1", kind="organization")
    approver = _controlled(api, "sub1", mine)
    r = _create(api, "int_sub1", "parallel", mine["id"])
    env = r.json()
    r = api.post("/v1/seal-requests", {"seal": mine["id"], "document_sha256":
                 env["current_sha256"], "purpose": "x"}, key="int_sub1")  # fmt: skip
    assert r.status == 201, r
    assert api.post(f"/v1/seal-requests/{r.json()['id']}/approve", {}, key=approver).status == 200
    assert_problem(_sign(api, env["id"], mine["id"], "int_sub1", request=r.json()["id"]), 409)
    # another tenant's request id is answered as a missing one
    other_seal = make_seal(api, "sub2")
    body = {"seal": other_seal["id"], "document_sha256": "ab" * 32, "purpose": "x"}
    theirs = api.post("/v1/seal-requests", body, key="int_sub2").json()["id"]
    _same(_sign(api, env["id"], mine["id"], "int_sub1", request=theirs),
          _sign(api, env["id"], mine["id"], "int_sub1", request="sreq-0000000000000000"),
          theirs, "sreq-0000000000000000")  # fmt: skip
