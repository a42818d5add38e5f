"""Issue 15, item 1 and the public half of item 3, end to end on a real ``sealtrail serve``:
trust lists for imported seal certificates, validation results that say who, ``scope=all``
for admins only, and the public PDF validation route.

The forged-seal attack of the issue is kept as a test: a tenant imports a self-signed
certificate copying another tenant's seal subject, signs with it, and no validation — the
tenant's own, an HQ auditor's, the public route's, an admin's ``scope=all``, the operator's
CLI — may call it trusted; each names the forgery's issuer and tenant.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader

from sealtrail.signing import pki
from sealtrail.signing.sign import Placement, SignatureLevel, SigningPolicy, sign_pdf

from ...unit.seals.pkis import issue, name, p12, pem, seal_from, self_signed_copy
from ...unit.signing.pdfs import make_pdf
from ..api.client import Api, Resp, assert_problem
from ..conftest import StartService
from ..service import SEALTRAIL, Service, env_for


def pdf_post(api: Api, path: str, pdf: bytes, key: str | None, **params: Any) -> Resp:
    return api.request("POST", path, key=key, body=pdf, content_type="application/pdf",
                       params=params or None, timeout=60)  # fmt: skip


def import_seal(api: Api, tenant: str, bundle: pki.CertifiedKey) -> Resp:
    body = {"tenant": tenant, "kind": "contract", "name": f"Imported {tenant}",
            "purpose": "合同专用章", "pkcs12": base64.b64encode(p12(bundle)).decode(),
            "pkcs12_password": "pw"}  # fmt: skip
    return api.post("/v1/seals", body, key="adm_hq")


def seal_and_sign(api: Api, seal_id: str, key: str) -> bytes:
    r = pdf_post(api, f"/v1/seals/{seal_id}/sign", make_pdf(1), key)
    assert r.status == 200, r
    return r.body


def signer_cert(pdf: bytes) -> x509.Certificate:
    (sig,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    return x509.load_der_x509_certificate(sig.signer_cert.dump())


def only_sig(report: dict[str, Any]) -> dict[str, Any]:
    (sig,) = report["signatures"]
    return sig


def validate_cli(svc: Service, pdf: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEALTRAIL, "--data-dir", str(svc.data_dir), "validate-pdf", str(pdf), "--json"],
        capture_output=True, text=True, timeout=120, env=env_for(**settings),
    )  # fmt: skip


def test_forged_seal_copying_another_tenants_subject_is_never_trusted(
    start_service: StartService, tmp_path: Path
) -> None:
    settings = {"self_declared_seal_tenants": "sub2"}
    svc = start_service(**settings)
    api = Api(svc)
    r = api.post("/v1/seals", {"tenant": "sub1", "kind": "contract", "name": "Acme Shanghai",
                               "purpose": "合同专用章"}, key="adm_hq")  # fmt: skip
    assert r.status == 201, r
    genuine_id = r.json()["id"]
    genuine_pdf = seal_and_sign(api, genuine_id, "int_sub1")
    # The attacker copies the subject of the certificate in a PDF the genuine seal signed.
    forgery = self_signed_copy(signer_cert(genuine_pdf), datetime.now(UTC))
    refused = import_seal(api, "sub1", forgery)  # sub1 may not self-declare
    assert assert_problem(refused, 400, detail="self-signed")["type"].endswith(
        "/seal_certificate_untrusted"
    )
    r = import_seal(api, "sub2", forgery)
    assert r.status == 201, r
    forged = r.json()
    assert forged["source"] == "self-declared"
    assert forged["certificate"]["subject"] == r.json()["certificate"]["issuer"]
    forged_pdf = seal_and_sign(api, forged["id"], "int_sub2")
    assert signer_cert(forged_pdf).subject == signer_cert(genuine_pdf).subject  # same names

    def check_genuine(report: dict[str, Any]) -> None:
        assert report["ok"], report
        sig = only_sig(report)
        assert sig["seal"] == {"id": genuine_id, "tenant": "sub1"}
        assert sig["trust_root"]["kind"] == "internal-ca"
        assert sig["trust_root"]["tenant"] == "sub1"
        assert sig["issuer"] == sig["trust_root"]["subject"]
        assert "Sealtrail internal" in sig["issuer"]

    def check_forged(report: dict[str, Any]) -> None:
        assert not report["ok"], report
        assert "certificate_untrusted" in report["reasons"]
        sig = only_sig(report)
        assert not sig["trusted"]
        assert sig["trust_root"] is None
        assert sig["seal"] == {"id": forged["id"], "tenant": "sub2"}
        assert sig["issuer"] == sig["subject"]  # self-signed, and the result says so

    for key in ("aud_hq", "int_sub2", "adm_hq"):
        check_forged(pdf_post(api, "/v1/pdf/validate", forged_pdf, key).json())
    check_genuine(pdf_post(api, "/v1/pdf/validate", genuine_pdf, "aud_hq").json())
    # scope=all: admins only; other keys are refused rather than silently narrowed
    assert_problem(pdf_post(api, "/v1/pdf/validate", genuine_pdf, "aud_other", scope="all"), 403)
    assert_problem(pdf_post(api, "/v1/pdf/validate", genuine_pdf, "int_sub1", scope="all"), 403)
    check_forged(pdf_post(api, "/v1/pdf/validate", forged_pdf, "adm_hq", scope="all").json())
    check_genuine(pdf_post(api, "/v1/pdf/validate", genuine_pdf, "adm_hq", scope="all").json())
    # Another tenant's key does not trust sub1's internal CA, but still learns whose seal it is
    other = pdf_post(api, "/v1/pdf/validate", genuine_pdf, "aud_other").json()
    assert not other["ok"]
    assert only_sig(other)["trust_root"] is None
    # The public route, without a key: which tenant's seal, and nothing more of the registry
    pub = pdf_post(api, "/v1/public/pdf/validate", genuine_pdf, None)
    assert pub.status == 200, pub
    check_genuine(pub.json())
    check_forged(pdf_post(api, "/v1/public/pdf/validate", forged_pdf, None).json())
    assert set(only_sig(pub.json())["seal"]) == {"id", "tenant"}  # no name, status, remarks
    # The operator's CLI says who too, and fails the forgery
    (tmp_path / "forged.pdf").write_bytes(forged_pdf)
    (tmp_path / "genuine.pdf").write_bytes(genuine_pdf)
    bad = validate_cli(svc, tmp_path / "forged.pdf", **settings)
    assert bad.returncode == 1, bad.stderr
    check_forged(json.loads(bad.stdout))
    good = validate_cli(svc, tmp_path / "genuine.pdf", **settings)
    assert good.returncode == 0, good.stderr
    check_genuine(json.loads(good.stdout))
    text = subprocess.run(
        [SEALTRAIL, "--data-dir", str(svc.data_dir), "validate-pdf", str(tmp_path / "forged.pdf")],
        capture_output=True, text=True, timeout=120, env=env_for(**settings),
    )  # fmt: skip
    assert text.returncode == 1
    assert f"seal:       {forged['id']} of tenant sub2" in text.stdout, text.stdout
    assert "trust root: none (untrusted)" in text.stdout, text.stdout


def test_configured_and_tenant_cas(start_service: StartService, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    root = issue(name("Example Qualified Seal CA"), ca=True, now=now)
    own = issue(name("Acme Shanghai own CA", "Acme Shanghai"), ca=True, now=now)
    (tmp_path / "root.pem").write_bytes(pem(root[0]))
    (tmp_path / "tenants" / "sub1").mkdir(parents=True)
    (tmp_path / "tenants" / "sub1" / "own.pem").write_bytes(pem(own[0]))
    svc = start_service(
        seal_ca_files=str(tmp_path / "root.pem"), seal_tenant_ca_dir=str(tmp_path / "tenants")
    )
    api = Api(svc)
    # A tenant's own CA vouches for its seals only
    own_seal = seal_from(own, "Acme Shanghai seal", now)
    p = assert_problem(import_seal(api, "sub2", own_seal), 400, detail="tenant 'sub2'")
    assert p["type"].endswith("/seal_certificate_untrusted")
    r = import_seal(api, "sub1", own_seal)
    assert r.status == 201, r
    assert r.json()["source"] == "pkcs12"
    own_report = pdf_post(api, "/v1/public/pdf/validate",
                          seal_and_sign(api, r.json()["id"], "int_sub1"), None).json()  # fmt: skip
    assert own_report["ok"], own_report
    assert only_sig(own_report)["trust_root"]["kind"] == "tenant-ca"
    # A seal under the configured CA: trusted, the root named; self-signed: refused
    bundle = seal_from(root, "Acme Beijing seal", now)
    r = import_seal(api, "sub2", bundle)
    assert r.status == 201, r
    seal_id = r.json()["id"]
    before = seal_and_sign(api, seal_id, "int_sub2")
    rep = pdf_post(api, "/v1/public/pdf/validate", before, None).json()
    assert rep["ok"], rep
    sig = only_sig(rep)
    assert sig["trust_root"] == {
        "subject": root[0].subject.rfc4514_string(),
        "sha256": sig["trust_root"]["sha256"],
        "kind": "configured",
        "tenant": None,
    }
    assert sig["seal"] == {"id": seal_id, "tenant": "sub2"}
    assert_problem(import_seal(api, "sub2", self_signed_copy(bundle.certificate, now)), 400)
    # Revoked in the registry: what was signed before stays valid, what is signed after
    # (here with the key the seal holder still has) fails as revoked
    r = api.post(f"/v1/seals/{seal_id}/revoke", {"reason": "key compromised"}, key="adm_hq")
    assert r.status == 200, r
    assert pdf_post(api, "/v1/public/pdf/validate", before, None).json()["ok"]
    tsa_root = x509.load_pem_x509_certificate((svc.data_dir / "devtsa" / "ca.pem").read_bytes())
    policy = SigningPolicy((f"{svc.url}/devtsa/",), (root[0],), (tsa_root,))
    after = sign_pdf(make_pdf(1), bundle, Placement("Late", page=0, box=(40, 40, 180, 180)),
                     policy, level=SignatureLevel.B_T)  # fmt: skip
    late = pdf_post(api, "/v1/public/pdf/validate", after, None).json()
    assert late["status"] == "failed", late
    assert "certificate_revoked" in late["reasons"]
    assert only_sig(late)["seal"] == {"id": seal_id, "tenant": "sub2"}


def test_public_validation_is_rate_limited(start_service: StartService) -> None:
    svc = start_service(public_pdf_rate_limit="2")
    api = Api(svc)
    pdf = make_pdf(1)
    for _ in range(2):
        r = pdf_post(api, "/v1/public/pdf/validate", pdf, None)
        assert r.status == 200, r
        assert r.json()["reasons"] == ["no_signatures"]
    assert_problem(pdf_post(api, "/v1/public/pdf/validate", pdf, None), 429)
