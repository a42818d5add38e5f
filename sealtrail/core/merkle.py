"""RFC 9162 Merkle tree hashing, proofs and their verification (pure; no I/O).

Terms used throughout:

* a *leaf hash* is ``SHA-256(0x00 || data)`` (RFC 9162 §2.1.1);
* a *node hash* is ``SHA-256(0x01 || left || right)``;
* a *perfect subtree* ``(level, idx)`` covers the ``2**level`` leaves starting at
  ``idx * 2**level``; level 0 is a leaf. Stores keep these hashes so that proofs for any index and
  any pair of sizes need O(log N) reads. Proof *generation* here says which perfect subtrees to
  fetch (:func:`inclusion_subtrees`, :func:`consistency_subtrees`); the caller fetches them and
  :func:`fold` turns them into proof hashes, so this module never does I/O.

Proof lists are in RFC 9162 order, leaf to root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from sealtrail.core.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
NodeId = tuple[int, int]
"""A perfect subtree ``(level, idx)``."""


def leaf_hash(data: bytes) -> bytes:
    """Return ``SHA-256(0x00 || data)`` (RFC 9162 §2.1.1)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)`` (RFC 9162 §2.1.1)."""
    return _sha256(b"\x01" + left + right).digest()


def _largest_pow2_below(n: int) -> int:
    """Largest power of two strictly less than ``n``. Requires ``n > 1``."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hashes(hashes: Iterable[bytes], what: str) -> None:
    for i, h in enumerate(hashes):
        if not isinstance(h, bytes):
            raise TypeError(f"{what}[{i}] must be bytes, got {type(h).__name__}")
        if len(h) != HASH_SIZE:
            raise ValueError(f"{what}[{i}] has {len(h)} bytes, want {HASH_SIZE}")


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH over the leaves given by their leaf hashes (RFC 9162 §2.1.1).

    The empty tree's root is ``SHA-256("")``. Requires every element to be a 32-byte hash.
    Pairing level by level and carrying an odd last node up unchanged yields the same value as
    the RFC's recursive split at the largest power of two.
    """
    _check_hashes(leaf_hashes, "leaf_hashes")
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    sha = _sha256
    while len(level) > 1:
        odd = level[-1] if len(level) & 1 else None
        it = iter(level)
        level = [sha(b"\x01" + a + b).digest() for a, b in zip(it, it, strict=False)]
        if odd is not None:
            level.append(odd)
    return level[0]


# --------------------------------------------------------------------------------------------
# Which perfect subtrees make up a range, a proof, a root.


def range_subtrees(start: int, end: int) -> list[NodeId]:
    """Perfect subtrees, left to right, whose fold is MTH(D[start:end]).

    Requires ``0 <= start < end`` and ``start`` aligned as in RFC 9162's recursive split (every
    range that occurs in a proof or root is).
    """
    if not 0 <= start < end:
        raise ValueError(f"bad range [{start}, {end})")
    ids: list[NodeId] = []
    while start < end:
        n = end - start
        k = n if n & (n - 1) == 0 else _largest_pow2_below(n)
        level = k.bit_length() - 1
        if start % k:
            raise ValueError(f"range start {start} is not aligned to {k}")
        ids.append((level, start >> level))
        start += k
    return ids


def root_subtrees(size: int) -> list[NodeId]:
    """Perfect subtrees whose fold is the root of the tree of ``size`` leaves (``size >= 1``)."""
    return range_subtrees(0, size)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Ranges ``[start, end)`` whose MTHs form PATH(index, D[0:size]), leaf to root.

    RFC 9162 §2.1.3.1. Requires ``0 <= index < size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"index is beyond size: {index} >= {size}")
    siblings: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _largest_pow2_below(hi - lo)
        if index < lo + k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
    siblings.reverse()
    return siblings


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Ranges whose MTHs form PROOF(old_size, D[0:new_size]), RFC 9162 §2.1.4.1.

    Requires ``0 < old_size <= new_size``; equal sizes give an empty proof.
    """
    if not 0 < old_size <= new_size:
        raise ValueError(f"need 0 < old_size <= new_size, got {old_size}, {new_size}")
    siblings: list[tuple[int, int]] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    # SUBPROOF(m, D[lo:hi], complete): m counts old leaves inside [lo, hi).
    while m != hi - lo:
        k = _largest_pow2_below(hi - lo)
        if m <= k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            m -= k
            lo += k
            complete = False
    siblings.reverse()
    return ([(lo, hi)] if not complete else []) + siblings


def inclusion_subtrees(index: int, size: int) -> list[list[NodeId]]:
    """For each proof element of PATH(index, size), the perfect subtrees to fold."""
    return [range_subtrees(a, b) for a, b in inclusion_ranges(index, size)]


def consistency_subtrees(old_size: int, new_size: int) -> list[list[NodeId]]:
    """For each proof element of PROOF(old_size, new_size), the perfect subtrees to fold."""
    return [range_subtrees(a, b) for a, b in consistency_ranges(old_size, new_size)]


def fold(hashes: Sequence[bytes]) -> bytes:
    """Hash the perfect subtrees of one range, given left to right, into the range's MTH."""
    if not hashes:
        raise ValueError("nothing to fold")
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def assemble(groups: Sequence[Sequence[NodeId]], fetched: Mapping[NodeId, bytes]) -> list[bytes]:
    """Turn groups of subtree ids (as from :func:`inclusion_subtrees`) into proof hashes."""
    try:
        return [fold([fetched[i] for i in group]) for group in groups]
    except KeyError as e:
        raise ValueError(f"subtree {e.args[0]} was not fetched") from None


def _subtree_hash_from_leaves(leaf_hashes: Sequence[bytes]) -> Callable[[NodeId], bytes]:
    def get(node: NodeId) -> bytes:
        level, idx = node
        return root(leaf_hashes[idx << level : (idx + 1) << level])

    return get


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return the inclusion proof of leaf ``index`` in the tree of ``leaf_hashes``.

    Requires ``0 <= index < len(leaf_hashes)``. Computes from the leaves (O(N) hashing); stores
    use :func:`inclusion_subtrees` with their kept subtree hashes instead.
    """
    get = _subtree_hash_from_leaves(leaf_hashes)
    return [fold([get(i) for i in g]) for g in inclusion_subtrees(index, len(leaf_hashes))]


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return the consistency proof from size ``old_size`` to ``len(leaf_hashes)``.

    Requires ``0 < old_size <= len(leaf_hashes)``. Computes from the leaves (O(N) hashing).
    """
    get = _subtree_hash_from_leaves(leaf_hashes)
    groups = consistency_subtrees(old_size, len(leaf_hashes))
    return [fold([get(i) for i in g]) for g in groups]


# --------------------------------------------------------------------------------------------
# Verification (RFC 9162 §2.1.3.2 and §2.1.4.2). Pure; raises ProofError, returns None.


def _check_int(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be int, got {type(value).__name__}")
    if value < 0:
        raise ProofError(f"{name} is negative: {value}")
    return value


def _check_hash(value: object, name: str) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} has {len(value)} bytes, want {HASH_SIZE}")
    return value


def _check_proof(proof: object) -> list[bytes]:
    if not isinstance(proof, (list, tuple)):
        raise TypeError(f"proof must be a list of bytes, got {type(proof).__name__}")
    return [_check_hash(p, f"proof[{i}]") for i, p in enumerate(proof)]


def inclusion_proof_size(index: int, size: int) -> int:
    """Number of hashes in PATH(index, size). Requires ``0 <= index < size``."""
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner + border


def consistency_proof_size(old_size: int, new_size: int) -> int:
    """Number of hashes in PROOF(old_size, new_size). Requires ``0 < old_size <= new_size``."""
    if old_size == new_size:
        return 0
    shift = (old_size & -old_size).bit_length() - 1
    a, b = (old_size - 1) >> shift, (new_size - 1) >> shift
    inner = (a ^ b).bit_length()
    border = bin(a >> inner).count("1")
    start = 0 if old_size == 1 << shift else 1
    return start + inner + border


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is at ``index`` in the tree of ``size`` leaves with ``root``.

    Requires ``0 <= index < size``, 32-byte hashes and exactly the RFC's number of proof
    hashes; raises :class:`ProofError` naming the first thing that is wrong.
    """
    _check_hash(leaf_hash, "leaf_hash")
    _check_hash(root, "root")
    index = _check_int(index, "index")
    size = _check_int(size, "size")
    path = _check_proof(proof)
    if index >= size:
        raise ProofError(f"index is beyond size: {index} >= {size}")
    want = inclusion_proof_size(index, size)
    if len(path) != want:
        raise ProofError(f"wrong proof size {len(path)}, want {want}")
    # RFC 9162 §2.1.3.2, steps 1-5.
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root")
    if r != root:
        raise ProofError(f"calculated root {r.hex()} does not match expected root {root.hex()}")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends the one of ``old_size``.

    Policy (the same as transparency-dev/merkle): ``old_size > new_size`` is rejected;
    equal sizes need an empty proof and equal roots; ``old_size == 0`` with a larger new size is
    rejected as meaningless (every tree extends the empty tree). Hashes must be 32 bytes.
    Raises :class:`ProofError`.
    """
    _check_hash(old_root, "old_root")
    _check_hash(new_root, "new_root")
    old_size = _check_int(old_size, "old_size")
    new_size = _check_int(new_size, "new_size")
    path = _check_proof(proof)
    if new_size < old_size:
        raise ProofError(f"sizes out of order: new_size {new_size} < old_size {old_size}")
    if old_size == new_size:
        if path:
            raise ProofError(f"wrong proof size {len(path)}, want 0 for equal sizes")
        if old_root != new_root:
            raise ProofError(f"equal sizes but roots differ: {old_root.hex()} != {new_root.hex()}")
        return
    if old_size == 0:
        raise ProofError("consistency proof from the empty tree is meaningless")
    want = consistency_proof_size(old_size, new_size)
    if len(path) != want:
        raise ProofError(f"wrong proof size {len(path)}, want {want}")
    # RFC 9162 §2.1.4.2, steps 1-7.
    if old_size & (old_size - 1) == 0:
        path = [old_root, *path]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root")
    if fr != old_root:
        raise ProofError(f"calculated old root {fr.hex()} does not match {old_root.hex()}")
    if sr != new_root:
        raise ProofError(f"calculated new root {sr.hex()} does not match {new_root.hex()}")


# --------------------------------------------------------------------------------------------
# The right edge of a growing tree.


class CompactRange:
    """The perfect subtrees covering leaves ``[0, size)``: enough to append and to get roots.

    ``hashes`` are ordered from the largest (leftmost) subtree to the smallest, one per set bit
    of ``size`` (:func:`root_subtrees`).
    """

    __slots__ = ("_hashes", "_levels", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        ids = root_subtrees(size) if size else []
        if len(hashes) != len(ids):
            raise ValueError(f"a range of size {size} needs {len(ids)} hashes, got {len(hashes)}")
        _check_hashes(hashes, "hashes")
        self.size = size
        self._hashes = list(hashes)
        self._levels = [level for level, _ in ids]

    def append(self, leaf: bytes) -> list[bytes]:
        """Append one leaf hash; return the hashes of the subtrees it completes, level 1 up."""
        if type(leaf) is not bytes or len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
        completed: list[bytes] = []
        hashes, levels = self._hashes, self._levels
        h, level = leaf, 0
        while levels and levels[-1] == level:
            h = _sha256(b"\x01" + hashes.pop() + h).digest()
            levels.pop()
            level += 1
            completed.append(h)
        hashes.append(h)
        levels.append(level)
        self.size += 1
        return completed

    def root(self) -> bytes:
        """The root of the tree of ``size`` leaves."""
        return fold(self._hashes) if self._hashes else EMPTY_ROOT

    def copy(self) -> CompactRange:
        """An independent copy."""
        c = CompactRange()
        c.size, c._hashes, c._levels = self.size, list(self._hashes), list(self._levels)
        return c
