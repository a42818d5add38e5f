"""A real ledger in a temporary data directory, timestamped by a real development TSA, and
certification packages built from it with the library (no HTTP service)."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sealtrail import backend
from sealtrail.anchoring.devtsa import load_or_create, start_tsa
from sealtrail.anchoring.tsa import TimestampClient
from sealtrail.backend import Stores
from sealtrail.core.event import format_time, parse_event_input
from sealtrail.export.evidence import Evidence, Selection
from sealtrail.export.package import PackageInputs
from sealtrail.export.service_seal import ServiceSeal, load_service_seal, make_package
from sealtrail.ledger.log import Ledger

MASTER_KEY = bytes(range(32))
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
DOC = b"%PDF-1.7 the contract, signed\n"


def event(stream: str, type_: str, actor: str, **extra: Any) -> dict[str, Any]:
    """An integrator's event input."""
    return {"stream": stream, "type": type_, "actor": {"id": actor, **extra.pop("a", {})}, **extra}


@dataclass
class Kit:
    """A ledger, its store, a TSA, and the service seal."""

    data_dir: Path
    ledger: Ledger
    store: Stores
    tsa_dir: Path
    tsa_ca: x509.Certificate
    seal: ServiceSeal

    @property
    def tsa_ca_pem(self) -> bytes:
        return self.tsa_ca.public_bytes(serialization.Encoding.PEM)

    def append(self, tenant: str, events: list[dict[str, Any]]) -> None:
        self.ledger.append(tenant, [parse_event_input(e) for e in events])

    def seal_checkpoint(self) -> int:
        cp, _ = self.ledger.seal()
        assert cp is not None
        return cp.size

    async def stamp(self) -> None:
        running = await start_tsa(self.tsa_dir)
        try:
            client = TimestampClient([running.url], [self.tsa_ca])
            for cp in self.store.timestamps.untimestamped():
                ts = await client.timestamp(cp.note.encode())
                self.store.timestamps.put_timestamp(
                    cp.size, ts.token, format_time(ts.gen_time), ts.serial, ts.tsa,
                    format_time(NOW),
                )  # fmt: skip
        finally:
            await running.runner.cleanup()

    def inputs(self, documents: dict[str, bytes] | None = None) -> PackageInputs:
        return PackageInputs(
            created_at="2026-11-25T08:00:00.000000Z",
            created_by={"operator": "test"},
            tsa_roots_pem=self.tsa_ca_pem,
            service_seal_pem=self.seal.pem(),
            portal_url="https://sealtrail.example",
            documents=documents or {},
        )

    async def package(
        self, selection: Selection, documents: dict[str, bytes] | None = None
    ) -> tuple[bytes, Evidence]:
        buf = io.BytesIO()
        running = await start_tsa(self.tsa_dir)  # in this event loop: the report's B-T stamp
        try:
            ev = await make_package(
                self.ledger, self.store, selection, self.inputs(documents), self.seal,
                [running.url], [self.tsa_ca], buf,
            )  # fmt: skip
        finally:
            await running.runner.cleanup()
        return buf.getvalue(), ev


def open_kit(base: Path) -> Kit:
    """A fresh ledger in ``base``, a development TSA's directory, the service seal."""
    data = base / "data"
    backend.init(data)
    store, signer = backend.open_store(data)
    ca = load_or_create(base / "devtsa").ca_cert
    seal = load_service_seal(data, MASTER_KEY, now=datetime.now(UTC))
    return Kit(data, Ledger(store.ledger, signer), store, base / "devtsa", ca, seal)


def contract_history(kit: Kit, stream: str = "contract:2026-0001") -> str:
    """Five events of one contract (Chinese names included) across three checkpoints, plus
    noise in other streams and tenants; returns the document's fingerprint."""
    import hashlib

    fp = hashlib.sha256(DOC).hexdigest()
    docs = [{"name": "contract.pdf", "sha256": fp}]
    kit.append(
        "sub1",
        [event(stream, "initiate", "u-1", a={"name": "李雷", "org": "Acme 上海"}, documents=docs)],
    )
    kit.append("sub1", [event("contract:other", "view", "u-9")])
    kit.seal_checkpoint()
    kit.append("sub1", [event(stream, "approve", "u-2", a={"name": "韩梅梅"})])
    kit.append("other", [event(stream, "view", "x-1")])  # same stream name, other tenant
    kit.append(
        "sub1",
        [
            event(
                stream,
                "sign",
                "u-1",
                documents=docs,
                attributes={"seal_id": "seal-1", "ip": "203.0.113.7"},
            )
        ],
    )
    kit.seal_checkpoint()
    kit.append("sub1", [event(stream, "view", "u-3"), event(stream, "download", "u-3")])
    kit.seal_checkpoint()
    return fp


def run(coro: Any) -> Any:
    """Run a coroutine to completion (tests are synchronous)."""
    return asyncio.run(coro)
