"""Tests for the verifiable map: sealtrail.core.vmap (verification) and vmap_tree (building).

Sources of truth:

* a naive recursive reference implementation below, written from docs/MAP.md with hashlib alone
  (it shares no code with the modules under test): roots, proofs, key and value encodings;
* the published vectors in tests/vectors/map/, which that reference produced (checked in
  test_vmap_vectors.py).

Negative tests are named after the mutation they apply to a freshly generated, valid proof.
"""

from __future__ import annotations

import hashlib
import json
import random
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
