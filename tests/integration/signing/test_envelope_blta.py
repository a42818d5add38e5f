"""The signature that completes an envelope makes its final PDF PAdES B-LTA: the DSS (the
tenant CA's CRL and the certificates) and a document timestamp over it; earlier signatures of
the envelope stay B-T (their revisions were the envelope's drafts)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader

from sealtrail.signing.archive import archive_state, renewal_reason
from sealtrail.signing.validate import validate_pdf

from ..api.client import Api
from ..service import Service
from .test_envelope_parties import _create, _sign, make_seal


def test_completed_envelope_is_b_lta(module_service: Service) -> None:
    api = Api(module_service)
    first, second = make_seal(api, "sub1"), make_seal(api, "sub1", kind="organization")
    eid = _create(api, "int_sub1", "sequential", first["id"], second["id"]).json()["id"]
    assert _sign(api, eid, first["id"], "int_sub1").status == 200
    draft = api.get(f"/v1/envelopes/{eid}/document", "int_sub1").body
    assert archive_state(draft) is None  # not complete yet: B-T, no document timestamp
    done = _sign(api, eid, second["id"], "int_sub1")
    assert done.json()["status"] == "completed", done
    pdf = api.get(f"/v1/envelopes/{eid}/document", "int_sub1").body
    assert pdf.startswith(draft)
    reader = PdfFileReader(io.BytesIO(pdf))
    assert len(reader.embedded_timestamp_signatures) == 1
    dss = reader.root["/DSS"]
    assert len(dss["/CRLs"]) >= 1  # the tenant CA's CRL travels with the file
    tsa = x509.load_pem_x509_certificate(
        (module_service.data_dir / "devtsa" / "ca.pem").read_bytes()
    )
    levels = [s.level for s in validate_pdf(pdf, [], [tsa]).signatures]
    assert levels[-1] == "B-LTA", levels
    state = archive_state(pdf)
    assert state is not None
    now = datetime.now(UTC)
    assert renewal_reason(state, now, timedelta(days=90)) is None
    assert renewal_reason(state, now, timedelta(days=20 * 365)) == "certificate_expiring"
