"""Routes for seals (registry, appearance, direct sealing), seal-use control, seal uses, and
validation of uploaded PDFs.

Roles: admins create, suspend, resume and revoke seals of their tenant and its subsidiaries and
set seal-use policies; integrators of a seal's tenant request uses and seal PDFs; approvers
(keys named in the policy) decide; every role reads what its key sees (HQ auditors: their
subsidiaries too). Private keys never leave the registry: no response carries one.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from aiohttp import web

from sealtrail.api.context import (
    body_object,
    in_thread,
    int_param,
    json_response,
    principal,
    query_params,
    read_json,
)
from sealtrail.api.errors import ForbiddenError
from sealtrail.api.seals import (
    ANY_ROLE,
    DEFAULT_BOX,
    actor,
    desk,
    field_name,
    level_param,
    opt_str,
    parse_box,
    pdf_response,
    read_pdf,
    report_json,
    str_list,
    text_param,
)
from sealtrail.core.errors import InvalidInputError, NotFoundError
from sealtrail.core.event import format_time
from sealtrail.seals import approvals, registry
from sealtrail.seals.approvals import ApprovalRequiredError
from sealtrail.seals.envelopes import sha256
from sealtrail.signing.appearance import SealKind
from sealtrail.signing.pdfinput import open_pdf
from sealtrail.signing.sign import Placement

_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")


def _b64(body: dict[str, Any], key: str, limit: int) -> bytes | None:
    raw = body.get(key)
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > limit * 4 // 3 + 4:
        raise InvalidInputError(f"{key}: want base64 of at most {limit} bytes")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{key}: not base64") from None


def tenant_param(p: Any, requested: str | None) -> str:
    """One tenant the key sees (its own by default)."""
    tenant = requested or p.tenant
    if tenant not in p.visible:
        raise NotFoundError(f"no tenant {tenant[:64]!r}")
    return tenant


async def post_seal(request: web.Request) -> web.Response:
    """POST /v1/seals — create a seal (internal CA certificate, or an imported PKCS#12)."""
    p = await principal(request, "admin")
    query_params(request, ())
    allowed = ("tenant", "kind", "name", "purpose", "code", "remarks", "appearance_png",
               "pkcs12", "pkcs12_password")  # fmt: skip
    body = body_object(await read_json(request), allowed)
    tenant = tenant_param(p, opt_str(body, "tenant") or None)
    try:
        kind = SealKind(body.get("kind"))
    except ValueError:
        kinds = ", ".join(k.value for k in SealKind)
        raise InvalidInputError(f"kind: want one of {kinds}") from None
    png = _b64(body, "appearance_png", 2 * 1024 * 1024)
    p12 = _b64(body, "pkcs12", 64 * 1024)
    password = opt_str(body, "pkcs12_password")
    if (p12 is None) != ("pkcs12_password" not in body):
        raise InvalidInputError("pkcs12 and pkcs12_password go together")
    d = desk(request)
    seal = await in_thread(
        lambda: registry.create_seal(
            d.seals, d.directory, d.protector, tenant=tenant, kind=kind, name=opt_str(body, "name"),
            actor=actor(p), now=d.clock(), purpose=opt_str(body, "purpose"),
            code=opt_str(body, "code"), remarks=opt_str(body, "remarks"), png=png,
            pkcs12=None if p12 is None else (p12, password.encode()), trust=d.trust,
        )
    )  # fmt: skip
    await d.flush()
    return json_response(seal.to_json(), status=201)


async def list_seals(request: web.Request) -> web.Response:
    """GET /v1/seals — seals the key sees (one tenant with ?tenant=, one status with ?status=)."""
    p = await principal(request, *ANY_ROLE)
    params = query_params(request, ("tenant", "status"))
    tenants = [tenant_param(p, params["tenant"])] if "tenant" in params else list(p.visible)
    status = params.get("status")
    if status is not None and status not in registry.STATUSES:
        raise InvalidInputError(f"status: want one of {', '.join(registry.STATUSES)}")
    d = desk(request)
    seals = await in_thread(lambda: registry.list_seals(d.seals, tenants, status))
    return json_response({"seals": [s.to_json() for s in seals]})


async def _seal(request: web.Request, visible: tuple[str, ...]) -> registry.SealRecord:
    d = desk(request)
    seal_id = request.match_info["id"]
    return await in_thread(lambda: registry.visible_seal(d.seals, seal_id, visible))


async def get_seal(request: web.Request) -> web.Response:
    """GET /v1/seals/{id}."""
    p = await principal(request, *ANY_ROLE)
    query_params(request, ())
    return json_response((await _seal(request, p.visible)).to_json())


async def get_appearance(request: web.Request) -> web.Response:
    """GET /v1/seals/{id}/appearance — the seal's picture (PNG)."""
    p = await principal(request, *ANY_ROLE)
    query_params(request, ())
    seal = await _seal(request, p.visible)
    d = desk(request)
    png = await in_thread(lambda: registry.appearance(d.seals, seal.id))
    return web.Response(body=png, content_type="image/png")


def _status_route(status: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        p = await principal(request, "admin")
        query_params(request, ())
        body = body_object(await read_json(request), ("reason",))
        seal = await _seal(request, p.visible)
        d = desk(request)
        updated = await in_thread(
            lambda: registry.set_status(
                d.seals, seal.id, status, reason=opt_str(body, "reason"), actor=actor(p),
                now=d.clock(),
            )
        )  # fmt: skip
        await d.flush()
        return json_response(updated.to_json())

    handler.__doc__ = f"POST /v1/seals/{{id}}/… — make the seal {status}, with a reason."
    return handler


async def sign_with_seal(request: web.Request) -> web.Response:
    """POST /v1/seals/{id}/sign — seal an uploaded PDF (application/pdf) and return it.

    Query: ``page`` (1-based, default last), ``box`` (x1,y1,x2,y2 points), ``reason``,
    ``location``, ``request`` (an approved seal request: required for controlled seals),
    ``level`` (``B-T``, the default, or ``B-LT``: certificates and the CA's CRL embedded).
    """
    p = await principal(request, "integrator")
    params = query_params(request, ("page", "box", "reason", "location", "request", "level"))
    level = level_param(params.get("level"))
    seal = await _seal(request, p.visible)
    d = desk(request)
    pdf = await read_pdf(request)
    before = sha256(pdf)
    req_id = params.get("request")
    policy = await in_thread(lambda: approvals.get_policy(d.seals, seal.tenant))
    if req_id is None and policy.controls(seal.id):
        raise ApprovalRequiredError(f"seal {seal.id} is controlled: send ?request=<approved id>")
    if req_id is not None:
        await in_thread(
            lambda: approvals.check_authorisation(d.seals, req_id, seal.id, before, p.key_id)
        )
    page = int_param(params, "page", lo=1, hi=10_000)
    box = parse_box(params["box"]) if "box" in params else DEFAULT_BOX
    pages = await in_thread(lambda: _pages(pdf))
    placement = Placement(field_name(), page=(page or pages) - 1, box=box)
    signed = await d.sign(
        seal,
        pdf,
        placement,
        reason=text_param(params.get("reason", ""), "reason"),
        location=text_param(params.get("location", ""), "location"),
        level=level,
    )
    at = d.clock()
    await in_thread(
        lambda: approvals.record_use(
            d.seals, seal, key_id=p.key_id, before=before, after=sha256(signed), actor=actor(p),
            at=format_time(at), request_id=req_id,
        )
    )  # fmt: skip
    await d.flush()
    return pdf_response(signed, "sealed.pdf")


def _pages(pdf: bytes) -> int:
    return open_pdf(pdf, max_bytes=len(pdf)).pages


async def get_policy(request: web.Request) -> web.Response:
    """GET /v1/seal-policy?tenant= — a tenant's seal-use policy."""
    p = await principal(request, "admin", "auditor")
    tenant = tenant_param(p, query_params(request, ("tenant",)).get("tenant"))
    d = desk(request)
    return json_response((await in_thread(lambda: approvals.get_policy(d.seals, tenant))).to_json())


async def put_policy(request: web.Request) -> web.Response:
    """PUT /v1/seal-policy — replace a tenant's policy (controlled seals, approver keys)."""
    p = await principal(request, "admin")
    query_params(request, ())
    body = body_object(await read_json(request), ("tenant", "controlled", "approvers"))
    tenant = tenant_param(p, opt_str(body, "tenant") or None)
    controlled, approvers = str_list(body, "controlled"), str_list(body, "approvers")
    d = desk(request)
    policy = await in_thread(
        lambda: approvals.set_policy(
            d.seals, d.directory, tenant, controlled, approvers, actor=actor(p), now=d.clock()
        )
    )
    await d.flush()
    return json_response(policy.to_json())


async def post_request(request: web.Request) -> web.Response:
    """POST /v1/seal-requests — ask to use a seal on one document."""
    p = await principal(request, "integrator")
    query_params(request, ())
    body = body_object(await read_json(request), ("seal", "document_sha256", "purpose"))
    doc = opt_str(body, "document_sha256")
    if not _HEX64.match(doc):
        raise InvalidInputError("document_sha256: want 64 hex digits")
    seal = await in_thread(
        lambda: registry.visible_seal(desk(request).seals, opt_str(body, "seal"), p.visible)
    )
    d = desk(request)
    req = await in_thread(
        lambda: approvals.create_request(
            d.seals, seal, bytes.fromhex(doc), opt_str(body, "purpose"), requester_key=p.key_id,
            actor=actor(p), now=d.clock(),
        )
    )  # fmt: skip
    await d.flush()
    return json_response(req.to_json(), status=201)


async def list_requests(request: web.Request) -> web.Response:
    """GET /v1/seal-requests — requests the key sees (?tenant=, ?status=)."""
    p = await principal(request, *ANY_ROLE)
    params = query_params(request, ("tenant", "status"))
    tenants = [tenant_param(p, params["tenant"])] if "tenant" in params else list(p.visible)
    status = params.get("status")
    if status is not None and status not in ("pending", "approved", "rejected", "used"):
        raise InvalidInputError("status: want pending, approved, rejected or used")
    d = desk(request)
    reqs = await in_thread(lambda: approvals.list_requests(d.seals, tenants, status))
    return json_response({"requests": [r.to_json() for r in reqs]})


async def _request(request: web.Request, p: Any) -> approvals.SealRequest:
    d = desk(request)
    req_id = request.match_info["id"]

    def read() -> approvals.SealRequest:
        try:
            req = approvals.get_request(d.seals, req_id)
        except NotFoundError:
            raise NotFoundError(f"no seal request {req_id[:80]!r}") from None
        if (
            req.tenant not in p.visible
            and p.key_id not in approvals.get_policy(d.seals, req.tenant).approvers
        ):
            raise NotFoundError(f"no seal request {req_id[:80]!r}")
        return req

    return await in_thread(read)


async def get_request(request: web.Request) -> web.Response:
    """GET /v1/seal-requests/{id}."""
    p = await principal(request, *ANY_ROLE)
    query_params(request, ())
    return json_response((await _request(request, p)).to_json())


def _decision_route(approve: bool) -> Any:
    async def handler(request: web.Request) -> web.Response:
        p = await principal(request, "integrator", "admin")
        query_params(request, ())
        body = body_object(await read_json(request), ("reason",))
        req = await _request(request, p)
        d = desk(request)
        decided = await in_thread(
            lambda: approvals.decide(
                d.seals, req.id, approve=approve, approver_key=p.key_id,
                reason=opt_str(body, "reason"), actor=actor(p), now=d.clock(),
            )
        )  # fmt: skip
        await d.flush()
        return json_response(decided.to_json())

    handler.__doc__ = f"POST /v1/seal-requests/{{id}}/{'approve' if approve else 'reject'}."
    return handler


async def list_uses(request: web.Request) -> web.Response:
    """GET /v1/seal-uses — every use of the seals the key sees (HQ auditors: subsidiaries')."""
    p = await principal(request, *ANY_ROLE)
    params = query_params(request, ("tenant",))
    tenants = [tenant_param(p, params["tenant"])] if "tenant" in params else list(p.visible)
    d = desk(request)
    return json_response({"uses": await in_thread(lambda: approvals.list_uses(d.seals, tenants))})


async def validate(request: web.Request) -> web.Response:
    """POST /v1/pdf/validate — validate every signature of an uploaded PDF against the seal
    roots of the tenants the key sees: the configured trust list, their own CAs and their
    internal CAs. Each signature names its subject, issuer, trust root and, when registered
    here, its seal and tenant.

    ``?scope=all`` (every root of this deployment, as ``/v1/public/pdf/validate``) is for
    admin keys only: any other key gets 403 ``forbidden``.
    """
    p = await principal(request, *ANY_ROLE)
    params = query_params(request, ("scope",))
    scope = params.get("scope", "visible")
    if scope not in ("visible", "all"):
        raise InvalidInputError("scope: want visible or all")
    if scope == "all" and p.role != "admin":
        raise ForbiddenError(
            "scope=all: admin keys only (validate against every seal root of this deployment "
            "with POST /v1/public/pdf/validate)"
        )
    pdf = await read_pdf(request)
    d = desk(request)
    report = await d.validate(pdf, None if scope == "all" else p.visible)
    return json_response(report_json(report))


def setup(app: web.Application) -> None:
    """Register the seal routes (the seal desk is set up by :func:`sealtrail.api.seals.setup`)."""
    r = app.router
    r.add_post("/v1/seals", post_seal)
    r.add_get("/v1/seals", list_seals)
    r.add_get("/v1/seals/{id}", get_seal)
    r.add_get("/v1/seals/{id}/appearance", get_appearance)
    r.add_post("/v1/seals/{id}/suspend", _status_route("suspended"))
    r.add_post("/v1/seals/{id}/resume", _status_route("active"))
    r.add_post("/v1/seals/{id}/revoke", _status_route("revoked"))
    r.add_post("/v1/seals/{id}/sign", sign_with_seal)
    r.add_get("/v1/seal-policy", get_policy)
    r.add_put("/v1/seal-policy", put_policy)
    r.add_post("/v1/seal-requests", post_request)
    r.add_get("/v1/seal-requests", list_requests)
    r.add_get("/v1/seal-requests/{id}", get_request)
    r.add_post("/v1/seal-requests/{id}/approve", _decision_route(True))
    r.add_post("/v1/seal-requests/{id}/reject", _decision_route(False))
    r.add_get("/v1/seal-uses", list_uses)
    r.add_post("/v1/pdf/validate", validate)
