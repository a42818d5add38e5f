"""Routes for admins: tenants (subsidiaries) and API keys."""

from __future__ import annotations

from aiohttp import web

from sealtrail.api.context import (
    body_object,
    in_thread,
    json_response,
    principal,
    query_params,
    read_json,
    services,
)
from sealtrail.api.directory import create_key, create_tenant, key_json, tenant_json
from sealtrail.core.errors import InvalidInputError, NotFoundError


def _opt_str(body: dict[str, object], key: str) -> str | None:
    v = body.get(key)
    if v is not None and not isinstance(v, str):
        raise InvalidInputError(f"{key}: want a string")
    return v


async def post_tenant(request: web.Request) -> web.Response:
    """POST /v1/tenants — create a subsidiary of the admin's tenant."""
    p = await principal(request, "admin")
    query_params(request, ())
    body = body_object(await read_json(request), ("id", "name", "parent"))
    tenant_id = _opt_str(body, "id")
    if tenant_id is None:
        raise InvalidInputError("id: is required")
    parent = _opt_str(body, "parent") or p.tenant
    if parent not in p.visible:
        raise NotFoundError(f"no tenant {parent!r}")
    svc = services(request)
    t = await in_thread(
        lambda: create_tenant(
            svc.stores.directory, tenant_id, _opt_str(body, "name"), parent, svc.clock()
        )
    )
    svc._auth_cache.clear()  # the new tenant is visible to its headquarters' keys at once
    return json_response(tenant_json(t), status=201)


async def list_tenants(request: web.Request) -> web.Response:
    """GET /v1/tenants — the caller's tenant and its subsidiaries."""
    p = await principal(request, "admin", "auditor")
    query_params(request, ())
    store = services(request).stores
    tenants = await in_thread(lambda: [store.directory.tenant(t) for t in p.visible])
    return json_response({"tenants": [tenant_json(t) for t in tenants if t is not None]})


async def post_key(request: web.Request) -> web.Response:
    """POST /v1/keys — create a key; the key itself is in this response only."""
    p = await principal(request, "admin")
    query_params(request, ())
    body = body_object(await read_json(request), ("tenant", "role", "label"))
    tenant = _opt_str(body, "tenant") or p.tenant
    if tenant not in p.visible:
        raise NotFoundError(f"no tenant {tenant!r}")
    role = _opt_str(body, "role")
    if role is None:
        raise InvalidInputError("role: is required")
    svc = services(request)
    record, key = await in_thread(
        lambda: create_key(svc.stores.directory, tenant, role, _opt_str(body, "label"), svc.clock())
    )
    return json_response({"key": key, **key_json(record)}, status=201)


async def list_keys(request: web.Request) -> web.Response:
    """GET /v1/keys — keys of the admin's tenant and subsidiaries (never secrets)."""
    p = await principal(request, "admin")
    query_params(request, ())
    store = services(request).stores
    keys = await in_thread(lambda: store.directory.keys(p.visible))
    return json_response({"keys": [key_json(k) for k in keys]})


async def delete_key(request: web.Request) -> web.Response:
    """DELETE /v1/keys/{id} — revoke a key (idempotent)."""
    p = await principal(request, "admin")
    query_params(request, ())
    key_id = request.match_info["id"]
    svc = services(request)
    record = await in_thread(lambda: svc.stores.directory.key(key_id))
    if record is None or record.tenant not in p.visible:
        raise NotFoundError(f"no API key {key_id!r}")
    revoked = await in_thread(lambda: svc.stores.directory.revoke_key(key_id, svc.clock()))
    svc._auth_cache.clear()
    return json_response(key_json(revoked))


def setup(app: web.Application) -> None:
    """Register this module's routes."""
    r = app.router
    r.add_post("/v1/tenants", post_tenant)
    r.add_get("/v1/tenants", list_tenants)
    r.add_post("/v1/keys", post_key)
    r.add_get("/v1/keys", list_keys)
    r.add_delete("/v1/keys/{id}", delete_key)
