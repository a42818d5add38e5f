"""Checking the service's map answers locally (docs/MAP.md §6-7, docs/FORMAT.md §5.2): pure,
offline, against a checkpoint the caller has already verified.

The map root is always taken from the verified checkpoint's ``sealtrail-map/v1`` line, never
from the ``root`` the service puts beside a proof; a checkpoint without the line is "before the
map" and raises :class:`~sealtrail.sdk.errors.NotProvableError` (nothing failed, nothing can be
proven), as does a public answer that lists fewer events than the proven value counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sealtrail.core.errors import MapProofError, SealtrailError
from sealtrail.core.merkle import verify_inclusion as verify_log_inclusion
from sealtrail.core.note import Checkpoint
from sealtrail.core.vmap import (
    DocumentEvents,
    StreamHead,
    document_events,
    document_key,
    map_root_of,
    proof_from_json,
    stream_key,
    verify_inclusion,
    verify_non_inclusion,
)
from sealtrail.sdk.errors import NotProvableError, VerificationError

_U63 = 2**63 - 1
#: the most events the public fingerprint answer lists (docs/FORMAT.md §5.2)
MAX_PUBLIC_EVENTS = 100


@dataclass(frozen=True)
class VerifiedStreamHead:
    """A stream's head proven in ``checkpoint``'s map: the stream has exactly ``count`` events
    among the checkpoint's first ``checkpoint.size``, the last of them at ``last_index`` with
    ``last_leaf_hash``. Events that chain back (``prev``) from that leaf to ``prev = null``,
    ``count`` of them, are the stream's whole history as of the checkpoint."""

    tenant: str
    stream: str
    count: int
    last_index: int
    last_leaf_hash: bytes
    checkpoint: Checkpoint


@dataclass(frozen=True)
class VerifiedDocument:
    """Every event naming document ``sha256`` among ``checkpoint``'s first ``checkpoint.size``
    events, proven complete by the map: ``events`` as the public answer lists them (index,
    type, recorded_at, leaf_hash), each included in the checkpoint; empty when none names it
    (proven by a non-inclusion proof)."""

    sha256: str
    events: tuple[dict[str, Any], ...]
    checkpoint: Checkpoint

    @property
    def count(self) -> int:
        """How many events name the document as of the checkpoint."""
        return len(self.events)


def map_root(cp: Checkpoint) -> bytes:
    """The map root ``cp``'s signed note commits to; NotProvableError when it has none."""
    try:
        root = map_root_of(cp.extensions)
    except ValueError as e:
        raise VerificationError(f"checkpoint {cp.size}: {e}") from e
    if root is None:
        raise NotProvableError(
            f"checkpoint {cp.size} was sealed before the map (no sealtrail-map/v1 line): "
            "completeness cannot be proven against it"
        )
    return root


def _int(obj: Mapping[str, Any], name: str, lo: int) -> int:
    v = obj.get(name)
    if type(v) is not int or not lo <= v <= _U63:
        raise VerificationError(f"{name}: want an integer from {lo} to {_U63}, got {v!r:.40}")
    return v


def _hex32(v: object, name: str) -> bytes:
    if type(v) is not str or len(v) != 64:
        raise VerificationError(f"{name}: want 64 lowercase hex digits")
    try:
        raw = bytes.fromhex(v)
    except ValueError:
        raise VerificationError(f"{name}: want 64 lowercase hex digits") from None
    if raw.hex() != v:
        raise VerificationError(f"{name}: want 64 lowercase hex digits")
    return raw


def _object(v: object, name: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise VerificationError(f"{name}: want an object, got {type(v).__name__}")
    return v


def _same_size(answer: Mapping[str, Any], cp: Checkpoint) -> None:
    size = _int(answer, "size", 1)
    if size != cp.size:
        raise VerificationError(f"the proof is for checkpoint {size}, want {cp.size}")


def check_stream_head(
    answer: Mapping[str, Any], cp: Checkpoint, stream: str, tenant: str | None = None
) -> VerifiedStreamHead:
    """Check ``GET /v1/streams/{stream}/map-proof?size=<cp.size>``'s answer against verified
    checkpoint ``cp``: the value it shows for ``(tenant, stream)`` (``tenant``: the answer's
    when None) is the one the map root in ``cp``'s note holds. Raises VerificationError (or
    NotProvableError for a checkpoint before the map)."""
    root = map_root(cp)
    a = _object(answer, "answer")
    _same_size(a, cp)
    got_tenant, got_stream = a.get("tenant"), a.get("stream")
    if got_stream != stream or (tenant is not None and got_tenant != tenant):
        raise VerificationError(
            f"asked for stream {stream!r} of tenant {tenant!r}, "
            f"got {got_stream!r:.80} of {got_tenant!r:.80}"
        )
    if type(got_tenant) is not str:
        raise VerificationError("tenant: want a string")
    v = _object(a.get("value"), "value")
    count, last = _int(v, "count", 1), _int(v, "last_index", 0)
    leaf = _hex32(v.get("hash"), "value.hash")
    try:
        key = stream_key(got_tenant, stream)
        value = StreamHead(count, last, leaf).encode()
        verify_inclusion(root, key, value, proof_from_json(a.get("proof")))
    except MapProofError as e:
        raise VerificationError(f"stream {stream!r}: map proof: {e.reason}: {e}") from e
    except ValueError as e:
        raise VerificationError(f"stream {stream!r}: {e}") from e
    return VerifiedStreamHead(got_tenant, stream, count, last, leaf, cp)


def check_document_answer(
    answer: Mapping[str, Any], cp: Checkpoint, sha256: str
) -> VerifiedDocument:
    """Check the public fingerprint answer's events and ``map`` member against verified
    checkpoint ``cp`` (its ``checkpoint`` must be ``cp``): each listed event below ``cp.size``
    is included in the log, and together, in log order, they recompute the document's value
    proven in the map — or none is listed and the map proves the document absent. Raises
    VerificationError, or NotProvableError when the map cannot settle it (a checkpoint before
    the map, more events than the answer lists)."""
    root = map_root(cp)
    a = _object(answer, "answer")
    digest = sha256.lower()
    fp = _hex32(digest, "sha256")
    if a.get("sha256") != digest:
        raise VerificationError(f"the answer is about {a.get('sha256')!r:.80}, not {digest}")
    events = a.get("events")
    if not isinstance(events, list):
        raise VerificationError("events: want an array")
    member = a.get("map")
    if member is None:
        raise NotProvableError(f"the answer holds no map proof for checkpoint {cp.size}")
    m = _object(member, "map")
    _same_size(m, cp)
    shown: list[dict[str, Any]] = []
    for i, ev in enumerate(events):
        e = _object(ev, f"events[{i}]")
        index = _int(e, "index", 0)
        leaf = _hex32(e.get("leaf_hash"), f"events[{i}].leaf_hash")
        if shown and index <= shown[-1]["index"]:
            raise VerificationError(f"events[{i}]: index {index} is not after the previous one")
        if index >= cp.size:
            continue  # recorded after the checkpoint: not counted by its map
        proof = e.get("proof")
        if not isinstance(proof, list) or len(proof) > 64:
            raise VerificationError(f"event {index} is in checkpoint {cp.size} but has no proof")
        path = [_hex32(h, f"event {index} proof") for h in proof]
        try:
            verify_log_inclusion(leaf, index, cp.size, path, cp.root)
        except SealtrailError as err:
            raise VerificationError(f"event {index}: inclusion: {err}") from err
        shown.append({**e, "index": index})
    try:
        key = document_key(fp)
        proof_obj = proof_from_json(m.get("proof"))
        claimed = m.get("value")
        if claimed is None:
            if shown:
                raise VerificationError(
                    f"the answer lists {len(shown)} events in checkpoint {cp.size} but no value"
                )
            verify_non_inclusion(root, key, proof_obj)
            return VerifiedDocument(digest, (), cp)
        c = _object(claimed, "map.value")
        stated = DocumentEvents(
            _int(c, "count", 1), _int(c, "last_index", 0), _hex32(c.get("hash"), "map.value.hash")
        )
        recomputed = (
            document_events([(e["index"], bytes.fromhex(e["leaf_hash"])) for e in shown])
            if shown
            else None
        )
        if recomputed != stated and len(events) >= MAX_PUBLIC_EVENTS:
            # A capped list: check the stated value is the map's, then say what is missing.
            verify_inclusion(root, key, stated.encode(), proof_obj)
            if stated.count > len(shown):
                raise NotProvableError(
                    f"the map counts {stated.count} events naming the document, the answer "
                    f"lists {len(shown)} (its cap): completeness cannot be shown from it"
                )
        if recomputed is None:
            raise VerificationError(
                f"the map holds {stated.count} events naming the document, the answer lists none"
            )
        verify_inclusion(root, key, recomputed.encode(), proof_obj)
    except MapProofError as e:
        raise VerificationError(f"document {digest}: map proof: {e.reason}: {e}") from e
    except ValueError as e:
        raise VerificationError(f"document {digest}: {e}") from e
    return VerifiedDocument(digest, tuple(shown), cp)
