"""A full re-audit of a stored ledger from its events alone, streamed in pages.

Recomputes, in one pass over the log in index order: every event's well-formedness and leaf
hash, dense indices, the stored index columns, each stream's hash chain, client event id
uniqueness, every stored subtree hash (so proofs served from the store are right), and, at every
checkpoint size, the root; then the look-up-by-document index, every checkpoint's signature and
the consistency of each checkpoint with the previous one; then, over a log that passed all that,
the verifiable map's root at every checkpoint that commits to one. Each problem found is
reported with a code, the index it concerns and a precise message; nothing stops at the first
problem.

**Memory.** The log is read ``page_size`` entries at a time and nothing of a page is kept after
it. What must be remembered across the log lives in a private scratch SQLite file the audit
creates in a temporary directory and deletes afterwards (never the operator's database): each
stream's last leaf hash, each client event id's first index, and the map's values. Keys there are
keyed BLAKE2b digests under a random key drawn for this audit, so the operator cannot craft
collisions. The tree is a compact range (one hash per set bit of the size). The document index is
compared through keyed multiset hashes per block of 65,536 indices, itemised only for the blocks
that differ. The map's nodes are read from the store's own map tables and each one is hashed and
checked against the hash asked for (they are content-addressed), so the audit keeps in memory only
the nodes it made since the last checkpoint whose map root it confirmed. What still grows with
the log: the checkpoint list (one entry per checkpoint), and the map changes between two
checkpoints (bounded by the checkpoint interval, not the log).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealtrail.core.errors import InvalidInputError, NoteError, ProofError, StorageError
from sealtrail.core.event import Event, decode_event
from sealtrail.core.merkle import CompactRange, assemble, consistency_subtrees, verify_consistency
from sealtrail.core.note import NoteVerifier, verify_checkpoint
from sealtrail.core.vmap import EMPTY_ROOT, key_hash, map_root_of, value_hash
from sealtrail.core.vmap_log import map_changes, touched_keys
from sealtrail.core.vmap_tree import update
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


#: log entries read per page (what the audit holds of the log at a time)
DEFAULT_PAGE_SIZE = 5000
#: the document index is compared per block of this many log indices
_DOC_BLOCK_BITS = 16
#: blocks of the document index itemised when they differ (each costs a scan of the index)
_DOC_BLOCKS_ITEMISED = 8
_MOD = 1 << 256
#: the scratch file's tables and their value column: stream -> last leaf hash, (tenant, client
#: event id) -> first index, map key hash -> encoded value
_SCRATCH_TABLES = {"heads": "leaf", "cids": "idx", "mapv": "v"}

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: ``phase`` is ``"events"`` (the pass over the log) or
``"map"`` (the map's recomputation); ``done`` and ``total`` count log entries."""


class _Scratch:
    """The audit's own working state on disk: a private SQLite file (no durability needed)."""

    def __init__(self, directory: str | os.PathLike[str] | None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="sealtrail-audit-", dir=directory)
        self.con = sqlite3.connect(Path(self._dir.name) / "scratch.db", isolation_level=None)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -32768"):
            self.con.execute(f"PRAGMA {pragma}")
        for table, col in _SCRATCH_TABLES.items():
            self.con.execute(
                f"CREATE TABLE {table} (k BLOB PRIMARY KEY, {col} NOT NULL) WITHOUT ROWID"
            )
        self.con.execute("BEGIN")  # one transaction, never committed: nothing here must last
        self.key = os.urandom(32)

    def digest(self, *parts: str) -> bytes:
        """A 16-byte keyed digest of the strings (length-prefixed: injective)."""
        data = b"".join(b"%d:%s" % (len(p), p.encode("utf-8", "surrogatepass")) for p in parts)
        return hashlib.blake2b(data, key=self.key, digest_size=16).digest()

    def get(self, table: str, keys: Collection[bytes]) -> dict[bytes, Any]:
        """Stored ``{key: value}`` of those ``keys`` that are in ``table``."""
        out: dict[bytes, Any] = {}
        ks = list(keys)
        col = _SCRATCH_TABLES[table]
        for i in range(0, len(ks), 500):
            chunk = ks[i : i + 500]
            marks = ",".join("?" * len(chunk))
            q = f"SELECT k, {col} FROM {table} WHERE k IN ({marks})"  # noqa: S608 (fixed names)
            out.update(self.con.execute(q, chunk).fetchall())
        return out

    def put(self, table: str, items: Mapping[bytes, Any]) -> None:
        """Insert or overwrite ``items`` in ``table``."""
        if items:
            sql = f"INSERT OR REPLACE INTO {table} VALUES (?, ?)"  # noqa: S608 (fixed names)
            self.con.executemany(sql, items.items())

    def close(self) -> None:
        self.con.close()
        self._dir.cleanup()


def audit(
    store: LedgerStore,
    verifier: NoteVerifier,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    progress: Progress | None = None,
    scratch_dir: str | os.PathLike[str] | None = None,
) -> AuditReport:
    """Re-audit ``store``; the checkpoint key must be ``verifier``.

    Requires ``page_size >= 1``. Reads the log ``page_size`` entries at a time; ``progress`` is
    called after each page; the scratch file goes to ``scratch_dir`` (the system temp dir when
    None)."""
    if type(page_size) is not int or page_size < 1:
        raise ValueError(f"page_size must be a positive integer, got {page_size!r}")
    scratch = _Scratch(scratch_dir)
    try:
        return _audit(store, verifier, page_size, progress, scratch)
    finally:
        scratch.close()


@dataclass
class _Pass:
    """What the pass over the log carries from one page to the next (all of it O(1) or on
    disk, except ``computed_roots``: one root per checkpoint, and ``unreadable``: the indices of
    malformed events, whose document index rows are skipped)."""

    roots_at: set[int]
    rng: CompactRange | None = field(default_factory=CompactRange)
    expected: int = 0
    streams: int = 0
    computed_roots: dict[int, bytes] = field(default_factory=dict)
    unreadable: set[int] = field(default_factory=set)
    #: block -> keyed multiset hash of (8-byte document prefix, index) the events name
    named: dict[int, int] = field(default_factory=dict)


def _audit(
    store: LedgerStore,
    verifier: NoteVerifier,
    page_size: int,
    progress: Progress | None,
    scratch: _Scratch,
) -> AuditReport:
    report = AuditReport()
    checkpoints = store.checkpoints()
    report.checkpoints = len(checkpoints)
    origin = store.meta("origin")
    if origin is not None and origin != verifier.name:
        report.add("origin_mismatch", f"ledger origin {origin!r}, key name {verifier.name!r}")
    st = _Pass({cp.size for cp in checkpoints})
    try:
        stop = store.size()
        for start in range(0, stop, page_size):
            page = list(store.entries(start, min(stop, start + page_size)))
            found: list[tuple[int, int, str, str]] = []
            _audit_page(page, st, scratch, found)
            for i, _, code, message in sorted(found, key=lambda f: (f[0], f[1])):
                report.add(code, message, i)
            if progress is not None:
                progress("events", min(stop, start + page_size), stop)
    except StorageError as e:
        report.add("storage_error", str(e))
    report.size = st.expected
    report.streams = st.streams
    _audit_document_index(store, report, st, scratch, page_size)
    if st.rng is not None:
        report.root = st.rng.root().hex()
    _audit_checkpoints(store, verifier, report, st.computed_roots, st.rng is not None)
    if report.ok:
        _audit_map(store, verifier, report, scratch, page_size, progress)
    return report


def _audit_page(
    page: Sequence[Any], st: _Pass, scratch: _Scratch, found: list[tuple[int, int, str, str]]
) -> None:
    """Check one page of entries; problems go to ``found`` as (index, order, code, message)."""

    def add(code: str, message: str, i: int) -> None:
        found.append((i, len(found), code, message))

    chained: list[tuple[int, bytes, bytes | None, bytes, str, str, str | None]] = []
    for entry in page:
        ev: Event = entry.event
        i = ev.index
        if i != st.expected:
            if i > st.expected:
                missing = (
                    f"event {st.expected} is"
                    if i == st.expected + 1
                    else f"events {st.expected}..{i - 1} are"
                )
                add("missing_event", f"{missing} missing", st.expected)
            else:
                add("duplicate_index", f"index {i} appears twice", i)
                continue
            # Without the missing leaves the tree cannot be recomputed; stop tree checks.
            st.rng = None
        st.expected = i + 1
        leaf = hashlib.sha256(b"\x00" + ev.canonical).digest()
        if leaf != ev.leaf_hash:
            add(
                "leaf_hash_mismatch",
                f"event {i}: stored leaf hash {ev.leaf_hash.hex()} but its bytes hash to "
                f"{leaf.hex()}",
                i,
            )
        try:
            body = decode_event(ev.canonical)
        except InvalidInputError as e:
            add("malformed_event", f"event {i}: {e}", i)
            body = None
            st.unreadable.add(i)
        if body is not None:
            if body["index"] != i:
                add("index_mismatch", f"event stored at {i} says index {body['index']}", i)
            for col, val, want in (
                ("tenant", ev.tenant, body["tenant"]),
                ("stream", ev.stream, body["stream"]),
                ("client_event_id", ev.client_event_id, body["client_event_id"]),
                ("type", ev.type, body["type"]),
                ("actor_id", ev.actor_id, body["actor"]["id"]),
                ("recorded_at", ev.recorded_at, body["recorded_at"]),
            ):
                if val != want:
                    add(
                        "column_mismatch",
                        f"event {i}: stored {col} {val!r} but the event says {want!r}",
                        i,
                    )
            for prefix in {bytes.fromhex(d["sha256"][:16]) for d in body["documents"]}:
                _doc_add(st.named, scratch.key, prefix, i)
            prev = None if body["prev"] is None else bytes.fromhex(body["prev"])
            chained.append(
                (i, leaf, prev, scratch.digest(body["tenant"], body["stream"]), body["tenant"],
                 body["stream"], body["client_event_id"])
            )  # fmt: skip
        if st.rng is not None:
            subs = b"".join(st.rng.append(leaf))
            if subs != entry.subtrees:
                add(
                    "subtree_mismatch",
                    f"event {i}: stored subtree hashes differ from the recomputed ones",
                    i,
                )
            if st.rng.size in st.roots_at:
                st.computed_roots[st.rng.size] = st.rng.root()
    _check_chains(chained, st, scratch, add)


def _check_chains(
    chained: Sequence[tuple[int, bytes, bytes | None, bytes, str, str, str | None]],
    st: _Pass,
    scratch: _Scratch,
    add: Callable[[str, str, int], None],
) -> None:
    """Stream chains and client event id uniqueness for one page, against the scratch state."""
    heads: dict[bytes, bytes] = scratch.get("heads", {c[3] for c in chained})
    cid_keys = {c[0]: scratch.digest(c[4], c[6]) for c in chained if c[6] is not None}
    first_use: dict[bytes, int] = scratch.get("cids", set(cid_keys.values()))
    new_heads: dict[bytes, bytes] = {}
    new_cids: dict[bytes, int] = {}
    for i, leaf, got_prev, key, tenant, stream, cid in chained:
        want_prev = heads.get(key)
        if want_prev is None and key not in new_heads:
            st.streams += 1
        if got_prev != want_prev:
            w = want_prev.hex() if want_prev else "null (first of its stream)"
            g = got_prev.hex() if got_prev else "null"
            add(
                "chain_broken",
                f"event {i}: stream {stream!r} of tenant {tenant!r} links to prev {g}, want {w}",
                i,
            )
        heads[key] = new_heads[key] = leaf
        if cid is not None:
            ck = cid_keys[i]
            if ck in first_use:
                add(
                    "duplicate_client_id",
                    f"event {i}: client_event_id {cid!r} already used by event {first_use[ck]}",
                    i,
                )
            else:
                first_use[ck] = new_cids[ck] = i
    scratch.put("heads", new_heads)
    scratch.put("cids", new_cids)


def _doc_add(acc: dict[int, int], key: bytes, prefix: bytes, idx: int) -> None:
    """Add (prefix, idx) to the keyed multiset hash of its block (sum of keyed BLAKE2b mod
    2^256: equal sums for different multisets only by chance, as the key is secret)."""
    h = hashlib.blake2b(prefix + idx.to_bytes(8, "big"), key=key, digest_size=32).digest()
    block = idx >> _DOC_BLOCK_BITS
    acc[block] = (acc.get(block, 0) + int.from_bytes(h, "big")) % _MOD


def _audit_document_index(
    store: LedgerStore, report: AuditReport, st: _Pass, scratch: _Scratch, page_size: int
) -> None:
    """The look-up-by-document index must list exactly the documents each event names.

    Compared per block of indices through keyed multiset hashes (one pass over the index, O(1)
    memory per block); the blocks that differ are then itemised from the events and the index."""
    rows: dict[int, int] = {}
    try:
        for prefix, idx in store.document_index():
            if idx not in st.unreadable:
                _doc_add(rows, scratch.key, prefix, idx)
    except StorageError as e:
        report.add("storage_error", str(e))
        return
    bad = sorted(b for b in {*rows, *st.named} if rows.get(b, 0) != st.named.get(b, 0))
    for block in bad[:_DOC_BLOCKS_ITEMISED]:
        try:
            _itemise_document_block(store, report, st, block, page_size)
        except (StorageError, ValueError, KeyError, TypeError) as e:
            report.add("storage_error", str(e))
    for block in bad[_DOC_BLOCKS_ITEMISED:]:
        lo = block << _DOC_BLOCK_BITS
        report.add(
            "document_index_mismatch",
            f"events {lo}..{lo + (1 << _DOC_BLOCK_BITS) - 1}: the document index differs from "
            "the documents the events name (not itemised)",
            lo,
        )


def _itemise_document_block(
    store: LedgerStore, report: AuditReport, st: _Pass, block: int, page_size: int
) -> None:
    lo, hi = block << _DOC_BLOCK_BITS, (block + 1) << _DOC_BLOCK_BITS
    named: dict[int, set[bytes]] = {}
    for start in range(lo, min(hi, report.size), page_size):
        for entry in store.entries(start, min(hi, report.size, start + page_size)):
            i = entry.event.index
            if i in st.unreadable:
                continue
            docs = entry.event.body()["documents"]
            if docs:
                named[i] = {bytes.fromhex(d["sha256"][:16]) for d in docs}
    extra: dict[int, list[bytes]] = {}
    for prefix, idx in store.document_index():
        if not lo <= idx < hi or idx in st.unreadable:
            continue
        if prefix in named.get(idx, ()):
            named[idx].discard(prefix)
        else:
            extra.setdefault(idx, []).append(prefix)
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


def _audit_map(
    store: LedgerStore,
    verifier: NoteVerifier,
    report: AuditReport,
    scratch: _Scratch,
    page_size: int,
    progress: Progress | None,
) -> None:
    """Recompute the map from the log, page by page between checkpoints, and compare its root
    with every checkpoint's ``sealtrail-map/v1`` line (and the stored map root).

    Runs only over a log that passed every other check: a map recomputed from tampered events
    or index columns would only repeat, as map root mismatches, what is already reported.

    Each key's value lives in the scratch file. The tree's nodes are read from the store's map
    tables, every one checked against its hash (:func:`sealtrail.core.vmap_tree.update` does),
    under the root recomputed here; the nodes made since the last checkpoint whose root matched
    are kept in memory, since the store need not hold them (a mismatching root's nodes are not
    the store's). Without map tables in the store, every node stays in memory (O(keys))."""
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
    stored = store.maps
    mine: dict[bytes, bytes] = {}  # nodes made here and not (yet) confirmed to be the store's

    def fetch(hashes: Sequence[bytes]) -> Mapping[bytes, bytes]:
        out = {h: mine[h] for h in hashes if h in mine}
        rest = [h for h in hashes if h not in out]
        if rest and stored is not None:
            out.update(stored.nodes(rest))
        return out

    root, done, total = EMPTY_ROOT, 0, committed[-1][0]
    for size, want in committed:
        try:
            changes: dict[bytes, bytes] = {}
            for start in range(done, size, page_size):
                events = [e.event for e in store.entries(start, min(size, start + page_size))]
                _map_page(events, scratch, changes)
                if progress is not None:
                    progress("map", min(size, start + page_size), total)
            u = update(root, changes, fetch)
        except (StorageError, ValueError, KeyError, TypeError, InvalidInputError) as e:
            report.add("map_unverifiable", f"checkpoint {size}: cannot recompute the map: {e}")
            return
        root, done = u.root, size
        mine.update(u.new_nodes)
        for h in u.stale_nodes:
            mine.pop(h, None)
        report.map_checked += 1
        if root != want:
            report.add(
                "map_root_mismatch",
                f"checkpoint {size}: map root {want.hex()}, recomputed from the events "
                f"{root.hex()}",
            )
        elif stored is not None:
            mine.clear()  # the store must hold every node under a root it committed to
        have = None if stored is None else stored.root(size)
        if stored is not None and have != want:
            report.add(
                "map_root_stored_mismatch",
                f"checkpoint {size}: its note names map root {want.hex()}, the store holds "
                f"{'none' if have is None else have.hex()}",
            )


def _map_page(events: Sequence[Event], scratch: _Scratch, changes: dict[bytes, bytes]) -> None:
    """Apply one page of events to the map values in the scratch file; collect the changed
    ``{key hash: value hash}`` in ``changes``."""
    by_hash = {key_hash(k): k for k in touched_keys(events)}
    previous = scratch.get("mapv", by_hash.keys())
    new = map_changes(events, {by_hash[kh]: bytes(v) for kh, v in previous.items()})
    hashed = {key_hash(k): v for k, v in new.items()}
    scratch.put("mapv", hashed)
    for kh, v in hashed.items():
        changes[kh] = value_hash(v)


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
