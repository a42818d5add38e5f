"""The OpenAPI 3.1 description of every route (served at /v1/openapi.json), assembled from the
fragments that live beside their routes (``routes_*_openapi.py``, and the console's in
:mod:`sealtrail.api.routes_console`); shared builders in :mod:`sealtrail.api.openapi_kit`.

Written by hand next to the routes and checked against the running service by schemathesis in
the test suite: every documented status, content type and body shape is what the service sends.

For client generators every operation has a stable camelCase ``operationId`` (a fragment may set
its own; the others come from :data:`OPERATION_IDS`), every JSON body an example
(:mod:`sealtrail.api.openapi_examples`), every operation a tag, and the served document names
its server (:func:`document`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from sealtrail import __version__
from sealtrail.api import (
    routes_admin_openapi,
    routes_console,
    routes_envelopes_openapi,
    routes_events_openapi,
    routes_maps_openapi,
    routes_packages_openapi,
    routes_public_openapi,
    routes_seals_openapi,
    routes_signer_openapi,
    routes_webhooks_openapi,
)
from sealtrail.api.openapi_examples import add_examples
from sealtrail.api.openapi_kit import PROBLEM

Fragment = tuple[Callable[[], dict[str, Any]], Callable[[], dict[str, Any]]]

#: (paths, schemas) of each route group, in the order the document lists them
FRAGMENTS: tuple[Fragment, ...] = (
    (routes_events_openapi.paths, routes_events_openapi.schemas),
    (routes_maps_openapi.paths, routes_maps_openapi.schemas),
    (routes_packages_openapi.paths, routes_packages_openapi.schemas),
    (routes_public_openapi.paths, routes_public_openapi.schemas),
    (routes_admin_openapi.paths, routes_admin_openapi.schemas),
    (routes_public_openapi.operations_paths, routes_public_openapi.no_schemas),
    (routes_seals_openapi.paths, routes_seals_openapi.schemas),
    (routes_envelopes_openapi.paths, routes_envelopes_openapi.schemas),
    (routes_signer_openapi.paths, routes_signer_openapi.schemas),
    (routes_console.openapi_paths, routes_console.openapi_schemas),
    (routes_webhooks_openapi.paths, routes_webhooks_openapi.schemas),
)

#: (method, path) -> operationId: the names generated clients give their methods. Stable: an
#: SDK's method names depend on them, so rename only with the SDKs (sdk/typescript, sdk/java).
OPERATION_IDS: dict[tuple[str, str], str] = {
    ("post", "/v1/events"): "appendEvent",
    ("get", "/v1/events"): "listEvents",
    ("post", "/v1/events/batch"): "appendEvents",
    ("get", "/v1/events/{index}"): "getEvent",
    ("get", "/v1/events/{index}/proof"): "getEventProof",
    ("get", "/v1/streams/{stream}"): "getStream",
    ("get", "/v1/streams/{stream}/map-proof"): "getStreamMapProof",
    ("get", "/v1/export"): "exportEvents",
    ("get", "/v1/streams/{stream}/package"): "getStreamPackage",
    ("get", "/v1/package"): "getQueryPackage",
    ("post", "/v1/public/packages/verify"): "verifyPackage",
    ("get", "/v1/checkpoints/latest"): "getLatestCheckpoint",
    ("get", "/v1/checkpoints/{size}"): "getCheckpoint",
    ("get", "/v1/checkpoints/consistency"): "getConsistencyProof",
    ("get", "/v1/public/fingerprints/{sha256}"): "getPublicFingerprint",
    ("post", "/v1/public/pdf/validate"): "validatePublicPdf",
    ("post", "/v1/tenants"): "createTenant",
    ("get", "/v1/tenants"): "listTenants",
    ("post", "/v1/keys"): "createKey",
    ("get", "/v1/keys"): "listKeys",
    ("delete", "/v1/keys/{id}"): "revokeKey",
    ("get", "/healthz"): "getHealth",
    ("get", "/readyz"): "getReadiness",
    ("get", "/metrics"): "getMetrics",
    ("get", "/v1/openapi.json"): "getOpenApi",
    ("post", "/v1/seals"): "createSeal",
    ("get", "/v1/seals"): "listSeals",
    ("get", "/v1/seals/{id}"): "getSeal",
    ("get", "/v1/seals/{id}/appearance"): "getSealAppearance",
    ("post", "/v1/seals/{id}/suspend"): "suspendSeal",
    ("post", "/v1/seals/{id}/resume"): "resumeSeal",
    ("post", "/v1/seals/{id}/revoke"): "revokeSeal",
    ("post", "/v1/seals/{id}/sign"): "signPdfWithSeal",
    ("get", "/v1/seal-policy"): "getSealPolicy",
    ("put", "/v1/seal-policy"): "putSealPolicy",
    ("post", "/v1/seal-requests"): "createSealRequest",
    ("get", "/v1/seal-requests"): "listSealRequests",
    ("get", "/v1/seal-requests/{id}"): "getSealRequest",
    ("post", "/v1/seal-requests/{id}/approve"): "approveSealRequest",
    ("post", "/v1/seal-requests/{id}/reject"): "rejectSealRequest",
    ("get", "/v1/seal-uses"): "listSealUses",
    ("post", "/v1/pdf/validate"): "validatePdf",
    ("post", "/v1/envelopes"): "createEnvelope",
    ("get", "/v1/envelope-invitations"): "listEnvelopeInvitations",
    ("get", "/v1/envelopes/{id}"): "getEnvelope",
    ("get", "/v1/envelopes/{id}/document"): "getEnvelopeDocument",
    ("post", "/v1/envelopes/{id}/sign"): "signEnvelope",
    ("post", "/v1/envelopes/{id}/seal-requests"): "createEnvelopeSealRequest",
    ("post", "/v1/envelopes/{id}/invitations/{position}/accept"): "acceptEnvelopeInvitation",
    ("post", "/v1/envelopes/{id}/invitations/{position}/decline"): "declineEnvelopeInvitation",
    ("get", "/v1/envelopes/{id}/validation"): "getEnvelopeValidation",
    ("get", "/v1/envelopes"): "listEnvelopes",
    ("post", "/v1/envelopes/{id}/void"): "voidEnvelope",
    ("post", "/v1/envelopes/{id}/remind"): "remindEnvelopeSigners",
    ("get", "/v1/sign/{token}"): "getSigningLink",
    ("post", "/v1/sign/{token}/code"): "sendSigningCode",
    ("post", "/v1/sign/{token}/verify"): "verifySigningCode",
    ("get", "/v1/sign/{token}/document"): "getSigningDocument",
    ("get", "/v1/sign/{token}/pages/{n}.png"): "getSigningPage",
    ("post", "/v1/sign/{token}/viewed"): "recordSigningPagesViewed",
    ("get", "/v1/sign/{token}/seals"): "listSigningSeals",
    ("post", "/v1/sign/{token}/sign"): "signFromLink",
    ("post", "/v1/sign/{token}/decline"): "declineFromLink",
    ("get", "/v1/sign/{token}/download"): "downloadFromLink",
    ("post", "/v1/envelopes/{id}/validate"): "validateEnvelopeCopy",
    ("get", "/v1/console/whoami"): "getConsoleWhoami",
    ("get", "/v1/console/timeline"): "getConsoleTimeline",
    ("get", "/v1/console/checkpoints"): "getConsoleCheckpoints",
    ("get", "/v1/console/group"): "getConsoleGroup",
}
#: the tags' descriptions, in the order generated documentation lists them
TAGS: tuple[tuple[str, str], ...] = (
    ("events", "Append events, read them, their proofs, streams and certification packages"),
    ("checkpoints", "Signed checkpoints (C2SP signed notes), timestamps, anchors, consistency"),
    ("public", "No key: fingerprint look-up, package and PDF checks (rate-limited)"),
    ("seals", "Electronic seals, their use policy, approvals and PDF validation"),
    ("envelopes", "Envelopes: documents signed by several parties in order or in parallel"),
    ("signing", "A signer's link: one-time code, document, sign or decline (no API key)"),
    ("webhooks", "Signed callbacks (Standard Webhooks): subscriptions, deliveries, replay"),
    ("admin", "Tenants and API keys"),
    ("console", "The auditors' console"),
    ("operations", "Health, readiness, metrics and this document"),
)


@cache
def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Problem": PROBLEM}
    for fragment_paths, fragment_schemas in FRAGMENTS:
        for table, part in ((paths, fragment_paths()), (schemas, fragment_schemas())):
            clash = set(table) & set(part)
            if clash:
                raise ValueError(f"OpenAPI fragments both define {sorted(clash)}")
            table.update(part)
    for path, item in paths.items():
        for method, op in item.items():
            op_id = OPERATION_IDS.get((method, path))
            if op_id is not None:
                op.setdefault("operationId", op_id)
    add_examples(paths, schemas)
    used = {t for item in paths.values() for op in item.values() for t in op.get("tags", ())}
    known = [name for name, _ in TAGS]
    tags = [{"name": n, "description": d} for n, d in TAGS if n in used]
    tags += [{"name": n} for n in sorted(used - set(known))]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sealtrail",
            "version": __version__,
            "description": "Tamper-evident evidence ledger. Formats: docs/FORMAT.md.",
        },
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def document(base_url: str) -> dict[str, Any]:
    """The document as served: :func:`spec` with ``servers`` naming ``base_url`` (the service's
    public origin, e.g. ``https://evidence.example.com``; no trailing slash, since every path
    starts with ``/``)."""
    return {**spec(), "servers": [{"url": base_url.rstrip("/"), "description": "this service"}]}


def served_base_url(public_url: str | None, scheme: str, host: str) -> str:
    """The origin :func:`document` names: the configured ``public_url`` when set (the service
    behind a proxy), else the request's own ``scheme://host``."""
    if public_url:
        return public_url.rstrip("/")
    return f"{scheme}://{host}"
