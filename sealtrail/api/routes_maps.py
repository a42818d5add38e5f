"""Map proofs over HTTP (docs/MAP.md, docs/FORMAT.md §5.2): a stream's head at a checkpoint,
for the stream's own tenant, and the document member of the public fingerprint answer.

What a caller can prove with them (MAP.md §7): that the events it holds are a stream's whole
history, or every event naming a document, as of a checkpoint whose signed note commits to the
map root (its ``sealtrail-map/v1`` line). The answers carry the map root beside the proof for
convenience only: a verifier takes the root from the signed note.

**Tenancy.** A stream's key is ``(tenant, stream)`` and the tenant is the caller's (or, for a
headquarters auditor, one it may read), so asking for another tenant's stream asks for a key
that is absent from the caller's own key space — answered exactly as a missing stream: 404.
Absent streams get no non-inclusion proof: such a proof can end at a *neighbouring* stream's
leaf, whose key hash a caller could test against guessed (tenant, stream) names of another
tenant (MAP.md §11.1), and a caller can grind its own stream names to land beside any target.
Document keys have no tenant, and their proofs never reveal a stream's leaf (the halves are
apart): the public answer proves absence too.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sealtrail.api.context import (
    in_thread,
    int_param,
    json_response,
    principal,
    query_params,
    services,
    visible_tenant,
)
from sealtrail.api.routes_events import checkpoint_json
from sealtrail.core.errors import InvalidInputError, NotFoundError
from sealtrail.core.vmap import StreamHead, decode_value, document_key, stream_key
from sealtrail.ledger.maps import MapAnswer, map_proof
from sealtrail.ledger.store import LedgerStore, StoredCheckpoint

#: the longest stream name an event may have (docs/FORMAT.md §1.1)
MAX_STREAM_CHARS = 256


def value_json(value: bytes | None) -> dict[str, Any] | None:
    """A map value (MAP.md §2) as ``{count, last_index, hash}`` (hash: lowercase hex), or None."""
    if value is None:
        return None
    v = decode_value(value)
    h = v.last_leaf_hash if isinstance(v, StreamHead) else v.chain
    return {"count": v.count, "last_index": v.last_index, "hash": h.hex()}


def answer_json(a: MapAnswer) -> dict[str, Any]:
    """``{size, root, value, proof}`` of a map answer (docs/FORMAT.md §5.2)."""
    return {
        "size": a.size,
        "root": a.root.hex(),
        "value": value_json(a.value),
        "proof": a.proof.to_json(),
    }


def document_member(store: LedgerStore, cp: StoredCheckpoint | None, sha256: bytes) -> Any:
    """The ``map`` member of the public fingerprint answer: the document's value and its
    (non-)inclusion proof in checkpoint ``cp``'s map; None when ``cp`` is None or has no map
    (a checkpoint before the map, or a backend that does not store it)."""
    if cp is None or store.maps is None or store.maps.root(cp.size) is None:
        return None
    return answer_json(map_proof(store, cp.size, document_key(sha256)))


async def stream_map_proof(request: web.Request) -> web.Response:
    """GET /v1/streams/{stream}/map-proof?size=N&tenant=T — the stream's head in checkpoint
    N's map (default: the latest checkpoint with a map) and its inclusion proof."""
    p = await principal(request, "integrator", "auditor")
    params = query_params(request, ("size", "tenant"))
    stream = request.match_info["stream"]
    if not 1 <= len(stream) <= MAX_STREAM_CHARS:
        raise InvalidInputError(f"stream: want 1-{MAX_STREAM_CHARS} characters")
    size = int_param(params, "size", lo=1, hi=2**63 - 1)
    (tenant,) = visible_tenant(p, params.get("tenant") or p.tenant)
    svc = services(request)
    store = svc.stores.ledger

    def build() -> dict[str, Any]:
        maps = store.maps
        if maps is None:
            raise NotFoundError("this ledger does not store the map (docs/FORMAT.md §5.1)")
        at = size
        if at is None:
            latest = maps.latest_root()
            if latest is None:
                raise NotFoundError("no checkpoint with a map has been sealed yet")
            at = latest[0]
        cp = svc.ledger.checkpoint(at)
        answer = map_proof(store, at, stream_key(tenant, stream))
        if answer.value is None:
            # Not a non-inclusion proof: see the module's docstring (tenancy).
            raise NotFoundError(f"no stream {stream!r} as of checkpoint {at}")
        return {
            "tenant": tenant,
            "stream": stream,
            **answer_json(answer),
            "checkpoint": checkpoint_json(cp),
        }

    return json_response(await in_thread(build))


def setup(app: web.Application) -> None:
    """Register this module's routes."""
    app.router.add_get("/v1/streams/{stream}/map-proof", stream_map_proof)
