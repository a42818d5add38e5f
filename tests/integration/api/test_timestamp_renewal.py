"""The running service renews checkpoint timestamps on the sequencer lease's holder: with a
margin wider than the development TSA certificate's remaining life every chain is due, is
renewed over HTTP by the TSA, stored, and counted in /metrics."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from sealtrail.verifier.timestamp import verify_chain

from .client import Api, event, poll


def test_service_renews_due_chains_and_exposes_metrics(start_service: Any) -> None:
    svc = start_service(renewal_margin_days="3650", renewal_interval="1")
    api = Api(svc)
    api.append(event(1))
    cp = api.wait_for_checkpoint(1)

    def renewed() -> str | None:
        m = api.get("/metrics").body.decode()
        found = re.search(r"^sealtrail_timestamp_renewals_total (\d+)", m, re.M)
        return m if found and float(found.group(1)) >= 1 else None

    metrics = poll(renewed, 30, "a renewal counted in /metrics")
    assert re.search(r"^sealtrail_timestamp_chain_expiry_seconds [1-9]", metrics, re.M)
    assert "sealtrail_timestamp_renewal_failures_total 0.0" in metrics
    assert "sealtrail_timestamp_renewals_late_total 0.0" in metrics
    db = sqlite3.connect(svc.data_dir / "ledger.db")
    token = db.execute("SELECT token FROM timestamps WHERE size = ?", (cp["size"],)).fetchone()[0]
    rows = db.execute(
        "SELECT token FROM timestamp_renewals WHERE size = ? ORDER BY k", (cp["size"],)
    ).fetchall()
    assert rows
    ca = x509.load_pem_x509_certificate((svc.data_dir / "devtsa" / "ca.pem").read_bytes())
    note = cp["note"].encode()
    infos = verify_chain([bytes(token), *(bytes(r[0]) for r in rows)], note, [ca],
                         at=datetime.now(UTC))  # fmt: skip
    assert len(infos) == len(rows) + 1
