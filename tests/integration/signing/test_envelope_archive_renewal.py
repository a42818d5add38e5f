"""Renewing a completed envelope's archive timestamp (issue 18, TIMESTAMPS.md §8): the renewer
appends a document timestamp, stores the renewed PDF in place of the old one and records an
``envelope:archive-renewed`` event naming both fingerprints, in one transaction; a PDF that
changed meanwhile is left alone; a PDF not yet due is not touched."""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from sealtrail import backend
from sealtrail.api.archive_renewal import EnvelopeArchiveRenewer
from sealtrail.core.errors import ConflictError
from sealtrail.seals.outbox import outbox_event
from sealtrail.signing.archive import archive_state
from sealtrail.signing.validate import validate_pdf

from ..api.client import Api
from ..service import Service
from .test_envelope_parties import _create, _sign, make_seal


def _completed(api: Api) -> str:
    first, second = make_seal(api, "sub1"), make_seal(api, "sub1", kind="organization")
    eid: str = _create(api, "int_sub1", "parallel", first["id"], second["id"]).json()["id"]
    assert _sign(api, eid, first["id"], "int_sub1").status == 200
    assert _sign(api, eid, second["id"], "int_sub1").json()["status"] == "completed"
    return eid


def _renewer(svc: Service, margin: timedelta) -> tuple[EnvelopeArchiveRenewer, x509.Certificate]:
    tsa = x509.load_pem_x509_certificate((svc.data_dir / "devtsa" / "ca.pem").read_bytes())
    stores = backend.open_sqlite(svc.data_dir / "ledger.db")
    r = EnvelopeArchiveRenewer(
        stores.seals, [f"{svc.url}/devtsa/"], [tsa], lambda: datetime.now(UTC), margin=margin
    )
    return r, tsa


def _events(api: Api, eid: str, want: int) -> list[dict]:
    deadline = time.monotonic() + 30
    while True:
        got = api.get(f"/v1/streams/envelope:{eid}", "aud_hq", params={"tenant": "sub1"})
        events = got.json()["events"] if got.status == 200 else []
        if len(events) >= want or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def test_a_due_envelope_is_renewed_and_the_ledger_says_so(module_service: Service) -> None:
    api = Api(module_service)
    eid = _completed(api)
    before = api.get(f"/v1/envelopes/{eid}/document", "int_sub1").body
    n = len(_events(api, eid, 1))
    assert archive_state(before) is not None
    # not due with the default margin: nothing happens
    quiet, _ = _renewer(module_service, timedelta(days=90))
    assert asyncio.run(quiet.renew_due()) == 0
    assert api.get(f"/v1/envelopes/{eid}/document", "int_sub1").body == before
    # due when the margin reaches past the TSA certificate's expiry
    renewer, tsa = _renewer(module_service, timedelta(days=100 * 365))
    assert asyncio.run(renewer.renew_due()) >= 1
    assert renewer.stats.renewed >= 1
    after = api.get(f"/v1/envelopes/{eid}/document", "int_sub1").body
    assert after.startswith(before)  # one incremental update: earlier signatures untouched
    state = archive_state(after)
    assert state is not None
    assert state.count == 2
    report = validate_pdf(after, [], [tsa])
    assert report.signatures[-1].level == "B-LTA"
    events = _events(api, eid, n + 1)
    renewed = [e for e in events if e["type"] == "envelope:archive-renewed"]
    assert len(renewed) == 1, events
    docs = {d["name"]: d["sha256"] for d in renewed[0]["documents"]}
    assert docs == {
        "before": hashlib.sha256(before).hexdigest(),
        "after": hashlib.sha256(after).hexdigest(),
    }
    assert renewed[0]["attributes"]["reason"] == "certificate_expiring"


def test_a_pdf_that_changed_meanwhile_is_not_replaced(module_service: Service) -> None:
    api = Api(module_service)
    eid = _completed(api)
    stores = backend.open_sqlite(module_service.data_dir / "ledger.db")
    pdf = stores.seals.envelope_document(eid)
    assert pdf is not None
    event = outbox_event("sub1", {"stream": f"envelope:{eid}", "type": "view",
                                  "actor": {"id": "x"}})  # fmt: skip
    pending = len(stores.seals.pending_events())
    with pytest.raises(ConflictError):
        stores.seals.renew_envelope_document(eid, b"\0" * 32, pdf + b"%x", [event])
    assert stores.seals.envelope_document(eid) == pdf
    assert len(stores.seals.pending_events()) <= pending  # nothing queued by the refusal
    with pytest.raises(ConflictError):  # an unknown or open envelope
        stores.seals.renew_envelope_document("nope", b"\0" * 32, pdf, [])
