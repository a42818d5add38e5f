"""Tests for the verifiable map: sealtrail.core.vmap (verification) and vmap_tree (building).

Sources of truth:

* a naive recursive reference implementation below, written from docs/MAP.md with hashlib alone
  (it shares no code with the modules under test): roots, proofs, key and value encodings;
* the published vectors in tests/vectors/map/, which that reference produced (``python -m
  tests.unit.core.test_vmap`` rewrites them; a test checks they are reproduced byte for byte).

Negative tests are named after the mutation they apply to a freshly generated, valid proof.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import random
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealtrail.core import vmap, vmap_tree
from sealtrail.core.errors import ProofError, StorageError
from sealtrail.core.vmap import MapLeaf, MapProof, MapProofError

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "map"

# --------------------------------------------------------------------------------------------
# Reference implementation (docs/MAP.md §1-§6), as literal as possible; O(n) per node.

R_KEY = b"sealtrail/map/v1/key\x00"
R_VALUE = b"sealtrail/map/v1/value\x00"
R_LEAF = b"sealtrail/map/v1/leaf\x00"
R_NODE = b"sealtrail/map/v1/node\x00"
R_EMPTY = hashlib.sha256(b"sealtrail/map/v1/empty\x00").digest()
R_CHAIN = b"sealtrail/map/v1/doc-chain\x00"


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def r_stream_key(tenant: str, stream: str) -> bytes:
    t, s = tenant.encode(), stream.encode()
    return b"\x01" + len(t).to_bytes(2, "big") + t + len(s).to_bytes(2, "big") + s


def r_document_key(sha: bytes) -> bytes:
    return b"\x02" + sha


def r_key_hash(key: bytes) -> bytes:
    h = _h(R_KEY + key)
    first = (h[0] & 0x7F) | (0x80 if key[0] == 2 else 0)
    return bytes([first]) + h[1:]


def r_value(kind: int, count: int, last: int, h: bytes) -> bytes:
    return bytes([kind]) + count.to_bytes(8, "big") + last.to_bytes(8, "big") + h


def r_doc_value(pairs: Sequence[tuple[int, bytes]]) -> bytes:
    c = bytes(32)
    for i, leaf in pairs:
        c = _h(R_CHAIN + c + i.to_bytes(8, "big") + leaf)
    return r_value(2, len(pairs), pairs[-1][0], c)


def r_bit(k: bytes, i: int) -> int:
    return int.from_bytes(k, "big") >> (255 - i) & 1


def r_subtree(items: list[tuple[bytes, bytes]], depth: int) -> bytes:
    """Hash of the subtree at ``depth`` holding (key hash, value hash) ``items``."""
    if not items and depth > 0:
        return R_EMPTY
    if len(items) == 1 and depth > 0:
        return _h(R_LEAF + items[0][0] + items[0][1])
    left = [x for x in items if r_bit(x[0], depth) == 0]
    right = [x for x in items if r_bit(x[0], depth) == 1]
    return _h(R_NODE + r_subtree(left, depth + 1) + r_subtree(right, depth + 1))


def r_root(entries: Mapping[bytes, bytes]) -> bytes:
    return r_subtree(sorted(entries.items()), 0)


def r_proof(entries: Mapping[bytes, bytes], k: bytes) -> dict[str, Any]:
    """The proof JSON for key hash ``k`` (leaf to root)."""
    items, depth, sibs = sorted(entries.items()), 0, []
    while depth == 0 or len(items) > 1:
        b = r_bit(k, depth)
        sibs.append(r_subtree([x for x in items if r_bit(x[0], depth) != b], depth + 1))
        items = [x for x in items if r_bit(x[0], depth) == b]
        depth += 1
    leaf = None if not items else {"key_hash": items[0][0].hex(), "value_hash": items[0][1].hex()}
    return {"leaf": leaf, "siblings": [s.hex() for s in reversed(sibs)]}


def r_verify(root: bytes, k: bytes, vh: bytes | None, proof: dict[str, Any]) -> bool:
    """Inclusion of (k, vh), or non-inclusion of k when ``vh`` is None."""
    sibs = [bytes.fromhex(s) for s in proof["siblings"]]
    n, leaf = len(sibs), proof["leaf"]
    if not 1 <= n <= 256:
        return False
    if leaf is None:
        if vh is not None:
            return False
        h = R_EMPTY
    else:
        lk, lv = bytes.fromhex(leaf["key_hash"]), bytes.fromhex(leaf["value_hash"])
        if vh is not None and (lk != k or lv != vh):
            return False
        if vh is None and (
            lk == k or int.from_bytes(lk) >> (256 - n) != int.from_bytes(k) >> (256 - n)
        ):
            return False
        h = _h(R_LEAF + lk + lv)
    for i, s in enumerate(sibs):
        h = _h(R_NODE + s + h) if r_bit(k, n - 1 - i) else _h(R_NODE + h + s)
    return h == root


# --------------------------------------------------------------------------------------------
# Helpers.


def doc(i: int) -> bytes:
    """The encoded key of synthetic document ``i``."""
    return vmap.document_key(_h(b"doc" + i.to_bytes(8, "big")))


def head(i: int) -> bytes:
    return vmap.StreamHead(i % 7 + 1, 1000 + i, _h(b"leaf" + i.to_bytes(8, "big"))).encode()


def docval(i: int) -> bytes:
    return vmap.DocumentEvents(1, i, _h(b"chain" + i.to_bytes(8, "big"))).encode()


def sample_items(n: int) -> dict[bytes, bytes]:
    """``n`` keys, alternately streams of two tenants and documents."""
    items: dict[bytes, bytes] = {}
    for i in range(n):
        if i % 2:
            items[doc(i)] = docval(i)
        else:
            items[vmap.stream_key(("acme", "globex")[i % 4 // 2], f"contract:{i}")] = head(i)
    return items


def hashed(items: Mapping[bytes, bytes]) -> dict[bytes, bytes]:
    return {r_key_hash(k): _h(R_VALUE + v) for k, v in items.items()}


def flip(b: bytes, bitno: int = 0) -> bytes:
    x = bytearray(b)
    x[bitno // 8] ^= 0x80 >> (bitno % 8)
    return bytes(x)


# --------------------------------------------------------------------------------------------
# Constants, keys and values.


def test_constants_match_the_reference() -> None:
    assert vmap.EMPTY == R_EMPTY
    assert vmap.EMPTY_ROOT == _h(R_NODE + R_EMPTY + R_EMPTY) == r_root({})
    # no tag is a prefix of another, and none starts with RFC 9162's 0x00 / 0x01
    tags = [vmap.KEY_TAG, vmap.VALUE_TAG, vmap.LEAF_TAG, vmap.NODE_TAG, vmap.EMPTY_TAG]
    tags.append(vmap.DOC_CHAIN_TAG)
    assert all(t[0] not in (0, 1) and t.endswith(b"\x00") and t.count(b"\x00") == 1 for t in tags)
    assert all(not a.startswith(b) for a in tags for b in tags if a != b)


def test_stream_key_is_length_prefixed_and_kind_tagged() -> None:
    assert vmap.stream_key("acme", "c:1") == b"\x01\x00\x04acme\x00\x03c:1"
    assert vmap.stream_key("ab", "c") != vmap.stream_key("a", "bc")
    assert vmap.decode_stream_key(vmap.stream_key("租户", "合同:1")) == ("租户", "合同:1")
    assert vmap.document_key(bytes(32)) == b"\x02" + bytes(32)


@given(
    st.text(min_size=1, max_size=20),
    st.text(min_size=1, max_size=40),
    st.binary(min_size=32, max_size=32),
)
def test_key_kinds_never_share_a_half(tenant: str, stream: str, sha: bytes) -> None:
    try:
        sk = vmap.stream_key(tenant, stream)
    except UnicodeEncodeError:  # lone surrogates: not valid UTF-8, not a tenant or stream
        return
    ks, kd = vmap.key_hash(sk), vmap.key_hash(vmap.document_key(sha))
    assert ks == r_key_hash(sk)
    assert kd == r_key_hash(vmap.document_key(sha))
    assert vmap.bit(ks, 0) == 0
    assert vmap.bit(kd, 0) == 1


BAD_KEYS = {
    "empty": (b"", "empty key"),
    "unknown-kind": (b"\x03" + bytes(32), "unknown key kind"),
    "document-short": (b"\x02" + bytes(31), "document key has 32 bytes"),
    "document-long": (b"\x02" + bytes(33), "document key has 34 bytes"),
    "stream-truncated": (b"\x01\x00\x04acme\x00\x03c:", "lengths say"),
    "stream-trailing-garbage": (b"\x01\x00\x04acme\x00\x03c:12", "lengths say"),
    "stream-empty-tenant": (b"\x01\x00\x00\x00\x01x", "tenant has 0"),
    "stream-not-utf8": (b"\x01\x00\x01\xff\x00\x01x", "not UTF-8"),
}


@pytest.mark.parametrize("name", sorted(BAD_KEYS))
def test_malformed_key_encodings_are_refused(name: str) -> None:
    key, message = BAD_KEYS[name]
    with pytest.raises(ValueError, match=message):
        vmap.key_hash(key)


def test_values_round_trip_and_bad_values_are_refused() -> None:
    h = vmap.StreamHead(3, 41, bytes(range(32)))
    assert h.encode() == r_value(1, 3, 41, bytes(range(32)))
    assert vmap.decode_value(h.encode()) == h
    pairs = [(4, _h(b"a")), (9, _h(b"b")), (41, _h(b"c"))]
    d = vmap.document_events(pairs)
    assert d.encode() == r_doc_value(pairs)
    assert vmap.decode_value(d.encode()) == d
    assert vmap.document_events(pairs[:2]).extend(*pairs[2]) == d
    for bad, message in [
        (b"", "value has 0 bytes"),
        (b"\x03" + d.encode()[1:], "unknown value kind"),
        (d.encode()[:-1], "value has 48 bytes"),
        (r_value(1, 0, 5, bytes(32)), "count"),
        (r_value(2, 7, 5, bytes(32)), "count"),
    ]:
        with pytest.raises(ValueError, match=message):
            vmap.decode_value(bad)
    with pytest.raises(ValueError, match="not increasing"):
        vmap.document_events([(5, _h(b"a")), (5, _h(b"b"))])
    with pytest.raises(ValueError, match="not after"):
        d.extend(41, _h(b"d"))


# --------------------------------------------------------------------------------------------
# Trees against the reference (raw key hashes, including long shared prefixes).

_hash32 = st.binary(min_size=32, max_size=32)


@st.composite
def key_sets(draw: st.DrawFn) -> list[bytes]:
    """Random key hashes plus neighbours of some of them sharing 1..255 leading bits."""
    base = draw(st.lists(_hash32, min_size=0, max_size=24, unique=True))
    for k in list(base[:4]):
        for _ in range(draw(st.integers(0, 3))):
            p = draw(st.integers(1, 255))
            other = draw(_hash32)
            mask = (1 << (256 - p)) - 1
            n = (int.from_bytes(k) & ~mask) | (int.from_bytes(other) & mask)
            base.append(n.to_bytes(32, "big"))
    return sorted(set(base))


def with_values(keys: list[bytes]) -> dict[bytes, bytes]:
    return {k: _h(b"v" + k) for k in keys}


@settings(max_examples=150, deadline=None)
@given(key_sets(), st.data())
def test_roots_and_proofs_equal_the_reference(keys: list[bytes], data: st.DataObject) -> None:
    entries = with_values(keys)
    want = r_root(entries)
    assert vmap_tree.root_of(entries) == want
    root, nodes = vmap_tree.build(entries)
    assert root == want

    def fetch(hs: Sequence[bytes]) -> dict[bytes, bytes]:
        return {h: nodes[h] for h in hs}

    absent = data.draw(_hash32)
    probes = [*keys, absent, *(flip(k, 255) for k in keys[:3])]
    for k in probes:
        p = vmap_tree.prove(root, k, fetch)
        assert p.to_json() == r_proof(entries, k)
        assert vmap.root_from_proof(k, p) == root
        assert r_verify(root, k, entries.get(k), p.to_json())


@settings(max_examples=100, deadline=None)
@given(key_sets(), st.randoms(use_true_random=False), st.integers(1, 5))
def test_incremental_batches_equal_a_rebuild_in_any_order(
    keys: list[bytes], rnd: random.Random, nbatches: int
) -> None:
    first = with_values(keys)
    rnd.shuffle(keys)
    # Half of the keys get a second value in a later batch.
    final = dict(first)
    for k in keys[: len(keys) // 2]:
        final[k] = _h(b"w" + k)
    root, nodes = vmap.EMPTY_ROOT, dict[bytes, bytes]()
    stream = [(k, first[k]) for k in keys] + [(k, final[k]) for k in keys[: len(keys) // 2]]
    cuts = sorted(rnd.sample(range(len(stream) + 1), min(nbatches, len(stream) + 1)))
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        batch: dict[bytes, bytes] = {}
        for k, v in stream[a:b]:
            batch[k] = v  # a later value of the same key in one batch wins, as in the log

        def fetch(hs: Sequence[bytes]) -> dict[bytes, bytes]:
            return {h: nodes[h] for h in hs if h in nodes}

        u = vmap_tree.update(root, batch, fetch)
        nodes.update(u.new_nodes)
        for h in u.stale_nodes:
            del nodes[h]
        root = u.root
    assert root == r_root(final) == vmap_tree.root_of(final)
    if final:  # pruning leaves exactly the nodes of one version
        assert nodes == vmap_tree.build(final)[1]


def test_update_fetches_once_per_level_and_writes_only_changed_paths() -> None:
    items = sample_items(500)
    m = vmap_tree.MemoryMap.from_items(items)
    calls: list[int] = []

    def fetch(hs: Sequence[bytes]) -> Mapping[bytes, bytes]:
        calls.append(len(hs))
        return m.fetch(hs)

    changes = {vmap.key_hash(k): _h(b"new" + k) for k in list(items)[:10]}
    u = vmap_tree.update(m.root, changes, fetch)
    depth = max(len(m.prove(k).siblings) for k in list(items)[:10])
    assert len(calls) <= depth + 1
    assert calls[0] == 1
    assert len(u.new_nodes) <= 10 * (depth + 1)
    assert len(u.stale_nodes) == len(u.new_nodes)  # same shape, new hashes
    assert u.fetched == sum(calls)


def test_old_roots_stay_provable_with_history() -> None:
    m = vmap_tree.MemoryMap(keep_history=True)
    m.set_many(sample_items(40))
    old_root, key = m.root, doc(1)
    old_value = m.get(key)
    assert old_value is not None
    m.set_many({key: docval(99), doc(1001): docval(5)})
    vmap.verify_inclusion(
        old_root, key, old_value, vmap_tree.prove(old_root, vmap.key_hash(key), m.fetch)
    )
    vmap.verify_non_inclusion(
        old_root, doc(1001), vmap_tree.prove(old_root, vmap.key_hash(doc(1001)), m.fetch)
    )
    vmap.verify_inclusion(m.root, key, docval(99), m.prove(key))


def test_a_corrupt_or_incomplete_store_raises_storage_error() -> None:
    m = vmap_tree.MemoryMap.from_items(sample_items(20))
    k = vmap.key_hash(doc(1))
    victim = m.prove(doc(1)).siblings[-1]  # the root's left child: the streams' half
    bad = dict(m.nodes)
    bad[victim] = bad[victim][:1] + flip(bad[victim][1:33]) + bad[victim][33:]
    sk = vmap.key_hash(vmap.stream_key("acme", "contract:0"))
    with pytest.raises(StorageError, match="does not hash"):
        vmap_tree.prove(m.root, sk, lambda hs: {h: bad[h] for h in hs})
    with pytest.raises(StorageError, match="does not hash"):
        vmap_tree.update(m.root, {k: bytes(32), sk: bytes(32)}, lambda hs: {h: bad[h] for h in hs})
    with pytest.raises(StorageError, match="missing"):
        vmap_tree.prove(m.root, k, lambda hs: {})
    with pytest.raises(StorageError, match="malformed"):
        vmap_tree.prove(m.root, k, lambda hs: {h: b"X" for h in hs})


def test_a_one_key_map_keeps_an_internal_root() -> None:
    sk = vmap.stream_key("acme", "c:1")
    m = vmap_tree.MemoryMap.from_items({sk: head(1)})
    p = m.prove(sk)
    assert len(p.siblings) == 1
    assert p.siblings[0] == vmap.EMPTY
    vmap.verify_inclusion(m.root, sk, head(1), p)
    # a document's non-inclusion proof never shows the stream's leaf (the halves are apart)
    q = m.prove(doc(1))
    assert q.leaf is None
    assert len(q.siblings) == 1
    vmap.verify_non_inclusion(m.root, doc(1), q)


# --------------------------------------------------------------------------------------------
# Verification with encoded keys.


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 60), st.lists(st.integers(0, 200), max_size=20))
def test_present_keys_verify_inclusion_absent_keys_non_inclusion(n: int, probes: list[int]) -> None:
    items = sample_items(n)
    m = vmap_tree.MemoryMap.from_items(items)
    assert m.root == r_root(hashed(items))
    for k, v in items.items():
        p = m.prove(k)
        vmap.verify_inclusion(m.root, k, v, p)
        with pytest.raises(MapProofError) as e:
            vmap.verify_non_inclusion(m.root, k, p)
        assert e.value.reason == "key_present"
    for i in probes:
        for k in (doc(1000 + i), vmap.stream_key("initech", f"c:{i}")):
            p = m.prove(k)
            vmap.verify_non_inclusion(m.root, k, p)
            with pytest.raises(MapProofError):
                vmap.verify_inclusion(m.root, k, docval(i) if k[0] == 2 else head(i), p)


@pytest.fixture(scope="module")
def big() -> vmap_tree.MemoryMap:
    return vmap_tree.MemoryMap.from_items(sample_items(300))


def _reason(fn: Callable[[], None]) -> str:
    with pytest.raises(MapProofError) as e:
        fn()
    assert isinstance(e.value, ProofError)
    return e.value.reason


def _neighbours(m: vmap_tree.MemoryMap) -> tuple[bytes, bytes]:
    """A present key and an absent document key whose proof ends at that key's leaf."""
    for i in range(100_000, 200_000):
        p = m.prove(doc(i))
        if p.leaf is not None:
            for k in m.values:
                if k == p.leaf.key_hash:
                    break
            return p.leaf.key_hash, doc(i)
    raise AssertionError("no neighbour found")


class TestMutatedInclusionProofs:
    """A valid inclusion proof of ``doc(1)``, mutated; each must fail with the reason named."""

    KEY = doc(1)

    def run(
        self,
        m: vmap_tree.MemoryMap,
        mutate: Callable[[MapProof], MapProof],
        *,
        key: bytes | None = None,
        value: bytes | None = None,
        root: bytes | None = None,
    ) -> str:
        p = mutate(m.prove(self.KEY))
        return _reason(
            lambda: vmap.verify_inclusion(root or m.root, key or self.KEY, value or docval(1), p)
        )

    def test_flipped_bit_in_sibling(self, big: vmap_tree.MemoryMap) -> None:
        for i in range(len(big.prove(self.KEY).siblings)):

            def mut(p: MapProof, i: int = i) -> MapProof:
                s = list(p.siblings)
                s[i] = flip(s[i], 77)
                return MapProof(tuple(s), p.leaf)

            assert self.run(big, mut) == "root_mismatch"

    def test_truncated_proof(self, big: vmap_tree.MemoryMap) -> None:
        assert self.run(big, lambda p: MapProof(p.siblings[:-1], p.leaf)) == "root_mismatch"
        assert self.run(big, lambda p: MapProof(p.siblings[1:], p.leaf)) == "root_mismatch"
        assert self.run(big, lambda p: MapProof((), p.leaf)) == "no_siblings"

    def test_extra_sibling(self, big: vmap_tree.MemoryMap) -> None:
        assert (
            self.run(big, lambda p: MapProof((*p.siblings, vmap.EMPTY), p.leaf)) == "root_mismatch"
        )
        assert (
            self.run(big, lambda p: MapProof((vmap.EMPTY, *p.siblings), p.leaf)) == "root_mismatch"
        )
        assert self.run(big, lambda p: MapProof((vmap.EMPTY,) * 257, p.leaf)) == "too_many_siblings"

    def test_swapped_siblings(self, big: vmap_tree.MemoryMap) -> None:
        assert self.run(big, lambda p: MapProof(p.siblings[::-1], p.leaf)) == "root_mismatch"

    def test_wrong_key(self, big: vmap_tree.MemoryMap) -> None:
        assert self.run(big, lambda p: p, key=doc(3)) == "key_mismatch"

    def test_wrong_value(self, big: vmap_tree.MemoryMap) -> None:
        assert self.run(big, lambda p: p, value=docval(2)) == "value_mismatch"
        assert self.run(big, lambda p: p, value=head(1)) == "value_mismatch"  # wrong kind

    def test_leaf_key_hash_bit_flipped(self, big: vmap_tree.MemoryMap) -> None:
        def mut(p: MapProof) -> MapProof:
            assert p.leaf is not None
            return MapProof(p.siblings, MapLeaf(flip(p.leaf.key_hash, 200), p.leaf.value_hash))

        assert self.run(big, mut) == "key_mismatch"

    def test_leaf_value_hash_bit_flipped(self, big: vmap_tree.MemoryMap) -> None:
        def mut(p: MapProof) -> MapProof:
            assert p.leaf is not None
            return MapProof(p.siblings, MapLeaf(p.leaf.key_hash, flip(p.leaf.value_hash, 3)))

        assert self.run(big, mut) == "value_mismatch"

    def test_leaf_removed(self, big: vmap_tree.MemoryMap) -> None:
        assert self.run(big, lambda p: MapProof(p.siblings, None)) == "no_leaf"

    def test_wrong_root(self, big: vmap_tree.MemoryMap) -> None:
        assert self.run(big, lambda p: p, root=flip(big.root, 9)) == "root_mismatch"

    def test_root_of_another_version(self, big: vmap_tree.MemoryMap) -> None:
        other = vmap_tree.MemoryMap.from_items({**sample_items(300), self.KEY: docval(2)})
        assert self.run(big, lambda p: p, root=other.root) == "root_mismatch"


class TestMutatedNonInclusionProofs:
    def test_inclusion_proof_presented_as_non_inclusion(self, big: vmap_tree.MemoryMap) -> None:
        assert (
            _reason(lambda: vmap.verify_non_inclusion(big.root, doc(1), big.prove(doc(1))))
            == "key_present"
        )

    def test_non_inclusion_for_a_key_that_exists(self, big: vmap_tree.MemoryMap) -> None:
        # a proof ending at an empty subtree, replayed for a present key
        empty_end = next(
            big.prove(doc(i)) for i in range(10**5, 10**6) if big.prove(doc(i)).leaf is None
        )
        assert (
            _reason(lambda: vmap.verify_non_inclusion(big.root, doc(1), empty_end))
            == "root_mismatch"
        )

    def test_proof_for_a_neighbour_sharing_a_long_prefix(self, big: vmap_tree.MemoryMap) -> None:
        present, absent = _neighbours(big)
        p = big.prove(absent)
        vmap.verify_non_inclusion(big.root, absent, p)
        assert p.leaf is not None
        assert p.leaf.key_hash == present
        # the same proof cannot pass as inclusion of the absent key
        assert (
            _reason(lambda: vmap.verify_inclusion(big.root, absent, docval(1), p)) == "key_mismatch"
        )

    def test_leaf_off_path(self, big: vmap_tree.MemoryMap) -> None:
        _, absent = _neighbours(big)
        p = big.prove(absent)
        assert p.leaf is not None
        far = MapProof(p.siblings, MapLeaf(flip(p.leaf.key_hash, 0), p.leaf.value_hash))
        assert _reason(lambda: vmap.verify_non_inclusion(big.root, absent, far)) == "leaf_off_path"

    def test_leaf_added_to_an_empty_end(self, big: vmap_tree.MemoryMap) -> None:
        i = next(i for i in range(10**5, 10**6) if big.prove(doc(i)).leaf is None)
        p = big.prove(doc(i))
        k = vmap.key_hash(doc(i))
        forged = MapProof(p.siblings, MapLeaf(flip(k, 255), bytes(32)))
        assert (
            _reason(lambda: vmap.verify_non_inclusion(big.root, doc(i), forged)) == "root_mismatch"
        )

    def test_leaf_removed_from_a_neighbour_end(self, big: vmap_tree.MemoryMap) -> None:
        _, absent = _neighbours(big)
        p = big.prove(absent)
        assert (
            _reason(lambda: vmap.verify_non_inclusion(big.root, absent, MapProof(p.siblings, None)))
            == "root_mismatch"
        )

    def test_flipped_bit_in_sibling(self, big: vmap_tree.MemoryMap) -> None:
        _, absent = _neighbours(big)
        p = big.prove(absent)
        s = list(p.siblings)
        s[0] = flip(s[0], 1)
        assert (
            _reason(lambda: vmap.verify_non_inclusion(big.root, absent, MapProof(tuple(s), p.leaf)))
            == "root_mismatch"
        )


def test_verifiers_type_check_their_arguments(big: vmap_tree.MemoryMap) -> None:
    p = big.prove(doc(1))
    with pytest.raises(TypeError):
        vmap.verify_inclusion(big.root.hex(), doc(1), docval(1), p)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vmap.verify_inclusion(big.root, doc(1), docval(1), p.to_json())  # type: ignore[arg-type]
    assert (
        _reason(lambda: vmap.verify_inclusion(big.root[:31], doc(1), docval(1), p)) == "malformed"
    )
    short = MapProof((p.siblings[0][:31], *p.siblings[1:]), p.leaf)
    assert _reason(lambda: vmap.verify_inclusion(big.root, doc(1), docval(1), short)) == "malformed"


# --------------------------------------------------------------------------------------------
# JSON form.


def test_json_round_trip(big: vmap_tree.MemoryMap) -> None:
    for k in (doc(1), doc(123_456)):
        p = big.prove(k)
        assert vmap.proof_from_json(json.loads(json.dumps(p.to_json()))) == p


def _valid_json(big: vmap_tree.MemoryMap) -> dict[str, Any]:
    return big.prove(doc(1)).to_json()


MALFORMED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "not-an-object": lambda o: [o],
    "null": lambda o: None,
    "unknown-field": lambda o: {**o, "depth": 3},
    "missing-siblings": lambda o: {"leaf": o["leaf"]},
    "missing-leaf": lambda o: {"siblings": o["siblings"]},
    "siblings-not-array": lambda o: {**o, "siblings": ",".join(o["siblings"])},
    "siblings-empty": lambda o: {**o, "siblings": []},
    "siblings-257": lambda o: {**o, "siblings": [o["siblings"][0]] * 257},
    "siblings[0]-uppercase-hex": lambda o: {
        **o,
        "siblings": [o["siblings"][0].upper(), *o["siblings"][1:]],
    },
    "siblings[0]-63-hex-digits": lambda o: {
        **o,
        "siblings": [o["siblings"][0][:63], *o["siblings"][1:]],
    },
    "siblings[0]-66-hex-digits-0x": lambda o: {
        **o,
        "siblings": ["0x" + o["siblings"][0], *o["siblings"][1:]],
    },
    "siblings[0]-null": lambda o: {**o, "siblings": [None, *o["siblings"][1:]]},
    "siblings[0]-number": lambda o: {**o, "siblings": [7, *o["siblings"][1:]]},
    "siblings[0]-trailing-newline": lambda o: {
        **o,
        "siblings": [o["siblings"][0] + "\n", *o["siblings"][1:]],
    },
    "leaf-not-object": lambda o: {**o, "leaf": "x"},
    "leaf-array": lambda o: {**o, "leaf": [o["leaf"]["key_hash"], o["leaf"]["value_hash"]]},
    "leaf-unknown-field": lambda o: {**o, "leaf": {**o["leaf"], "value": "00"}},
    "leaf-missing-value_hash": lambda o: {**o, "leaf": {"key_hash": o["leaf"]["key_hash"]}},
    "leaf.key_hash-bool": lambda o: {**o, "leaf": {**o["leaf"], "key_hash": True}},
    "leaf.value_hash-62-hex-digits": lambda o: {
        **o,
        "leaf": {**o["leaf"], "value_hash": o["leaf"]["value_hash"][2:]},
    },
}


@pytest.mark.parametrize("mutation", sorted(MALFORMED))
def test_malformed_json_is_a_map_proof_error(big: vmap_tree.MemoryMap, mutation: str) -> None:
    obj = MALFORMED[mutation](_valid_json(big))
    with pytest.raises(MapProofError) as e:
        vmap.proof_from_json(obj)
    assert e.value.reason in {"malformed", "too_many_siblings", "no_siblings"}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_json, st.sampled_from(["leaf", "siblings", None]))
def test_any_json_is_parsed_or_refused_with_a_map_proof_error(obj: Any, field: str | None) -> None:
    if field is not None:  # graft onto a valid proof, to reach the inner checks
        base = {"leaf": None, "siblings": [vmap.EMPTY.hex()]}
        base[field] = obj
        obj = base
    try:
        p = vmap.proof_from_json(obj)
    except MapProofError:
        return
    assert vmap.proof_from_json(p.to_json()) == p


# --------------------------------------------------------------------------------------------
# Published vectors (tests/vectors/map/): produced by the reference above, checked against the
# module here. Running this file as a script rewrites them.


def _long_prefix_documents(n: int) -> list[tuple[bytes, bytes]]:
    """Among documents 0..n-1, the pair of document keys whose key hashes share the most bits."""
    keys = sorted(
        (
            r_key_hash(r_document_key(_h(b"vector-doc" + i.to_bytes(8, "big")))),
            r_document_key(_h(b"vector-doc" + i.to_bytes(8, "big"))),
        )
        for i in range(n)
    )
    best, pair = -1, (keys[0][1], keys[1][1])
    for (ka, a), (kb, b) in itertools.pairwise(keys):
        common = 256 - (int.from_bytes(ka) ^ int.from_bytes(kb)).bit_length()
        if common > best:
            best, pair = common, (a, b)
    return [pair]


def _key_json(key: bytes) -> dict[str, Any]:
    if key[0] == 1:
        t, s = vmap.decode_stream_key(key)
        return {"kind": "stream", "tenant": t, "stream": s, "encoding": key.hex()}
    return {"kind": "document", "sha256": key[1:].hex(), "encoding": key.hex()}


def _case(
    name: str,
    desc: str,
    root: bytes,
    key: bytes,
    value: bytes | None,
    proof: Any,
    expect: str,
    reason: str | None = None,
) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": name,
        "description": desc,
        "root": root.hex(),
        "key": _key_json(key),
        "key_hash": r_key_hash(key).hex(),
        "check": "inclusion" if value is not None else "non_inclusion",
    }
    if value is not None:
        c["value"] = value.hex()
        c["value_hash"] = _h(R_VALUE + value).hex()
    c["proof"] = proof
    c["expect"] = expect
    if reason:
        c["reason"] = reason
    return c


def _map_json(items: Mapping[bytes, bytes]) -> list[dict[str, Any]]:
    return [
        {
            "key": _key_json(k),
            "key_hash": r_key_hash(k).hex(),
            "value": v.hex(),
            "value_hash": _h(R_VALUE + v).hex(),
        }
        for k, v in sorted(items.items(), key=lambda kv: r_key_hash(kv[0]))
    ]


def _stream_head(i: int) -> bytes:
    return r_value(1, i + 1, 10 * i + 9, _h(b"vector-leaf" + i.to_bytes(8, "big")))


def _doc_value(i: int) -> bytes:
    return r_doc_value([(10 * i + 3, _h(b"vector-leaf" + i.to_bytes(8, "big")))])


def make_vectors() -> dict[str, dict[str, Any]]:
    """Every vector file, as the reference implementation computes it."""
    header = {
        "spec": "docs/MAP.md (Sealtrail verifiable map, v1)",
        "produced_by": "tests/unit/core/test_vmap.py (reference implementation, hashlib only);"
        " `python -m tests.unit.core.test_vmap` rewrites these files",
        "encoding": "lowercase hex; proofs in the JSON form of docs/MAP.md §5",
        "expect": "'accept' = a verifier MUST accept; 'reject' = MUST reject (reason: Sealtrail's"
        " reason code, informative)",
    }
    files: dict[str, dict[str, Any]] = {}
    s1 = r_stream_key("acme", "contract:2026-001")
    d_absent = r_document_key(_h(b"never-named"))

    # empty map
    root = r_root({})
    files["empty.json"] = {
        **header,
        "description": "The empty map: its root, and non-inclusion of"
        " a stream key and of a document key.",
        "map": [],
        "root": root.hex(),
        "cases": [
            _case(
                "empty/stream-absent",
                "any key is absent",
                root,
                s1,
                None,
                r_proof({}, r_key_hash(s1)),
                "accept",
            ),
            _case(
                "empty/document-absent",
                "any key is absent",
                root,
                d_absent,
                None,
                r_proof({}, r_key_hash(d_absent)),
                "accept",
            ),
            _case(
                "empty/inclusion-refused",
                "nothing is included in the empty map",
                root,
                s1,
                _stream_head(0),
                r_proof({}, r_key_hash(s1)),
                "reject",
                "no_leaf",
            ),
        ],
    }

    # one key
    items = {s1: _stream_head(0)}
    e = hashed(items)
    root = r_root(e)
    files["one_key.json"] = {
        **header,
        "description": "A map of one stream key: inclusion, and"
        " non-inclusion of another stream of the same name in another tenant"
        " and of a document.",
        "map": _map_json(items),
        "root": root.hex(),
        "cases": [
            _case(
                "one-key/inclusion",
                "the only key",
                root,
                s1,
                _stream_head(0),
                r_proof(e, r_key_hash(s1)),
                "accept",
            ),
            _case(
                "one-key/other-tenant-same-stream-absent",
                "(globex, contract:2026-001) is another key",
                root,
                r_stream_key("globex", "contract:2026-001"),
                None,
                r_proof(e, r_key_hash(r_stream_key("globex", "contract:2026-001"))),
                "accept",
            ),
            _case(
                "one-key/document-absent",
                "the document half is empty",
                root,
                d_absent,
                None,
                r_proof(e, r_key_hash(d_absent)),
                "accept",
            ),
        ],
    }

    # neighbours sharing a long prefix
    ((a, b),) = _long_prefix_documents(50_000)
    items = {a: _doc_value(1), b: _doc_value(2), s1: _stream_head(0)}
    items.update({r_stream_key("acme", f"contract:{i}"): _stream_head(i) for i in range(3, 9)})
    items.update(
        {r_document_key(_h(b"vector-doc-x" + bytes([i]))): _doc_value(i) for i in range(9, 15)}
    )
    e = hashed(items)
    root = r_root(e)
    ka, kb = r_key_hash(a), r_key_hash(b)
    common = 256 - (int.from_bytes(ka) ^ int.from_bytes(kb)).bit_length()
    # an absent key inside their shared subtree: search a document whose key hash shares it
    files["neighbours.json"] = {
        **header,
        "description": f"Two document keys whose key hashes share"
        f" their first {common} bits (found among 50,000 synthetic"
        " documents), in a map of 14 keys: both inclusion proofs hold"
        f" {common + 1} siblings, most of them the empty-subtree hash.",
        "map": _map_json(items),
        "root": root.hex(),
        "cases": [
            _case(
                "neighbours/first",
                "inclusion of the first neighbour",
                root,
                a,
                _doc_value(1),
                r_proof(e, ka),
                "accept",
            ),
            _case(
                "neighbours/second",
                "inclusion of the second neighbour",
                root,
                b,
                _doc_value(2),
                r_proof(e, kb),
                "accept",
            ),
            _case(
                "neighbours/first-proof-for-second",
                "the first's proof presented for the second",
                root,
                b,
                _doc_value(2),
                r_proof(e, ka),
                "reject",
                "key_mismatch",
            ),
            _case(
                "neighbours/first-value-for-second",
                "the second's proof with the first's value",
                root,
                b,
                _doc_value(1),
                r_proof(e, kb),
                "reject",
                "value_mismatch",
            ),
        ],
    }

    # non-inclusion next to an existing key, and at an empty subtree
    probes = [r_document_key(_h(b"probe" + i.to_bytes(4, "big"))) for i in range(200)]
    by_leaf = next(k for k in probes if r_proof(e, r_key_hash(k))["leaf"] is not None)
    by_empty = next(k for k in probes if r_proof(e, r_key_hash(k))["leaf"] is None)
    st_absent = r_stream_key("acme", "contract:absent")
    pl = r_proof(e, r_key_hash(by_leaf))
    present = next(k for k in items if r_key_hash(k).hex() == pl["leaf"]["key_hash"])
    files["non_inclusion.json"] = {
        **header,
        "description": "Non-inclusion proofs in the map of"
        " neighbours.json: one ends at the leaf of an existing key"
        " sharing the absent key's path, one at an empty subtree; and"
        " the existing key's own inclusion.",
        "map": _map_json(items),
        "root": root.hex(),
        "cases": [
            _case(
                "non-inclusion/next-to-existing-leaf",
                "ends at another key's leaf on the path",
                root,
                by_leaf,
                None,
                pl,
                "accept",
            ),
            _case(
                "non-inclusion/existing-leaf-included",
                "that other key's inclusion",
                root,
                present,
                items[present],
                r_proof(e, r_key_hash(present)),
                "accept",
            ),
            _case(
                "non-inclusion/empty-subtree",
                "ends at an empty subtree",
                root,
                by_empty,
                None,
                r_proof(e, r_key_hash(by_empty)),
                "accept",
            ),
            _case(
                "non-inclusion/stream-absent",
                "a stream key that is absent",
                root,
                st_absent,
                None,
                r_proof(e, r_key_hash(st_absent)),
                "accept",
            ),
            _case(
                "non-inclusion/for-existing-key",
                "the existing key's inclusion proof presented as its non-inclusion",
                root,
                present,
                None,
                r_proof(e, r_key_hash(present)),
                "reject",
                "key_present",
            ),
            _case(
                "non-inclusion/leaf-proof-for-existing-key",
                "the next-to-leaf proof replayed for the key it ends at",
                root,
                present,
                None,
                pl,
                "reject",
                "key_present",
            ),
            _case(
                "non-inclusion/inclusion-claimed",
                "the next-to-leaf proof presented as inclusion of the absent key",
                root,
                by_leaf,
                _doc_value(1),
                pl,
                "reject",
                "key_mismatch",
            ),
        ],
    }

    # mutations of each proof field
    good_in = r_proof(e, ka)
    good_out = pl
    good_empty = r_proof(e, r_key_hash(by_empty))
    cases: list[dict[str, Any]] = []

    def mut(
        name: str,
        base: dict[str, Any],
        key: bytes,
        value: bytes | None,
        f: Callable[[dict[str, Any]], Any],
        reason: str,
        root_: bytes = root,
    ) -> None:
        cases.append(
            _case(
                name,
                "mutation of a valid proof: " + name.split("/", 1)[1],
                root_,
                key,
                value,
                f(copy.deepcopy(base)),
                "reject",
                reason,
            )
        )

    def set_(o: dict[str, Any], path: str, v: Any) -> dict[str, Any]:
        if path == "leaf":
            o["leaf"] = v
        elif path.startswith("leaf."):
            o["leaf"][path[5:]] = v
        else:
            o[path] = v
        return o

    def flip_hex(h: str, bitno: int) -> str:
        return flip(bytes.fromhex(h), bitno).hex()

    v1 = _doc_value(1)
    n_in = len(good_in["siblings"])
    mut(
        "inclusion/siblings[0]-bit-flipped-@0",
        good_in,
        a,
        v1,
        lambda o: set_(o, "siblings", [flip_hex(o["siblings"][0], 0), *o["siblings"][1:]]),
        "root_mismatch",
    )
    mut(
        f"inclusion/siblings[{n_in - 1}]-bit-flipped-@255",
        good_in,
        a,
        v1,
        lambda o: set_(o, "siblings", [*o["siblings"][:-1], flip_hex(o["siblings"][-1], 255)]),
        "root_mismatch",
    )
    mut(
        "inclusion/siblings-truncated-at-root-end",
        good_in,
        a,
        v1,
        lambda o: set_(o, "siblings", o["siblings"][:-1]),
        "root_mismatch",
    )
    mut(
        "inclusion/siblings-truncated-at-leaf-end",
        good_in,
        a,
        v1,
        lambda o: set_(o, "siblings", o["siblings"][1:]),
        "root_mismatch",
    )
    mut(
        "inclusion/siblings-extra-empty-at-root-end",
        good_in,
        a,
        v1,
        lambda o: set_(o, "siblings", [*o["siblings"], R_EMPTY.hex()]),
        "root_mismatch",
    )
    mut(
        "inclusion/siblings-extra-empty-at-leaf-end",
        good_in,
        a,
        v1,
        lambda o: set_(o, "siblings", [R_EMPTY.hex(), *o["siblings"]]),
        "root_mismatch",
    )
    mut(
        "inclusion/siblings-reversed",
        good_in,
        a,
        v1,
        lambda o: set_(o, "siblings", o["siblings"][::-1]),
        "root_mismatch",
    )
    mut(
        "inclusion/siblings-empty", good_in, a, v1, lambda o: set_(o, "siblings", []), "no_siblings"
    )
    mut(
        "inclusion/siblings-257",
        good_in,
        a,
        v1,
        lambda o: set_(o, "siblings", [R_EMPTY.hex()] * 257),
        "too_many_siblings",
    )
    mut(
        "inclusion/siblings[0]-uppercase-hex",
        good_in,
        a,
        v1,
        lambda o: set_(o, "siblings", [o["siblings"][0].upper(), *o["siblings"][1:]]),
        "malformed",
    )
    mut(
        "inclusion/siblings[0]-31-bytes",
        good_in,
        a,
        v1,
        lambda o: set_(o, "siblings", [o["siblings"][0][2:], *o["siblings"][1:]]),
        "malformed",
    )
    mut(
        "inclusion/siblings[0]-33-bytes",
        good_in,
        a,
        v1,
        lambda o: set_(o, "siblings", [o["siblings"][0] + "00", *o["siblings"][1:]]),
        "malformed",
    )
    mut(
        "inclusion/siblings[0]-null",
        good_in,
        a,
        v1,
        lambda o: set_(o, "siblings", [None, *o["siblings"][1:]]),
        "malformed",
    )
    mut(
        "inclusion/siblings-not-array",
        good_in,
        a,
        v1,
        lambda o: set_(o, "siblings", o["siblings"][0]),
        "malformed",
    )
    mut(
        "inclusion/leaf.key_hash-bit-flipped-@255",
        good_in,
        a,
        v1,
        lambda o: set_(o, "leaf.key_hash", flip_hex(o["leaf"]["key_hash"], 255)),
        "key_mismatch",
    )
    mut(
        "inclusion/leaf.value_hash-bit-flipped-@0",
        good_in,
        a,
        v1,
        lambda o: set_(o, "leaf.value_hash", flip_hex(o["leaf"]["value_hash"], 0)),
        "value_mismatch",
    )
    mut(
        "inclusion/leaf.value_hash-missing",
        good_in,
        a,
        v1,
        lambda o: set_(o, "leaf", {"key_hash": o["leaf"]["key_hash"]}),
        "malformed",
    )
    mut(
        "inclusion/leaf-extra-field",
        good_in,
        a,
        v1,
        lambda o: set_(o, "leaf", {**o["leaf"], "value": v1.hex()}),
        "malformed",
    )
    mut("inclusion/leaf-null", good_in, a, v1, lambda o: set_(o, "leaf", None), "no_leaf")
    mut("inclusion/proof-extra-field", good_in, a, v1, lambda o: {**o, "version": 1}, "malformed")
    mut(
        "inclusion/proof-missing-leaf",
        good_in,
        a,
        v1,
        lambda o: {"siblings": o["siblings"]},
        "malformed",
    )
    mut("inclusion/wrong-key", good_in, b, v1, lambda o: o, "key_mismatch")
    mut("inclusion/wrong-value", good_in, a, _doc_value(2), lambda o: o, "value_mismatch")
    mut("inclusion/wrong-root", good_in, a, v1, lambda o: o, "root_mismatch", flip(root, 100))
    mut("inclusion/empty-map-root", good_in, a, v1, lambda o: o, "root_mismatch", r_root({}))
    mut(
        "non-inclusion/siblings[0]-bit-flipped-@7",
        good_out,
        by_leaf,
        None,
        lambda o: set_(o, "siblings", [flip_hex(o["siblings"][0], 7), *o["siblings"][1:]]),
        "root_mismatch",
    )
    mut(
        "non-inclusion/siblings-truncated-at-leaf-end",
        good_out,
        by_leaf,
        None,
        lambda o: set_(o, "siblings", o["siblings"][1:]),
        "root_mismatch",
    )
    mut(
        "non-inclusion/siblings-extra-empty-at-leaf-end",
        good_out,
        by_leaf,
        None,
        lambda o: set_(o, "siblings", [R_EMPTY.hex(), *o["siblings"]]),
        "root_mismatch",
    )
    mut(
        "non-inclusion/leaf-null",
        good_out,
        by_leaf,
        None,
        lambda o: set_(o, "leaf", None),
        "root_mismatch",
    )
    mut(
        "non-inclusion/leaf.key_hash-bit-flipped-@0",
        good_out,
        by_leaf,
        None,
        lambda o: set_(o, "leaf.key_hash", flip_hex(o["leaf"]["key_hash"], 0)),
        "leaf_off_path",
    )
    mut(
        "non-inclusion/leaf.key_hash-bit-flipped-@255",
        good_out,
        by_leaf,
        None,
        lambda o: set_(o, "leaf.key_hash", flip_hex(o["leaf"]["key_hash"], 255)),
        "root_mismatch",
    )
    mut(
        "non-inclusion/leaf.value_hash-bit-flipped-@0",
        good_out,
        by_leaf,
        None,
        lambda o: set_(o, "leaf.value_hash", flip_hex(o["leaf"]["value_hash"], 0)),
        "root_mismatch",
    )
    mut(
        "non-inclusion/leaf-added-at-empty-end",
        good_empty,
        by_empty,
        None,
        lambda o: set_(
            o,
            "leaf",
            {"key_hash": flip_hex(r_key_hash(by_empty).hex(), 255), "value_hash": R_EMPTY.hex()},
        ),
        "root_mismatch",
    )
    mut("non-inclusion/wrong-key", good_empty, present, None, lambda o: o, "root_mismatch")
    mut(
        "non-inclusion/wrong-root",
        good_empty,
        by_empty,
        None,
        lambda o: o,
        "root_mismatch",
        flip(root, 3),
    )
    files["mutations.json"] = {
        **header,
        "description": "Valid proofs from neighbours.json and"
        " non_inclusion.json with one field mutated, each named after its"
        " mutation; every case must be rejected.",
        "root": root.hex(),
        "cases": cases,
    }
    return files


def _vector_bytes(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode()


def _verify_case(c: dict[str, Any]) -> None:
    root = bytes.fromhex(c["root"])
    k = c["key"]
    key = (
        vmap.stream_key(k["tenant"], k["stream"])
        if k["kind"] == "stream"
        else vmap.document_key(bytes.fromhex(k["sha256"]))
    )
    assert key.hex() == k["encoding"]
    assert vmap.key_hash(key).hex() == c["key_hash"]
    proof = vmap.proof_from_json(c["proof"])
    if c["check"] == "inclusion":
        vmap.verify_inclusion(root, key, bytes.fromhex(c["value"]), proof)
    else:
        vmap.verify_non_inclusion(root, key, proof)


VECTOR_FILES = [
    "empty.json",
    "one_key.json",
    "neighbours.json",
    "non_inclusion.json",
    "mutations.json",
]


def _all_cases() -> list[dict[str, Any]]:
    out = []
    for name in VECTOR_FILES:
        if not (VECTORS / name).exists():  # being written; the reproduction test fails on it
            continue
        out.extend(json.loads((VECTORS / name).read_text(encoding="utf-8"))["cases"])
    return out


@pytest.mark.parametrize("case", _all_cases(), ids=lambda c: c["name"])
def test_vector(case: dict[str, Any]) -> None:
    if case["expect"] == "accept":
        _verify_case(case)
        assert r_verify(
            bytes.fromhex(case["root"]),
            bytes.fromhex(case["key_hash"]),
            bytes.fromhex(case["value_hash"]) if "value" in case else None,
            case["proof"],
        )
    else:
        with pytest.raises(MapProofError) as e:
            _verify_case(case)
        assert e.value.reason == case["reason"]


@pytest.mark.parametrize("name", [n for n in VECTOR_FILES if n != "mutations.json"])
def test_vector_maps_rebuild_to_their_roots(name: str) -> None:
    f = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    items = {bytes.fromhex(x["key"]["encoding"]): bytes.fromhex(x["value"]) for x in f["map"]}
    assert vmap_tree.MemoryMap.from_items(items).root.hex() == f["root"]
    for x in f["map"]:
        assert vmap.key_hash(bytes.fromhex(x["key"]["encoding"])).hex() == x["key_hash"]
        assert vmap.value_hash(bytes.fromhex(x["value"])).hex() == x["value_hash"]


def test_vectors_are_reproduced_by_the_reference() -> None:
    for name, obj in make_vectors().items():
        assert (VECTORS / name).read_bytes() == _vector_bytes(obj), f"{name} differs: regenerate?"


if __name__ == "__main__":
    VECTORS.mkdir(parents=True, exist_ok=True)
    for vname, vobj in make_vectors().items():
        (VECTORS / vname).write_bytes(_vector_bytes(vobj))
        print(f"wrote {VECTORS / vname}: {len(vobj['cases'])} cases", file=sys.stderr)
