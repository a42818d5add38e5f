"""Gathering a package's evidence from a ledger: events, proofs, checkpoints, stamps, anchors.

:func:`collect` reads; it does not render. Which checkpoints a package holds (docs/FORMAT.md
§8.3):

* the **target** ``T``: every event is proven included in it. It is the latest checkpoint whose
  anchor is ``final`` and that covers every selected event; when there is none, the latest
  checkpoint, and the manifest says why (``target.reason``). Events the latest checkpoint does
  not cover yet are left out and counted (``coverage.unsealed``);
* each event's **witness**: the earliest checkpoint that covers it. Its timestamp is the
  earliest trusted time by which the event existed; a consistency proof from it to ``T``
  (through the witnesses in between) shows the event is in it too;
* consistency proofs between consecutive checkpoints of that set, oldest first.

All proofs for ``T`` are assembled from one batched read of the subtrees they need.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from typing import Any

from sealtrail.anchoring.store import AnchoringStores, StoredAnchor, TimestampRecord
from sealtrail.core.errors import StorageError
from sealtrail.core.event import Event
from sealtrail.core.merkle import assemble, fold, inclusion_subtrees, root_subtrees
from sealtrail.core.vmap import (
    DocumentEvents,
    MapProof,
    StreamHead,
    decode_value,
    document_events,
    document_key,
    stream_key,
)
from sealtrail.export.errors import EmptySelectionError, TooManyEventsError
from sealtrail.ledger.log import ConsistencyProof, InclusionProof, Ledger
from sealtrail.ledger.maps import map_proof
from sealtrail.ledger.store import EventQuery, LedgerStore, StoredCheckpoint
from sealtrail.verifier.layout import is_whole_related

#: the most events one package may hold (a query selecting more must be narrowed)
MAX_PACKAGE_EVENTS = 200_000
_PAGE = 1000
MINED = ("confirmed", "final")
#: the most documents a package proves complete (map proofs); the others are reported unproven
MAX_DOCUMENT_PROOFS = 1000
#: the most (index, leaf hash) pairs listed for the documents' events, all documents together
MAX_DOCUMENT_MEMBERS = MAX_PACKAGE_EVENTS


#: the stores :func:`collect` reads: the ledger's (events, checkpoints, proofs) and anchoring's
#: (timestamps, anchors) — the composition root's ``Stores`` is one
EvidenceStore = AnchoringStores


@dataclass(frozen=True)
class Selection:
    """What a package covers: one stream (``tenant`` + ``stream``) or an auditor's query.

    ``filters`` records the query as the caller gave it (for the manifest); ``query`` is what
    runs. Exactly one of ``stream`` and ``query`` is set.
    """

    kind: str
    tenant: str | None = None
    stream: str | None = None
    query: EventQuery | None = None
    filters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_stream(cls, tenant: str, stream: str) -> Selection:
        """A whole stream, from its first event, with the events of the same tenant that
        concern it (:func:`related_events`: seal uses, approvals, envelope steps naming its
        documents; envelope streams whole)."""
        return cls("stream", tenant=tenant, stream=stream)

    @classmethod
    def of_query(cls, query: EventQuery, filters: dict[str, str]) -> Selection:
        """The events an auditor's query selects, in log order."""
        return cls("query", query=query, filters=dict(filters))

    def to_json(self) -> dict[str, Any]:
        """The manifest's ``coverage.selection``."""
        if self.kind == "stream":
            return {"kind": "stream", "tenant": self.tenant, "stream": self.stream}
        assert self.query is not None
        return {"kind": "query", "tenants": list(self.query.tenants), "filters": self.filters}


@dataclass(frozen=True)
class StreamHeadProof:
    """A stream's head in the target checkpoint's map, and its inclusion proof."""

    tenant: str
    stream: str
    head: StreamHead
    proof: MapProof


@dataclass(frozen=True)
class DocumentProof:
    """A document's value in the target checkpoint's map and its inclusion proof, with every
    event naming it as of the target as (index, leaf hash), in log order — or None when they
    are more than the package may list (the value and proof are still given)."""

    sha256: bytes
    value: DocumentEvents
    members: tuple[tuple[int, bytes], ...] | None
    proof: MapProof


@dataclass(frozen=True)
class MapEvidence:
    """The target checkpoint's map root and the proofs that make the package complete: the
    selected stream's head (stream packages) and the value of each document the events name
    (at most :data:`MAX_DOCUMENT_PROOFS`, by fingerprint order)."""

    size: int
    root: bytes
    streams: tuple[StreamHeadProof, ...]
    documents: tuple[DocumentProof, ...]


@dataclass(frozen=True)
class Evidence:
    """Everything a package proves, as read from the ledger (hashes as bytes)."""

    origin: str
    verifier_key: str
    selection: Selection
    events: tuple[Event, ...]
    unsealed: int
    target: StoredCheckpoint
    target_reason: str
    checkpoints: tuple[StoredCheckpoint, ...]
    witness: dict[int, int]
    inclusion: dict[int, InclusionProof]
    consistency: tuple[ConsistencyProof, ...]
    timestamps: dict[int, TimestampRecord]
    anchors: dict[int, StoredAnchor]
    #: every involved checkpoint's anchoring state (docs/FORMAT.md §6.2), ``off`` if none
    anchor_status: dict[int, str]
    #: the map proofs at the target; None when its checkpoint was sealed before the map
    maps: MapEvidence | None = None


def related_events(store: EvidenceStore, tenant: str, own: list[Event], cap: int) -> list[Event]:
    """The events of ``tenant`` outside the stream of ``own`` that concern it: every event naming a
    document its events name, and, transitively, the documents those name (an envelope's
    signed versions, a seal use's "after"); an envelope stream reached so is taken whole. In
    log order. Other tenants' events are left out (the package's map proofs account for them
    by index and leaf hash)."""
    seen = {e.index for e in own}
    docs: list[bytes] = []
    known: set[bytes] = set()

    def add_docs(e: Event) -> None:
        for d in e.body()["documents"]:
            h = bytes.fromhex(d["sha256"])
            if h not in known:
                known.add(h)
                docs.append(h)

    for e in own:
        add_docs(e)
    out: dict[int, Event] = {}
    whole_done: set[str] = set()
    i = 0
    while i < len(docs):
        found = store.ledger.by_document(docs[i], limit=cap + 1)
        i += 1
        for e in found:
            if e.tenant != tenant or e.index in seen:
                continue
            batch = [e]
            if is_whole_related(e.stream) and e.stream not in whole_done:
                whole_done.add(e.stream)
                batch = store.ledger.stream(tenant, e.stream)
            for x in batch:
                if x.index not in seen:
                    seen.add(x.index)
                    out[x.index] = x
                    add_docs(x)
            if len(seen) > cap:
                raise TooManyEventsError(
                    f"the stream and the events concerning it are more than {cap}; at most "
                    f"{cap} per package"
                )
    return [out[k] for k in sorted(out)]


def _select(store: EvidenceStore, sel: Selection, cap: int) -> list[Event]:
    if sel.kind == "stream":
        assert sel.tenant is not None
        assert sel.stream is not None
        own = store.ledger.stream(sel.tenant, sel.stream)
        related = related_events(store, sel.tenant, own, cap)
        events = sorted([*own, *related], key=lambda e: e.index)
    else:
        assert sel.query is not None
        events, after = [], -1
        while True:
            want = min(_PAGE, cap + 1 - len(events))  # >= 1: reads at most cap + 1 events
            page = store.ledger.query(sel.query, after=after, limit=want)
            events += page
            if len(events) > cap:
                raise TooManyEventsError(
                    f"the query selects more than {cap} events, at most {cap} per package; "
                    "narrow it (stream, type, actor, document, from, to)"
                )
            if len(page) < want:
                break
            after = page[-1].index
    if len(events) > cap:
        raise TooManyEventsError(f"{len(events)} events, at most {cap} per package")
    return events


def _inclusion_proofs(
    store: EvidenceStore, events: list[Event], size: int
) -> dict[int, InclusionProof]:
    groups = {e.index: inclusion_subtrees(e.index, size) for e in events}
    ids = root_subtrees(size)
    wanted = {n for g in groups.values() for grp in g for n in grp} | set(ids)
    nodes = store.ledger.subtrees(wanted)
    root = fold([nodes[i] for i in ids])
    return {
        e.index: InclusionProof(e.index, size, e.leaf_hash, root, assemble(groups[e.index], nodes))
        for e in events
    }


def collect(
    ledger: Ledger,
    store: EvidenceStore,
    selection: Selection,
    *,
    max_events: int = MAX_PACKAGE_EVENTS,
) -> Evidence:
    """Read the evidence for ``selection`` (module docstring). ``store`` gives the
    ledger's and anchoring's stores (:data:`EvidenceStore`). Raises
    :class:`TooManyEventsError` when more than
    ``max_events`` (at most :data:`MAX_PACKAGE_EVENTS`) are selected, and
    :class:`EmptySelectionError` when nothing selected is covered by a checkpoint yet."""
    selected = _select(store, selection, min(max_events, MAX_PACKAGE_EVENTS))
    if not selected:
        raise EmptySelectionError("the selection holds no event")
    checkpoints = store.ledger.checkpoints()
    if not checkpoints:
        raise EmptySelectionError("no checkpoint has been sealed yet; try again shortly")
    latest = checkpoints[-1]
    events = [e for e in selected if e.index < latest.size]
    if not events:
        raise EmptySelectionError(
            f"no selected event is in a checkpoint yet (latest size {latest.size}); try again"
        )
    top = events[-1].index
    covering = [c for c in checkpoints if c.size > top]
    anchors_all = {c.size: store.anchors.anchor(c.size) for c in covering}
    final = [c for c in covering if (a := anchors_all[c.size]) is not None and a.status == "final"]
    if final:
        target, reason = final[-1], "latest checkpoint with a final anchor"
    else:
        target = latest
        reason = "no checkpoint covering the events has a final anchor; latest checkpoint used"
    sizes = [c.size for c in checkpoints]
    witness = {e.index: sizes[bisect.bisect_right(sizes, e.index)] for e in events}
    involved_sizes = sorted({*witness.values(), target.size})
    by_size = {c.size: c for c in checkpoints}
    involved = tuple(by_size[s] for s in involved_sizes)
    consistency = tuple(
        ledger.consistency_proof(a, b) for a, b in itertools.pairwise(involved_sizes)
    )
    timestamps: dict[int, TimestampRecord] = {}
    anchors: dict[int, StoredAnchor] = {}
    anchor_status: dict[int, str] = {}
    for s in involved_sizes:
        ts = store.timestamps.timestamp(s)
        if ts is not None and ts.token is not None:
            timestamps[s] = ts
        a = anchors_all.get(s) if s in anchors_all else store.anchors.anchor(s)
        anchor_status[s] = "off" if a is None else a.status
        if a is not None and a.status in MINED:
            anchors[s] = a
    return Evidence(
        origin=ledger.origin,
        verifier_key=ledger.verifier.vkey,
        selection=selection,
        events=tuple(events),
        unsealed=len(selected) - len(events),
        target=target,
        target_reason=reason,
        checkpoints=involved,
        witness=witness,
        inclusion=_inclusion_proofs(store, events, target.size),
        consistency=consistency,
        timestamps=timestamps,
        anchors=anchors,
        anchor_status=anchor_status,
        maps=_map_evidence(store.ledger, selection, events, target.size),
    )


def _map_evidence(
    ledger: LedgerStore, selection: Selection, events: list[Event], size: int
) -> MapEvidence | None:
    """The map proofs for a package of ``events`` at the checkpoint of ``size``, or None when
    that checkpoint has no map root (sealed before the map, or a backend without a map)."""
    maps = ledger.maps
    root = None if maps is None else maps.root(size)
    if root is None:
        return None
    streams: list[StreamHeadProof] = []
    if selection.kind == "stream":
        assert selection.tenant is not None
        assert selection.stream is not None
        whole = {(selection.tenant, selection.stream)} | {
            (e.tenant, e.stream) for e in events if is_whole_related(e.stream)
        }
        for tenant, stream in sorted(whole):
            a = map_proof(ledger, size, stream_key(tenant, stream))
            head = None if a.value is None else decode_value(a.value)
            if not isinstance(head, StreamHead):
                raise StorageError(f"map of checkpoint {size}: no head for stream {stream!r}")
            streams.append(StreamHeadProof(tenant, stream, head, a.proof))
    named = sorted({bytes.fromhex(d["sha256"]) for e in events for d in e.body()["documents"]})
    documents: list[DocumentProof] = []
    budget = MAX_DOCUMENT_MEMBERS
    for sha in named[:MAX_DOCUMENT_PROOFS]:
        a = map_proof(ledger, size, document_key(sha))
        value = None if a.value is None else decode_value(a.value)
        if not isinstance(value, DocumentEvents):
            raise StorageError(f"map of checkpoint {size}: no value for document {sha.hex()}")
        members: tuple[tuple[int, bytes], ...] | None = None
        if value.count <= budget:
            found = ledger.by_document(sha, limit=value.count + 1)
            members = tuple((e.index, e.leaf_hash) for e in found if e.index < size)
            if not members or document_events(members) != value:
                raise StorageError(
                    f"map of checkpoint {size}: the log's events naming {sha.hex()} do not "
                    "give the proven value"
                )
            budget -= value.count
        documents.append(DocumentProof(sha, value, members, a.proof))
    return MapEvidence(size, root, tuple(streams), tuple(documents))
