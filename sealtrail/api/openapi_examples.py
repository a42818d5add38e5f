"""Examples for the OpenAPI document's JSON bodies, so that generated clients and documentation
show what a request and an answer look like.

The integrator-facing schemas have hand-written examples (:data:`EXAMPLES`, one consistent story:
contract ``contract:2026-0001`` of tenant ``sub1``); every other JSON body gets one synthesised
from its schema (:func:`example_of`). The unit test validates every example against its schema,
so an example cannot drift from the service's answers unnoticed.
"""

from __future__ import annotations

from typing import Any

_H = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
_LEAF = "3d3a9c5c1f1e5c3a52b1f2a4a27c2f7d3b8f0c3e1d4a6b8c9e0f1a2b3c4d5e6f"
_ROOT = "c2f6a1e0b9d8c7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918f7e6"
_DOC = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
_TIME = "2026-12-07T09:30:00.123456Z"
_NOTE = (
    "sealtrail.local/log-3f2a9c1b7d4e\n7\nwvah4LnYx/bl1MOyoZCPfm1cSzopGA9+bVxLOikY9+Y=\n"
    "sealtrail-map/v1 jo+1s+icUmtTqKYbkA0MMZjz43bvw0A39OiQ2tcPMXo=\n\n"
    "\u2014 sealtrail.local/log-3f2a9c1b7d4e Jv4k0xF0W0s3mE1hM8m0b8z8Hc0N3m6m7Zc6fP1H0m9oTq2Q"
    "2n3VfVb0a1vYcJ0Yb8e2kq7xXl1m0t6y3Y7b8rK5Qm0zqg0=\n"
)
_CHECKPOINT = {"size": 7, "root": _ROOT, "note": _NOTE, "created_at": _TIME}
_EVENT_IN = {
    "stream": "contract:2026-0001",
    "type": "sign",
    "actor": {"id": "u-1042", "name": "Li Wei", "org": "Acme Trading", "role": "legal"},
    "documents": [{"name": "contract.pdf", "sha256": _DOC}],
    "occurred_at": "2026-12-07T09:29:58Z",
    "client_event_id": "oa-7781-sign-1",
    "attributes": {"oa_flow": "FLOW-7781", "approved": True},
}
_EVENT = {
    "v": 1,
    "index": 6,
    "tenant": "sub1",
    **_EVENT_IN,
    "documents": [{"name": "contract.pdf", "sha256": _DOC}],
    "recorded_at": _TIME,
    "salt": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "prev": _H,
    "leaf_hash": _LEAF,
}
_MAP_PROOF = {
    "leaf": {"key_hash": _H, "value_hash": _LEAF},
    "siblings": [_ROOT, "2aac890c5411b21da25273a7fad45a4548e23b2ef9c9ee0cf3caf86f12035f74"],
}
_PENDING = {"status": "pending", "attempts": 1}
_STAMPED = {
    "status": "stamped",
    "token": "MIIGxgYJKoZIhvcNAQcCoIIGtzCCBrMCAQMxDTALBglghkgBZQMEAgEw...",
    "gen_time": _TIME,
    "serial": "1733563800123",
    "tsa": "https://tsa.example.com/tsr",
    "attempts": 1,
    "last_error": None,
}

#: hand-written examples of component schemas, by schema name
EXAMPLES: dict[str, Any] = {
    "EventInput": _EVENT_IN,
    "Event": _EVENT,
    "AppendedEvent": {**_EVENT, "duplicate": False},
    "BatchRequest": {
        "events": [
            _EVENT_IN,
            {
                "stream": "contract:2026-0001",
                "type": "view",
                "actor": {"id": "u-2001"},
                "client_event_id": "oa-7781-view-1",
            },
        ]
    },
    "BatchResponse": {"events": [{**_EVENT, "duplicate": False}]},
    "EventPage": {"events": [_EVENT], "next_cursor": None},
    "Stream": {
        "tenant": "sub1",
        "stream": "contract:2026-0001",
        "events": [_EVENT],
        "chain_intact": True,
        "next_cursor": None,
    },
    "InclusionProof": {
        "type": "inclusion",
        "index": 6,
        "size": 7,
        "leaf_hash": _LEAF,
        "root": _ROOT,
        "proof": [_H, _DOC],
        "checkpoint": _CHECKPOINT,
    },
    "Checkpoint": _CHECKPOINT,
    "CheckpointDetail": {**_CHECKPOINT, "timestamp": _STAMPED, "anchor": {"status": "off"}},
    "ConsistencyProof": {
        "type": "consistency",
        "old_size": 4,
        "new_size": 7,
        "old_root": _H,
        "new_root": _ROOT,
        "proof": [_LEAF, _DOC, _H],
        "old_checkpoint": {**_CHECKPOINT, "size": 4, "root": _H},
        "new_checkpoint": _CHECKPOINT,
    },
    "MapProof": _MAP_PROOF,
    "MapValue": {"count": 3, "last_index": 6, "hash": _LEAF},
    "MapAnswer": {
        "size": 7,
        "root": "8e8fb5b3e89c526b53a8a61b900d0c3198f3e376efc34037f4e890dad70f317a",
        "value": {"count": 1, "last_index": 6, "hash": _H},
        "proof": _MAP_PROOF,
    },
    "StreamMapProof": {
        "tenant": "sub1",
        "stream": "contract:2026-0001",
        "size": 7,
        "root": "8e8fb5b3e89c526b53a8a61b900d0c3198f3e376efc34037f4e890dad70f317a",
        "value": {"count": 3, "last_index": 6, "hash": _LEAF},
        "proof": _MAP_PROOF,
        "checkpoint": _CHECKPOINT,
    },
    "PublicFingerprint": {
        "sha256": _DOC,
        "events": [
            {
                "index": 6,
                "type": "sign",
                "recorded_at": _TIME,
                "leaf_hash": _LEAF,
                "proof": [_H, _DOC],
            }
        ],
        "checkpoint": _CHECKPOINT,
        "map": {
            "size": 7,
            "root": "8e8fb5b3e89c526b53a8a61b900d0c3198f3e376efc34037f4e890dad70f317a",
            "value": {"count": 1, "last_index": 6, "hash": _H},
            "proof": _MAP_PROOF,
        },
        "verifier_key": "sealtrail.local/log-3f2a9c1b7d4e+1a2b3c4d+AbcQ1n5m0rJ7S2Zr0r3aFq2v9x1c"
        "Gq8t0yQm5Wl3nXkP",
        "timestamp": _PENDING,
        "anchor": {"status": "off"},
    },
    "SealRequestCreate": {
        "seal": "seal-contract-01",
        "document_sha256": _DOC,
        "purpose": "Supply agreement 2026-0001 with Acme Trading",
    },
    "EnvelopeCreate": {
        "title": "Logistics handover 2026-0042",
        "document": {"name": "handover.pdf", "pdf_base64": "JVBERi0xLjcKJeLjz9MK…"},
        "order": "sequential",
        "expires_at": "2026-12-31T16:00:00Z",
        "deliver": "email",
        "signers": [
            {
                "kind": "individual",
                "name": "Zhang San",
                "email": "zhang.san@example.com",
                "fields": [{"page": 1, "box": [100, 100, 260, 160]}],
            },
            {
                "kind": "enterprise",
                "tenant": "other",
                "email": "seals@other.example",
                "fields": [{"page": 2, "box": [300, 100, 440, 240]}],
            },
        ],
    },
    "LinkEnvelope": {
        "id": "env-3f9a1c2b4d5e6f70",
        "state": "partly_signed",
        "title": "Logistics handover 2026-0042",
        "tenant": "sub1",
        "order": "sequential",
        "created_at": "2026-12-07T08:00:00.000000Z",
        "completed_at": None,
        "original_sha256": "9f" * 32,
        "current_sha256": "a1" * 32,
        "signatures": 1,
        "expires_at": "2026-12-31T16:00:00.000000Z",
        "ended_reason": None,
        "signers": [
            {
                "id": "env-3f9a1c2b4d5e6f70.0",
                "position": 0,
                "kind": "individual",
                "state": "signed",
                "name": "Zhang San",
                "tenant": None,
                "email_masked": "z***@example.com",
                "signed_at": "2026-12-07T09:12:00.000000Z",
                "fields": [{"page": 1, "box": [100, 100, 260, 160]}],
            },
            {
                "id": "env-3f9a1c2b4d5e6f70.1",
                "position": 1,
                "kind": "enterprise",
                "state": "pending",
                "name": "other",
                "tenant": "other",
                "email_masked": "s***@other.example",
                "signed_at": None,
                "fields": [{"page": 2, "box": [300, 100, 440, 240]}],
            },
        ],
    },
    "SignerDocument": {
        "sha256": "a1" * 32,
        "pages": [
            {"number": 1, "width": 595.3, "height": 841.9, "image": "/v1/sign/TOKEN/pages/1.png"}
        ],
        "fields": [{"page": 1, "box": [100, 100, 260, 160]}],
    },
    "EnvelopeVoid": {"reason": "terms changed: a new envelope follows"},
    "SignerVerify": {"code": "482913"},
    "SignerViewed": {"pages": [1, 2]},
    "SignerSign": {
        "intent": True,
        "language": "zh-CN",
        "signature": {"kind": "typed", "text": "张三", "style": "ink"},
    },
    "SignerDecline": {"reason": "The delivered quantity does not match"},
    "EnvelopeSign": {"seal": "seal-contract-01", "reason": "Approved in OA flow 7781"},
    "EnvelopeSealRequest": {"seal": "seal-contract-01", "purpose": "Envelope slot 0"},
    "SealDecision": {"reason": "checked against the OA approval"},
    "SealStatusChange": {"reason": "key custodian left the company"},
    "TenantCreate": {"id": "sub3", "name": "Acme Logistics", "parent": "hq"},
    "WebhookReplay": {"from": "2026-12-07T00:00:00Z", "to": "2026-12-08T00:00:00Z"},
    "KeyCreate": {"tenant": "sub1", "role": "integrator", "label": "OA system"},
}


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return dict(components[ref.rsplit("/", 1)[1]])
    return schema


def _string_example(name: str, schema: dict[str, Any]) -> str:
    pattern = schema.get("pattern", "")
    if pattern in ("^[0-9a-f]{64}$", "^[0-9a-fA-F]{64}$"):
        return _H
    if pattern == "^0x[0-9a-f]{64}$":
        return "0x" + _H
    if pattern == "^0x[0-9a-fA-F]{40}$":
        return "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    if pattern == "^[0-9]{4}-[0-9]{2}-[0-9]{2}$":
        return "2026-12-07"
    if pattern == "^whsec_[A-Za-z0-9+/=]+$":
        return "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    if pattern:
        return {"^[0-9]+$": "6"}.get(pattern, "sub3")
    if name.endswith("_at") or name in ("time", "gen_time"):
        return _TIME
    text = {"tenant": "sub1", "id": "seal-contract-01", "seal": "seal-contract-01"}.get(name)
    return text if text is not None else name or "text"


def example_of(schema: dict[str, Any], components: dict[str, Any], name: str = "") -> Any:
    """A value of ``schema`` (``$ref``s into ``components`` followed): a component's
    hand-written example when it has one, else built member by member (required members only)."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.rsplit("/", 1)[1] in EXAMPLES:
        return EXAMPLES[ref.rsplit("/", 1)[1]]
    schema = _resolve(schema, components)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return next(v for v in schema["enum"] if v is not None)
    if "allOf" in schema:
        out: dict[str, Any] = {}
        for part in schema["allOf"]:
            out.update(example_of(part, components, name))
        return out
    if "anyOf" in schema:
        choices = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return example_of(choices[0], components, name) if choices else None
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: example_of(props.get(k, {}), components, k) for k in schema.get("required", [])}
    if kind == "array":
        items = schema.get("items", {"type": "string"})
        return [example_of(items, components, name)] if schema.get("minItems", 1) else []
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1) if schema.get("maximum", 1) >= 1 else 0
    if kind == "number":
        return 12.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string_example(name, schema)


def add_examples(paths: dict[str, Any], components: dict[str, Any]) -> None:
    """Give every JSON request and response body in ``paths`` an ``example`` (in place), unless
    its fragment set one; a problem's example carries its response's status."""
    for item in paths.values():
        for op in item.values():
            bodies = [("", op.get("requestBody", {})), *op.get("responses", {}).items()]
            for status, body in bodies:
                for media_type, media in body.get("content", {}).items():
                    if not media_type.endswith("json") or "example" in media:
                        continue
                    example = example_of(media["schema"], components)
                    if media_type == "application/problem+json" and status.isdigit():
                        example = _problem(int(status), body.get("description", ""))
                    media["example"] = example


#: a typical problem code of each status (sealtrail/api/error_codes.py)
_PROBLEM_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "missing_glyph",
    423: "link_locked",
    429: "rate_limited",
    502: "timestamp_error",
    503: "ledger_busy",
}


def _problem(status: int, description: str) -> dict[str, Any]:
    code = _PROBLEM_CODES.get(status, "sealtrail_error")
    return {
        "type": "https://sealtrail.dev/problems/" + code,
        "title": code.replace("_", " "),
        "status": status,
        "detail": description or code.replace("_", " "),
    }
