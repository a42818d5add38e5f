"""The OpenAPI fragment of the seal, seal-use and PDF validation routes
(:mod:`sealtrail.api.routes_seals`; the envelopes' is :mod:`.routes_envelopes_openapi`; merged by
:func:`sealtrail.api.openapi.spec`; fuzzed against the live service like the rest)."""

from __future__ import annotations

import functools
from typing import Any

from sealtrail.api.openapi_kit import (
    HEX64,
    HEX64_ANY_CASE,
    NULLABLE_STR,
    PDF_OUT,
    TIME,
    json_content,
    keyed_operation,
    obj,
    path_param,
    query_param,
    ref,
)

_TEXT = {
    400: "invalid input (see detail)",
    401: "missing, invalid or revoked API key",
    403: "the key's role (or the seal-use policy) does not allow this",
    404: "no such resource (or not visible to this key)",
    409: "conflict with the seal's or request's state",
    413: "request body too large",
    415: "wrong request content type",
    502: "no TSA gave a trusted timestamp",
}
_op = functools.partial(keyed_operation, texts=_TEXT, tag="seals")
_obj = obj
_PDF_OUT = PDF_OUT


def schemas() -> dict[str, Any]:
    """Schemas for the components section."""
    s = {"type": "string"}
    cert = _obj(
        ["subject", "issuer", "serial", "not_before", "not_after", "sha256"],
        {"subject": s, "issuer": s, "serial": s, "not_before": TIME, "not_after": TIME,
         "sha256": HEX64},
    )  # fmt: skip
    seal = _obj(
        ["id", "tenant", "kind", "name", "purpose", "code", "remarks", "status",
         "status_reason", "status_at", "source", "appearance", "certificate", "created_at"],
        {
            "id": s, "tenant": s,
            "kind": {"enum": ["organization", "contract", "legal-person", "personal"]},
            "name": s, "purpose": s, "code": s, "remarks": s,
            "status": {"enum": ["active", "suspended", "revoked"]},
            "status_reason": NULLABLE_STR, "status_at": NULLABLE_STR,
            "source": {"enum": ["internal-ca", "pkcs12", "self-declared"]},
            "appearance": {"enum": ["generated", "uploaded"]},
            "certificate": cert, "created_at": TIME,
        },
    )  # fmt: skip
    request = _obj(
        ["id", "tenant", "seal", "document_sha256", "purpose", "requester_key", "status",
         "decided_by", "decision_reason", "created_at", "decided_at", "used_at"],
        {
            "id": s, "tenant": s, "seal": s, "document_sha256": HEX64, "purpose": s,
            "requester_key": s, "status": {"enum": ["pending", "approved", "rejected", "used"]},
            "decided_by": NULLABLE_STR, "decision_reason": NULLABLE_STR, "created_at": TIME,
            "decided_at": NULLABLE_STR, "used_at": NULLABLE_STR,
        },
    )  # fmt: skip
    use = _obj(
        ["id", "tenant", "seal", "key_id", "request_id", "envelope_id", "before_sha256",
         "after_sha256", "at"],
        {"id": {"type": "integer"}, "tenant": s, "seal": s, "key_id": s,
         "request_id": NULLABLE_STR, "envelope_id": NULLABLE_STR, "before_sha256": HEX64,
         "after_sha256": HEX64, "at": TIME},
    )  # fmt: skip
    b = {"type": "boolean"}
    sig = _obj(
        ["field", "signer", "remarks", "reason", "location", "intact", "valid", "trusted",
         "revoked", "timestamp", "coverage", "modification", "modification_allowed",
         "modification_detail", "status", "reasons", "subject", "issuer",
         "certificate_sha256", "trust_root", "seal"],
        {
            "field": s, "signer": s, "remarks": s, "reason": s, "location": s, "intact": b,
            "subject": {**s, "description": "the signer certificate's subject (RFC 4514)"},
            "issuer": {**s, "description": "the signer certificate's issuer (RFC 4514)"},
            "certificate_sha256": {**s, "description": "SHA-256 of the signer certificate"},
            "trust_root": {
                "anyOf": [
                    _obj(["subject", "sha256", "kind", "tenant"], {
                        "subject": s, "sha256": HEX64,
                        "kind": {"enum": ["configured", "tenant-ca", "internal-ca"]},
                        "tenant": NULLABLE_STR,
                    }),
                    {"type": "null"},
                ],
                "description": "the configured root the signer chained to; null: untrusted",
            },
            "seal": {
                "anyOf": [_obj(["id", "tenant"], {"id": s, "tenant": s}), {"type": "null"}],
                "description": "the seal registered here whose certificate signed (matched on "
                "the certificate's SHA-256, never on names); null: none",
            },
            "valid": b, "trusted": b, "revoked": b,
            "timestamp": _obj(
                ["present", "valid", "trusted", "time", "tsa"],
                {"present": b, "valid": b, "trusted": b, "time": NULLABLE_STR,
                 "tsa": NULLABLE_STR},
            ),
            "coverage": {"enum": ["entire-file", "entire-revision", "partial"]},
            "modification": {
                "enum": ["none", "validation-data", "form-filling", "annotations", "other"]
            },
            "modification_allowed": b, "modification_detail": s,
            "status": {"enum": ["passed", "failed", "indeterminate"]},
            "reasons": {"type": "array", "items": s},
        },
    )  # fmt: skip
    return {
        "Seal": seal,
        "SealList": _obj(["seals"], {"seals": {"type": "array", "items": ref("Seal")}}),
        "SealCreate": _obj(
            ["kind", "name"],
            {
                "tenant": s,
                "kind": {"enum": ["organization", "contract", "legal-person", "personal"]},
                "name": {"type": "string", "minLength": 1, "maxLength": 40},
                "purpose": {"type": "string", "maxLength": 24},
                "code": {"type": "string", "maxLength": 24},
                "remarks": {"type": "string", "maxLength": 1000},
                "appearance_png": {"type": "string", "description": "base64 PNG with alpha"},
                "pkcs12": {"type": "string", "description": "base64 PKCS#12 (external CA)"},
                "pkcs12_password": s,
            },
            closed=True,
        ),
        "SealStatusChange": _obj(
            [], {"reason": {"type": "string", "maxLength": 1000}}, closed=True
        ),
        "SealPolicy": _obj(
            ["tenant", "controlled", "approvers", "updated_at"],
            {
                "tenant": s,
                "controlled": {"type": "array", "items": s},
                "approvers": {"type": "array", "items": s},
                "updated_at": NULLABLE_STR,
            },
        ),
        "SealPolicyUpdate": _obj(
            ["controlled", "approvers"],
            {
                "tenant": s,
                "controlled": {"type": "array", "items": s},
                "approvers": {"type": "array", "items": s},
            },
            closed=True,
        ),
        "SealRequest": request,
        "SealRequestList": _obj(
            ["requests"], {"requests": {"type": "array", "items": ref("SealRequest")}}
        ),
        "SealRequestCreate": _obj(
            ["seal", "document_sha256", "purpose"],
            {
                "seal": s,
                "document_sha256": HEX64_ANY_CASE,
                "purpose": {"type": "string", "minLength": 1, "maxLength": 1000},
            },
            closed=True,
        ),
        "SealDecision": _obj([], {"reason": {"type": "string", "maxLength": 1000}}, closed=True),
        "SealUseList": _obj(["uses"], {"uses": {"type": "array", "items": use}}),
        "PdfValidationReport": _obj(
            ["status", "ok", "reasons", "signatures"],
            {
                "status": {"enum": ["passed", "failed", "indeterminate"]},
                "ok": b,
                "reasons": {"type": "array", "items": s},
                "signatures": {"type": "array", "items": sig},
            },
        ),
    }


def paths() -> dict[str, Any]:
    """Paths of the seal routes."""
    sid = path_param("id", {"type": "string", "maxLength": 64})
    tenant = query_param("tenant", {"type": "string"}, "one tenant the key sees (default: all)")
    reason_body = ref("SealStatusChange")
    seal_out = json_content(ref("Seal"), "the seal")
    status_ops = {
        f"/v1/seals/{{id}}/{verb}": {
            "post": _op(summary, {"200": seal_out}, (404, 409), params=[sid], body=reason_body)
        }
        for verb, summary in (
            ("suspend", "Suspend a seal (reason required)"),
            ("resume", "Resume a suspended seal"),
            ("revoke", "Revoke a seal for good (reason required)"),
        )
    }
    return {
        "/v1/seals": {
            "post": _op(
                "Create a seal (admins; internal CA certificate or imported PKCS#12)",
                {"201": json_content(ref("Seal"), "created")},
                (404,),
                body=ref("SealCreate"),
            ),
            "get": _op(
                "Seals the key sees",
                {"200": json_content(ref("SealList"), "seals")},
                (404,),
                params=[
                    tenant,
                    query_param("status", {"enum": ["active", "suspended", "revoked"]}, ""),
                ],
            ),
        },
        "/v1/seals/{id}": {"get": _op("One seal", {"200": seal_out}, (404,), params=[sid])},
        "/v1/seals/{id}/appearance": {
            "get": _op(
                "The seal's picture",
                {
                    "200": {
                        "description": "PNG",
                        "content": {"image/png": {"schema": {"type": "string"}}},
                    }
                },
                (404,),
                params=[sid],
            )
        },
        **status_ops,
        "/v1/seals/{id}/sign": {
            "post": _op(
                "Seal an uploaded PDF (PAdES B-T, B-LT or B-LTA, visible); controlled seals need "
                "?request=",
                {"200": _PDF_OUT},
                (403, 404, 409, 502),
                pdf=True,
                params=[
                    sid,
                    query_param(
                        "page", {"type": "integer", "minimum": 1}, "1-based page (default last)"
                    ),
                    query_param(
                        "box", {"type": "string", "maxLength": 64}, "x1,y1,x2,y2 in PDF points"
                    ),
                    query_param("reason", {"type": "string", "maxLength": 200}, "signature reason"),
                    query_param(
                        "location", {"type": "string", "maxLength": 200}, "signing location"
                    ),
                    query_param(
                        "request", {"type": "string", "maxLength": 64}, "an approved request"
                    ),
                    query_param(
                        "level",
                        {"enum": ["B-T", "B-LT", "B-LTA"]},
                        "PAdES baseline level (default B-T)",
                    ),
                ],
            )
        },
        "/v1/seal-policy": {
            "get": _op(
                "A tenant's seal-use policy",
                {"200": json_content(ref("SealPolicy"), "the policy")},
                (404,),
                params=[tenant],
            ),
            "put": _op(
                "Replace a tenant's seal-use policy (admins)",
                {"200": json_content(ref("SealPolicy"), "the policy")},
                (404,),
                body=ref("SealPolicyUpdate"),
            ),
        },
        "/v1/seal-requests": {
            "post": _op(
                "Ask to use a seal on one document",
                {"201": json_content(ref("SealRequest"), "created")},
                (404, 409),
                body=ref("SealRequestCreate"),
            ),
            "get": _op(
                "Seal requests the key sees",
                {"200": json_content(ref("SealRequestList"), "requests")},
                (404,),
                params=[
                    tenant,
                    query_param(
                        "status", {"enum": ["pending", "approved", "rejected", "used"]}, ""
                    ),
                ],
            ),
        },
        "/v1/seal-requests/{id}": {
            "get": _op(
                "One seal request",
                {"200": json_content(ref("SealRequest"), "it")},
                (404,),
                params=[sid],
            )
        },
        **{
            f"/v1/seal-requests/{{id}}/{verb}": {
                "post": _op(
                    f"{verb.capitalize()} a pending request (approvers, never the requester)",
                    {"200": json_content(ref("SealRequest"), "decided")},
                    (403, 404, 409),
                    params=[sid],
                    body=ref("SealDecision"),
                )
            }
            for verb in ("approve", "reject")
        },
        "/v1/seal-uses": {
            "get": _op(
                "Uses of the seals the key sees (HQ auditors: subsidiaries' too)",
                {"200": json_content(ref("SealUseList"), "uses")},
                (404,),
                params=[tenant],
            )
        },
        "/v1/pdf/validate": {
            "post": _op(
                "Validate every signature of an uploaded PDF",
                {"200": json_content(ref("PdfValidationReport"), "the report")},
                (),
                pdf=True,
                params=[
                    query_param(
                        "scope",
                        {"enum": ["visible", "all"]},
                        "whose seal roots to trust: the key's tenants (default), or every "
                        "tenant's (admin keys only; others get 403)",
                    )
                ],
            )
        },
    }


__all__ = ["paths", "schemas"]
