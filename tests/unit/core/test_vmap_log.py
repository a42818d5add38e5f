"""The map's content derived from a log (sealtrail.core.vmap_log), on a small synthetic log.

The expected values are written out by hand from docs/MAP.md §4 (heads, counts, document
chains computed with hashlib), then the map built from them is checked for inclusion and
non-inclusion the way a verifier would use it.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealtrail.core import event as ev
from sealtrail.core import vmap, vmap_log, vmap_tree

RECORDED_AT = "2026-11-24T10:00:00.000000Z"
D1 = hashlib.sha256(b"contract.pdf").digest()
D2 = hashlib.sha256(b"annex.pdf").digest()
D3 = hashlib.sha256(b"invoice.pdf").digest()


def make_log(specs: list[tuple[str, str, list[bytes]]]) -> list[ev.Event]:
    """Events ``(tenant, stream, documents)`` in log order, chained per stream."""
    heads: dict[tuple[str, str], bytes] = {}
    out = []
    for i, (tenant, stream, docs) in enumerate(specs):
        obj: dict[str, Any] = {
            "stream": stream,
            "type": "sign",
            "actor": {"id": "u-1"},
            "documents": [{"name": f"d{j}.pdf", "sha256": d.hex()} for j, d in enumerate(docs)],
        }
        e = ev.build_event(
            ev.parse_event_input(obj),
            tenant=tenant,
            index=i,
            recorded_at=RECORDED_AT,
            salt=i.to_bytes(16, "big"),
            prev=heads.get((tenant, stream)),
        )
        heads[(tenant, stream)] = e.leaf_hash
        out.append(e)
    return out


# Two tenants with the same stream name; D1 named by events of two streams (and two tenants);
# event 2 names two documents, event 4 names D3 twice.
SPECS = [
    ("acme", "contract:1", [D1]),
    ("globex", "contract:1", [D1]),
    ("acme", "contract:1", [D1, D2]),
    ("acme", "contract:2", []),
    ("globex", "contract:1", [D3, D3]),
]


def chain(pairs: list[tuple[int, bytes]]) -> bytes:
    c = bytes(32)
    for i, leaf in pairs:
        c = hashlib.sha256(
            b"sealtrail/map/v1/doc-chain\x00" + c + i.to_bytes(8, "big") + leaf
        ).digest()
    return c


@pytest.fixture(scope="module")
def log() -> list[ev.Event]:
    return make_log(SPECS)


def test_map_content_from_a_small_log(log: list[ev.Event]) -> None:
    lh = [e.leaf_hash for e in log]
    items = vmap_log.map_items(log)
    want = {
        vmap.stream_key("acme", "contract:1"): vmap.StreamHead(2, 2, lh[2]),
        vmap.stream_key("globex", "contract:1"): vmap.StreamHead(2, 4, lh[4]),
        vmap.stream_key("acme", "contract:2"): vmap.StreamHead(1, 3, lh[3]),
        vmap.document_key(D1): vmap.DocumentEvents(
            3, 2, chain([(0, lh[0]), (1, lh[1]), (2, lh[2])])
        ),
        vmap.document_key(D2): vmap.DocumentEvents(1, 2, chain([(2, lh[2])])),
        vmap.document_key(D3): vmap.DocumentEvents(1, 4, chain([(4, lh[4])])),
    }
    assert items == {k: v.encode() for k, v in want.items()}
    assert {vmap.decode_value(v) for v in items.values()} == set(want.values())


def test_two_tenants_with_the_same_stream_name_are_two_keys(log: list[ev.Event]) -> None:
    a, g = vmap.stream_key("acme", "contract:1"), vmap.stream_key("globex", "contract:1")
    assert vmap.key_hash(a) != vmap.key_hash(g)
    m = vmap_tree.MemoryMap.from_items(vmap_log.map_items(log))
    head_a, head_g = m.get(a), m.get(g)
    assert head_a is not None
    assert head_g is not None
    # a swapped head fails: each proof binds its key to its own value
    with pytest.raises(vmap.MapProofError, match="value hash"):
        vmap.verify_inclusion(m.root, a, head_g, m.prove(a))
    vmap.verify_inclusion(m.root, a, head_a, m.prove(a))
    vmap.verify_inclusion(m.root, g, head_g, m.prove(g))


def test_a_verifier_recomputes_a_document_value_from_the_events_shown(log: list[ev.Event]) -> None:
    m = vmap_tree.MemoryMap.from_items(vmap_log.map_items(log))
    naming = [e for e in log if D1 in vmap_log.event_documents(e)]
    value = vmap.document_events([(e.index, e.leaf_hash) for e in naming]).encode()
    vmap.verify_inclusion(m.root, vmap.document_key(D1), value, m.prove(vmap.document_key(D1)))
    # one event left out: the value differs, the proof fails
    fewer = vmap.document_events([(e.index, e.leaf_hash) for e in naming[:-1]]).encode()
    with pytest.raises(vmap.MapProofError) as info:
        vmap.verify_inclusion(m.root, vmap.document_key(D1), fewer, m.prove(vmap.document_key(D1)))
    assert info.value.reason == "value_mismatch"
    # and a document nobody named has a non-inclusion proof
    absent = vmap.document_key(hashlib.sha256(b"never").digest())
    vmap.verify_non_inclusion(m.root, absent, m.prove(absent))


def test_a_verifier_recomputes_a_stream_head_from_the_chain_shown(log: list[ev.Event]) -> None:
    m = vmap_tree.MemoryMap.from_items(vmap_log.map_items(log))
    key = vmap.stream_key("acme", "contract:1")
    chain_ = [e for e in log if (e.tenant, e.stream) == ("acme", "contract:1")]
    head = vmap.StreamHead(len(chain_), chain_[-1].index, chain_[-1].leaf_hash).encode()
    vmap.verify_inclusion(m.root, key, head, m.prove(key))
    truncated = vmap.StreamHead(1, chain_[0].index, chain_[0].leaf_hash).encode()  # tail cut
    with pytest.raises(vmap.MapProofError) as info:
        vmap.verify_inclusion(m.root, key, truncated, m.prove(key))
    assert info.value.reason == "value_mismatch"


def test_an_event_naming_a_document_twice_counts_once(log: list[ev.Event]) -> None:
    assert vmap_log.event_documents(log[4]) == [D3]
    assert vmap_log.event_keys(log[2]) == [
        vmap.stream_key("acme", "contract:1"),
        vmap.document_key(D1),
        vmap.document_key(D2),
    ]
    assert vmap_log.event_keys(log[3]) == [vmap.stream_key("acme", "contract:2")]


def test_events_out_of_order_are_refused(log: list[ev.Event]) -> None:
    with pytest.raises(ValueError, match="out of log order"):
        vmap_log.map_items([log[1], log[0]])
    done = vmap_log.map_items(log[:3])
    with pytest.raises(ValueError, match="not after"):
        vmap_log.map_changes(log[2:3], done)  # event 2 again on top of a map that has it


def test_previous_values_of_the_wrong_kind_are_refused(log: list[ev.Event]) -> None:
    sk = vmap.stream_key("acme", "contract:1")
    doc_value = vmap.DocumentEvents(1, 0, bytes(32)).encode()
    with pytest.raises(ValueError, match="not a stream head"):
        vmap_log.map_changes(log[2:3], {sk: doc_value})
    with pytest.raises(ValueError, match="not a document value"):
        vmap_log.map_changes(
            log[2:3], {vmap.document_key(D2): vmap.StreamHead(1, 0, bytes(32)).encode()}
        )


_streams = st.sampled_from([("acme", "c:1"), ("acme", "c:2"), ("globex", "c:1"), ("initech", "x")])
_docs = st.lists(st.sampled_from([D1, D2, D3]), max_size=3)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(_streams, _docs), max_size=25), st.lists(st.integers(0, 25), max_size=4))
def test_sealing_in_batches_equals_deriving_at_once(
    specs: list[tuple[tuple[str, str], list[bytes]]], cuts: list[int]
) -> None:
    log = make_log([(t, s, d) for (t, s), d in specs])
    whole = vmap_log.map_items(log)
    m = vmap_tree.MemoryMap()
    state: dict[bytes, bytes] = {}
    bounds = sorted({0, len(log), *(c for c in cuts if c <= len(log))})
    for a, b in itertools.pairwise(bounds):
        batch = log[a:b]
        keys = vmap_log.touched_keys(batch)
        previous = {k: state[k] for k in keys if k in state}  # what a store would read
        changes = vmap_log.map_changes(batch, previous)
        assert set(changes) == keys
        state.update(changes)
        m.set_many(changes)
    assert state == whole
    assert m.root == vmap_tree.MemoryMap.from_items(whole).root
