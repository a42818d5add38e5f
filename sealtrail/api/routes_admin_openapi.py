"""The OpenAPI fragment of :mod:`sealtrail.api.routes_admin` (merged by
:func:`sealtrail.api.openapi.spec`)."""

from __future__ import annotations

from typing import Any

from sealtrail.api.openapi_kit import (
    NULLABLE_STR,
    TIME,
    json_content,
    operation,
    path_param,
    ref,
)


def schemas() -> dict[str, Any]:
    """Tenants and API keys."""
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
        "Tenant": tenant,
        "TenantList": {
            "type": "object",
            "required": ["tenants"],
            "properties": {"tenants": {"type": "array", "items": ref("Tenant")}},
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
                ref("Key"),
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
            "properties": {"keys": {"type": "array", "items": ref("Key")}},
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


def paths() -> dict[str, Any]:
    """Tenants and API keys (admins)."""
    adm = "admin"
    return {
        "/v1/tenants": {
            "post": operation(
                "Create a subsidiary tenant",
                {"201": json_content(ref("Tenant"), "created")},
                body=ref("TenantCreate"),
                errors=(404, 409),
                tag=adm,
            ),
            "get": operation(
                "Visible tenants", {"200": json_content(ref("TenantList"), "tenants")}, tag=adm
            ),
        },
        "/v1/keys": {
            "post": operation(
                "Create an API key (the key is in this response only)",
                {"201": json_content(ref("KeyCreated"), "created")},
                body=ref("KeyCreate"),
                errors=(404,),
                tag=adm,
            ),
            "get": operation(
                "API keys (never secrets)", {"200": json_content(ref("KeyList"), "keys")}, tag=adm
            ),
        },
        "/v1/keys/{id}": {
            "delete": operation(
                "Revoke an API key",
                {"200": json_content(ref("Key"), "revoked")},
                params=[path_param("id", {"type": "string"})],
                errors=(404,),
                tag=adm,
            )
        },
    }
