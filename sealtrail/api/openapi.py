"""The OpenAPI 3.1 description of every route (served at /v1/openapi.json).

Written by hand next to the routes and checked against the running service by schemathesis in
the test suite: every documented status, content type and body shape is what the service sends.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sealtrail import __version__
from sealtrail.core.event import CORE_TYPES

HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
HEX64_ANY_CASE = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}
TIME = {"type": "string", "description": "RFC 3339, UTC, six fraction digits"}
NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"], "minimum": 0}
NULLABLE_HASH0X = {"type": ["string", "null"], "pattern": "^0x[0-9a-f]{64}$"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_PROBLEMS = {
    400: "invalid input (see detail)",
    401: "missing, invalid or revoked API key",
    403: "the key's role does not allow this",
    404: "no such resource (or not visible to this key)",
    409: "conflict with stored state",
    413: "request body too large",
    415: "request body is not application/json",
    429: "rate limited; see Retry-After",
    503: "ledger busy; retry",
}


def _problems(*codes: int) -> dict[str, Any]:
    return {
        str(c): {
            "description": _PROBLEMS[c],
            "content": {"application/problem+json": {"schema": _ref("Problem")}},
        }
        for c in codes
    }


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    errors: tuple[int, ...] = (),
    auth: bool = True,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    tag: str,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": dict(responses)}
    errs = set(errors)
    if auth:
        errs |= {401, 403}
    if params:
        op["parameters"] = params
        errs.add(400)
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        errs |= {400, 413, 415}
    op["responses"].update(_problems(*sorted(errs)))
    op["security"] = [{"bearer": []}] if auth else []
    return op


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


_FILTERS = [
    _q("stream", {"type": "string", "minLength": 1, "maxLength": 256}, "stream (subject)"),
    _q("type", {"type": "string", "minLength": 1, "maxLength": 256}, "event type"),
    _q("actor", {"type": "string", "minLength": 1, "maxLength": 256}, "actor id"),
    _q("document", HEX64_ANY_CASE, "document SHA-256 fingerprint"),
    _q("from", {"type": "string"}, "recorded at or after (RFC 3339)"),
    _q("to", {"type": "string"}, "recorded before (RFC 3339)"),
    _q("tenant", {"type": "string"}, "one tenant the key may read (HQ auditors)"),
]
_PAGE = [
    _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "page size"),
    _q("cursor", {"type": "string"}, "next_cursor of the previous page"),
]


def _schemas() -> dict[str, Any]:
    text = {"type": "string", "minLength": 1}
    actor_in = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id"],
        "properties": {
            "id": {**text, "maxLength": 128},
            "name": {"type": ["string", "null"], "maxLength": 256},
            "org": {"type": ["string", "null"], "maxLength": 256},
            "role": {"type": ["string", "null"], "maxLength": 64},
        },
    }
    doc_in = {
        "type": "object",
        "additionalProperties": False,
        "required": ["sha256"],
        "properties": {
            "name": {"type": ["string", "null"], "maxLength": 512},
            "sha256": HEX64_ANY_CASE,
        },
    }
    attr_value = {
        "anyOf": [
            {"type": "string", "maxLength": 4096},
            {"type": "integer", "minimum": -(2**53 - 1), "maximum": 2**53 - 1},
            {"type": "boolean"},
            {"type": "null"},
        ]
    }
    event_in = {
        "type": "object",
        "additionalProperties": False,
        "required": ["stream", "type", "actor"],
        "properties": {
            "stream": {**text, "maxLength": 256},
            "type": {
                "type": "string",
                "description": "one of "
                + ", ".join(sorted(CORE_TYPES))
                + ", or a custom namespace:name",
            },
            "actor": actor_in,
            "documents": {"type": "array", "maxItems": 100, "items": doc_in},
            "occurred_at": {"type": ["string", "null"], "description": "RFC 3339"},
            "client_event_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 128},
            "attributes": {
                "type": "object",
                "maxProperties": 64,
                "additionalProperties": attr_value,
            },
        },
    }
    event = {
        "type": "object",
        "required": [
            "v",
            "index",
            "tenant",
            "stream",
            "type",
            "actor",
            "documents",
            "occurred_at",
            "client_event_id",
            "attributes",
            "recorded_at",
            "salt",
            "prev",
            "leaf_hash",
        ],
        "properties": {
            "v": {"const": 1},
            "index": {"type": "integer", "minimum": 0},
            "tenant": {"type": "string"},
            "stream": {"type": "string"},
            "type": {"type": "string"},
            "actor": {
                "type": "object",
                "required": ["id", "name", "org", "role"],
                "properties": {
                    "id": {"type": "string"},
                    "name": NULLABLE_STR,
                    "org": NULLABLE_STR,
                    "role": NULLABLE_STR,
                },
            },
            "documents": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "sha256"],
                    "properties": {"name": NULLABLE_STR, "sha256": HEX64},
                },
            },
            "occurred_at": NULLABLE_STR,
            "client_event_id": NULLABLE_STR,
            "attributes": {"type": "object", "additionalProperties": attr_value},
            "recorded_at": TIME,
            "salt": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
            "prev": {"anyOf": [HEX64, {"type": "null"}]},
            "leaf_hash": HEX64,
        },
    }
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
    proof_list = {"type": "array", "items": HEX64}
    key_record = {
        "type": "object",
        "required": ["id", "tenant", "role", "label", "created_at", "revoked_at"],
        "properties": {
            "id": {"type": "string"},
            "tenant": {"type": "string"},
            "role": {"enum": ["integrator", "auditor", "admin"]},
            "label": NULLABLE_STR,
            "created_at": TIME,
            "revoked_at": NULLABLE_STR,
        },
    }
    tenant = {
        "type": "object",
        "required": ["id", "name", "parent", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "parent": NULLABLE_STR,
            "created_at": TIME,
        },
    }
    return {
        "Problem": {
            "type": "object",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
            },
        },
        "EventInput": event_in,
        "Event": event,
        "AppendedEvent": {
            "allOf": [
                _ref("Event"),
                {
                    "type": "object",
                    "required": ["duplicate"],
                    "properties": {"duplicate": {"type": "boolean"}},
                },
            ]
        },
        "BatchRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["events"],
            "properties": {"events": {"type": "array", "minItems": 1, "items": _ref("EventInput")}},
        },
        "BatchResponse": {
            "type": "object",
            "required": ["events"],
            "properties": {"events": {"type": "array", "items": _ref("AppendedEvent")}},
        },
        "EventPage": {
            "type": "object",
            "required": ["events", "next_cursor"],
            "properties": {
                "events": {"type": "array", "items": _ref("Event")},
                "next_cursor": NULLABLE_STR,
            },
        },
        "Stream": {
            "type": "object",
            "required": ["tenant", "stream", "events", "chain_intact", "next_cursor"],
            "properties": {
                "tenant": {"type": "string"},
                "stream": {"type": "string"},
                "events": {"type": "array", "items": _ref("Event")},
                "chain_intact": {"type": "boolean"},
                "next_cursor": NULLABLE_STR,
            },
        },
        "Checkpoint": checkpoint,
        "CheckpointDetail": {
            "allOf": [
                _ref("Checkpoint"),
                {
                    "type": "object",
                    "required": ["timestamp", "anchor"],
                    "properties": {"timestamp": _ref("Timestamp"), "anchor": _ref("Anchor")},
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
            },
        },
        "InclusionProof": {
            "type": "object",
            "required": ["type", "index", "size", "leaf_hash", "root", "proof", "checkpoint"],
            "properties": {
                "type": {"const": "inclusion"},
                "index": {"type": "integer", "minimum": 0},
                "size": {"type": "integer", "minimum": 1},
                "leaf_hash": HEX64,
                "root": HEX64,
                "proof": proof_list,
                "checkpoint": _ref("Checkpoint"),
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
                "proof": proof_list,
                "old_checkpoint": _ref("Checkpoint"),
                "new_checkpoint": _ref("Checkpoint"),
            },
        },
        "PublicFingerprint": {
            "type": "object",
            "required": [
                "sha256",
                "events",
                "checkpoint",
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
                            "proof": {"anyOf": [proof_list, {"type": "null"}]},
                        },
                    },
                },
                "checkpoint": {"anyOf": [_ref("Checkpoint"), {"type": "null"}]},
                "verifier_key": {"type": "string"},
                "timestamp": _ref("Timestamp"),
                "anchor": _ref("Anchor"),
            },
        },
        "Tenant": tenant,
        "TenantList": {
            "type": "object",
            "required": ["tenants"],
            "properties": {"tenants": {"type": "array", "items": _ref("Tenant")}},
        },
        "TenantCreate": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id"],
            "properties": {
                "id": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$"},
                "name": {"type": "string", "minLength": 1, "maxLength": 256},
                "parent": {"type": "string"},
            },
        },
        "Key": key_record,
        "KeyCreated": {
            "allOf": [
                _ref("Key"),
                {
                    "type": "object",
                    "required": ["key"],
                    "properties": {"key": {"type": "string", "description": "shown once"}},
                },
            ]
        },
        "KeyList": {
            "type": "object",
            "required": ["keys"],
            "properties": {"keys": {"type": "array", "items": _ref("Key")}},
        },
        "KeyCreate": {
            "type": "object",
            "additionalProperties": False,
            "required": ["role"],
            "properties": {
                "tenant": {"type": "string"},
                "role": {"enum": ["integrator", "auditor", "admin"]},
                "label": {"type": "string", "maxLength": 256},
            },
        },
    }


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


def _package_paths(ev: str, pub: str) -> dict[str, Any]:
    """Certification packages: exports (routes_packages) and the public check."""
    verify = _op(
        "Verify an uploaded certification package (this ledger's key and roots pinned, no RPC)",
        {"200": _json(_VERIFICATION, "the verifier's report; status failed is not an error")},
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
            "get": _op(
                "Certification package of one stream (ZIP; the export is recorded as an event)",
                {"200": _PACKAGE_ZIP},
                params=[
                    _path("stream", {"type": "string", "minLength": 1}),
                    _q("tenant", {"type": "string"}, "tenant (HQ auditors)"),
                ],
                errors=(404, 409, 503),
                tag=ev,
            )
        },
        "/v1/package": {
            "get": _op(
                "Certification package of an auditor's query (at most 10,000 events)",
                {"200": _PACKAGE_ZIP},
                params=_FILTERS,
                errors=(404, 409, 503),
                tag=ev,
            )
        },
        "/v1/public/packages/verify": {"post": verify},
    }


@cache
def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    ev, cp, adm, pub, ops = "events", "checkpoints", "admin", "public", "operations"
    idx = _path("index", {"type": "integer", "minimum": 0})
    paths: dict[str, Any] = {
        "/v1/events": {
            "post": _op(
                "Append one event (Idempotency-Key or client_event_id makes retries safe)",
                {
                    "201": _json(_ref("Event"), "stored"),
                    "200": _json(_ref("Event"), "a retry: the original event"),
                },
                body=_ref("EventInput"),
                errors=(409, 503),
                params=[
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                    }
                ],
                tag=ev,
            ),
            "get": _op(
                "Query events (auditors), in log order, cursor-paginated",
                {"200": _json(_ref("EventPage"), "a page of events")},
                params=_FILTERS + _PAGE,
                errors=(404,),
                tag=ev,
            ),
        },
        "/v1/events/batch": {
            "post": _op(
                "Append up to max_batch events atomically",
                {"201": _json(_ref("BatchResponse"), "all stored (or repeated)")},
                body=_ref("BatchRequest"),
                errors=(409, 503),
                tag=ev,
            )
        },
        "/v1/events/{index}": {
            "get": _op(
                "One event",
                {"200": _json(_ref("Event"), "the event")},
                params=[idx],
                errors=(404,),
                tag=ev,
            )
        },
        "/v1/events/{index}/proof": {
            "get": _op(
                "Inclusion proof to the checkpoint of size N (default: latest)",
                {"200": _json(_ref("InclusionProof"), "the proof")},
                params=[idx, _q("size", {"type": "integer", "minimum": 1}, "checkpoint size")],
                errors=(404,),
                tag=ev,
            )
        },
        "/v1/streams/{stream}": {
            "get": _op(
                "A stream's events and whether their hash chain links",
                {"200": _json(_ref("Stream"), "the stream")},
                params=[
                    _path("stream", {"type": "string", "minLength": 1}),
                    _q("tenant", {"type": "string"}, "tenant (HQ auditors)"),
                    *_PAGE,
                ],
                errors=(404,),
                tag=ev,
            )
        },
        "/v1/export": {
            "get": _op(
                "Stream all matching events with inclusion proofs (JSON Lines or CSV)",
                {
                    "200": {
                        "description": "first line: the checkpoint; then one event per line",
                        "content": {
                            "application/x-ndjson": {"schema": {"type": "string"}},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    }
                },
                params=[*_FILTERS, _q("format", {"enum": ["jsonl", "csv"]}, "output format")],
                errors=(404,),
                tag=ev,
            )
        },
        **_package_paths(ev, pub),
        "/v1/checkpoints/latest": {
            "get": _op(
                "The latest checkpoint, with its timestamp and anchor",
                {"200": _json(_ref("CheckpointDetail"), "it")},
                errors=(404,),
                tag=cp,
            )
        },
        "/v1/checkpoints/{size}": {
            "get": _op(
                "The checkpoint of a size, with its timestamp and anchor",
                {"200": _json(_ref("CheckpointDetail"), "it")},
                params=[_path("size", {"type": "integer", "minimum": 1})],
                errors=(404,),
                tag=cp,
            )
        },
        "/v1/checkpoints/consistency": {
            "get": _op(
                "Consistency proof between two checkpoints",
                {"200": _json(_ref("ConsistencyProof"), "the proof")},
                params=[
                    {
                        **_q("from", {"type": "integer", "minimum": 1}, "older size"),
                        "required": True,
                    },
                    _q("to", {"type": "integer", "minimum": 1}, "newer size (default: latest)"),
                ],
                errors=(404,),
                tag=cp,
            )
        },
        "/v1/public/fingerprints/{sha256}": {
            "get": _op(
                "Public facts about a document fingerprint (no names, no tenant data)",
                {"200": _json(_ref("PublicFingerprint"), "events naming it")},
                params=[_path("sha256", HEX64_ANY_CASE)],
                errors=(404, 429),
                auth=False,
                tag=pub,
            )
        },
        "/v1/tenants": {
            "post": _op(
                "Create a subsidiary tenant",
                {"201": _json(_ref("Tenant"), "created")},
                body=_ref("TenantCreate"),
                errors=(404, 409),
                tag=adm,
            ),
            "get": _op("Visible tenants", {"200": _json(_ref("TenantList"), "tenants")}, tag=adm),
        },
        "/v1/keys": {
            "post": _op(
                "Create an API key (the key is in this response only)",
                {"201": _json(_ref("KeyCreated"), "created")},
                body=_ref("KeyCreate"),
                errors=(404,),
                tag=adm,
            ),
            "get": _op(
                "API keys (never secrets)", {"200": _json(_ref("KeyList"), "keys")}, tag=adm
            ),
        },
        "/v1/keys/{id}": {
            "delete": _op(
                "Revoke an API key",
                {"200": _json(_ref("Key"), "revoked")},
                params=[_path("id", {"type": "string"})],
                errors=(404,),
                tag=adm,
            )
        },
        "/healthz": {
            "get": _op("Liveness", {"200": _json({"type": "object"}, "up")}, auth=False, tag=ops)
        },
        "/readyz": {
            "get": _op(
                "Readiness", {"200": _json({"type": "object"}, "ready")}, auth=False, tag=ops
            )
        },
        "/metrics": {
            "get": _op(
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
            "get": _op(
                "This document",
                {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                auth=False,
                tag=ops,
            )
        },
    }
    from sealtrail.api import openapi_seals  # seals, seal use, envelopes, PDF validation

    paths.update(openapi_seals.paths())
    from sealtrail.api import routes_console  # the auditor console's read-only aggregates

    paths.update(routes_console.openapi_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sealtrail",
            "version": __version__,
            "description": "Tamper-evident evidence ledger. Formats: docs/FORMAT.md.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                **_schemas(),
                **openapi_seals.schemas(),
                **routes_console.openapi_schemas(),
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
