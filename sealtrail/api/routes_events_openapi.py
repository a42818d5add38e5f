"""The OpenAPI fragment of :mod:`sealtrail.api.routes_events` (merged by
:func:`sealtrail.api.openapi.spec`)."""

from __future__ import annotations

from typing import Any

from sealtrail.api.openapi_kit import (
    FILTER_PARAMS,
    HEX64,
    HEX64_ANY_CASE,
    NULLABLE_STR,
    PAGE_PARAMS,
    PROOF,
    TIME,
    json_content,
    operation,
    path_param,
    query_param,
    ref,
)
from sealtrail.core.event import CORE_TYPES


def schemas() -> dict[str, Any]:
    """The schemas of events, appends, pages and streams, and inclusion proofs."""
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
    return {
        "EventInput": event_in,
        "Event": event,
        "AppendedEvent": {
            "allOf": [
                ref("Event"),
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
            "properties": {"events": {"type": "array", "minItems": 1, "items": ref("EventInput")}},
        },
        "BatchResponse": {
            "type": "object",
            "required": ["events"],
            "properties": {"events": {"type": "array", "items": ref("AppendedEvent")}},
        },
        "EventPage": {
            "type": "object",
            "required": ["events", "next_cursor"],
            "properties": {
                "events": {"type": "array", "items": ref("Event")},
                "next_cursor": NULLABLE_STR,
            },
        },
        "Stream": {
            "type": "object",
            "required": ["tenant", "stream", "events", "chain_intact", "next_cursor"],
            "properties": {
                "tenant": {"type": "string"},
                "stream": {"type": "string"},
                "events": {"type": "array", "items": ref("Event")},
                "chain_intact": {"type": "boolean"},
                "next_cursor": NULLABLE_STR,
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
                "proof": PROOF,
                "checkpoint": ref("Checkpoint"),
            },
        },
    }


def paths() -> dict[str, Any]:
    """Appends, queries, single events, inclusion proofs, streams and exports."""
    ev = "events"
    idx = path_param("index", {"type": "integer", "minimum": 0})
    return {
        "/v1/events": {
            "post": operation(
                "Append one event (Idempotency-Key or client_event_id makes retries safe)",
                {
                    "201": json_content(ref("Event"), "stored"),
                    "200": json_content(ref("Event"), "a retry: the original event"),
                },
                body=ref("EventInput"),
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
            "get": operation(
                "Query events (auditors), in log order, cursor-paginated",
                {"200": json_content(ref("EventPage"), "a page of events")},
                params=FILTER_PARAMS + PAGE_PARAMS,
                errors=(404,),
                tag=ev,
            ),
        },
        "/v1/events/batch": {
            "post": operation(
                "Append up to max_batch events atomically",
                {"201": json_content(ref("BatchResponse"), "all stored (or repeated)")},
                body=ref("BatchRequest"),
                errors=(409, 503),
                tag=ev,
            )
        },
        "/v1/events/{index}": {
            "get": operation(
                "One event",
                {"200": json_content(ref("Event"), "the event")},
                params=[idx],
                errors=(404,),
                tag=ev,
            )
        },
        "/v1/events/{index}/proof": {
            "get": operation(
                "Inclusion proof to the checkpoint of size N (default: latest)",
                {"200": json_content(ref("InclusionProof"), "the proof")},
                params=[
                    idx,
                    query_param("size", {"type": "integer", "minimum": 1}, "checkpoint size"),
                ],
                errors=(404,),
                tag=ev,
            )
        },
        "/v1/streams/{stream}": {
            "get": operation(
                "A stream's events and whether their hash chain links",
                {"200": json_content(ref("Stream"), "the stream")},
                params=[
                    path_param("stream", {"type": "string", "minLength": 1}),
                    query_param("tenant", {"type": "string"}, "tenant (HQ auditors)"),
                    *PAGE_PARAMS,
                ],
                errors=(404,),
                tag=ev,
            )
        },
        "/v1/export": {
            "get": operation(
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
                params=[
                    *FILTER_PARAMS,
                    query_param("format", {"enum": ["jsonl", "csv"]}, "output format"),
                ],
                errors=(404,),
                tag=ev,
            )
        },
    }
