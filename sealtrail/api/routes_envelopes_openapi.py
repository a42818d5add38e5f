"""The OpenAPI fragment of the envelope routes (:mod:`sealtrail.api.routes_envelopes`; merged by
:func:`sealtrail.api.openapi.spec`; fuzzed against the live service like the rest). The seal
request and validation report schemas it refers to are the seal fragment's."""

from __future__ import annotations

import functools
from typing import Any

from sealtrail.api import routes_signer_openapi
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
    403: "the key's role (or the seal-use policy) does not allow this",
    404: "no such envelope, invitation or seal (or not visible to this key: answered alike)",
    409: "conflict with the envelope's, slot's or request's state",
    413: "request body too large",
    415: "wrong request content type",
    502: "no TSA gave a trusted timestamp",
}
_NULLABLE_HEX64 = {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"}
_op = functools.partial(keyed_operation, texts=_TEXT, tag="envelopes")
_obj = obj
_PDF_OUT = PDF_OUT


def schemas() -> dict[str, Any]:
    """Schemas for the components section."""
    s = {"type": "string"}
    signer = _obj(
        ["position", "party", "invitation", "seal", "key_id", "status", "signed_by",
         "signed_at", "before_sha256", "after_sha256"],
        {"position": {"type": "integer", "minimum": 0}, "party": s,
         "invitation": {"enum": [None, "invited", "accepted", "declined"]},
         "seal": NULLABLE_STR, "key_id": NULLABLE_STR,
         "status": {"enum": ["pending", "signed"]}, "signed_by": NULLABLE_STR,
         "signed_at": NULLABLE_STR, "before_sha256": _NULLABLE_HEX64,
         "after_sha256": _NULLABLE_HEX64},
    )  # fmt: skip
    envelope = _obj(
        ["id", "tenant", "title", "order", "status", "signatures", "original_sha256",
         "current_sha256", "created_by", "created_at", "completed_at", "signers"],
        {"id": s, "tenant": s, "title": s, "order": {"enum": ["sequential", "parallel"]},
         "status": {"enum": ["open", "completed", "declined", "voided", "expired"]},
         "signatures": {"type": "integer"}, "original_sha256": HEX64, "current_sha256": HEX64,
         "created_by": s, "created_at": TIME, "completed_at": NULLABLE_STR,
         "signers": {"type": "array", "items": signer},
         "state": {"enum": ["draft", "sent", "partly_signed", "completed", "declined",
                            "voided", "expired"]},
         "expires_at": NULLABLE_STR},
    )  # fmt: skip
    invitation = _obj(
        ["envelope", "title", "from", "position", "party", "order", "current_sha256",
         "created_at"],
        {"envelope": s, "title": s, "from": s, "position": {"type": "integer", "minimum": 0},
         "party": s, "order": {"enum": ["sequential", "parallel"]}, "current_sha256": HEX64,
         "created_at": TIME},
    )  # fmt: skip
    return {
        "Envelope": envelope,
        "EnvelopeSign": _obj(
            ["seal"],
            {
                "seal": s,
                "request": s,
                "reason": {"type": "string", "maxLength": 1000},
                "location": {"type": "string", "maxLength": 1000},
                "level": {"enum": ["B-T", "B-LT"]},
            },
            closed=True,
        ),
        "EnvelopeSealRequest": _obj(
            ["seal", "purpose"],
            {"seal": s, "purpose": {"type": "string", "minLength": 1, "maxLength": 1000}},
            closed=True,
        ),
        "InvitationList": _obj(
            ["invitations"], {"invitations": {"type": "array", "items": invitation}}
        ),
        "InvitationAccept": _obj(
            ["seal"], {"seal": s, "key_id": {"type": "string", "maxLength": 64}}, closed=True
        ),
        "InvitationDecline": _obj(
            [], {"reason": {"type": "string", "maxLength": 1000}}, closed=True
        ),
    }


def paths() -> dict[str, Any]:
    """Paths of the envelope routes."""
    eid = path_param("id", {"type": "string", "maxLength": 64})
    pos = path_param("position", {"type": "integer", "minimum": 0, "maximum": 14})
    env_out = json_content(ref("Envelope"), "the envelope")
    report = json_content(ref("PdfValidationReport"), "the report")
    return {
        "/v1/envelopes": {
            "get": routes_signer_openapi.list_operation(),
            "post": routes_signer_openapi.json_create_body(
                _op(
                    "Create an envelope: the JSON form (signers sign from links, docs/FORMAT.md "
                    "§7.1), or the uploaded PDF with ordered or parallel signers in the query "
                    "(seals the key sees, and invitations to other parties)",
                    {"201": json_content(ref("Envelope"), "created")},
                    (),
                    pdf=True,
                    params=[
                        _query(
                            "title", {"type": "string", "minLength": 1, "maxLength": 256}, "title"
                        ),
                        _query("order", {"enum": ["sequential", "parallel"]}, "signing order"),
                        {
                            "name": "signer",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "array",
                                "items": {
                                    "type": "string",
                                    "maxLength": 71,
                                    "pattern": "^[A-Za-z0-9:._-]+$",
                                },
                                "maxItems": 15,
                            },
                            "style": "form",
                            "explode": True,
                            "description": "SEAL_ID, SEAL_ID:KEY_ID or tenant:TENANT_ID (an "
                            "invitation), in signing order (the PDF form only)",
                        },
                    ],
                )
            ),
        },
        "/v1/envelope-invitations": {
            "get": _op(
                "Open invitations to the tenants the key sees",
                {"200": json_content(ref("InvitationList"), "invitations")},
                (),
            )
        },
        "/v1/envelopes/{id}": {
            "get": _op(
                "An envelope's status (recorded as a view)", {"200": env_out}, (404,), params=[eid]
            )
        },
        "/v1/envelopes/{id}/document": {
            "get": _op(
                "The envelope's current PDF (recorded as a download)",
                {"200": _PDF_OUT},
                (404,),
                params=[eid],
            )
        },
        "/v1/envelopes/{id}/sign": {
            "post": _op(
                "Apply the caller's seal to the envelope (controlled seals: a request bound "
                "to the slot)",
                {"200": env_out},
                (403, 404, 409, 502),
                params=[eid],
                body=ref("EnvelopeSign"),
            )
        },
        "/v1/envelopes/{id}/seal-requests": {
            "post": _op(
                "Ask to use a controlled seal once, for its slot in this envelope",
                {"201": json_content(ref("SealRequest"), "created")},
                (404, 409),
                params=[eid],
                body=ref("EnvelopeSealRequest"),
            )
        },
        "/v1/envelopes/{id}/invitations/{position}/accept": {
            "post": _op(
                "Accept an invitation by choosing one of the party's seals (and a key)",
                {"200": env_out},
                (404, 409),
                params=[eid, pos],
                body=ref("InvitationAccept"),
            )
        },
        "/v1/envelopes/{id}/invitations/{position}/decline": {
            "post": _op(
                "Decline an invitation (the envelope ends, declined)",
                {"200": env_out},
                (404, 409),
                params=[eid, pos],
                body=ref("InvitationDecline"),
            )
        },
        "/v1/envelopes/{id}/validation": {
            "get": _op(
                "The envelope's PDF validated against every participant's seal roots",
                {"200": report},
                (404,),
                params=[eid],
            )
        },
        "/v1/envelopes/{id}/validate": {
            "post": _op(
                "An uploaded copy validated against the envelope's trust context",
                {"200": report},
                (404,),
                params=[eid],
                pdf=True,
            )
        },
    }


__all__ = ["paths", "schemas"]
