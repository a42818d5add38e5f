"""A package built once per module from a real ledger and a real development TSA."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from sealtrail.export.evidence import Evidence, Selection

from .ledgerkit import DOC, Kit, contract_history, open_kit, run

STREAM = "contract:2026-0001"


@dataclass
class Built:
    kit: Kit
    data: bytes
    evidence: Evidence
    fingerprint: str

    @property
    def roots(self) -> list[x509.Certificate]:
        return [self.kit.tsa_ca, self.kit.seal.ca]

    @property
    def ledger_key(self) -> str:
        return self.kit.ledger.verifier.vkey


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    base: Path = tmp_path_factory.mktemp("pkg")

    kit = open_kit(base)
    fp = contract_history(kit, STREAM)
    run(kit.stamp())
    data, ev = run(kit.package(Selection.of_stream("sub1", STREAM), {fp: DOC}))
    try:
        yield Built(kit, data, ev, fp)
    finally:
        kit.ledger.close_sync()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ganache: needs Ganache from node_modules (npm ci)")
