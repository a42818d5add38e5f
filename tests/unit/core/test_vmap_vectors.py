"""The published map vectors (tests/vectors/map/): made by the reference, checked on the module.

The reference implementation is test_vmap.py's ``r_*`` functions (docs/MAP.md transcribed with
hashlib alone). ``python -m tests.unit.core.test_vmap_vectors`` rewrites the files;
``test_vectors_are_reproduced_by_the_reference`` checks that they are reproduced byte for byte.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from sealtrail.core import vmap, vmap_tree
from sealtrail.core.vmap import MapProofError
from tests.unit.core.test_vmap import (
    R_EMPTY,
    R_VALUE,
    _h,
    flip,
    hashed,
    r_doc_value,
    r_document_key,
    r_key_hash,
    r_proof,
    r_root,
    r_stream_key,
    r_value,
    r_verify,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "map"


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
        "produced_by": "the reference implementation in tests/unit/core/test_vmap.py (hashlib"
        " only); `python -m tests.unit.core.test_vmap_vectors` rewrites these files",
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


def test_readme_lists_every_vector_file_with_its_sha256() -> None:
    readme = (VECTORS.parent / "README.md").read_text(encoding="utf-8")
    for name in VECTOR_FILES:
        digest = hashlib.sha256((VECTORS / name).read_bytes()).hexdigest()
        assert f"| `map/{name}` | `{digest}` |" in readme, f"README row of map/{name} is stale"


if __name__ == "__main__":
    VECTORS.mkdir(parents=True, exist_ok=True)
    for vname, vobj in make_vectors().items():
        (VECTORS / vname).write_bytes(_vector_bytes(vobj))
        print(f"wrote {VECTORS / vname}: {len(vobj['cases'])} cases", file=sys.stderr)
