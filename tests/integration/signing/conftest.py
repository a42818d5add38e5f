"""Fixtures for signing tests: a real development TSA over HTTP, an internal CA with seals, and
real PDFs signed once per session (the negative tests mutate copies of them)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509

from sealtrail.anchoring.devtsa import start_tsa
from sealtrail.signing import pki
from sealtrail.signing.appearance import SealKind, generate_seal
from sealtrail.signing.sign import Placement, SignatureLevel, SigningPolicy, sign_pdf

from ...unit.signing.pdfs import make_pdf
from ..loop_thread import LoopThread

T = TypeVar("T")
REMARKS = "仅限采购合同 / purchase contracts with Beta GmbH only"


@dataclass(frozen=True)
class Tsa:
    url: str
    root: x509.Certificate
    root_pem: Path


@dataclass(frozen=True)
class Seals:
    ca: pki.InternalCa
    contract: pki.CertifiedKey  # a round contract seal of Acme
    legal_person: pki.CertifiedKey  # a square legal-person seal of Acme
    other_ca: pki.InternalCa  # another tenant's CA: not a trust root of Acme's documents
    crl: x509.CertificateRevocationList


@pytest.fixture(scope="session")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tsa]:
    lt = LoopThread()
    running = lt.run(start_tsa(tmp_path_factory.mktemp("signing-tsa") / "tsa"))
    try:
        yield Tsa(running.url, running.tsa.ca_cert, running.tsa.ca_pem_path)
    finally:
        lt.run(running.close())
        lt.close()


@pytest.fixture(scope="session")
def seals() -> Seals:
    now = datetime.now(UTC)
    ca = pki.create_internal_ca("Acme Ltd", now=now)
    contract = pki.issue_seal_certificate(
        ca,
        seal_name="Acme Ltd 合同专用章",
        kind=SealKind.CONTRACT,
        seal_id="seal-contract",
        now=now,
        crl_url="http://sealtrail.invalid/crl/acme.crl",
    )
    legal = pki.issue_seal_certificate(
        ca,
        seal_name="李雷",
        kind=SealKind.LEGAL_PERSON,
        seal_id="seal-legal",
        now=now,
        crl_url="http://sealtrail.invalid/crl/acme.crl",
    )
    other = pki.create_internal_ca("Mallory Inc", now=now)
    return Seals(ca, contract, legal, other, pki.issue_crl(ca, [], now=now))


def policy_for(tsa: Tsa, seals: Seals, *urls: str) -> SigningPolicy:
    return SigningPolicy(
        timestamper_urls=urls or (tsa.url,),
        trust_roots=(seals.ca.certificate,),
        tsa_trust_roots=(tsa.root,),
        crls=(seals.crl,),
    )


@pytest.fixture(scope="session")
def contract_png() -> bytes:
    return generate_seal(
        SealKind.CONTRACT, "Acme Ltd", purpose="合同专用章", code="91330100MA2ABCDE1X"
    )


@pytest.fixture(scope="session")
def signed_bt(tsa: Tsa, seals: Seals, contract_png: bytes) -> bytes:
    """A one-page PDF sealed once at B-T with a visible contract seal and remarks."""
    return sign_pdf(
        make_pdf(1),
        seals.contract,
        Placement("AcmeSeal", page=0, box=(380, 80, 530, 230)),
        policy_for(tsa, seals),
        appearance_png=contract_png,
        reason="Contract approved",
        location="Hangzhou",
        remarks=REMARKS,
        level=SignatureLevel.B_T,
    )


@pytest.fixture(scope="session")
def signed_lt(tsa: Tsa, seals: Seals, contract_png: bytes) -> bytes:
    """A three-page PDF sealed once at B-LT."""
    return sign_pdf(
        make_pdf(3),
        seals.contract,
        Placement("AcmeSeal", page=2, box=(380, 80, 530, 230)),
        policy_for(tsa, seals),
        appearance_png=contract_png,
        reason="Contract approved",
        remarks=REMARKS,
        level=SignatureLevel.B_LT,
    )
