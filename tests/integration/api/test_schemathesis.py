"""Schemathesis against the live service's own /v1/openapi.json.

Every operation the document describes is fuzzed (positive and negative generation, about 25
examples each) with a key of the role the operation is for, and every response must pass:
not_a_server_error, status_code_conformance, content_type_conformance,
response_schema_conformance and response_headers_conformance. The service is seeded first (two
tenants' events, a sealed checkpoint, a known fingerprint) so reads reach their 200 responses.

One pytest item per operation (a static table, checked against the live document), so a real
spec/service mismatch is marked on exactly that operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ...unit.signing.pdfs import make_pdf
from ..service import Service
from .client import Api, event, sha


def zip_of(files: dict[str, bytes]) -> bytes:
    """A ZIP holding ``files``."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
MAX_EXAMPLES = 25

# (method, path, key name or None): every operation of the document, with the role it is for.
OPERATIONS: list[tuple[str, str, str | None]] = [
    ("POST", "/v1/events", "int_sub1"),
    ("GET", "/v1/events", "aud_hq"),
    ("POST", "/v1/events/batch", "int_sub1"),
    ("GET", "/v1/events/{index}", "aud_hq"),
    ("GET", "/v1/events/{index}/proof", "aud_hq"),
    ("GET", "/v1/streams/{stream}", "aud_hq"),
    ("GET", "/v1/streams/{stream}/map-proof", "aud_hq"),
    ("GET", "/v1/export", "aud_hq"),
    ("GET", "/v1/streams/{stream}/package", "aud_hq"),
    ("GET", "/v1/package", "aud_hq"),
    ("POST", "/v1/public/packages/verify", None),
    ("GET", "/v1/checkpoints/latest", "aud_hq"),
    ("GET", "/v1/checkpoints/{size}", "aud_hq"),
    ("GET", "/v1/checkpoints/consistency", "aud_hq"),
    ("GET", "/v1/public/fingerprints/{sha256}", None),
    ("GET", "/v1/console/whoami", "aud_hq"),
    ("GET", "/v1/console/timeline", "aud_hq"),
    ("GET", "/v1/console/checkpoints", "aud_hq"),
    ("GET", "/v1/console/group", "aud_hq"),
    ("POST", "/v1/tenants", "adm_hq"),
    ("GET", "/v1/tenants", "adm_hq"),
    ("POST", "/v1/keys", "adm_hq"),
    ("GET", "/v1/keys", "adm_hq"),
    ("DELETE", "/v1/keys/{id}", "adm_hq"),
    ("GET", "/healthz", None),
    ("GET", "/readyz", None),
    ("GET", "/metrics", None),
    ("GET", "/v1/openapi.json", None),
    ("POST", "/v1/seals", "adm_hq"),
    ("GET", "/v1/seals", "aud_hq"),
    ("GET", "/v1/seals/{id}", "aud_hq"),
    ("GET", "/v1/seals/{id}/appearance", "aud_hq"),
    ("POST", "/v1/seals/{id}/suspend", "adm_hq"),
    ("POST", "/v1/seals/{id}/resume", "adm_hq"),
    ("POST", "/v1/seals/{id}/revoke", "adm_hq"),
    ("POST", "/v1/seals/{id}/sign", "int_sub1"),
    ("GET", "/v1/seal-policy", "adm_hq"),
    ("PUT", "/v1/seal-policy", "adm_hq"),
    ("POST", "/v1/seal-requests", "int_sub1"),
    ("GET", "/v1/seal-requests", "aud_hq"),
    ("GET", "/v1/seal-requests/{id}", "aud_hq"),
    ("POST", "/v1/seal-requests/{id}/approve", "adm_hq"),
    ("POST", "/v1/seal-requests/{id}/reject", "adm_hq"),
    ("GET", "/v1/seal-uses", "aud_hq"),
    ("POST", "/v1/envelopes", "int_sub1"),
    ("GET", "/v1/envelopes/{id}", "aud_hq"),
    ("GET", "/v1/envelopes/{id}/document", "aud_hq"),
    ("POST", "/v1/envelopes/{id}/sign", "int_sub1"),
    ("GET", "/v1/envelope-invitations", "int_sub2"),
    ("POST", "/v1/envelopes/{id}/seal-requests", "int_sub1"),
    ("POST", "/v1/envelopes/{id}/invitations/{position}/accept", "int_sub2"),
    ("POST", "/v1/envelopes/{id}/invitations/{position}/decline", "int_sub2"),
    ("GET", "/v1/envelopes/{id}/validation", "aud_hq"),
    ("POST", "/v1/envelopes/{id}/validate", "aud_hq"),
    # issue 16: the lifecycle and the signer's API (no key: the link's token)
    ("GET", "/v1/envelopes", "aud_hq"),
    ("POST", "/v1/envelopes/{id}/void", "int_sub1"),
    ("POST", "/v1/envelopes/{id}/remind", "int_sub1"),
    ("GET", "/v1/sign/{token}", None),
    ("POST", "/v1/sign/{token}/code", None),
    ("POST", "/v1/sign/{token}/verify", None),
    ("GET", "/v1/sign/{token}/document", None),
    ("GET", "/v1/sign/{token}/pages/{n}.png", None),
    ("POST", "/v1/sign/{token}/viewed", None),
    ("GET", "/v1/sign/{token}/seals", None),
    ("POST", "/v1/sign/{token}/sign", None),
    ("POST", "/v1/sign/{token}/decline", None),
    ("GET", "/v1/sign/{token}/download", None),
    ("POST", "/v1/pdf/validate", "aud_hq"),
    ("POST", "/v1/public/pdf/validate", None),
    ("POST", "/v1/webhooks", "adm_hq"),
    ("GET", "/v1/webhooks", "adm_hq"),
    ("DELETE", "/v1/webhooks/{id}", "adm_hq"),
    ("POST", "/v1/webhooks/{id}/rotate-secret", "adm_hq"),
    ("GET", "/v1/webhooks/{id}/deliveries", "adm_hq"),
    ("POST", "/v1/webhooks/{id}/replay", "adm_hq"),
]
# PDF bodies (seal routes): real PDFs, a truncated one and random bytes.
schemathesis.openapi.media_type(
    "application/pdf",
    st.one_of(
        st.sampled_from([make_pdf(1), make_pdf(2)[:700], b"%PDF-1.7\n%%EOF"]),
        st.binary(max_size=2048),
    ),
)
# Package uploads (public verify): an empty ZIP, a ZIP with a junk manifest, random bytes.
schemathesis.openapi.media_type(
    "application/zip",
    st.one_of(
        st.sampled_from([zip_of({}), zip_of({"manifest.json": b"{}"})]),
        st.binary(max_size=2048),
    ),
)
# Operations where schemathesis found a real mismatch (see the reasons).
KNOWN_MISMATCHES: dict[tuple[str, str], str] = {}


PUBLIC_DOC = sha("public-doc")


@pytest.fixture(scope="module")
def seeded(module_service: Service) -> Service:
    """The module's service with events in two tenants, a sealed checkpoint of size 12, and a
    spare key to revoke."""
    api = Api(module_service)
    for i in range(6):
        api.append(event(i, stream="contract:1", doc=PUBLIC_DOC), key="int_sub1")
        api.append(event(i, stream="contract:2"), key="int_sub2")
    api.wait_for_checkpoint(12)
    r = api.post("/v1/keys", {"tenant": "sub1", "role": "auditor", "label": "spare"}, key="adm_hq")
    assert r.status == 201, r
    module_service.keys["spare_id"] = r.json()["id"]
    return module_service


def anchors(svc: Service, method: str, path: str) -> list[dict[str, Any]]:
    """Fixed parts for an operation, so that generated cases also reach the success path
    (random bodies and path values almost never name a stored event, stream or checkpoint)."""
    valid = event("st", stream="contract:st")
    table: dict[tuple[str, str], list[dict[str, Any]]] = {
        ("POST", "/v1/events"): [{"body": valid}, {"body": {**valid, "client_event_id": "st-1"}}],
        ("POST", "/v1/events/batch"): [{"body": {"events": [valid, event("st2")]}}],
        ("GET", "/v1/events/{index}"): [{"path_parameters": {"index": 3}}],
        ("GET", "/v1/events/{index}/proof"): [{"path_parameters": {"index": 5}}],
        ("GET", "/v1/streams/{stream}"): [
            {"path_parameters": {"stream": "contract:1"}, "query": {"tenant": "sub1"}}
        ],
        ("GET", "/v1/streams/{stream}/map-proof"): [
            {"path_parameters": {"stream": "contract:1"}, "query": {"tenant": "sub1"}}
        ],
        ("GET", "/v1/export"): [{"query": {"tenant": "sub2"}}],
        ("GET", "/v1/streams/{stream}/package"): [
            {"path_parameters": {"stream": "contract:1"}, "query": {"tenant": "sub1"}}
        ],
        ("GET", "/v1/package"): [{"query": {"tenant": "sub2", "stream": "contract:2"}}],
        ("GET", "/v1/checkpoints/{size}"): [{"path_parameters": {"size": 12}}],
        ("GET", "/v1/checkpoints/consistency"): [{"query": {"from": 12}}],
        ("GET", "/v1/public/fingerprints/{sha256}"): [{"path_parameters": {"sha256": PUBLIC_DOC}}],
        ("DELETE", "/v1/keys/{id}"): [{"path_parameters": {"id": svc.keys["spare_id"]}}],
    }
    return table.get((method, path), [])


@pytest.fixture(scope="module")
def live_schema(seeded: Service) -> Any:
    return schemathesis.openapi.from_url(f"{seeded.url}/v1/openapi.json", wait_for_schema=10)


def test_table_covers_every_documented_operation(live_schema: Any) -> None:
    documented = {
        (method.upper(), path)
        for path, item in live_schema.raw_schema["paths"].items()
        for method in item
    }
    assert documented == {(m, p) for m, p, _ in OPERATIONS}


def _params() -> Iterator[Any]:
    for method, path, key in OPERATIONS:
        marks = []
        reason = KNOWN_MISMATCHES.get((method, path))
        if reason:
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        yield pytest.param(method, path, key, id=f"{method} {path}", marks=marks)


@pytest.mark.parametrize(("method", "path", "key"), list(_params()))
def test_operation_conforms(
    live_schema: Any, seeded: Service, method: str, path: str, key: str | None
) -> None:
    operation = live_schema[path][method]
    headers = {} if key is None else {"Authorization": f"Bearer {seeded.keys[key]}"}
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
        *(
            operation.as_strategy(GenerationMode.POSITIVE, **a)
            for a in anchors(seeded, method, path)
        ),
    )

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=seeded.url, headers=headers, checks=CHECKS, timeout=30)

    run()
