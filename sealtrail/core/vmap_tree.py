"""Building, updating and proving the verifiable map over content-addressed nodes (pure).

The tree of :mod:`sealtrail.core.vmap` is stored as *nodes keyed by their hash*:

* an internal node is stored as ``b"I" || left || right`` (65 bytes);
* a leaf as ``b"L" || key_hash || value_hash`` (65 bytes);
* empty subtrees are not stored (their hash is the constant ``EMPTY``), nor is the empty map's
  root ``EMPTY_ROOT`` (its content is known).

A node never changes once written: an update writes new nodes along the changed paths and a new
root, and the old root still proves what the old map held (every checkpoint's map stays
provable for as long as its nodes are kept). The functions here never do I/O: they ask the
caller for the nodes they need through a ``fetch`` callback, one call per tree level with every
hash needed at that level, and return the nodes to write. A store persists ``new_nodes`` (an
idempotent, content-addressed insert) *before* it publishes the root; a crash in between leaves
only unreachable nodes. Every fetched node is hashed and compared with the hash asked for, so a
corrupt store raises :class:`~sealtrail.core.errors.StorageError` rather than proving nonsense.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sealtrail.core.errors import StorageError
from sealtrail.core.vmap import (
    EMPTY,
    EMPTY_ROOT,
    HASH_SIZE,
    KEY_BITS,
    LEAF_TAG,
    NODE_TAG,
    MapLeaf,
    MapProof,
    key_hash,
    value_hash,
)

NODE_SIZE = 1 + 2 * HASH_SIZE
INTERNAL = 0x49  # "I"
LEAF = 0x4C  # "L"
_INTERNAL_B = b"I"
_LEAF_B = b"L"

Fetch = Callable[[Sequence[bytes]], Mapping[bytes, bytes]]
"""Given node hashes, return a mapping from each to its stored 65-byte encoding."""

_sha256 = hashlib.sha256
_EMPTY_ROOT_NODE = _INTERNAL_B + EMPTY + EMPTY


def hash_node(node: bytes) -> bytes:
    """The hash of a stored node encoding. Requires 65 bytes starting with ``I`` or ``L``."""
    if len(node) != NODE_SIZE:
        raise ValueError(f"node has {len(node)} bytes, want {NODE_SIZE}")
    if node[0] == INTERNAL:
        return _sha256(NODE_TAG + node[1:]).digest()
    if node[0] == LEAF:
        return _sha256(LEAF_TAG + node[1:]).digest()
    raise ValueError(f"unknown node kind 0x{node[0]:02x}")


# --------------------------------------------------------------------------------------------
# Building a subtree from sorted entries.


class _Entries:
    """Sorted key hashes (bytes and ints, for bisection) with their value hashes."""

    __slots__ = ("ints", "keys", "vals")

    def __init__(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        pairs = sorted(items)
        self.keys = [k for k, _ in pairs]
        self.vals = [v for _, v in pairs]
        self.ints = [int.from_bytes(k, "big") for k in self.keys]
        for i in range(1, len(self.keys)):
            if self.keys[i] == self.keys[i - 1]:
                raise ValueError(f"duplicate key hash {self.keys[i].hex()}")

    def split(self, lo: int, hi: int, depth: int) -> int:
        """First index in ``[lo, hi)`` whose bit ``depth`` is 1 (all share bits ``< depth``)."""
        shift = KEY_BITS - 1 - depth
        return bisect_left(self.ints, ((self.ints[lo] >> shift) | 1) << shift, lo, hi)


def _build(e: _Entries, lo: int, hi: int, depth: int, out: dict[bytes, bytes] | None) -> bytes:
    """Hash of the subtree at ``depth`` holding entries ``[lo, hi)``; its nodes go to ``out``."""
    n = hi - lo
    if depth > 0 and n <= 1:
        if n == 0:
            return EMPTY
        body = e.keys[lo] + e.vals[lo]
        h = _sha256(LEAF_TAG + body).digest()
        if out is not None:
            out[h] = _LEAF_B + body
        return h
    mid = e.split(lo, hi, depth) if n else lo
    body = _build(e, lo, mid, depth + 1, out) + _build(e, mid, hi, depth + 1, out)
    h = _sha256(NODE_TAG + body).digest()
    if out is not None:
        out[h] = _INTERNAL_B + body
    return h


def _check_items(items: Mapping[bytes, bytes]) -> None:
    for k, v in items.items():
        if type(k) is not bytes or type(v) is not bytes:
            raise TypeError("key and value hashes must be bytes")
        if len(k) != HASH_SIZE or len(v) != HASH_SIZE:
            raise ValueError(f"key and value hashes must be {HASH_SIZE} bytes")


def root_of(items: Mapping[bytes, bytes]) -> bytes:
    """The map root over ``{key_hash: value_hash}``, from scratch (what an audit compares)."""
    _check_items(items)
    e = _Entries(items.items())
    return _build(e, 0, len(e.keys), 0, None)


def build(items: Mapping[bytes, bytes]) -> tuple[bytes, dict[bytes, bytes]]:
    """The root over ``{key_hash: value_hash}`` and every node of the tree (hash -> encoding)."""
    _check_items(items)
    e = _Entries(items.items())
    out: dict[bytes, bytes] = {}
    return _build(e, 0, len(e.keys), 0, out), out


# --------------------------------------------------------------------------------------------
# Fetching, checked.


def _fetch_checked(fetch: Fetch, hashes: list[bytes]) -> dict[bytes, bytes]:
    got: dict[bytes, bytes] = {}
    want = [h for h in hashes if h != EMPTY_ROOT]
    if EMPTY_ROOT in hashes:
        got[EMPTY_ROOT] = _EMPTY_ROOT_NODE
    if not want:
        return got
    fetched = fetch(want)
    for h in want:
        node = fetched.get(h)
        if node is None:
            raise StorageError(f"map node {h.hex()} is missing from the store")
        try:
            ok = hash_node(bytes(node)) == h
        except ValueError as e:
            raise StorageError(f"map node {h.hex()} is malformed: {e}") from None
        if not ok:
            raise StorageError(f"map node {h.hex()} does not hash to its key")
        got[h] = bytes(node)
    return got


# --------------------------------------------------------------------------------------------
# Batch update.


@dataclass
class MapUpdate:
    """The result of :func:`update`.

    ``root`` is the new root; ``new_nodes`` (hash -> encoding) must be persisted before the root
    is published; ``stale_nodes`` are hashes reachable from the old root but not from the new
    one (a store may delete them once no kept checkpoint's root needs them); ``fetched`` counts
    the nodes read.
    """

    root: bytes
    new_nodes: dict[bytes, bytes] = field(default_factory=dict)
    stale_nodes: set[bytes] = field(default_factory=set)
    fetched: int = 0


class _Task:
    """A subtree on a changed path: old hash, depth, the changes ``[lo, hi)`` falling in it."""

    __slots__ = ("depth", "hi", "left", "lo", "new", "old", "right")

    def __init__(self, old: bytes, depth: int, lo: int, hi: int) -> None:
        self.old, self.depth, self.lo, self.hi = old, depth, lo, hi
        self.new: bytes | None = None
        self.left: _Task | bytes | None = None
        self.right: _Task | bytes | None = None


def update(root: bytes, changes: Mapping[bytes, bytes], fetch: Fetch) -> MapUpdate:
    """Set ``{key_hash: value_hash}`` in the map with ``root``; keys are added or overwritten.

    Keys are never removed (the map of a log only grows). ``fetch`` is called once per level
    with the hashes of the old nodes on the changed paths. Requires ``root`` to be the root of
    a map whose nodes ``fetch`` returns (``EMPTY_ROOT`` for a new map).
    """
    _check_items(changes)
    if type(root) is not bytes or len(root) != HASH_SIZE:
        raise ValueError(f"root must be {HASH_SIZE} bytes")
    result = MapUpdate(root)
    if not changes:
        return result
    e = _Entries(changes.items())
    out = result.new_nodes
    visited: list[bytes] = []
    top = _Task(root, 0, 0, len(e.keys))
    level = [top]
    internal_levels: list[list[_Task]] = []  # tasks over internal nodes, root level first
    while level:
        need = [t.old for t in level if t.old != EMPTY]
        nodes = _fetch_checked(fetch, need) if need else {}
        result.fetched += len(nodes)
        visited.extend(need)
        nxt: list[_Task] = []
        internal: list[_Task] = []
        for t in level:
            node = nodes.get(t.old) if t.old != EMPTY else None
            if node is None or node[0] == LEAF:
                if t.depth == 0:
                    raise StorageError(f"map root {t.old.hex()} is not an internal node")
                t.new = _merge_leaf(e, t, node, out)
                continue
            if t.depth >= KEY_BITS:
                raise StorageError(f"map node {t.old.hex()} is internal at depth {t.depth}")
            internal.append(t)
            left, right = node[1:33], node[33:]
            mid = e.split(t.lo, t.hi, t.depth)
            if mid > t.lo:
                t.left = _Task(left, t.depth + 1, t.lo, mid)
                nxt.append(t.left)
            else:
                t.left = left
            if t.hi > mid:
                t.right = _Task(right, t.depth + 1, mid, t.hi)
                nxt.append(t.right)
            else:
                t.right = right
        internal_levels.append(internal)
        level = nxt
    # New hashes bottom-up: a level's children are all resolved before it.
    sha, tag = _sha256, NODE_TAG
    for tasks in reversed(internal_levels):
        for t in tasks:
            body = _child_hash(t.left) + _child_hash(t.right)
            t.new = sha(tag + body).digest()
            out[t.new] = _INTERNAL_B + body
    result.root = _child_hash(top)
    result.stale_nodes = {h for h in visited if h not in out and h != EMPTY_ROOT}
    return result


def _merge_leaf(e: _Entries, t: _Task, node: bytes | None, out: dict[bytes, bytes]) -> bytes:
    """Rebuild a subtree that was empty or a single leaf, with the changes falling in it."""
    lo, hi = t.lo, t.hi
    if node is None:
        return _build(e, lo, hi, t.depth, out)
    k, v = node[1:33], node[33:]
    if k in e.keys[lo:hi]:  # the old leaf is overwritten
        return _build(e, lo, hi, t.depth, out)
    sub = _Entries(zip([*e.keys[lo:hi], k], [*e.vals[lo:hi], v], strict=True))
    return _build(sub, 0, len(sub.keys), t.depth, out)


def _child_hash(c: _Task | bytes | None) -> bytes:
    h = c.new if isinstance(c, _Task) else c
    if h is None:
        raise RuntimeError("map update: a subtree was left unresolved")  # a bug, not input
    return h


# --------------------------------------------------------------------------------------------
# Proof generation.


def prove(root: bytes, k: bytes, fetch: Fetch) -> MapProof:
    """The inclusion or non-inclusion proof of key hash ``k`` in the map with ``root``.

    One ``fetch`` call per level, with one hash each. The proof's ``leaf`` is the key's own leaf
    (inclusion), another key's leaf sharing its path, or None (an empty subtree).
    """
    if type(k) is not bytes or len(k) != HASH_SIZE:
        raise ValueError(f"key hash must be {HASH_SIZE} bytes")
    siblings: list[bytes] = []
    h, depth = root, 0
    while True:
        node = _fetch_checked(fetch, [h])[h]
        if node[0] == LEAF:
            if depth == 0:
                raise StorageError(f"map root {root.hex()} is not an internal node")
            return MapProof(tuple(reversed(siblings)), MapLeaf(node[1:33], node[33:]))
        if depth >= KEY_BITS:
            raise StorageError(f"map node {h.hex()} is internal at depth {depth}")
        if (k[depth >> 3] >> (7 - (depth & 7))) & 1:
            siblings.append(node[1:33])
            h = node[33:]
        else:
            siblings.append(node[33:])
            h = node[1:33]
        depth += 1
        if h == EMPTY:
            return MapProof(tuple(reversed(siblings)), None)


# --------------------------------------------------------------------------------------------
# An in-memory map: for tests, audits that rebuild the map from the log, and benchmarks. It
# runs the same update and proof code as a store-backed map, with a dict as the store.


class MemoryMap:
    """A verifiable map held in memory, keyed by encoded keys (``vmap.stream_key`` etc.).

    Keeps only the current version's nodes unless ``keep_history`` (then every root it ever had
    remains provable through :func:`prove` with ``self.fetch``).
    """

    def __init__(self, *, keep_history: bool = False) -> None:
        self.root = EMPTY_ROOT
        self.nodes: dict[bytes, bytes] = {}
        self.values: dict[bytes, bytes] = {}  # key hash -> encoded value
        self.keep_history = keep_history

    @classmethod
    def from_items(cls, items: Mapping[bytes, bytes], *, keep_history: bool = False) -> MemoryMap:
        """A map holding ``{encoded key: encoded value}``, built in one pass."""
        m = cls(keep_history=keep_history)
        values = {key_hash(k): v for k, v in items.items()}
        m.root, m.nodes = build({k: value_hash(v) for k, v in values.items()})
        m.values = values
        return m

    def fetch(self, hashes: Sequence[bytes]) -> Mapping[bytes, bytes]:
        """The ``fetch`` callback over this map's nodes."""
        nodes = self.nodes
        return {h: nodes[h] for h in hashes if h in nodes}

    def set_many(self, items: Mapping[bytes, bytes]) -> MapUpdate:
        """Set ``{encoded key: encoded value}``; returns the update (new root in ``.root``)."""
        values = {key_hash(k): v for k, v in items.items()}
        u = update(self.root, {k: value_hash(v) for k, v in values.items()}, self.fetch)
        self.nodes.update(u.new_nodes)
        if not self.keep_history:
            for h in u.stale_nodes:
                self.nodes.pop(h, None)
        self.values.update(values)
        self.root = u.root
        return u

    def get(self, key: bytes) -> bytes | None:
        """The encoded value of encoded ``key``, or None."""
        return self.values.get(key_hash(key))

    def prove(self, key: bytes) -> MapProof:
        """The (non-)inclusion proof of encoded ``key`` against :attr:`root`."""
        return prove(self.root, key_hash(key), self.fetch)

    def __len__(self) -> int:
        return len(self.values)
