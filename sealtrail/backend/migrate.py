"""Copy a whole ledger database into another backend, then prove the copy (``sealtrail migrate``).

Typical use: from the embedded SQLite file to PostgreSQL or MongoDB (docs/OPERATIONS.md, "Moving
from SQLite to MongoDB"), or back from PostgreSQL to a SQLite file; any backend to any other.
The target must be empty. The source is held still during the copy by taking its sequencer lease
(a running service holds it: stop the service first).

What is copied: the log (every entry with its canonical bytes, leaf hash, subtree hashes and the
document index), checkpoints, timestamps, anchoring states, tenants, API key records, the ledger
settings (``origin``, ``verifier_key``), the seal registry (every table, row by row) and —
through ``extras`` — anything else a caller adds.

What is verified, on the target as written (read back through a separate handle):

* the same size, and every entry byte-identical (canonical bytes, leaf hash, subtrees);
* every checkpoint: the same signed note, and its root recomputed from the target's stored
  subtree hashes equals the checkpoint's root;
* timestamps (token bytes), anchors (every field), tenants and keys equal record by record;
* a full ``audit`` of the target (chains, indexes, every checkpoint's signature and
  consistency) finds no problem.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sealtrail.backend.stores import Stores
from sealtrail.core.errors import ConflictError, LedgerBusyError, StorageError
from sealtrail.core.merkle import fold, root_subtrees
from sealtrail.core.note import NoteVerifier
from sealtrail.directory.store import Tenant
from sealtrail.ledger.audit import audit
from sealtrail.ledger.coordination import LEASE_NAME, new_holder_id
from sealtrail.ledger.store import Entry, MapStore, WriteView
from sealtrail.seals.transfer import digest, export_seals, import_seals

log = logging.getLogger("sealtrail.migrate")

#: entries per write transaction on the target
BATCH = 2000
META_KEYS = ("origin", "verifier_key")
Progress = Callable[[str, int, int], None]


@dataclass
class MigrationReport:
    """What was copied and what the verification found."""

    copied: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def verified(self) -> bool:
        """True when the verification found nothing wrong."""
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """The report as ``sealtrail migrate --json`` prints it."""
        return {
            "verified": self.verified,
            "copied": self.copied,
            "problems": self.problems,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class Extra:
    """Another part of the database to copy and verify (e.g. the seal registry)."""

    name: str
    copy: Callable[[], int]
    verify: Callable[[], list[str]]


def seal_registry(src: Stores, dst: Stores, check: Stores) -> Extra:
    """The seal registry (seals, CAs, policies, requests, uses, envelopes, outbox), row by row;
    verified through ``check``, a second handle on the target."""
    tenants = [t.id for t in src.directory.tenants()]

    def copy() -> int:
        return import_seals(dst.seals, export_seals(src.seals, tenants))

    def verify() -> list[str]:
        mine = digest(export_seals(src.seals, tenants))
        theirs = digest(export_seals(check.seals, tenants))
        return [
            f"seal registry: table {name} differs"
            for name in sorted(set(mine) | set(theirs))
            if mine.get(name) != theirs.get(name)
        ]

    return Extra("seal_registry_rows", copy, verify)


def _fingerprints(entry: Entry) -> tuple[bytes, ...]:
    docs = entry.event.body().get("documents") or []
    return tuple(bytes.fromhex(d["sha256"]) for d in docs)


def _require_empty(dst: Stores) -> None:
    if dst.ledger.size() or dst.ledger.meta("verifier_key") is not None or dst.directory.tenants():
        raise ConflictError(
            f"the target database {dst.where} is not empty; migrate needs an empty one"
        )


def _tenant_order(tenants: list[Tenant]) -> Iterator[Tenant]:
    """Parents before children."""
    done: set[str] = set()
    left = list(tenants)
    while left:
        ready = [t for t in left if t.parent is None or t.parent in done]
        if not ready:
            raise StorageError("tenant parents form a cycle or name a missing tenant")
        for t in ready:
            done.add(t.id)
            yield t
        left = [t for t in left if t.id not in done]


def _copy_map(src: Stores, dst: Stores) -> int:
    """Copy the verifiable map's nodes, values and roots; return the number of nodes copied.

    A target that does not store the map gets none (its next checkpoint is sealed without the
    map line; the audit still recomputes the roots the copied notes name)."""
    smaps, dmaps = src.ledger.maps, dst.ledger.maps
    if smaps is None or dmaps is None:
        if smaps is not None and smaps.roots():
            log.warning("the target does not store the verifiable map: map proofs not copied")
        return 0
    count = 0
    nodes: dict[bytes, bytes] = {}
    for h, node in smaps.all_nodes():
        nodes[h] = node
        if len(nodes) >= BATCH:
            _put_map(dst, dmaps, nodes, {}, {})
            count, nodes = count + len(nodes), {}
    values = {kh: (k, v) for kh, k, v in smaps.all_values()}
    roots = dict(smaps.roots())
    # the roots last, with the remaining nodes: a root is never stored before its nodes
    _put_map(dst, dmaps, nodes, values, roots)
    return count + len(nodes)


def _put_map(
    dst: Stores,
    maps: MapStore,
    nodes: dict[bytes, bytes],
    values: dict[bytes, tuple[bytes, bytes]],
    roots: dict[int, bytes],
) -> None:
    dst.ledger.write(lambda view: maps.put(view, nodes, values, roots))


def copy_ledger(src: Stores, dst: Stores, progress: Progress | None = None) -> dict[str, int]:
    """Copy everything of ``src`` into the empty ``dst``; return counts per kind."""
    _require_empty(dst)
    counts: dict[str, int] = {}
    for key in META_KEYS:
        value = src.ledger.meta(key)
        if value is not None:
            dst.ledger.set_meta(key, value)
    tenants = list(_tenant_order(src.directory.tenants()))
    for t in tenants:
        dst.directory.add_tenant(t)
    counts["tenants"] = len(tenants)
    keys = src.directory.keys([t.id for t in tenants])
    for k in keys:
        dst.directory.add_key(k)
        if k.revoked_at is not None:
            dst.directory.revoke_key(k.id, k.revoked_at)
    counts["api_keys"] = len(keys)

    size = src.ledger.size()
    checkpoints = src.ledger.checkpoints()
    marks = {cp.size: cp for cp in checkpoints}
    done = 0
    batch: list[Entry] = []

    def flush(entries: list[Entry]) -> None:
        def put(view: WriteView) -> None:
            view.append(entries)
            end = entries[-1].event.index + 1
            for cp_size in sorted(s for s in marks if entries[0].event.index < s <= end):
                view.add_checkpoint(marks[cp_size])

        dst.ledger.write(put)

    for entry in src.ledger.entries(0, size):
        batch.append(Entry(entry.event, entry.subtrees, _fingerprints(entry)))
        if len(batch) >= BATCH:
            flush(batch)
            done += len(batch)
            batch = []
            if progress is not None:
                progress("events", done, size)
    if batch:
        flush(batch)
        done += len(batch)
        if progress is not None:
            progress("events", done, size)
    counts["events"] = done
    counts["checkpoints"] = len(checkpoints)
    counts["map_nodes"] = _copy_map(src, dst)

    stamps = src.timestamps.timestamps()
    for ts in stamps:
        if ts.token is not None:
            dst.timestamps.put_timestamp(
                ts.size,
                ts.token,
                ts.gen_time or "",
                int(ts.serial or 0),
                ts.tsa or "",
                ts.updated_at,
            )
        else:
            dst.timestamps.timestamp_failed(ts.size, ts.last_error or "", ts.updated_at)
    counts["timestamps"] = len(stamps)
    anchors = src.anchors.anchors()
    for a in anchors:
        dst.anchors.put_anchor(a)
    counts["anchors"] = len(anchors)
    return counts


def verify_copy(src: Stores, dst: Stores, verifier: NoteVerifier) -> list[str]:
    """Compare ``dst`` with ``src`` (see the module docstring); the problems found."""
    problems: list[str] = []
    size = src.ledger.size()
    if dst.ledger.size() != size:
        return [f"size {dst.ledger.size()} in the target, {size} in the source"]
    for key in META_KEYS:
        if dst.ledger.meta(key) != src.ledger.meta(key):
            problems.append(f"meta {key} differs")
    for a, b in zip(src.ledger.entries(0, size), dst.ledger.entries(0, size), strict=True):
        i = a.event.index
        if (b.event.index, b.event.canonical, b.event.leaf_hash, b.subtrees) != (
            i,
            a.event.canonical,
            a.event.leaf_hash,
            a.subtrees,
        ):
            problems.append(f"entry {i} differs")
            if len(problems) > 20:
                return problems
    src_cps, dst_cps = src.ledger.checkpoints(), dst.ledger.checkpoints()
    if [(c.size, c.root, c.note) for c in src_cps] != [(c.size, c.root, c.note) for c in dst_cps]:
        problems.append("checkpoints differ")
    smaps, dmaps = src.ledger.maps, dst.ledger.maps
    if smaps is not None and dmaps is not None and smaps.roots() != dmaps.roots():
        problems.append("map roots differ")
    for cp in dst_cps:
        ids = root_subtrees(cp.size)
        got = dst.ledger.subtrees(ids)
        if fold([got[n] for n in ids]) != cp.root:
            problems.append(f"checkpoint {cp.size}: the root recomputed from the target differs")
    if [(t.size, t.token) for t in src.timestamps.timestamps()] != [
        (t.size, t.token) for t in dst.timestamps.timestamps()
    ]:
        problems.append("timestamps differ")
    if src.anchors.anchors() != dst.anchors.anchors():
        problems.append("anchoring states differ")
    if src.directory.tenants() != dst.directory.tenants():
        problems.append("tenants differ")
    tenant_ids = [t.id for t in src.directory.tenants()]
    if sorted(src.directory.keys(tenant_ids), key=lambda k: k.id) != sorted(
        dst.directory.keys(tenant_ids), key=lambda k: k.id
    ):
        problems.append("API key records differ")
    report = audit(dst.ledger, verifier)
    problems += [f"audit of the target: {p.to_json()}" for p in report.problems]
    return problems


def migrate(
    src: Stores,
    dst: Stores,
    verify_dst: Stores,
    verifier: NoteVerifier,
    *,
    extras: Sequence[Extra] = (),
    progress: Progress | None = None,
    lease_ttl: float = 60.0,
) -> MigrationReport:
    """Copy ``src`` into the empty ``dst`` and verify it through ``verify_dst`` (a second handle
    on the target): the ledger, the directory, anchoring, the seal registry, then ``extras``.
    Holds ``src``'s sequencer lease meanwhile (LedgerBusyError if a running service holds it)."""
    start = time.monotonic()
    extras = [seal_registry(src, dst, verify_dst), *extras]
    holder = new_holder_id()
    lease = src.coordination.acquire_lease(LEASE_NAME, holder, lease_ttl, time.time())
    if lease is None:
        raise LedgerBusyError(
            "a running service holds the sequencer lease of the source: stop every worker "
            "before migrating"
        )
    report = MigrationReport()
    try:
        report.copied = copy_ledger(src, dst, progress)
        for extra in extras:
            report.copied[extra.name] = extra.copy()
        if src.ledger.size() != report.copied["events"]:
            report.problems.append("the source grew during the copy")
        report.problems += verify_copy(src, verify_dst, verifier)
        for extra in extras:
            report.problems += extra.verify()
    finally:
        src.coordination.release_lease(lease)
    report.seconds = time.monotonic() - start
    return report
