"""The certificate of evidence (report.pdf) is sealed PAdES B-LTA: a document timestamp over the
DSS, seen by our validator, by pyHanko's AdES LTA validation, and in the verifier's check."""

from __future__ import annotations

import asyncio
import io
import zipfile

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.ades import AdESPassed, ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from sealtrail.signing.archive import archive_state
from sealtrail.signing.formats import asn1_cert
from sealtrail.signing.validate import validate_pdf
from sealtrail.verifier import layout
from sealtrail.verifier.verify import verify_package

from .conftest import Built


def _report(built: Built) -> bytes:
    with zipfile.ZipFile(io.BytesIO(built.data)) as z:
        return z.read(layout.REPORT_PDF)


def test_report_is_b_lta(built: Built) -> None:
    pdf = _report(built)
    rep = validate_pdf(pdf, [built.kit.seal.ca], [built.kit.tsa_ca])
    assert rep.ok, rep
    (sig,) = rep.signatures
    assert sig.level == "B-LTA"
    state = archive_state(pdf)
    assert state is not None
    assert state.count == 1


def test_pyhanko_ades_lta_passes_on_the_report(built: Built) -> None:
    roots = [asn1_cert(built.kit.seal.ca), asn1_cert(built.kit.tsa_ca)]
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=roots),
        revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy.from_legacy("soft-fail")),
    )
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy,
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )

    async def run() -> tuple[object, object]:
        sig = PdfFileReader(io.BytesIO(_report(built))).embedded_regular_signatures[0]
        res = await ades_lta_validation(sig, spec)
        return res.ades_subindic, res.oldest_evidence_record_timestamp

    indic, evidence = asyncio.run(run())
    assert indic is AdESPassed.OK
    assert evidence is not None


def test_verifier_reports_the_level(built: Built) -> None:
    rep = verify_package(built.data, trust_roots=built.roots, ledger_key=built.ledger_key)
    check = rep.check("report.signature")
    assert check.status.value == "passed", rep.to_text()
    assert check.detail.endswith("PAdES B-LTA"), check.detail
