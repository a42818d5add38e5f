"""The OpenAPI fragment of :mod:`sealtrail.api.routes_maps` (merged by
:func:`sealtrail.api.openapi.spec`); the ``map`` member of the public fingerprint answer refers
to its ``MapAnswer`` schema."""

from __future__ import annotations

from typing import Any

from sealtrail.api.openapi_kit import (
    HEX64,
    json_content,
    obj,
    operation,
    path_param,
    query_param,
    ref,
)


def schemas() -> dict[str, Any]:
    """Map values, proofs (docs/MAP.md §5) and answers (docs/FORMAT.md §5.2)."""
    u64 = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
    return {
        "MapValue": obj(
            ["count", "last_index", "hash"],
            {
                "count": {**u64, "minimum": 1},
                "last_index": u64,
                "hash": {
                    **HEX64,
                    "description": "stream: the leaf hash of its last event; document: the "
                    "running hash over the events naming it (docs/MAP.md §2)",
                },
            },
            closed=True,
        ),
        "MapProof": obj(
            ["leaf", "siblings"],
            {
                "leaf": {
                    "anyOf": [
                        obj(
                            ["key_hash", "value_hash"],
                            {"key_hash": HEX64, "value_hash": HEX64},
                            closed=True,
                        ),
                        {"type": "null"},
                    ]
                },
                "siblings": {"type": "array", "items": HEX64, "minItems": 1, "maxItems": 256},
            },
            closed=True,
        ),
        "MapAnswer": obj(
            ["size", "root", "value", "proof"],
            {
                "size": {"type": "integer", "minimum": 1},
                "root": {
                    **HEX64,
                    "description": "the map root, for convenience: a verifier takes it from the "
                    "checkpoint note's sealtrail-map/v1 line",
                },
                "value": {"anyOf": [ref("MapValue"), {"type": "null"}]},
                "proof": ref("MapProof"),
            },
        ),
        "StreamMapProof": {
            "allOf": [
                ref("MapAnswer"),
                obj(
                    ["tenant", "stream", "checkpoint"],
                    {
                        "tenant": {"type": "string"},
                        "stream": {"type": "string"},
                        "value": ref("MapValue"),
                        "checkpoint": ref("Checkpoint"),
                    },
                ),
            ]
        },
    }


def paths() -> dict[str, Any]:
    """A stream's head proof."""
    return {
        "/v1/streams/{stream}/map-proof": {
            "get": operation(
                "A stream's head (count, last event) in a checkpoint's map, with its inclusion "
                "proof (docs/MAP.md); another tenant's stream is a missing one (404)",
                {"200": json_content(ref("StreamMapProof"), "the head and its proof")},
                params=[
                    path_param("stream", {"type": "string", "minLength": 1, "maxLength": 256}),
                    query_param(
                        "size",
                        {"type": "integer", "minimum": 1},
                        "checkpoint size (default: the latest checkpoint with a map)",
                    ),
                    query_param("tenant", {"type": "string"}, "tenant (HQ auditors)"),
                ],
                errors=(404,),
                tag="events",
            )
        },
    }
