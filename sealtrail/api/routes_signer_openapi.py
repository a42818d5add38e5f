"""The OpenAPI fragment of the envelope lifecycle (GET /v1/envelopes, void, remind, the JSON
form of POST /v1/envelopes — :mod:`sealtrail.api.routes_envelopes`) and of the signer's API
(:mod:`sealtrail.api.routes_signer`; no API key: the link's token, then the ``st_sign``
session cookie). Merged by :func:`sealtrail.api.openapi.spec`."""

from __future__ import annotations

import functools
from typing import Any

from sealtrail.api.openapi_kit import (
    HEX64,
    NULLABLE_STR,
    PDF_OUT,
    TIME,
    json_content,
    keyed_operation,
    obj,
    path_param,
    ref,
)
from sealtrail.api.openapi_kit import query_param as _query

_TEXT = {
    400: "invalid input (see detail)",
    401: "missing, invalid or revoked API key",
    403: "the key's role does not allow this",
    404: "no such envelope (or not visible to this key: answered alike)",
    409: "the envelope has ended",
    413: "request body too large",
    415: "wrong request content type",
    503: "the mail server is unavailable",
}
_SIGNER_TEXT = {
    400: "invalid input, or a wrong code (``attempts_left``)",
    401: "no signing session: verify a one-time code first",
    404: "this signing link is not valid (unknown, tampered, expired, voided or used)",
    409: "not this signer's turn, already signed, or the envelope has ended",
    413: "request body too large",
    415: "request body is not application/json",
    422: "a typed name has a character the font lacks",
    423: "too many wrong codes: the link is locked (Retry-After)",
    429: "codes asked for too often (Retry-After)",
    502: "no TSA gave a trusted timestamp",
    503: "the mail server is unavailable",
}
_op = functools.partial(keyed_operation, texts=_TEXT, tag="envelopes")
_STATES = ["draft", "sent", "partly_signed", "completed", "declined", "voided", "expired"]
_S = {"type": "string"}
_INT = {"type": "integer", "minimum": 0}
_BOX = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
_FIELD = obj(["page", "box"], {"page": {"type": "integer", "minimum": 1}, "box": _BOX}, closed=True)


def _signer_op(
    summary: str,
    responses: dict[str, Any],
    errors: tuple[int, ...],
    *,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An operation of the signer's API: no key (the link's token), 404 always."""
    codes = {404, *errors}
    op: dict[str, Any] = {"summary": summary, "tags": ["signing"], "responses": dict(responses)}
    op["parameters"] = [path_param("token", {"type": "string", "maxLength": 64}), *(params or [])]
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        codes |= {400, 413, 415}
    for c in sorted(codes):
        op["responses"][str(c)] = {
            "description": _SIGNER_TEXT[c],
            "content": {"application/problem+json": {"schema": ref("Problem")}},
        }
    op["security"] = []
    return op


def schemas() -> dict[str, Any]:
    """Schemas for the components section."""
    link_signer = obj(
        [
            "id",
            "position",
            "kind",
            "state",
            "name",
            "tenant",
            "email_masked",
            "signed_at",
            "fields",
        ],
        {
            "id": _S,
            "position": _INT,
            "kind": {"enum": ["individual", "enterprise"]},
            "state": {"enum": ["pending", "signed", "declined"]},
            "name": NULLABLE_STR,
            "tenant": NULLABLE_STR,
            "email_masked": NULLABLE_STR,
            "signed_at": NULLABLE_STR,
            "fields": {"type": "array", "items": _FIELD},
            "sign_url": {"type": "string", "description": "only in the 201 answer"},
        },
    )
    lifecycle = obj(
        [
            "id",
            "state",
            "title",
            "tenant",
            "order",
            "created_at",
            "completed_at",
            "original_sha256",
            "current_sha256",
            "signatures",
            "signers",
            "expires_at",
            "ended_reason",
        ],
        {
            "id": _S,
            "state": {"enum": _STATES},
            "title": _S,
            "tenant": _S,
            "order": {"enum": ["sequential", "parallel"]},
            "created_at": TIME,
            "completed_at": NULLABLE_STR,
            "original_sha256": HEX64,
            "current_sha256": HEX64,
            "signatures": _INT,
            "signers": {"type": "array", "items": link_signer},
            "expires_at": NULLABLE_STR,
            "ended_reason": NULLABLE_STR,
            "delivered": {"type": "integer", "description": "links e-mailed (deliver=email)"},
        },
    )
    create_signer = obj(
        ["kind", "fields"],
        {
            "kind": {"enum": ["individual", "enterprise"]},
            "name": {"type": "string", "maxLength": 128},
            "email": {"type": "string", "maxLength": 254},
            "tenant": {"type": "string", "maxLength": 64},
            "fields": {"type": "array", "items": _FIELD, "minItems": 1, "maxItems": 20},
        },
        closed=True,
    )
    return {
        "LinkEnvelope": lifecycle,
        "EnvelopeCreate": obj(
            ["document", "signers"],
            {
                "title": {"type": "string", "minLength": 1, "maxLength": 256},
                "document": obj(["pdf_base64"], {"name": _S, "pdf_base64": _S}, closed=True),
                "order": {"enum": ["sequential", "parallel"]},
                "expires_at": {"type": ["string", "null"], "description": "RFC 3339"},
                "deliver": {"enum": ["email", "none"]},
                "signers": {"type": "array", "items": create_signer, "minItems": 1, "maxItems": 15},
            },
            closed=True,
        ),
        "EnvelopeList": obj(
            ["envelopes", "next_cursor"],
            {
                "envelopes": {"type": "array", "items": ref("LinkEnvelope")},
                "next_cursor": NULLABLE_STR,
            },
        ),
        "EnvelopeVoid": obj(
            ["reason"],
            {"reason": {"type": "string", "minLength": 1, "maxLength": 500}},
            closed=True,
        ),
        "EnvelopeReminded": obj(
            ["reminded"],
            {
                "reminded": {"type": "array", "items": _INT},
                "links": {
                    "type": "array",
                    "items": obj(["position", "sign_url"], {"position": _INT, "sign_url": _S}),
                },
            },
        ),
        "EnvelopeRemind": obj([], {"new_links": {"type": "boolean"}}, closed=True),
        "SignerLink": obj(
            ["envelope", "signer", "typed_styles"],
            {
                "envelope": obj(
                    ["title", "from", "expires_at", "state", "order"],
                    {
                        "title": _S,
                        "from": obj(["tenant", "name"], {"tenant": _S, "name": _S}),
                        "expires_at": NULLABLE_STR,
                        "state": {"enum": _STATES},
                        "order": {"enum": ["sequential", "parallel"]},
                    },
                ),
                "signer": obj(
                    ["id", "kind", "name", "address_masked", "state", "verified", "turn"],
                    {
                        "id": _S,
                        "kind": {"enum": ["individual", "enterprise"]},
                        "name": _S,
                        "address_masked": _S,
                        "state": {"enum": ["pending", "signed", "declined"]},
                        "verified": {"type": "boolean"},
                        "turn": {"type": "boolean"},
                    },
                ),
                "typed_styles": {
                    "type": "array",
                    "items": obj(
                        ["id", "label_en", "label_zh"], {"id": _S, "label_en": _S, "label_zh": _S}
                    ),
                },
            },
        ),
        "SignerCodeSent": obj(
            ["sent", "expires_in", "resend_after"],
            {"sent": {"type": "boolean"}, "expires_in": _INT, "resend_after": _INT},
        ),
        "SignerVerify": obj(
            ["code"], {"code": {"type": "string", "pattern": "^[0-9]{6}$"}}, closed=True
        ),
        "SignerVerified": obj(["verified"], {"verified": {"type": "boolean"}}),
        "SignerDocument": obj(
            ["sha256", "pages", "fields"],
            {
                "sha256": HEX64,
                "fields": {"type": "array", "items": _FIELD},
                "pages": {
                    "type": "array",
                    "items": obj(
                        ["number", "width", "height", "image"],
                        {
                            "number": {"type": "integer", "minimum": 1},
                            "width": {"type": "number"},
                            "height": {"type": "number"},
                            "image": _S,
                        },
                    ),
                },
            },
        ),
        "SignerViewed": obj(
            ["pages"],
            {"pages": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1}},
            closed=True,
        ),
        "SignerSeals": obj(
            ["seals"],
            {
                "seals": {
                    "type": "array",
                    "items": obj(["id", "name", "kind"], {"id": _S, "name": _S, "kind": _S}),
                }
            },
        ),
        "SignerSign": obj(
            ["intent", "signature"],
            {
                "intent": {"const": True},
                "language": {"enum": ["en", "zh-CN"]},
                "signature": {
                    "type": "object",
                    "required": ["kind"],
                    "properties": {
                        "kind": {"enum": ["drawn", "typed", "seal"]},
                        "png_base64": {
                            "type": "string",
                            "description": "PNG ≤ 256 KiB, ≤ 2000×1000",
                        },
                        "text": {"type": "string", "maxLength": 40},
                        "style": {"type": "string"},
                        "seal_id": {"type": "string"},
                    },
                    "additionalProperties": False,
                },
            },
            closed=True,
        ),
        "SignerSigned": obj(
            ["signer_state", "envelope_state", "download"],
            {
                "signer_state": {"enum": ["signed"]},
                "envelope_state": {"enum": _STATES},
                "download": _S,
            },
        ),
        "SignerDecline": obj(
            ["reason"],
            {"reason": {"type": "string", "minLength": 1, "maxLength": 500}},
            closed=True,
        ),
        "SignerDeclined": obj(
            ["signer_state", "envelope_state"],
            {"signer_state": {"enum": ["declined"]}, "envelope_state": {"enum": _STATES}},
        ),
    }


def paths() -> dict[str, Any]:
    """Paths of the lifecycle and signer routes (POST /v1/envelopes's JSON form is added to
    the envelope fragment's operation by :func:`json_create_body`)."""
    eid = path_param("id", {"type": "string", "maxLength": 64})
    out = json_content(ref("LinkEnvelope"), "the envelope")
    return {
        "/v1/envelopes/{id}/void": {
            "post": _op(
                "Void an open envelope, with a reason (its links stop working)",
                {"200": out},
                (404, 409),
                params=[eid],
                body=ref("EnvelopeVoid"),
            )
        },
        "/v1/envelopes/{id}/remind": {
            "post": _optional_body(
                _op(
                    "E-mail a reminder to every pending signer whose turn it is (new_links: new "
                    "links, mailed and returned; the old ones stop working)",
                    {"200": json_content(ref("EnvelopeReminded"), "who was reminded")},
                    (404, 409, 503),
                    params=[eid],
                    body=ref("EnvelopeRemind"),
                )
            )
        },
        "/v1/sign/{token}": {
            "get": _signer_op(
                "Who asks whom to sign what (records a link-opened event)",
                {"200": json_content(ref("SignerLink"), "the link")},
                (429,),
            )
        },
        "/v1/sign/{token}/code": {
            "post": _signer_op(
                "E-mail a one-time code to the signer",
                {"202": json_content(ref("SignerCodeSent"), "sent")},
                (409, 423, 429, 503),
            )
        },
        "/v1/sign/{token}/verify": {
            "post": _signer_op(
                "Check the code; sets the st_sign session cookie",
                {"200": json_content(ref("SignerVerified"), "verified")},
                (423,),
                body=ref("SignerVerify"),
            )
        },
        "/v1/sign/{token}/document": {
            "get": _signer_op(
                "The document's pages and this signer's fields (PDF points, origin lower left)",
                {"200": json_content(ref("SignerDocument"), "pages and fields")},
                (401,),
            )
        },
        "/v1/sign/{token}/pages/{n}.png": {
            "get": _signer_op(
                "One page rendered as PNG",
                {
                    "200": {
                        "description": "the page",
                        "content": {
                            "image/png": {"schema": {"type": "string", "format": "binary"}}
                        },
                    }
                },
                (400, 401),
                params=[
                    path_param("n", {"type": "integer", "minimum": 1}),
                    _query("width", {"type": "integer", "minimum": 0}, "pixels"),
                ],
            )
        },
        "/v1/sign/{token}/viewed": {
            "post": _signer_op(
                "Record the pages the signer saw",
                {"204": {"description": "ok"}},
                (401,),
                body=ref("SignerViewed"),
            )
        },
        "/v1/sign/{token}/seals": {
            "get": _signer_op(
                "The seals an enterprise signer may choose",
                {"200": json_content(ref("SignerSeals"), "seals")},
                (401,),
            )
        },
        "/v1/sign/{token}/sign": {
            "post": _signer_op(
                "Sign at the signer's fields (PAdES B-T per field)",
                {"200": json_content(ref("SignerSigned"), "signed")},
                (401, 409, 422, 502),
                body=ref("SignerSign"),
            )
        },
        "/v1/sign/{token}/decline": {
            "post": _signer_op(
                "Decline, with a reason (the envelope ends)",
                {"200": json_content(ref("SignerDeclined"), "declined")},
                (401, 409),
                body=ref("SignerDecline"),
            )
        },
        "/v1/sign/{token}/download": {
            "get": _signer_op(
                "The signed (or completed) PDF (records a download)", {"200": PDF_OUT}, (401,)
            )
        },
    }


def _optional_body(op: dict[str, Any]) -> dict[str, Any]:
    op["requestBody"] = {**op["requestBody"], "required": False}
    return op


def list_operation() -> dict[str, Any]:
    """GET /v1/envelopes (the inbox)."""
    return _op(
        "The inbox: envelopes the key's tenants made, newest first, filtered and paged",
        {"200": json_content(ref("EnvelopeList"), "a page of envelopes")},
        (),
        params=[
            _query("state", {"enum": _STATES}, "state"),
            _query(
                "signer",
                {"type": "string", "minLength": 1, "maxLength": 254},
                "an e-mail address, its SHA-256, a signer name or an enterprise tenant",
            ),
            _query("from", {"type": "string"}, "created at or after (RFC 3339)"),
            _query("to", {"type": "string"}, "created before (RFC 3339)"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "page size"),
            _query("cursor", {"type": "string"}, "next_cursor of the previous page"),
        ],
    )


def json_create_body(op: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/envelopes with its second content type: the JSON form."""
    content = {
        **op["requestBody"]["content"],
        "application/json": {"schema": ref("EnvelopeCreate")},
    }
    op["requestBody"] = {**op["requestBody"], "content": content}
    op["responses"]["201"]["content"]["application/json"]["schema"] = {
        "anyOf": [ref("Envelope"), ref("LinkEnvelope")]
    }
    op["responses"]["503"] = {
        "description": _TEXT[503],
        "content": {"application/problem+json": {"schema": ref("Problem")}},
    }
    return op


__all__ = ["json_create_body", "list_operation", "paths", "schemas"]
