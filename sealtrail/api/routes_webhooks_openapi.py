"""The OpenAPI fragment of :mod:`sealtrail.api.routes_webhooks` (merged by
:func:`sealtrail.api.openapi.spec`); the callback payload itself is described in
docs/FORMAT.md §10 and docs/WEBHOOKS.md."""

from __future__ import annotations

from typing import Any

from sealtrail.api.openapi_kit import (
    NULLABLE_INT,
    NULLABLE_STR,
    TIME,
    json_content,
    obj,
    operation,
    path_param,
    query_param,
    ref,
)

TAG = "webhooks"
_ID = path_param("id", {"type": "string", "minLength": 1, "maxLength": 64})
_UNAVAILABLE = {
    "501": {
        "description": "this backend (MongoDB) does not store callbacks",
        "content": {"application/problem+json": {"schema": ref("Problem")}},
    }
}


def _op(operation_id: str, summary: str, responses: dict[str, Any], **kw: Any) -> dict[str, Any]:
    op = operation(summary, {**responses, **_UNAVAILABLE}, tag=TAG, **kw)
    op["operationId"] = operation_id
    return op


def schemas() -> dict[str, Any]:
    """Subscriptions and the delivery log."""
    event_types = {
        "type": "array",
        "minItems": 1,
        "maxItems": 64,
        "items": {"type": "string", "minLength": 1, "maxLength": 97},
        "description": '["*"], or ledger event types and checkpoint.timestamped / '
        "checkpoint.anchored",
    }
    webhook = obj(
        ["id", "tenant", "url", "events", "receipts", "created_at"],
        {
            "id": {"type": "string"},
            "tenant": {"type": "string"},
            "url": {"type": "string"},
            "events": event_types,
            "receipts": {"type": "boolean"},
            "created_at": TIME,
        },
    )
    return {
        "Webhook": webhook,
        "WebhookCreate": obj(
            ["url", "events"],
            {
                "url": {"type": "string", "minLength": 1, "maxLength": 2048},
                "events": event_types,
                "receipts": {"type": "boolean", "default": False},
            },
            closed=True,
        ),
        "WebhookCreated": {
            "allOf": [
                ref("Webhook"),
                obj(
                    ["secret"],
                    {"secret": {"type": "string", "pattern": "^whsec_[A-Za-z0-9+/=]+$"}},
                ),
            ]
        },
        "WebhookList": obj(["webhooks"], {"webhooks": {"type": "array", "items": ref("Webhook")}}),
        "WebhookDeleted": obj(
            ["id", "deleted"], {"id": {"type": "string"}, "deleted": {"const": True}}
        ),
        "WebhookSecret": obj(
            ["id", "secret", "previous_secret_valid_until"],
            {
                "id": {"type": "string"},
                "secret": {"type": "string", "pattern": "^whsec_[A-Za-z0-9+/=]+$"},
                "previous_secret_valid_until": TIME,
            },
        ),
        "WebhookDelivery": obj(
            ["id", "seq", "type", "event_index", "status", "attempts", "created_at"],
            {
                "id": {"type": "string", "description": "the webhook-id header"},
                "seq": {"type": "integer", "minimum": 1},
                "type": {"type": "string"},
                "event_index": NULLABLE_INT,
                "status": {"enum": ["pending", "delivered", "dead", "cancelled"]},
                "attempts": {"type": "integer", "minimum": 0},
                "created_at": TIME,
                "next_attempt_at": NULLABLE_STR,
                "last_attempt_at": NULLABLE_STR,
                "last_status": NULLABLE_INT,
                "last_error": NULLABLE_STR,
                "latency_ms": NULLABLE_INT,
                "replay_of": NULLABLE_STR,
            },
        ),
        "WebhookDeliveryPage": obj(
            ["deliveries", "next_cursor"],
            {
                "deliveries": {"type": "array", "items": ref("WebhookDelivery")},
                "next_cursor": NULLABLE_STR,
            },
        ),
        "WebhookReplay": {
            "oneOf": [
                obj(["delivery_id"], {"delivery_id": {"type": "string"}}, closed=True),
                obj(["from", "to"], {"from": TIME, "to": TIME}, closed=True),
            ]
        },
        "WebhookReplayed": obj(
            ["replayed"], {"replayed": {"type": "array", "items": {"type": "string"}}}
        ),
    }


def paths() -> dict[str, Any]:
    """/v1/webhooks and its sub-resources (an admin key; the key's own tenant only)."""
    return {
        "/v1/webhooks": {
            "post": _op(
                "createWebhook",
                "Subscribe a URL to events; the secret is shown in this answer only",
                {"201": json_content(ref("WebhookCreated"), "the subscription and its secret")},
                body=ref("WebhookCreate"),
            ),
            "get": _op(
                "listWebhooks",
                "The tenant's subscriptions (without secrets)",
                {"200": json_content(ref("WebhookList"), "subscriptions")},
            ),
        },
        "/v1/webhooks/{id}": {
            "delete": _op(
                "deleteWebhook",
                "Unsubscribe; pending deliveries are cancelled",
                {"200": json_content(ref("WebhookDeleted"), "deleted")},
                params=[_ID],
                errors=(404,),
            ),
        },
        "/v1/webhooks/{id}/rotate-secret": {
            "post": _op(
                "rotateWebhookSecret",
                "A new secret; the old one keeps signing beside it for the overlap period",
                {"200": json_content(ref("WebhookSecret"), "the new secret")},
                params=[_ID],
                errors=(404,),
            ),
        },
        "/v1/webhooks/{id}/deliveries": {
            "get": _op(
                "listWebhookDeliveries",
                "The delivery log (status, attempts, last response code, latency)",
                {"200": json_content(ref("WebhookDeliveryPage"), "deliveries, oldest first")},
                params=[
                    _ID,
                    query_param("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page"),
                    query_param("cursor", {"type": "string"}, "next_cursor of the previous page"),
                ],
                errors=(404,),
            ),
        },
        "/v1/webhooks/{id}/replay": {
            "post": _op(
                "replayWebhookDeliveries",
                "Queue again one delivery, or those queued in a time range",
                {"202": json_content(ref("WebhookReplayed"), "the new deliveries' ids")},
                params=[_ID],
                body=ref("WebhookReplay"),
                errors=(404,),
            ),
        },
    }
