"""A full re-audit of a stored ledger from its events alone.

Recomputes, in one pass over the log in index order: every event's well-formedness and leaf
hash, dense indices, the stored index columns, each stream's hash chain, client event id
uniqueness, every stored subtree hash (so proofs served from the store are right), and, at every
checkpoint size, the root; then every checkpoint's signature and the consistency of each
checkpoint with the previous one. Each problem found is reported with a code, the index it
concerns and a precise message; nothing stops at the first problem.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sealtrail.core.errors import InvalidInputError, NoteError, ProofError, StorageError
from sealtrail.core.event import decode_event
from sealtrail.core.merkle import CompactRange, assemble, consistency_subtrees, verify_consistency
from sealtrail.core.note import NoteVerifier, verify_checkpoint
from sealtrail.core.vmap import key_hash, map_root_of
from sealtrail.core.vmap_log import map_changes, touched_keys
from sealtrail.core.vmap_tree import MemoryMap
from sealtrail.ledger.store import LedgerStore

MAX_PROBLEMS = 1000


@dataclass(frozen=True)
class Problem:
    """One thing that does not hold."""

    code: str
    message: str
    index: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"code": self.code, "index": self.index, "message": self.message}


@dataclass
class AuditReport:
    """What the audit looked at and what it found."""

    size: int = 0
    checkpoints: int = 0
    #: checkpoints sealed before the map existed (no map line): reported, never failures
    before_map: int = 0
    #: checkpoints whose map root was recomputed from the log
    map_checked: int = 0
    streams: int = 0
    root: str | None = None
    problems: list[Problem] = field(default_factory=list)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def add(self, code: str, message: str, index: int | None = None) -> None:
        """Record a problem (at most MAX_PROBLEMS are kept)."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(code, message, index))
        else:
            self.truncated = True

    def to_json(self) -> dict[str, Any]:
        """JSON form (printed by ``sealtrail audit --json``)."""
        return {
            "ok": self.ok,
            "size": self.size,
            "checkpoints": self.checkpoints,
            "checkpoints_before_map": self.before_map,
            "map_roots_checked": self.map_checked,
            "streams": self.streams,
            "root": self.root,
            "problems": [p.to_json() for p in self.problems],
            "truncated": self.truncated,
        }


def audit(store: LedgerStore, verifier: NoteVerifier) -> AuditReport:
    """Re-audit ``store``; the checkpoint key must be ``verifier``."""
    report = AuditReport()
    checkpoints = store.checkpoints()
    report.checkpoints = len(checkpoints)
    roots_at = {cp.size: cp for cp in checkpoints}
    origin = store.meta("origin")
    if origin is not None and origin != verifier.name:
        report.add("origin_mismatch", f"ledger origin {origin!r}, key name {verifier.name!r}")
    rng: CompactRange | None = CompactRange()
    heads: dict[tuple[str, str], bytes] = {}
    client_ids: dict[tuple[str, str], int] = {}
    expected = 0
    computed_roots: dict[int, bytes] = {}
    named: dict[int, set[bytes]] = {}
    unreadable: set[int] = set()  # events whose documents are unknown: skip their index rows
    try:
        entries = store.entries()
        for entry in entries:
            ev = entry.event
            i = ev.index
            if i != expected:
                if i > expected:
                    missing = (
                        f"event {expected} is"
                        if i == expected + 1
                        else f"events {expected}..{i - 1} are"
                    )
                    report.add("missing_event", f"{missing} missing", expected)
                else:
                    report.add("duplicate_index", f"index {i} appears twice", i)
                    continue
                # Without the missing leaves the tree cannot be recomputed; stop tree checks.
                rng = None
            expected = i + 1
            leaf = hashlib.sha256(b"\x00" + ev.canonical).digest()
            if leaf != ev.leaf_hash:
                report.add(
                    "leaf_hash_mismatch",
                    f"event {i}: stored leaf hash {ev.leaf_hash.hex()} but its bytes hash to "
                    f"{leaf.hex()}",
                    i,
                )
            try:
                body = decode_event(ev.canonical)
            except InvalidInputError as e:
                report.add("malformed_event", f"event {i}: {e}", i)
                body = None
                unreadable.add(i)
            if body is not None:
                if body["index"] != i:
                    report.add(
                        "index_mismatch", f"event stored at {i} says index {body['index']}", i
                    )
                for col, val, want in (
                    ("tenant", ev.tenant, body["tenant"]),
                    ("stream", ev.stream, body["stream"]),
                    ("client_event_id", ev.client_event_id, body["client_event_id"]),
                    ("type", ev.type, body["type"]),
                    ("actor_id", ev.actor_id, body["actor"]["id"]),
                    ("recorded_at", ev.recorded_at, body["recorded_at"]),
                ):
                    if val != want:
                        report.add(
                            "column_mismatch",
                            f"event {i}: stored {col} {val!r} but the event says {want!r}",
                            i,
                        )
                if body["documents"]:
                    named[i] = {bytes.fromhex(d["sha256"][:16]) for d in body["documents"]}
                key = (body["tenant"], body["stream"])
                want_prev = heads.get(key)
                got_prev = None if body["prev"] is None else bytes.fromhex(body["prev"])
                if got_prev != want_prev:
                    w = want_prev.hex() if want_prev else "null (first of its stream)"
                    g = body["prev"] or "null"
                    report.add(
                        "chain_broken",
                        f"event {i}: stream {body['stream']!r} of tenant {body['tenant']!r} "
                        f"links to prev {g}, want {w}",
                        i,
                    )
                heads[key] = leaf
                cid = body["client_event_id"]
                if cid is not None:
                    ck = (body["tenant"], cid)
                    if ck in client_ids:
                        report.add(
                            "duplicate_client_id",
                            f"event {i}: client_event_id {cid!r} already used by event "
                            f"{client_ids[ck]}",
                            i,
                        )
                    else:
                        client_ids[ck] = i
            if rng is not None:
                subs = b"".join(rng.append(leaf))
                if subs != entry.subtrees:
                    report.add(
                        "subtree_mismatch",
                        f"event {i}: stored subtree hashes differ from the recomputed ones",
                        i,
                    )
                if rng.size in roots_at:
                    computed_roots[rng.size] = rng.root()
    except StorageError as e:
        report.add("storage_error", str(e))
    report.size = expected
    report.streams = len(heads)
    _audit_document_index(store, report, named, unreadable)
    if rng is not None:
        report.root = rng.root().hex()
    _audit_checkpoints(store, verifier, report, computed_roots, rng is not None)
    if report.ok:
        _audit_map(store, verifier, report)
    return report


def _audit_map(store: LedgerStore, verifier: NoteVerifier, report: AuditReport) -> None:
    """Recompute the map from the log, batch by batch between checkpoints, and compare its root
    with every checkpoint's ``sealtrail-map/v1`` line (and the stored map root).

    Runs only over a log that passed every other check: a map recomputed from tampered events
    or index columns would only repeat, as map root mismatches, what is already reported."""
    committed: list[tuple[int, bytes]] = []
    for cp in store.checkpoints():
        try:
            parsed = verify_checkpoint(cp.note, verifier)
            root = map_root_of(parsed.extensions)
        except NoteError:
            continue  # reported by _audit_checkpoints
        except ValueError as e:
            report.add("map_line_malformed", f"checkpoint {cp.size}: {e}")
            continue
        if root is None:
            report.before_map += 1
        elif cp.size <= report.size:
            committed.append((cp.size, root))
    if not committed:
        return
    mmap, done = MemoryMap(), 0
    stored = store.maps
    for size, want in committed:
        try:
            events = [e.event for e in store.entries(done, size)]
            mmap.set_many(
                map_changes(
                    events,
                    {
                        k: mmap.values[key_hash(k)]
                        for k in touched_keys(events)
                        if key_hash(k) in mmap.values
                    },
                )
            )
        except (StorageError, ValueError, KeyError, TypeError, InvalidInputError) as e:
            report.add("map_unverifiable", f"checkpoint {size}: cannot recompute the map: {e}")
            return
        done = size
        report.map_checked += 1
        if mmap.root != want:
            report.add(
                "map_root_mismatch",
                f"checkpoint {size}: map root {want.hex()}, recomputed from the events "
                f"{mmap.root.hex()}",
            )
        have = None if stored is None else stored.root(size)
        if stored is not None and have != want:
            report.add(
                "map_root_stored_mismatch",
                f"checkpoint {size}: its note names map root {want.hex()}, the store holds "
                f"{'none' if have is None else have.hex()}",
            )


def _audit_document_index(
    store: LedgerStore, report: AuditReport, named: dict[int, set[bytes]], skip: set[int]
) -> None:
    """The look-up-by-document index must list exactly the documents each event names."""
    extra: dict[int, list[bytes]] = {}
    try:
        for prefix, idx in store.document_index():
            if idx in skip:
                continue
            if prefix in named.get(idx, ()):
                named[idx].discard(prefix)
            else:
                extra.setdefault(idx, []).append(prefix)
    except StorageError as e:
        report.add("storage_error", str(e))
        return
    for idx in sorted({*extra, *(i for i, left in named.items() if left)}):
        if idx >= report.size:
            report.add(
                "document_index_mismatch",
                f"event {idx}: the document index lists it, but the log ends at {report.size}",
                idx,
            )
            continue
        parts = []
        if extra.get(idx):
            parts.append(f"lists documents {sorted(p.hex() for p in extra[idx])} it does not name")
        if named.get(idx):
            parts.append(f"lacks documents {sorted(p.hex() for p in named[idx])} it names")
        report.add(
            "document_index_mismatch",
            f"event {idx}: the document index " + " and ".join(parts) + " (8-byte prefixes)",
            idx,
        )


def _audit_checkpoints(
    store: LedgerStore,
    verifier: NoteVerifier,
    report: AuditReport,
    computed_roots: dict[int, bytes],
    tree_ok: bool,
) -> None:
    prev = None
    for cp in store.checkpoints():
        where = f"checkpoint {cp.size}"
        try:
            parsed = verify_checkpoint(cp.note, verifier)
        except NoteError as e:
            report.add("checkpoint_signature", f"{where}: {e}")
            parsed = None
        if parsed is not None and (parsed.size != cp.size or parsed.root != cp.root):
            report.add(
                "checkpoint_mismatch",
                f"{where}: signed note says size {parsed.size}, "
                f"root {parsed.root.hex()}; stored root {cp.root.hex()}",
            )
        if cp.size > report.size:
            report.add("checkpoint_beyond_log", f"{where} is beyond the log size {report.size}")
        elif tree_ok:
            want = computed_roots.get(cp.size)
            if want is not None and want != cp.root:
                report.add(
                    "checkpoint_root_mismatch",
                    f"{where}: root {cp.root.hex()}, recomputed from the events {want.hex()}",
                )
        if prev is not None and cp.size <= report.size:
            try:
                groups = consistency_subtrees(prev.size, cp.size)
                nodes = store.subtrees({n for g in groups for n in g})
                verify_consistency(prev.size, cp.size, prev.root, cp.root, assemble(groups, nodes))
            except (ProofError, StorageError, ValueError) as e:
                report.add(
                    "checkpoint_inconsistent",
                    f"checkpoint {cp.size} is not consistent with checkpoint {prev.size}: {e}",
                )
        prev = cp
