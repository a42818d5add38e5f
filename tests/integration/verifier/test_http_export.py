"""Certification packages over HTTP against a real service: a stream's and a query's package,
the SHA-256 header, the export recorded as an event, tenants kept apart, the public check."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from sealtrail.api.error_codes import http_status_for
from sealtrail.export.errors import TooManyEventsError
from sealtrail.export.evidence import Selection, collect
from sealtrail.ledger.store import EventQuery
from sealtrail.verifier.verify import verify_package

from ..api.client import Api, assert_problem, event
from ..service import Service
from .conftest import STREAM, Built

HTTP_STREAM = "contract:http-1"


@pytest.fixture(scope="module")
def api(module_service: Service) -> Api:
    """The module's service with one contract of three events in sub1 (and noise in sub2),
    sealed in a checkpoint."""
    a = Api(module_service)
    for i, etype in enumerate(("initiate", "approve", "sign")):
        a.append(event(i, stream=HTTP_STREAM, etype=etype), key="int_sub1")
    a.append(event(9, stream=HTTP_STREAM, etype="view"), key="int_sub2")
    a.wait_for_checkpoint(4)
    return a


def test_stream_package_is_streamed_hashed_recorded_and_verifies(api: Api) -> None:
    r = api.get(f"/v1/streams/{HTTP_STREAM}/package", "aud_hq", params={"tenant": "sub1"})
    assert r.status == 200, r
    assert r.content_type == "application/zip"
    digest = hashlib.sha256(r.body).hexdigest()
    assert r.headers["X-Sealtrail-Package-SHA256"] == digest
    assert r.headers["Content-Length"] == str(len(r.body))
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="sealtrail-package-contract_http-1-')
    assert disposition.endswith(f'{digest[:12]}.zip"')

    rep = verify_package(r.body)  # roots from the package: trust.* not checked, none failed
    assert not rep.failed(), rep.to_text()
    assert rep.coverage["events"] == 3
    assert rep.coverage["selection"] == {"kind": "stream", "tenant": "sub1", "stream": HTTP_STREAM}
    manifest = zipfile.ZipFile(io.BytesIO(r.body)).read("manifest.json")
    assert b'"role":"auditor"' in manifest
    assert b'"tenant":"hq"' in manifest

    # The export is the stream's newest event: who (the key), what (the package's SHA-256).
    got = api.get(f"/v1/streams/{HTTP_STREAM}", "aud_hq", params={"tenant": "sub1"}).json()
    last = got["events"][-1]
    assert got["chain_intact"] is True
    assert str(last["index"]) == r.headers["X-Sealtrail-Export-Event"]
    assert last["type"] == "export"
    assert last["actor"]["id"].startswith("key:")
    assert last["actor"]["role"] == "auditor"
    assert last["client_event_id"] == f"export:{digest}"
    assert last["attributes"]["package_sha256"] == digest
    assert last["attributes"]["package_format"] == "sealtrail-certification-package/2"
    assert last["attributes"]["events"] == 3
    assert last["attributes"]["exported_by_tenant"] == "hq"


def test_tenants_are_kept_apart(api: Api) -> None:
    path = f"/v1/streams/{HTTP_STREAM}/package"
    # An auditor of another tenant learns nothing: 404, whether it names the tenant or not.
    assert_problem(api.get(path, "aud_other", params={"tenant": "sub1"}), 404)
    assert_problem(api.get(path, "aud_other"), 404, detail="no stream")
    assert_problem(api.get(path, "aud_sub1", params={"tenant": "sub2"}), 404)
    assert_problem(api.get("/v1/streams/contract:none/package", "aud_hq"), 404)
    assert_problem(api.get(path, "int_sub1", params={"tenant": "sub1"}), 403)
    assert_problem(api.get(path, "aud_hq", params={"tenant": "sub1", "x": "1"}), 400)
    # The subsidiary's own auditor reads its stream without naming the tenant.
    r = api.get(path, "aud_sub1")
    assert r.status == 200, r


def test_query_package_covers_the_filter_and_is_recorded_in_the_exports_stream(api: Api) -> None:
    r = api.get("/v1/package", "aud_hq", params={"stream": HTTP_STREAM, "type": "sign"})
    assert r.status == 200, r
    digest = hashlib.sha256(r.body).hexdigest()
    assert r.headers["X-Sealtrail-Package-SHA256"] == digest
    rep = verify_package(r.body)
    assert not rep.failed(), rep.to_text()
    assert rep.coverage["events"] == 1
    assert rep.check("streams.chains").reason == "partial_streams"
    got = api.get("/v1/streams/sealtrail:exports", "aud_hq").json()  # the auditor's tenant
    last = got["events"][-1]
    assert last["attributes"]["package_sha256"] == digest
    assert last["attributes"]["query"] == f"stream={HTTP_STREAM} type=sign"
    assert_problem(api.get("/v1/package", "aud_hq", params={"type": "nothing-such"}), 404)
    assert_problem(api.get("/v1/package", "aud_other", params={"tenant": "sub1"}), 404)
    assert_problem(api.get("/v1/package", "aud_hq", params={"document": "xyz"}), 400)


def test_public_verify_reports_on_an_upload(api: Api) -> None:
    pkg = api.get(f"/v1/streams/{HTTP_STREAM}/package", "aud_sub1").body
    r = api.post("/v1/public/packages/verify", body=pkg, content_type="application/zip")
    assert r.status == 200, r
    report = r.json()
    assert report["package_sha256"] == hashlib.sha256(pkg).hexdigest()
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["trust.ledger_key"] == statuses["trust.roots"] == "passed"  # pinned
    assert "failed" not in statuses.values(), report

    junk = api.post("/v1/public/packages/verify", body=b"PK junk", content_type="application/zip")
    assert junk.status == 200
    assert junk.json()["status"] == "failed"
    assert junk.json()["checks"][0]["id"] == "package.container"
    assert_problem(api.post("/v1/public/packages/verify", body=pkg, content_type="text/plain"), 415)


def test_the_event_cap_is_a_clear_error(built: Built) -> None:
    kit = built.kit
    with pytest.raises(TooManyEventsError, match="at most 3 per package") as info:
        collect(kit.ledger, kit.store, Selection.of_stream("sub1", STREAM), max_events=3)
    assert (http_status_for(info.value), info.value.code) == (400, "too_many_events")
    ev = collect(kit.ledger, kit.store, Selection.of_stream("sub1", STREAM), max_events=5)
    assert len(ev.events) == 5
    query = Selection.of_query(EventQuery(("sub1",)), {"tenant": "sub1"})
    with pytest.raises(TooManyEventsError, match="selects more than 2 events"):
        collect(kit.ledger, kit.store, query, max_events=2)
