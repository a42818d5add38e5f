"""PAdES B-LTA: sealing with a document timestamp over the DSS, the level as pyHanko's AdES
validation and our report see it, and renewing the archive timestamp with a clock set in the
future, against a development TSA whose certificate is close to expiry."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
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

from sealtrail.anchoring.devtsa import start_tsa
from sealtrail.signing.archive import (
    archive_state,
    async_renew_archive,
    renewal_reason,
)
from sealtrail.signing.errors import SigningError
from sealtrail.signing.formats import asn1_cert
from sealtrail.signing.sign import Placement, SignatureLevel, sign_pdf
from sealtrail.signing.validate import validate_pdf

from ...unit.signing.pdfs import make_pdf
from ..loop_thread import LoopThread
from .conftest import Seals, Tsa, policy_for

T0 = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Running:
    url: str
    root: x509.Certificate
    tsa_cert: x509.Certificate


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


@pytest.fixture(scope="module")
def short_clock() -> Clock:
    return Clock(T0)


@pytest.fixture(scope="module")
def short_tsa(
    loop: LoopThread, short_clock: Clock, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """A development TSA whose certificate lives 100 days from T0."""
    d = tmp_path_factory.mktemp("short-tsa") / "tsa"
    running = loop.run(start_tsa(d, clock=short_clock, tsa_lifetime=timedelta(days=100)))
    yield Running(running.url, running.tsa.ca_cert, running.tsa.tsa_cert)
    loop.run(running.close())


@pytest.fixture(scope="module")
def later_clock() -> Clock:
    return Clock(T0 + timedelta(days=80))


@pytest.fixture(scope="module")
def later_tsa(
    loop: LoopThread, later_clock: Clock, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """Another TSA, set up 80 days after T0 with a ten-year certificate (the renewal's)."""
    d: Path = tmp_path_factory.mktemp("later-tsa") / "tsa"
    running = loop.run(start_tsa(d, clock=later_clock))
    yield Running(running.url, running.tsa.ca_cert, running.tsa.tsa_cert)
    loop.run(running.close())


def _ades_spec(roots: list[x509.Certificate]) -> PdfSignatureValidationSpec:
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=[asn1_cert(c) for c in roots]),
        revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy.from_legacy("soft-fail")),
    )
    gathering = RevocationInfoGatheringSpec(
        online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
    )
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(cert_validation_policy=policy, revinfo_gathering_policy=gathering)
    )


def _pyhanko_lta(pdf: bytes, roots: list[x509.Certificate]) -> tuple[object, datetime | None]:
    async def run() -> tuple[object, datetime | None]:
        sig = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures[0]
        res = await ades_lta_validation(sig, _ades_spec(roots))
        return res.ades_subindic, res.oldest_evidence_record_timestamp

    return asyncio.run(run())


@pytest.fixture(scope="module")
def signed_lta(tsa: Tsa, seals: Seals) -> bytes:
    return sign_pdf(
        make_pdf(1),
        seals.contract,
        Placement("AcmeSeal"),
        policy_for(tsa, seals),
        level=SignatureLevel.B_LTA,
    )


def test_b_lta_seal_has_a_document_timestamp_over_the_dss(
    signed_lta: bytes, tsa: Tsa, seals: Seals
) -> None:
    reader = PdfFileReader(io.BytesIO(signed_lta))
    (stamp,) = reader.embedded_timestamp_signatures
    assert stamp.sig_object["/SubFilter"] == "/ETSI.RFC3161"
    assert str(stamp.field_name) == "SealtrailArchive1"
    assert "/DSS" in reader.root
    report = validate_pdf(signed_lta, [seals.ca.certificate], [tsa.root])
    assert report.ok, report
    (sig,) = report.signatures
    assert sig.level == "B-LTA"
    assert len(sig.archive_times) == 1
    state = archive_state(signed_lta)
    assert state is not None
    assert state.count == 1
    assert state.digest == "sha256"


def test_pyhanko_ades_reports_lta(signed_lta: bytes, tsa: Tsa, seals: Seals) -> None:
    indic, evidence = _pyhanko_lta(signed_lta, [seals.ca.certificate, tsa.root])
    assert indic is AdESPassed.OK
    assert evidence is not None  # the document timestamp chain is pyHanko's evidence record


def test_levels_of_b_t_and_b_lt(signed_bt: bytes, signed_lt: bytes, tsa: Tsa, seals: Seals) -> None:
    assert [
        s.level for s in validate_pdf(signed_bt, [seals.ca.certificate], [tsa.root]).signatures
    ] == ["B-T"]
    assert [
        s.level for s in validate_pdf(signed_lt, [seals.ca.certificate], [tsa.root]).signatures
    ] == ["B-LT"]
    assert archive_state(signed_bt) is None
    assert renewal_reason(None, T0, timedelta(days=90)) == "no_archive_timestamp"


def test_document_timestamp_from_an_untrusted_tsa_is_not_lta(
    signed_lta: bytes, seals: Seals
) -> None:
    # the same file, validated against another TSA root: the archive timestamp proves nothing
    report = validate_pdf(signed_lta, [seals.ca.certificate], [seals.other_ca.certificate])
    (sig,) = report.signatures
    assert sig.level == "B-LT"
    assert sig.archive_times == ()


def _lta_with(url: str, root: x509.Certificate, seals: Seals, loop: LoopThread) -> bytes:
    from sealtrail.signing.sign import SigningPolicy, async_sign_pdf

    policy = SigningPolicy((url,), (seals.ca.certificate,), (root,), crls=(seals.crl,))
    return loop.run(
        async_sign_pdf(make_pdf(1), seals.contract, Placement("AcmeSeal"), policy,
                       level=SignatureLevel.B_LTA)
    )  # fmt: skip


def test_renewal_in_the_future_before_the_tsa_certificate_expires(
    short_tsa: Running, later_tsa: Running, later_clock: Clock, seals: Seals, loop: LoopThread
) -> None:
    pdf = _lta_with(short_tsa.url, short_tsa.root, seals, loop)
    state = archive_state(pdf)
    assert state is not None
    assert state.tsa_not_after == short_tsa.tsa_cert.not_valid_after_utc
    margin = timedelta(days=30)
    assert renewal_reason(state, T0 + timedelta(days=10), margin) is None
    # 80 days later, 20 days before the certificate expires: inside the 30-day margin
    at = later_clock.now
    assert renewal_reason(state, at, margin) == "certificate_expiring"
    roots = [short_tsa.root, later_tsa.root]
    renewed = loop.run(async_renew_archive(pdf, [later_tsa.url], roots, at=at))
    assert renewed.startswith(pdf)  # an incremental update: the B-LTA file is untouched
    new = archive_state(renewed)
    assert new is not None
    assert new.count == 2
    assert abs(new.gen_time - at) < timedelta(minutes=5)  # the later TSA's clock
    assert new.tsa_not_after == later_tsa.tsa_cert.not_valid_after_utc
    assert renewal_reason(new, at, margin) is None
    # 200 days after T0 the first TSA certificate has expired: only the renewal keeps the
    # signature's archive chain valid
    future = T0 + timedelta(days=200)
    ca = [seals.ca.certificate]
    without = validate_pdf(pdf, ca, roots, at_time=future).signatures[0]
    assert without.archive_times == ()
    assert without.level == "B-LT"
    with_chain = validate_pdf(renewed, ca, roots, at_time=future).signatures[0]
    assert with_chain.level == "B-LTA"
    assert [abs(t - at) < timedelta(minutes=5) for t in with_chain.archive_times] == [True]
    # (pyHanko's AdES validation runs at the real time, before the renewal's genTime: it
    # rightly refuses a timestamp from the future, so it is not asked here)


def test_renewal_after_the_certificate_expired_is_refused(
    short_tsa: Running, later_tsa: Running, seals: Seals, loop: LoopThread
) -> None:
    pdf = _lta_with(short_tsa.url, short_tsa.root, seals, loop)
    too_late = T0 + timedelta(days=120)
    state = archive_state(pdf)
    assert renewal_reason(state, too_late, timedelta(days=30)) == "certificate_expiring"
    with pytest.raises(SigningError, match="does not validate"):
        loop.run(
            async_renew_archive(pdf, [later_tsa.url], [short_tsa.root, later_tsa.root], at=too_late)
        )


def test_renewal_when_the_digest_is_deprecated(
    signed_lta: bytes, tsa: Tsa, loop: LoopThread
) -> None:
    state = archive_state(signed_lta)
    now = datetime.now(UTC)
    assert renewal_reason(state, now, timedelta(days=90), deprecated={"SHA256"}) == (
        "digest_deprecated"
    )
    renewed = loop.run(async_renew_archive(signed_lta, [tsa.url], [tsa.root], at=now,
                                           digest="sha512"))  # fmt: skip
    new = archive_state(renewed)
    assert new is not None
    assert new.count == 2
    assert new.digest == "sha512"
    assert renewal_reason(new, now, timedelta(days=90), deprecated={"sha256"}) is None


def test_renewal_rejects_bad_arguments(signed_lta: bytes, tsa: Tsa, loop: LoopThread) -> None:
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="digest"):
        loop.run(async_renew_archive(signed_lta, [tsa.url], [tsa.root], at=now, digest="md5"))
    with pytest.raises(ValueError, match="timezone"):
        loop.run(
            async_renew_archive(signed_lta, [tsa.url], [tsa.root], at=now.replace(tzinfo=None))
        )
