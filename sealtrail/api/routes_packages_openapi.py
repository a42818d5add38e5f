"""The OpenAPI fragment of :mod:`sealtrail.api.routes_packages` (merged by
:func:`sealtrail.api.openapi.spec`)."""

from __future__ import annotations

from typing import Any

from sealtrail.api.openapi_kit import (
    FILTER_PARAMS,
    HEX64,
    json_content,
    operation,
    path_param,
    query_param,
)

_PACKAGE_HEADERS = {
    "X-Sealtrail-Package-SHA256": {
        "description": "SHA-256 of the ZIP (hex); the export event records it too",
        "required": True,
        "schema": HEX64,
    },
    "X-Sealtrail-Export-Event": {
        "description": "index of the export event recording this package (FORMAT.md §8.7)",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
}
_PACKAGE_ZIP = {
    "description": "the certification package (docs/FORMAT.md §8), streamed",
    "headers": _PACKAGE_HEADERS,
    "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
}
_CHECK = {
    "type": "object",
    "required": ["id", "status", "reason", "detail", "count"],
    "properties": {
        "id": {"type": "string"},
        "status": {"enum": ["passed", "failed", "not_checked"]},
        "reason": {"type": "string"},
        "detail": {"type": "string"},
        "count": {"type": "integer", "minimum": 0},
    },
}
_VERIFICATION = {
    "type": "object",
    "required": ["status", "package_sha256", "coverage", "checks", "timeline"],
    "properties": {
        "status": {"enum": ["passed", "incomplete", "failed"]},
        "package_sha256": HEX64,
        "coverage": {"type": "object"},
        "checks": {"type": "array", "items": _CHECK},
        "timeline": {"type": "array", "items": {"type": "object"}},
    },
}


def paths() -> dict[str, Any]:
    """Certification packages: exports and the public check."""
    ev, pub = "events", "public"
    verify = operation(
        "Verify an uploaded certification package (this ledger's key and roots pinned, no RPC)",
        {
            "200": json_content(
                _VERIFICATION, "the verifier's report; status failed is not an error"
            )
        },
        errors=(400, 413, 415, 429),
        auth=False,
        tag=pub,
    )
    verify["requestBody"] = {
        "required": True,
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
    return {
        "/v1/streams/{stream}/package": {
            "get": operation(
                "Certification package of one stream (ZIP; the export is recorded as an event)",
                {"200": _PACKAGE_ZIP},
                params=[
                    path_param("stream", {"type": "string", "minLength": 1}),
                    query_param("tenant", {"type": "string"}, "tenant (HQ auditors)"),
                ],
                errors=(404, 409, 503),
                tag=ev,
            )
        },
        "/v1/package": {
            "get": operation(
                "Certification package of an auditor's query (at most 10,000 events)",
                {"200": _PACKAGE_ZIP},
                params=FILTER_PARAMS,
                errors=(404, 409, 503),
                tag=ev,
            )
        },
        "/v1/public/packages/verify": {"post": verify},
    }


def schemas() -> dict[str, Any]:
    """None: the package routes' schemas are inline."""
    return {}
