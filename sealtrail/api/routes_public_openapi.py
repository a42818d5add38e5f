"""The OpenAPI fragment of :mod:`sealtrail.api.routes_public` (merged by
:func:`sealtrail.api.openapi.spec`)."""

from __future__ import annotations

from typing import Any

from sealtrail.api.openapi_kit import (
    HEX64,
    HEX64_ANY_CASE,
    NULLABLE_HASH0X,
    NULLABLE_INT,
    NULLABLE_STR,
    PROOF,
    TIME,
    json_content,
    operation,
    path_param,
    query_param,
    ref,
)


def schemas() -> dict[str, Any]:
    """Checkpoints with their timestamps and anchors, consistency proofs, fingerprints."""
    checkpoint = {
        "type": "object",
        "required": ["size", "root", "note", "created_at"],
        "properties": {
            "size": {"type": "integer", "minimum": 1},
            "root": HEX64,
            "note": {"type": "string", "description": "C2SP signed checkpoint note"},
            "created_at": TIME,
        },
    }
    return {
        "Checkpoint": checkpoint,
        "CheckpointDetail": {
            "allOf": [
                ref("Checkpoint"),
                {
                    "type": "object",
                    "required": ["timestamp", "anchor"],
                    "properties": {"timestamp": ref("Timestamp"), "anchor": ref("Anchor")},
                },
            ]
        },
        "Timestamp": {
            "type": "object",
            "required": ["status"],
            "description": "RFC 3161 token over the signed note (docs/FORMAT.md §5); while "
            "status is pending it is retried",
            "properties": {
                "status": {"enum": ["stamped", "pending", "none"]},
                "token": {"type": "string", "description": "base64 DER TimeStampToken"},
                "gen_time": TIME,
                "serial": {"type": "string"},
                "tsa": {"type": "string"},
                "attempts": {"type": "integer", "minimum": 0},
                "last_error": NULLABLE_STR,
                "reason": {
                    "type": "string",
                    "description": "why the last attempt failed, as a code (the detail is "
                    "the operator's: service log)",
                },
            },
        },
        "Anchor": {
            "type": "object",
            "required": ["status"],
            "description": "Where the checkpoint is on its way to the chain (docs/FORMAT.md §6): "
            "off (no chain configured), none (no checkpoint yet), pending, sent, confirmed, "
            "final, retry, failed",
            "properties": {
                "status": {
                    "enum": [
                        "off",
                        "none",
                        "pending",
                        "sent",
                        "confirmed",
                        "final",
                        "retry",
                        "failed",
                    ]
                },
                "chain_id": {"type": "integer", "minimum": 1},
                "contract": {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"},
                "log_id": {"type": "string", "pattern": "^0x[0-9a-f]{64}$"},
                "tx_hash": NULLABLE_HASH0X,
                "block_number": NULLABLE_INT,
                "block_hash": NULLABLE_HASH0X,
                "log_index": NULLABLE_INT,
                "confirmations": {"type": "integer", "minimum": 0},
                "required_confirmations": NULLABLE_INT,
                "gas_used": NULLABLE_INT,
                "sent_at": {"type": ["string", "null"]},
                "final_at": {"type": ["string", "null"]},
                "attempts": {"type": "integer", "minimum": 0},
                "last_error": NULLABLE_STR,
                "contract_version": {"enum": [1, 2]},
                "map_root": NULLABLE_HASH0X,
                "reason": {
                    "type": "string",
                    "description": "why the last attempt failed, as a code (the detail is "
                    "the operator's: service log)",
                },
            },
        },
        "ConsistencyProof": {
            "type": "object",
            "required": [
                "type",
                "old_size",
                "new_size",
                "old_root",
                "new_root",
                "proof",
                "old_checkpoint",
                "new_checkpoint",
            ],
            "properties": {
                "type": {"const": "consistency"},
                "old_size": {"type": "integer", "minimum": 1},
                "new_size": {"type": "integer", "minimum": 1},
                "old_root": HEX64,
                "new_root": HEX64,
                "proof": PROOF,
                "old_checkpoint": ref("Checkpoint"),
                "new_checkpoint": ref("Checkpoint"),
            },
        },
        "PublicFingerprint": {
            "type": "object",
            "required": [
                "sha256",
                "events",
                "checkpoint",
                "map",
                "verifier_key",
                "timestamp",
                "anchor",
            ],
            "properties": {
                "sha256": HEX64,
                "events": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["index", "type", "recorded_at", "leaf_hash", "proof"],
                        "additionalProperties": False,
                        "properties": {
                            "index": {"type": "integer", "minimum": 0},
                            "type": {"type": "string"},
                            "recorded_at": TIME,
                            "leaf_hash": HEX64,
                            "proof": {"anyOf": [PROOF, {"type": "null"}]},
                        },
                    },
                },
                "checkpoint": {"anyOf": [ref("Checkpoint"), {"type": "null"}]},
                "map": {
                    "anyOf": [ref("MapAnswer"), {"type": "null"}],
                    "description": "the document's value in the checkpoint's map and its "
                    "(non-)inclusion proof (docs/FORMAT.md §5.2); null when the checkpoint has "
                    "no map",
                },
                "verifier_key": {"type": "string"},
                "display_timezone": {
                    "type": "string",
                    "description": "the IANA time zone the portal shows times in (the "
                    "service's timezone setting, as in the report); a display choice, not "
                    "evidence: every time above is UTC",
                },
                "timestamp": ref("Timestamp"),
                "anchor": ref("Anchor"),
            },
        },
    }


def paths() -> dict[str, Any]:
    """Checkpoints, consistency proofs and the public fingerprint look-up."""
    cp, pub = "checkpoints", "public"
    return {
        "/v1/checkpoints/latest": {
            "get": operation(
                "The latest checkpoint, with its timestamp and anchor",
                {"200": json_content(ref("CheckpointDetail"), "it")},
                errors=(404,),
                tag=cp,
            )
        },
        "/v1/checkpoints/{size}": {
            "get": operation(
                "The checkpoint of a size, with its timestamp and anchor",
                {"200": json_content(ref("CheckpointDetail"), "it")},
                params=[path_param("size", {"type": "integer", "minimum": 1})],
                errors=(404,),
                tag=cp,
            )
        },
        "/v1/checkpoints/consistency": {
            "get": operation(
                "Consistency proof between two checkpoints",
                {"200": json_content(ref("ConsistencyProof"), "the proof")},
                params=[
                    {
                        **query_param("from", {"type": "integer", "minimum": 1}, "older size"),
                        "required": True,
                    },
                    query_param(
                        "to", {"type": "integer", "minimum": 1}, "newer size (default: latest)"
                    ),
                ],
                errors=(404,),
                tag=cp,
            )
        },
        "/v1/public/fingerprints/{sha256}": {
            "get": operation(
                "Public facts about a document fingerprint (no names, no tenant data), with the "
                "map proof that the events listed are all of them, or that there is none",
                {
                    "200": json_content(
                        ref("PublicFingerprint"), "the events naming it (possibly none)"
                    )
                },
                params=[path_param("sha256", HEX64_ANY_CASE)],
                errors=(404, 429),
                auth=False,
                tag=pub,
            )
        },
        "/v1/public/pdf/validate": {"post": _public_pdf_validate()},
    }


def _public_pdf_validate() -> dict[str, Any]:
    op = operation(
        "Validate an uploaded PDF against the roots of the seals registered here (no key, "
        "rate-limited); per signature: subject, issuer, trust root, and which registered seal "
        "of which tenant signed — nothing else of the registry",
        {"200": json_content(ref("PdfValidationReport"), "the report; failed is not an error")},
        errors=(400, 413, 415, 429),
        auth=False,
        tag="public",
    )
    op["requestBody"] = {
        "required": True,
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
    return op


def operations_paths() -> dict[str, Any]:
    """Health, readiness, metrics and this document."""
    ops = "operations"
    return {
        "/healthz": {
            "get": operation(
                "Liveness", {"200": json_content({"type": "object"}, "up")}, auth=False, tag=ops
            )
        },
        "/readyz": {
            "get": operation(
                "Readiness", {"200": json_content({"type": "object"}, "ready")}, auth=False, tag=ops
            )
        },
        "/metrics": {
            "get": operation(
                "Prometheus metrics",
                {
                    "200": {
                        "description": "text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
                auth=False,
                tag=ops,
            )
        },
        "/v1/openapi.json": {
            "get": operation(
                "This document",
                {"200": json_content({"type": "object"}, "OpenAPI 3.1")},
                auth=False,
                tag=ops,
            )
        },
    }


def no_schemas() -> dict[str, Any]:
    """The operations routes refer to no component schema."""
    return {}
