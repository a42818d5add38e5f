"""Builders for the OpenAPI 3.1 fragments that live beside their routes: schemas shared by
several route groups (hashes, times, problems), ``$ref``s, operations with their problem
responses, and parameters. :mod:`sealtrail.api.openapi` assembles the fragments.
"""

from __future__ import annotations

from typing import Any

HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
HEX64_ANY_CASE = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}
TIME = {"type": "string", "description": "RFC 3339, UTC, six fraction digits"}
NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"], "minimum": 0}
NULLABLE_HASH0X = {"type": ["string", "null"], "pattern": "^0x[0-9a-f]{64}$"}


def ref(name: str) -> dict[str, str]:
    """A ``$ref`` to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A response with an ``application/json`` body of ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


PROBLEMS = {
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


def problems(*codes: int) -> dict[str, Any]:
    """problem+json responses for ``codes`` (each described by :data:`PROBLEMS`)."""
    return {
        str(c): {
            "description": PROBLEMS[c],
            "content": {"application/problem+json": {"schema": ref("Problem")}},
        }
        for c in codes
    }


def operation(
    summary: str,
    responses: dict[str, Any],
    *,
    errors: tuple[int, ...] = (),
    auth: bool = True,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    tag: str,
) -> dict[str, Any]:
    """An operation under ``tag``: with ``auth`` a bearer key (401, 403), with ``params`` 400,
    with a JSON ``body`` 400, 413 and 415, plus the problem responses ``errors`` names."""
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
    op["responses"].update(problems(*sorted(errs)))
    op["security"] = [{"bearer": []}] if auth else []
    return op


def query_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """An optional query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def path_param(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A path parameter."""
    return {"name": name, "in": "path", "required": True, "schema": schema}


#: the filters of GET /v1/events (also GET /v1/export and GET /v1/package)
FILTER_PARAMS = [
    query_param("stream", {"type": "string", "minLength": 1, "maxLength": 256}, "stream (subject)"),
    query_param("type", {"type": "string", "minLength": 1, "maxLength": 256}, "event type"),
    query_param("actor", {"type": "string", "minLength": 1, "maxLength": 256}, "actor id"),
    query_param("document", HEX64_ANY_CASE, "document SHA-256 fingerprint"),
    query_param("from", {"type": "string"}, "recorded at or after (RFC 3339)"),
    query_param("to", {"type": "string"}, "recorded before (RFC 3339)"),
    query_param("tenant", {"type": "string"}, "one tenant the key may read (HQ auditors)"),
]
#: cursor pagination
PAGE_PARAMS = [
    query_param("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "page size"),
    query_param("cursor", {"type": "string"}, "next_cursor of the previous page"),
]
PROOF = {"type": "array", "items": HEX64}
#: the problem+json body every error response carries (docs/FORMAT.md; api/errors.py)
PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}


PDF_BODY = {
    "required": True,
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
}
PDF_OUT = {
    "description": "the PDF",
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
}


def obj(required: list[str], props: dict[str, Any], *, closed: bool = False) -> dict[str, Any]:
    """An object schema with ``required`` keys (``closed``: no other keys allowed)."""
    out: dict[str, Any] = {"type": "object", "required": required, "properties": props}
    if closed:
        out["additionalProperties"] = False
    return out


def keyed_operation(
    summary: str,
    responses: dict[str, Any],
    errors: tuple[int, ...],
    *,
    texts: dict[int, str],
    tag: str,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    pdf: bool = False,
) -> dict[str, Any]:
    """An operation that needs an API key: 401 and 403 always, 400 with parameters, 400, 413
    and 415 with a JSON (``body``) or PDF (``pdf``) body, and ``errors``; each problem
    described by ``texts`` (which must hold every status used)."""
    codes = {401, 403, *errors}
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": dict(responses)}
    if params:
        op["parameters"] = params
        codes.add(400)
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        codes |= {400, 413, 415}
    if pdf:
        op["requestBody"] = PDF_BODY
        codes |= {400, 413, 415}
    for c in sorted(codes):
        op["responses"][str(c)] = {
            "description": texts[c],
            "content": {"application/problem+json": {"schema": ref("Problem")}},
        }
    op["security"] = [{"bearer": []}]
    return op
