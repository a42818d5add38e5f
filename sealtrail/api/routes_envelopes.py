"""Routes for envelopes: multi-party signing of one PDF, ordered or in parallel.

``POST /v1/envelopes?title=…&order=sequential|parallel&signer=SEAL[:KEY]&signer=…`` with the PDF
as ``application/pdf`` creates one (an integrator of the creating tenant). A signer names a seal
(of any tenant: enterprise-to-enterprise) and optionally the one API key that must apply it;
otherwise any integrator key of the seal's tenant may. Signer *i* stamps the last page in cell
*i* of a 3 × 5 grid. The envelope is seen by its creator's tenant and the signers' tenants
(and their headquarters' auditors); every status view and download is a ledger event.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sealtrail.api.context import (
    body_object,
    in_thread,
    json_response,
    principal,
    query_params,
    read_json,
)
from sealtrail.api.seals import (
    ANY_ROLE,
    actor,
    desk,
    field_name,
    level_param,
    opt_str,
    pdf_response,
    read_pdf,
    text_param,
)
from sealtrail.core.errors import InvalidInputError, NotFoundError
from sealtrail.seals import approvals, envelopes, registry
from sealtrail.seals.approvals import ApprovalRequiredError
from sealtrail.seals.envelopes import Envelope
from sealtrail.signing.pdfinput import open_pdf
from sealtrail.signing.sign import Placement


def _box(position: int) -> tuple[int, int, int, int]:
    col, row = position % 3, position // 3
    x, y = 40 + col * 180, 40 + row * 150
    return (x, y, x + 140, y + 140)


def _signers(request: web.Request) -> list[tuple[str, str | None]]:
    raw = request.query.getall("signer", [])
    if not raw:
        raise InvalidInputError("signer: give at least one (?signer=SEAL_ID[:KEY_ID])")
    out: list[tuple[str, str | None]] = []
    for s in raw:
        seal, _, key = s.partition(":")
        if not seal or len(s) > 200:
            raise InvalidInputError(f"signer {s[:64]!r}: want SEAL_ID or SEAL_ID:KEY_ID")
        out.append((seal, key or None))
    return out


async def post_envelope(request: web.Request) -> web.Response:
    """POST /v1/envelopes — create an envelope for the uploaded PDF."""
    p = await principal(request, "integrator")
    for k in request.query:
        if k not in ("title", "order", "signer"):
            raise InvalidInputError(
                f"unknown query parameter {k!r} (allowed: order, signer, title)"
            )
    if len(request.query.getall("title", [])) > 1 or len(request.query.getall("order", [])) > 1:
        raise InvalidInputError("title and order may be given once")
    order = request.query.get("order", "sequential")
    if order not in ("sequential", "parallel"):
        raise InvalidInputError("order: want sequential or parallel")
    wanted = _signers(request)
    d = desk(request)
    pdf = await read_pdf(request)

    def create() -> Envelope:
        signers = []
        for seal_id, key in wanted:
            seal = registry.get_seal(d.seals, seal_id)
            if seal is None:
                raise InvalidInputError(f"signer: no seal {seal_id[:80]!r}")
            if seal.status != "active":
                raise InvalidInputError(f"signer: seal {seal_id} is {seal.status}")
            if key is not None:
                k = d.directory.key(key)
                if k is None or k.tenant != seal.tenant:
                    raise InvalidInputError(f"signer: no key {key[:40]!r} of the seal's tenant")
            signers.append((seal, key))
        return envelopes.create_envelope(
            d.seals, tenant=p.tenant, title=request.query.get("title", "document.pdf"),
            ordered=order == "sequential", signers=signers, pdf=pdf, created_by=p.key_id,
            actor=actor(p), now=d.clock(),
        )  # fmt: skip

    env = await in_thread(create)
    await d.flush()
    return json_response(env.to_json(), status=201)


async def _envelope(request: web.Request, p: Any) -> Envelope:
    d = desk(request)
    env_id = request.match_info["id"]

    def read() -> Envelope:
        env = envelopes.get_envelope(d.seals, env_id)
        if not env.tenants(d.seals) & set(p.visible):
            raise NotFoundError(f"no envelope {env_id[:80]!r}")
        return env

    return await in_thread(read)


async def get_envelope(request: web.Request) -> web.Response:
    """GET /v1/envelopes/{id} — status and signers (recorded as a ``view``)."""
    p = await principal(request, *ANY_ROLE)
    query_params(request, ())
    env = await _envelope(request, p)
    d = desk(request)
    await in_thread(lambda: envelopes.record_access(d.seals, env, "view", actor(p)))
    await d.flush()
    return json_response(env.to_json())


async def get_document(request: web.Request) -> web.Response:
    """GET /v1/envelopes/{id}/document — the current PDF (recorded as a ``download``)."""
    p = await principal(request, *ANY_ROLE)
    query_params(request, ())
    env = await _envelope(request, p)
    d = desk(request)
    pdf = await in_thread(lambda: envelopes.document(d.seals, env.id))
    await in_thread(lambda: envelopes.record_access(d.seals, env, "download", actor(p)))
    await d.flush()
    return pdf_response(pdf, f"{env.id}.pdf")


async def sign_envelope(request: web.Request) -> web.Response:
    """POST /v1/envelopes/{id}/sign — apply the caller's seal to the envelope's PDF."""
    p = await principal(request, "integrator")
    query_params(request, ())
    body = body_object(await read_json(request), ("seal", "request", "reason", "location", "level"))
    level = level_param(opt_str(body, "level") or None)
    d = desk(request)
    env_id = request.match_info["id"]
    seal = await in_thread(lambda: registry.visible_seal(d.seals, opt_str(body, "seal"), p.visible))
    req_id = opt_str(body, "request") or None
    async with d.lock(env_id):  # one signature at a time per envelope (CAS guards processes)
        env = await _envelope(request, p)
        slot = envelopes.slot_for(env, seal, p.key_id)
        policy = await in_thread(lambda: approvals.get_policy(d.seals, seal.tenant))
        if req_id is None and policy.controls(seal.id):
            raise ApprovalRequiredError(f"seal {seal.id} is controlled: send an approved request")
        pdf = await in_thread(lambda: envelopes.document(d.seals, env.id))
        if req_id is not None:
            await in_thread(
                lambda: approvals.check_authorisation(
                    d.seals, req_id, seal.id, env.current, p.key_id
                )
            )
        pages = await in_thread(lambda: open_pdf(pdf, max_bytes=len(pdf)).pages)
        placement = Placement(field_name(), page=pages - 1, box=_box(slot.position))
        signed = await d.sign(
            seal, pdf, placement,
            reason=text_param(opt_str(body, "reason"), "reason")
            or f"{env.title}: signer {slot.position + 1}",
            location=text_param(opt_str(body, "location"), "location"), level=level,
        )  # fmt: skip
        updated = await in_thread(
            lambda: envelopes.commit_signature(
                d.seals, env, slot, seal, signed, key_id=p.key_id, actor=actor(p),
                now=d.clock(), request_id=req_id,
            )
        )  # fmt: skip
    await d.flush()
    return json_response(updated.to_json())


def setup(app: web.Application) -> None:
    """Register this module's routes."""
    r = app.router
    r.add_post("/v1/envelopes", post_envelope)
    r.add_get("/v1/envelopes/{id}", get_envelope)
    r.add_get("/v1/envelopes/{id}/document", get_document)
    r.add_post("/v1/envelopes/{id}/sign", sign_envelope)
