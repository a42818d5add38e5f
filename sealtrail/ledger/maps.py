"""The verifiable map on the ledger's storage: advancing it while sealing, and serving proofs.

Sealing a checkpoint of size N (:func:`advance_map`, inside the sealing transaction): read the
events since the map's last checkpoint M, the keys they touch and those keys' current values,
compute the new values (:func:`~sealtrail.core.vmap_log.map_changes`), update the tree
(:func:`~sealtrail.core.vmap_tree.update`) and store the new nodes, values and root with the
checkpoint. The first checkpoint a ledger seals after its upgrade to the map has no previous map:
it builds the map from all events so far (a one-off catch-up, logged with its duration).

Proofs (:func:`map_proof`) are served against any checkpoint that has a map root: nodes are
write-once, so an old root still proves what the map held then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sealtrail.core.errors import NotFoundError, StorageError
from sealtrail.core.event import Event
from sealtrail.core.vmap import (
    EMPTY_ROOT,
    DocumentEvents,
    MapProof,
    StreamHead,
    decode_stream_key,
    document_events,
    key_hash,
    value_hash,
)
from sealtrail.core.vmap_log import map_changes, touched_keys
from sealtrail.core.vmap_tree import prove, update
from sealtrail.ledger.store import LedgerStore, MapStore, WriteView

log = logging.getLogger("sealtrail.ledger")

#: events read per batch while advancing the map
_BATCH = 10_000
#: map nodes written per transaction ahead of a checkpoint
_NODES_PER_WRITE = 5_000


@dataclass(frozen=True)
class MapDraft:
    """The map brought from checkpoint ``base_size`` (root ``base_root``) to the log's first
    ``size`` events, computed from committed data but not yet stored: the new ``root``, the
    nodes it needs that may be missing (by hash), and the changed values (key hash -> (key,
    value)). :func:`commit_map` stores it with the checkpoint of ``size``."""

    base_size: int
    base_root: bytes
    size: int
    root: bytes
    nodes: dict[bytes, bytes]
    values: dict[bytes, tuple[bytes, bytes]]
    seconds: float


def prepare_map(store: LedgerStore, maps: MapStore, size: int) -> MapDraft:
    """Compute the map of the log's first ``size`` (committed) events from the newest stored
    map, reading only: no transaction and no write lock is held, so appends go on meanwhile
    (events below ``size`` and map nodes never change)."""
    latest = maps.latest_root()
    start, root = (0, EMPTY_ROOT) if latest is None else latest
    base = (start, root)
    if start > size:
        raise StorageError(f"the map covers {start} events, more than the log's {size}")
    t0 = time.monotonic()
    all_nodes: dict[bytes, bytes] = {}
    all_values: dict[bytes, tuple[bytes, bytes]] = {}

    def fetch(hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        got = {h: all_nodes[h] for h in hashes if h in all_nodes}
        rest = [h for h in hashes if h not in got]
        if rest:
            got.update(maps.nodes(rest))
        return got

    for lo in range(start, size, _BATCH):
        events = [e.event for e in store.entries(lo, min(lo + _BATCH, size))]
        keys = touched_keys(events)
        hashes = {key_hash(k): k for k in keys}
        stored = maps.values([h for h in hashes if h not in all_values])
        previous = {}
        for h, k in hashes.items():
            if h in all_values:
                previous[k] = all_values[h][1]
            elif h in stored:
                previous[k] = stored[h]
        try:
            changes = map_changes(events, previous)
        except ValueError as e:
            raise StorageError(f"cannot update the map over events {lo}..: {e}") from e
        u = update(root, {key_hash(k): value_hash(v) for k, v in changes.items()}, fetch)
        all_nodes.update(u.new_nodes)
        for k, v in changes.items():
            all_values[key_hash(k)] = (k, v)
        root = u.root
    return MapDraft(*base, size, root, all_nodes, all_values, time.monotonic() - t0)


def store_draft_nodes(store: LedgerStore, maps: MapStore, draft: MapDraft) -> None:
    """Write ``draft``'s nodes ahead of its checkpoint, in short transactions of
    :data:`_NODES_PER_WRITE` nodes so appends are not held up. Nodes are content-addressed and
    written once: if the checkpoint is never sealed they are only unreachable (MAP.md §10)."""
    items = list(draft.nodes.items())
    for i in range(0, len(items), _NODES_PER_WRITE):
        chunk = dict(items[i : i + _NODES_PER_WRITE])
        store.write(lambda view, c=chunk: maps.put(view, c, {}, {}))  # type: ignore[misc]


def commit_map(maps: MapStore, view: WriteView, draft: MapDraft, *, nodes: bool = True) -> bool:
    """Record ``draft`` in ``view``'s transaction, which seals checkpoint ``draft.size``: its
    values and root (and its nodes unless :func:`store_draft_nodes` wrote them). Returns False,
    writing nothing, when the stored map moved since the draft was computed (the caller then
    recomputes in the transaction)."""
    if (maps.latest_root() or (0, EMPTY_ROOT)) != (draft.base_size, draft.base_root):
        return False
    maps.put(view, draft.nodes if nodes else {}, draft.values, {draft.size: draft.root})
    if draft.base_size == 0:
        log.info(
            "built the verifiable map from all %d events (catch-up after the upgrade) in %.3f s",
            draft.size,
            draft.seconds,
        )
    return True


def advance_map(store: LedgerStore, maps: MapStore, view: WriteView, size: int) -> bytes:
    """Bring the map to the log's first ``size`` events in ``view``'s transaction; return its
    root (also recorded as checkpoint ``size``'s map root). Requires the caller to be sealing the
    checkpoint of ``size`` in that transaction. (The ledger prepares the map before taking the
    write lock — :func:`prepare_map` — and uses this only when the map moved meanwhile.)"""
    draft = prepare_map(store, maps, size)
    if not commit_map(maps, view, draft):
        raise StorageError("the map changed during a sealing transaction")
    return draft.root


@dataclass(frozen=True)
class MapAnswer:
    """A key's value in checkpoint ``size``'s map (None: absent) and the proof against ``root``."""

    size: int
    root: bytes
    key: bytes
    value: bytes | None
    proof: MapProof


def _value_at(store: LedgerStore, key: bytes, size: int) -> bytes | None:
    """The key's value as of the log's first ``size`` events, recomputed from the log."""
    if key[0] == 0x01:
        tenant, stream = decode_stream_key(key)
        events: list[Event] = [e for e in store.stream(tenant, stream) if e.index < size]
        if not events:
            return None
        last = events[-1]
        return StreamHead(len(events), last.index, last.leaf_hash).encode()
    docs = [e for e in store.by_document(key[1:], limit=1 << 62) if e.index < size]
    if not docs:
        return None
    de: DocumentEvents = document_events([(e.index, e.leaf_hash) for e in docs])
    return de.encode()


def map_proof(store: LedgerStore, size: int, key: bytes) -> MapAnswer:
    """The value of encoded ``key`` (``vmap.stream_key`` / ``vmap.document_key``) in the map
    committed by the checkpoint of ``size``, and its (non-)inclusion proof against that map's
    root. NotFoundError when there is no such checkpoint or it was sealed before the map."""
    maps = store.maps
    if maps is None:
        raise NotFoundError(f"the ledger at {store.where} does not store the map")
    root = maps.root(size)
    if root is None:
        raise NotFoundError(f"no checkpoint of size {size} with a map root (before the map?)")
    kh = key_hash(key)
    proof = prove(root, kh, maps.nodes)
    if proof.leaf is None or proof.leaf.key_hash != kh:
        return MapAnswer(size, root, key, None, proof)
    current = maps.values([kh]).get(kh)
    if current is not None and value_hash(current) == proof.leaf.value_hash:
        return MapAnswer(size, root, key, current, proof)
    value = _value_at(store, key, size)  # the key changed since: its value then, from the log
    if value is None or value_hash(value) != proof.leaf.value_hash:
        raise StorageError(f"map of checkpoint {size}: the log does not give the proven value")
    return MapAnswer(size, root, key, value, proof)
