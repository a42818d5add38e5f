"""Routes for integrators (append) and auditors (query, proofs, streams, export)."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
from typing import Any

from aiohttp import web

from sealtrail.anchoring.store import AnchoringStores
from sealtrail.anchoring.timestamping import timestamp_json
from sealtrail.anchoring.worker import anchor_json
from sealtrail.api.appends import append_events
from sealtrail.api.context import (
    in_thread,
    int_param,
    json_response,
    path_int,
    principal,
    query_params,
    read_json,
    services,
    visible_tenant,
)
from sealtrail.core.errors import EventValidationError, InvalidInputError, NotFoundError
from sealtrail.core.event import Event, parse_event_input, parse_time
from sealtrail.ledger.log import InclusionProof
from sealtrail.ledger.sequencer import Appended
from sealtrail.ledger.store import EventQuery, StoredCheckpoint

MAX_PAGE = 1000
DEFAULT_PAGE = 100
_IDEMPOTENCY_RE = re.compile(r"[\x21-\x7e]{1,128}\Z")
FILTERS = ("stream", "type", "actor", "document", "from", "to", "tenant")


def event_json(e: Event) -> dict[str, Any]:
    """An event as the API shows it: the stored object plus its leaf hash."""
    return e.to_json()


def _appended_json(a: Appended) -> dict[str, Any]:
    return {**event_json(a.event), "duplicate": a.duplicate}


async def post_event(request: web.Request) -> web.Response:
    """POST /v1/events — append one event; retries with the same id return the original."""
    p = await principal(request, "integrator")
    query_params(request, ())
    body = await read_json(request)
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        if not _IDEMPOTENCY_RE.match(key):
            raise InvalidInputError("Idempotency-Key: want 1-128 visible ASCII characters")
        if isinstance(body, dict):
            cid = body.get("client_event_id")
            if cid is not None and cid != key:
                raise InvalidInputError(
                    "Idempotency-Key and client_event_id differ: send one, or the same value"
                )
            body = {**body, "client_event_id": key}
    inp = parse_event_input(body)
    (result,) = await append_events(services(request), p.tenant, [inp])
    resp = json_response(event_json(result.event), status=200 if result.duplicate else 201)
    if result.duplicate:
        resp.headers["Idempotent-Replayed"] = "true"
    resp.headers["Location"] = f"/v1/events/{result.event.index}"
    return resp


async def post_batch(request: web.Request) -> web.Response:
    """POST /v1/events/batch — append up to max_batch events atomically (all or nothing)."""
    p = await principal(request, "integrator")
    query_params(request, ())
    if "Idempotency-Key" in request.headers:
        raise InvalidInputError(
            "Idempotency-Key is for single events; give each event a client_event_id"
        )
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidInputError('want an object {"events": [...]}')
    unknown = set(body) - {"events"}
    if unknown:
        raise InvalidInputError(f"{sorted(unknown)[0]}: unknown field (allowed: events)")
    events = body.get("events")
    limit = services(request).settings.max_batch
    if not isinstance(events, list) or not events:
        raise InvalidInputError("events: want a non-empty array")
    if len(events) > limit:
        raise InvalidInputError(f"events: {len(events)} events, at most {limit} in one batch")
    inputs = []
    for i, e in enumerate(events):
        try:
            inputs.append(parse_event_input(e))
        except EventValidationError as err:
            raise EventValidationError(
                f"events[{i}]" + (f".{err.field}" if err.field else ""), err.reason
            ) from None
    results = await append_events(services(request), p.tenant, inputs)
    return json_response({"events": [_appended_json(r) for r in results]}, status=201)


def _encode_cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"after:{index}".encode()).decode().rstrip("=")


def _decode_cursor(raw: str) -> int:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInputError("cursor: not a cursor this service issued") from None
    m = re.fullmatch(r"after:(0|[1-9][0-9]{0,18})", text)
    if not m or _encode_cursor(int(m.group(1))) != raw:
        raise InvalidInputError("cursor: not a cursor this service issued")
    return int(m.group(1))


def event_query(params: dict[str, str], tenants: tuple[str, ...]) -> EventQuery:
    """The store query for GET /v1/events's filters (:data:`FILTERS`) over ``tenants``."""
    doc = params.get("document")
    if doc is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", doc):
        raise InvalidInputError("document: want a SHA-256 fingerprint (64 hex digits)")
    for name in ("stream", "type", "actor"):
        v = params.get(name)
        if v is not None and not 1 <= len(v) <= 256:
            raise InvalidInputError(f"{name}: want 1-256 characters")
    start = params.get("from")
    end = params.get("to")
    try:
        start = None if start is None else parse_time(start, "from")
        end = None if end is None else parse_time(end, "to")
    except EventValidationError as e:
        raise InvalidInputError(str(e)) from None
    return EventQuery(
        tenants=tenants,
        stream=params.get("stream"),
        type=params.get("type"),
        actor_id=params.get("actor"),
        document=None if doc is None else bytes.fromhex(doc),
        recorded_from=start,
        recorded_to=end,
    )


async def list_events(request: web.Request) -> web.Response:
    """GET /v1/events — filtered, cursor-paginated, in log order."""
    p = await principal(request, "auditor")
    params = query_params(request, (*FILTERS, "limit", "cursor"))
    limit = int_param(params, "limit", lo=1, hi=MAX_PAGE) or DEFAULT_PAGE
    after = _decode_cursor(params["cursor"]) if "cursor" in params else -1
    q = event_query(params, visible_tenant(p, params.get("tenant")))
    store = services(request).stores
    rows = await in_thread(lambda: store.ledger.query(q, after=after, limit=limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return json_response(
        {
            "events": [event_json(e) for e in rows],
            "next_cursor": _encode_cursor(rows[-1].index) if more else None,
        }
    )


async def _visible_event(request: web.Request, index: int, tenants: tuple[str, ...]) -> Event:
    store = services(request).stores
    ev = await in_thread(lambda: store.ledger.event(index))
    if ev is None or ev.tenant not in tenants:
        raise NotFoundError(f"no event {index}")
    return ev


async def get_event(request: web.Request) -> web.Response:
    """GET /v1/events/{index}."""
    p = await principal(request, "auditor")
    query_params(request, ())
    ev = await _visible_event(request, path_int(request, "index"), p.visible)
    return json_response(event_json(ev))


def checkpoint_json(cp: StoredCheckpoint) -> dict[str, Any]:
    """A checkpoint as the API shows it inside proofs and exports."""
    return {"size": cp.size, "root": cp.root.hex(), "note": cp.note, "created_at": cp.created_at}


def checkpoint_detail(
    store: AnchoringStores, cp: StoredCheckpoint, confirmations: int | None
) -> dict[str, Any]:
    """A checkpoint with its trusted time and anchoring state (docs/FORMAT.md §5, §6.2);
    ``confirmations`` is k, None when no chain is configured."""
    return {
        **checkpoint_json(cp),
        "timestamp": public_failure(timestamp_json(store.timestamps.timestamp(cp.size))),
        "anchor": public_failure(anchor_json(store.anchors.anchor(cp.size), confirmations)),
    }


#: What a key holder is told about a failed timestamping or anchoring attempt: a reason code
#: and a generic text. The stored error names internal TSA and node URLs (and what they
#: answered): it stays in the service's log and the database, for the operator
#: (docs/FORMAT.md §5, §6.2).
PUBLIC_FAILURE = {
    "timestamp": ("tsa_unavailable", "no TSA has given a valid token yet; retried at every tick"),
    "anchor": ("anchor_not_yet", "the anchoring transaction did not go through yet; retried"),
}


def public_failure(member: dict[str, Any]) -> dict[str, Any]:
    """``member`` (a checkpoint's ``timestamp`` or ``anchor``) with ``last_error`` replaced by
    a generic ``last_error`` and a ``reason`` code when an attempt failed."""
    if not member.get("last_error"):
        return member
    kind = "timestamp" if "tx_hash" not in member else "anchor"
    reason, text = PUBLIC_FAILURE[kind]
    if kind == "anchor" and member.get("status") == "failed":
        reason, text = "anchor_refused", "the chain refused the anchor; the operator must act"
    return {**member, "last_error": text, "reason": reason}


def proof_json(proof: InclusionProof, cp: StoredCheckpoint) -> dict[str, Any]:
    """An inclusion proof with the checkpoint it leads to."""
    return {**proof.to_json(), "checkpoint": checkpoint_json(cp)}


async def get_proof(request: web.Request) -> web.Response:
    """GET /v1/events/{index}/proof?size=N — inclusion proof to checkpoint N (latest default)."""
    p = await principal(request, "auditor")
    params = query_params(request, ("size",))
    index = path_int(request, "index")
    size = int_param(params, "size", lo=1, hi=2**63 - 1)
    await _visible_event(request, index, p.visible)
    ledger = services(request).ledger

    def build() -> dict[str, Any]:
        cp = ledger.checkpoint(size)
        if index >= cp.size:
            raise NotFoundError(
                f"event {index} is not in checkpoint {cp.size}; it will be in the next one"
            )
        return proof_json(ledger.inclusion_proof(index, cp.size), cp)

    return json_response(await in_thread(build))


async def get_stream(request: web.Request) -> web.Response:
    """GET /v1/streams/{stream} — a stream's events (paginated) and whether their chain links."""
    p = await principal(request, "auditor")
    params = query_params(request, ("tenant", "limit", "cursor"))
    stream = request.match_info["stream"]
    limit = int_param(params, "limit", lo=1, hi=MAX_PAGE) or MAX_PAGE
    after = _decode_cursor(params["cursor"]) if "cursor" in params else -1
    # Chains are per tenant: an HQ auditor names the subsidiary with ?tenant=, else its own.
    (tenant,) = visible_tenant(p, params.get("tenant") or p.tenant)
    store = services(request).stores

    def read() -> tuple[list[Event], Event | None]:
        rows = store.ledger.query(
            EventQuery((tenant,), stream=stream), after=after, limit=limit + 1
        )
        before = None
        if after >= 0:
            prior = store.ledger.event(after)
            same = prior is not None and (prior.tenant, prior.stream) == (tenant, stream)
            before = prior if same else None
        return rows, before

    rows, before = await in_thread(read)
    if not rows and after < 0:
        raise NotFoundError(f"no stream {stream!r}")
    more = len(rows) > limit
    rows = rows[:limit]
    bodies = [event_json(e) for e in rows]
    links_ok = True
    prev_hash = before.leaf_hash.hex() if before is not None else None
    for i, b in enumerate(bodies):
        if i == 0 and after < 0:
            links_ok &= b["prev"] is None
        elif i == 0 and prev_hash is not None:
            links_ok &= b["prev"] == prev_hash
        elif i > 0:
            links_ok &= b["prev"] == bodies[i - 1]["leaf_hash"]
    return json_response(
        {
            "tenant": tenant,
            "stream": stream,
            "events": bodies,
            "chain_intact": links_ok,
            "next_cursor": _encode_cursor(rows[-1].index) if more else None,
        }
    )


_CSV_COLUMNS = (
    "index",
    "tenant",
    "stream",
    "type",
    "actor_id",
    "recorded_at",
    "occurred_at",
    "client_event_id",
    "leaf_hash",
    "canonical_base64",
    "checkpoint_size",
    "proof",
)


async def export(request: web.Request) -> web.StreamResponse:
    """GET /v1/export — stream every matching event with what is needed to verify it."""
    p = await principal(request, "auditor")
    params = query_params(request, (*FILTERS, "format"))
    fmt = params.get("format", "jsonl")
    if fmt not in ("jsonl", "csv"):
        raise InvalidInputError(f"format: want jsonl or csv, got {fmt[:16]!r}")
    q = event_query(params, visible_tenant(p, params.get("tenant")))
    svc = services(request)
    ledger, store = svc.ledger, svc.stores
    cp = await in_thread(store.ledger.latest_checkpoint)

    resp = web.StreamResponse(
        headers={
            "Content-Type": "application/x-ndjson" if fmt == "jsonl" else "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="sealtrail-export.{fmt}"',
        }
    )
    await resp.prepare(request)
    if fmt == "jsonl":
        head = {"kind": "checkpoint", **(checkpoint_json(cp) if cp else {"size": 0})}
        await resp.write(json.dumps(head).encode() + b"\n")
    else:
        buf = io.StringIO()
        csv.writer(buf).writerow(_CSV_COLUMNS)
        await resp.write(buf.getvalue().encode())

    def page(after: int) -> list[tuple[Event, InclusionProof | None]]:
        rows = store.ledger.query(q, after=after, limit=500)
        return [
            (e, ledger.inclusion_proof(e.index, cp.size) if cp and e.index < cp.size else None)
            for e in rows
        ]

    after = -1
    while True:
        rows = await in_thread(lambda a=after: page(a))  # type: ignore[misc]
        if not rows:
            break
        after = rows[-1][0].index
        await resp.write(_export_rows(rows, fmt))
    await resp.write_eof()
    return resp


def _export_rows(rows: list[tuple[Event, InclusionProof | None]], fmt: str) -> bytes:
    if fmt == "jsonl":
        out = []
        for e, proof in rows:
            obj = {
                "kind": "event",
                "event": event_json(e),
                "canonical_base64": base64.b64encode(e.canonical).decode(),
                "proof": proof.to_json() if proof else None,
            }
            out.append(json.dumps(obj, ensure_ascii=False))
        return ("\n".join(out) + "\n").encode()
    buf = io.StringIO()
    w = csv.writer(buf)
    for e, proof in rows:
        body = e.body()
        w.writerow(
            (
                e.index,
                e.tenant,
                e.stream,
                e.type,
                e.actor_id,
                e.recorded_at,
                body["occurred_at"] or "",
                e.client_event_id or "",
                e.leaf_hash.hex(),
                base64.b64encode(e.canonical).decode(),
                proof.size if proof else "",
                " ".join(h.hex() for h in proof.proof) if proof else "",
            )
        )
    return buf.getvalue().encode()


def setup(app: web.Application) -> None:
    """Register this module's routes."""
    r = app.router
    r.add_post("/v1/events", post_event)
    r.add_post("/v1/events/batch", post_batch)
    r.add_get("/v1/events", list_events)
    r.add_get(r"/v1/events/{index}", get_event)
    r.add_get(r"/v1/events/{index}/proof", get_proof)
    r.add_get("/v1/streams/{stream}", get_stream)
    r.add_get("/v1/export", export)
