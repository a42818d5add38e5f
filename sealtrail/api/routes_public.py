"""Checkpoints, the public fingerprint look-up, public PDF validation, health, metrics and the
OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sealtrail.anchoring.timestamping import timestamp_json
from sealtrail.anchoring.worker import anchor_json
from sealtrail.api.context import (
    in_thread,
    int_param,
    json_response,
    path_int,
    principal,
    query_params,
    services,
)
from sealtrail.api.openapi import document, served_base_url
from sealtrail.api.routes_events import checkpoint_detail, checkpoint_json, public_failure
from sealtrail.api.routes_maps import document_member
from sealtrail.api.seals import desk, read_pdf, report_json
from sealtrail.core.errors import InvalidInputError, NotFoundError, ProofError

MAX_PUBLIC_EVENTS = 100


async def latest_checkpoint(request: web.Request) -> web.Response:
    """GET /v1/checkpoints/latest."""
    await principal(request, "integrator", "auditor", "admin")
    query_params(request, ())
    svc = services(request)
    return json_response(
        await in_thread(
            lambda: checkpoint_detail(svc.stores, svc.ledger.checkpoint(), svc.anchor_confirmations)
        )
    )


async def get_checkpoint(request: web.Request) -> web.Response:
    """GET /v1/checkpoints/{size}."""
    await principal(request, "integrator", "auditor", "admin")
    query_params(request, ())
    size = path_int(request, "size")
    svc = services(request)
    return json_response(
        await in_thread(
            lambda: checkpoint_detail(
                svc.stores, svc.ledger.checkpoint(size), svc.anchor_confirmations
            )
        )
    )


async def get_consistency(request: web.Request) -> web.Response:
    """GET /v1/checkpoints/consistency?from=M&to=N — between two sealed checkpoints."""
    await principal(request, "integrator", "auditor", "admin")
    params = query_params(request, ("from", "to"))
    old = int_param(params, "from", lo=1, hi=2**63 - 1)
    new = int_param(params, "to", lo=1, hi=2**63 - 1)
    if old is None:
        raise InvalidInputError("from: is required")
    ledger = services(request).ledger

    def build() -> dict[str, Any]:
        a = ledger.checkpoint(old)
        b = ledger.checkpoint(new)
        if a.size > b.size:
            raise ProofError(f"from ({a.size}) is larger than to ({b.size})")
        proof = ledger.consistency_proof(a.size, b.size)
        return {
            **proof.to_json(),
            "old_checkpoint": checkpoint_json(a),
            "new_checkpoint": checkpoint_json(b),
        }

    return json_response(await in_thread(build))


async def public_fingerprint(request: web.Request) -> web.Response:
    """GET /v1/public/fingerprints/{sha256} — public facts about a document, no names: the
    events naming it (at most :data:`MAX_PUBLIC_EVENTS`, in log order) with inclusion proofs
    to the latest checkpoint, and the document's value in that checkpoint's map with its
    (non-)inclusion proof (``map``; docs/FORMAT.md §5.2). 404 only when no event names it and
    no map can prove so."""
    svc = services(request)
    svc.limiter.check(request.remote or "unknown")
    query_params(request, ())
    digest = request.match_info["sha256"]
    if not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
        raise NotFoundError("not a SHA-256 fingerprint (want 64 hex digits)")
    ledger, store = svc.ledger, svc.stores

    def build() -> dict[str, Any]:
        # The checkpoint first, then the events: every event below its size is committed
        # before it was sealed, so the list holds all of them (up to the cap) — what the
        # document's map value (``map``) counts.
        cp = store.ledger.latest_checkpoint()
        fingerprint = bytes.fromhex(digest)
        events = store.ledger.by_document(fingerprint, limit=MAX_PUBLIC_EVENTS)
        member = document_member(store.ledger, cp, fingerprint)
        if not events and member is None:
            raise NotFoundError(f"no event names a document with fingerprint {digest.lower()}")
        out = []
        for e in events:
            proof = None
            if cp is not None and e.index < cp.size:
                p = ledger.inclusion_proof(e.index, cp.size)
                proof = [h.hex() for h in p.proof]
            out.append(
                {
                    "index": e.index,
                    "type": e.type,
                    "recorded_at": e.recorded_at,
                    "leaf_hash": e.leaf_hash.hex(),
                    "proof": proof,
                }
            )
        return {
            "sha256": digest.lower(),
            "events": out,
            "checkpoint": checkpoint_json(cp) if cp else None,
            "map": member,
            "verifier_key": ledger.verifier.vkey,
            # how the portal writes times (with their UTC offset): the service's ``timezone``,
            # as the report does — a display choice, never evidence
            "display_timezone": svc.settings.timezone,
            "timestamp": public_failure(timestamp_json(store.timestamps.timestamp(cp.size)))
            if cp
            else {"status": "none"},
            "anchor": public_failure(
                anchor_json(store.anchors.anchor(cp.size), svc.anchor_confirmations)
            )
            if cp
            else {"status": "none"},
        }

    return json_response(await in_thread(build))


async def public_validate_pdf(request: web.Request) -> web.Response:
    """POST /v1/public/pdf/validate — no key: validate an uploaded PDF (``application/pdf``)
    against the roots of the seals registered here (the configured trust list, tenants' own
    CAs, their internal CAs) and say, per signature, whose seal signed it.

    What it shows beyond the PDF's own certificates and fields: the trust root (a configured
    certificate) and, for a certificate registered here, the seal id and tenant id — nothing
    else of the registry (no seal names, statuses, keys or other tenants). Rate-limited per
    client address (``public_pdf_rate_limit`` per minute), and nothing is recorded.
    """
    d = desk(request)
    d.public_limiter.check(request.remote or "unknown")
    query_params(request, ())
    pdf = await read_pdf(request)
    return json_response(report_json(await d.validate(pdf, None)))


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz — the process is up."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """GET /readyz — the database answers."""
    store = services(request).stores
    size = await in_thread(store.ledger.size)
    return json_response({"status": "ready", "log_size": size})


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics — Prometheus text format."""
    body = generate_latest(services(request).metrics.registry)
    resp = web.Response(body=body)
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return resp


async def openapi(request: web.Request) -> web.Response:
    """GET /v1/openapi.json, its ``servers`` naming the configured ``public_url`` (or, unset,
    the origin this request reached)."""
    public_url = getattr(services(request).settings, "public_url", None)
    base = served_base_url(public_url, request.scheme, request.host)
    return json_response(document(base))


def setup(app: web.Application) -> None:
    """Register this module's routes."""
    r = app.router
    r.add_get("/v1/checkpoints/latest", latest_checkpoint)
    r.add_get("/v1/checkpoints/consistency", get_consistency)
    r.add_get("/v1/checkpoints/{size}", get_checkpoint)
    r.add_get("/v1/public/fingerprints/{sha256}", public_fingerprint)
    r.add_post("/v1/public/pdf/validate", public_validate_pdf)
    r.add_get("/healthz", healthz)
    r.add_get("/readyz", readyz)
    r.add_get("/metrics", metrics)
    r.add_get("/v1/openapi.json", openapi)
