"""Completeness (issue 14): a stream package proves it holds the stream's whole history, and
every package accounts for every event naming its documents — from map proofs against the map
root the target checkpoint's signed note commits to, never from a flag.

Each attack plays the operator, who can rewrite every file of the package (and re-hash the
unsigned manifest); the last one also re-signs the checkpoint note with the ledger's own key."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sealtrail.core import vmap
from sealtrail.core.note import parse_checkpoint, sign_checkpoint
from sealtrail.core.vmap_tree import build, prove
from sealtrail.export.evidence import Selection
from sealtrail.ledger.store import EventQuery
from sealtrail.verifier import layout
from sealtrail.verifier.results import Overall, Policy, Status
from sealtrail.verifier.verify import verify_package

from .conftest import STREAM, Built
from .ledgerkit import DOC, run

Files = dict[str, bytes]


def _files(built: Built) -> Files:
    return layout.read_zip(built.data)


def _jcs(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def _rehash(files: Files) -> bytes:
    """The operator re-hashes every file into the (unsigned) manifest and re-zips."""
    m = json.loads(files[layout.MANIFEST])
    m["files"] = {
        n: hashlib.sha256(b).hexdigest() for n, b in sorted(files.items()) if n != layout.MANIFEST
    }
    files[layout.MANIFEST] = _jcs(m)
    return layout.zip_bytes(files)


def _verify(built: Built, data: bytes) -> Any:
    return verify_package(data, trust_roots=built.roots, ledger_key=built.ledger_key)


def _drop_events(files: Files, gone: list[int]) -> None:
    s = json.loads(files[layout.STREAMS])
    for st in s:
        st["events"] = [i for i in st["events"] if i not in gone]
    files[layout.STREAMS] = _jcs(s)
    for i in gone:
        del files[layout.event_name(i)]
        del files[layout.inclusion_name(i)]
    m = json.loads(files[layout.MANIFEST])
    left = sorted(i for st in s for i in st["events"])
    m["coverage"].update(events=len(left), first_index=left[0], last_index=left[-1])
    files[layout.MANIFEST] = _jcs(m)


def _map(files: Files) -> dict[str, Any]:
    return json.loads(files[layout.MAP_PROOFS])  # type: ignore[no-any-return]


def _events_of(built: Built) -> list[int]:
    return [e.index for e in built.evidence.events]


def test_a_genuine_stream_package_proves_its_stream_and_documents_complete(built: Built) -> None:
    r = _verify(built, built.data)
    assert r.verdict(Policy(accept=("anchors.",))) is Overall.PASSED, r.to_text()  # no chain here
    s = r.check("streams.complete")
    assert s.status is Status.PASSED
    assert "all 5 events" in s.detail
    d = r.check("documents.complete")
    assert d.status is Status.PASSED
    assert d.count == 1
    m = _map(_files(built))
    assert [x["stream"] for x in m["streams"]] == [STREAM]
    assert m["streams"][0]["value"]["count"] == 5
    doc = m["documents"][0]
    assert doc["sha256"] == built.fingerprint
    assert doc["value"]["count"] == 2
    assert json.loads(_files(built)[layout.MANIFEST])["version"] == 2


def test_tail_truncation_is_detected(built: Built) -> None:
    """The attack of issue 14: drop the stream's last event (its files, streams.json, coverage,
    manifest) — the chain still links from prev = null, but the head proven in the map does
    not match the package's last event."""
    files = _files(built)
    _drop_events(files, [_events_of(built)[-1]])
    r = _verify(built, _rehash(files))
    assert r.status is Overall.FAILED
    c = r.check("streams.complete")
    assert c.status is Status.FAILED
    assert c.reason == "incomplete_stream"
    assert "proves 5 events" in c.detail
    assert "holds 4 events" in c.detail
    assert r.check("streams.chains").status is Status.PASSED  # the chain alone cannot tell


def test_tail_truncation_with_the_head_proof_rewritten_is_detected(built: Built) -> None:
    """The operator also rewrites the proven head to the new last event: the proof no longer
    verifies against the map root its signed note commits to."""
    files = _files(built)
    idx = _events_of(built)
    _drop_events(files, [idx[-1]])
    m = _map(files)
    last = built.evidence.events[-2]
    m["streams"][0]["value"] = {
        "count": 4,
        "last_index": last.index,
        "hash": last.leaf_hash.hex(),
    }
    files[layout.MAP_PROOFS] = _jcs(m)
    r = _verify(built, _rehash(files))
    c = r.check("streams.complete")
    assert c.status is Status.FAILED
    assert c.reason == "bad_map_proof"
    assert "value_mismatch" in c.detail


def test_middle_deletion_with_the_flag_flipped_is_detected_twice(built: Built) -> None:
    files = _files(built)
    _drop_events(files, [_events_of(built)[1]])
    s = json.loads(files[layout.STREAMS])
    s[0]["complete"] = False
    files[layout.STREAMS] = _jcs(s)
    r = _verify(built, _rehash(files))
    assert r.check("streams.chains").status is Status.FAILED
    assert r.check("streams.complete").reason == "incomplete_stream"


def test_dropping_the_map_proofs_fails_rather_than_passing_unproven(built: Built) -> None:
    files = _files(built)
    del files[layout.MAP_PROOFS]
    r = _verify(built, _rehash(files))
    assert r.check("streams.complete").reason == "no_map_proofs"
    assert r.check("documents.complete").reason == "no_map_proofs"
    assert r.status is Overall.FAILED


def test_a_map_root_other_than_the_notes_is_refused(built: Built) -> None:
    files = _files(built)
    m = _map(files)
    m["root"] = "00" * 32
    files[layout.MAP_PROOFS] = _jcs(m)
    r = _verify(built, _rehash(files))
    assert r.check("streams.complete").reason == "map_root_mismatch"


def test_a_proof_for_another_stream_is_refused(built: Built) -> None:
    """Swap in the head proof of another stream (same tenant, same checkpoint, from the same
    ledger): it is for another key."""
    other, _ = run(built.kit.package(Selection.of_stream("sub1", "contract:other")))
    theirs = _map(layout.read_zip(other))
    files = _files(built)
    m = _map(files)
    assert theirs["size"] == m["size"]
    m["streams"][0]["proof"] = theirs["streams"][0]["proof"]
    files[layout.MAP_PROOFS] = _jcs(m)
    r = _verify(built, _rehash(files))
    c = r.check("streams.complete")
    assert c.status is Status.FAILED
    assert "key_mismatch" in c.detail
    # and renaming the entry to the other stream: proven, but not the package's stream
    m["streams"][0] = theirs["streams"][0]
    files[layout.MAP_PROOFS] = _jcs(m)
    r = _verify(built, _rehash(files))
    c = r.check("streams.complete")
    assert c.status is Status.FAILED
    assert "no head proof" in c.detail


def test_a_document_event_withheld_from_the_listing_is_detected(built: Built) -> None:
    files = _files(built)
    m = _map(files)
    m["documents"][0]["events"].pop()
    files[layout.MAP_PROOFS] = _jcs(m)
    r = _verify(built, _rehash(files))
    c = r.check("documents.complete")
    assert c.status is Status.FAILED
    assert c.reason == "incomplete_document"


def test_a_document_proof_missing_is_not_checked_never_passed(built: Built) -> None:
    files = _files(built)
    m = _map(files)
    m["documents"] = []
    files[layout.MAP_PROOFS] = _jcs(m)
    r = _verify(built, _rehash(files))
    c = r.check("documents.complete")
    assert c.status is Status.NOT_CHECKED
    assert c.reason == "not_proven"
    assert r.status is Overall.INCOMPLETE


def _mutate(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def f(m: dict[str, Any]) -> None:
        obj: Any = m
        parts = path.split(".")
        for p in parts[:-1]:
            obj = obj[int(p)] if p.isdigit() else obj[p]
        last = parts[-1]
        if value is _DELETE:
            del obj[int(last) if last.isdigit() else last]
        elif last.isdigit():
            obj[int(last)] = value
        else:
            obj[last] = value

    f.__name__ = f"{path}={value!r}"[:60]
    return f


_DELETE = object()
MALFORMED = [
    _mutate("streams.0.value.count", 0),
    _mutate("streams.0.value.count", -1),
    _mutate("streams.0.value.count", "5"),
    _mutate("streams.0.value.count", 2**64),
    _mutate("streams.0.value.last_index", True),
    _mutate("streams.0.value.hash", "AB" * 32),
    _mutate("streams.0.value.hash", "ab" * 31),
    _mutate("streams.0.value.extra", 1),
    _mutate("streams.0.proof.siblings", []),
    _mutate("streams.0.proof.siblings", ["00" * 32] * 257),
    _mutate("streams.0.proof.leaf", "x"),
    _mutate("streams.0.proof", None),
    _mutate("streams.0.tenant", 7),
    _mutate("streams.0.tenant", ""),
    _mutate("streams.0", []),
    _mutate("streams", {}),
    _mutate("documents.0.sha256", "zz" * 32),
    _mutate("documents.0.events", "all"),
    _mutate("documents.0.events.0.index", 10**9),
    _mutate("documents.0.events.0.index", -1),
    _mutate("documents.0.events.0.leaf_hash", None),
    _mutate("documents.0.events.0", {"index": 0}),
    _mutate("documents", None),
    _mutate("size", "3"),
    _mutate("root", 5),
    _mutate("streams.0.value", _DELETE),
]


@pytest.mark.parametrize("mutate", MALFORMED, ids=lambda f: f.__name__)
def test_malformed_map_proofs_fail_with_a_reason_never_an_exception(
    built: Built, mutate: Callable[[dict[str, Any]], None]
) -> None:
    files = _files(built)
    m = _map(files)
    mutate(m)
    files[layout.MAP_PROOFS] = _jcs(m)
    r = _verify(built, _rehash(files))
    assert r.status is Overall.FAILED
    failed = {c.id for c in r.failed()}
    assert failed & {"streams.complete", "documents.complete"}, r.to_text()


def test_a_v1_package_is_incomplete_not_passed(built: Built) -> None:
    files = _files(built)
    del files[layout.MAP_PROOFS]
    m = json.loads(files[layout.MANIFEST])
    m["version"] = 1
    files[layout.MANIFEST] = _jcs(m)
    r = _verify(built, _rehash(files))
    for cid in ("streams.complete", "documents.complete"):
        assert r.check(cid).status is Status.NOT_CHECKED
        assert r.check(cid).reason == "format_v1"
    # a v1 package with map proofs smuggled in is refused
    files = _files(built)
    m["version"] = 1
    files[layout.MANIFEST] = _jcs(m)
    r = _verify(built, _rehash(files))
    assert r.check("streams.complete").reason == "bad_map"


def test_a_query_package_says_it_proves_no_stream_complete(built: Built) -> None:
    q = EventQuery(tenants=("sub1",), document=bytes.fromhex(built.fingerprint))
    data, _ = run(built.kit.package(Selection.of_query(q, {"document": built.fingerprint})))
    r = _verify(built, data)
    s = r.check("streams.complete")
    assert s.status is Status.NOT_CHECKED
    assert s.reason == "query_selection"
    d = r.check("documents.complete")
    assert d.status is Status.PASSED, d.detail
    # stream head proofs smuggled into a query package are refused
    files = layout.read_zip(data)
    m = _map(files)
    m["streams"] = _map(_files(built))["streams"]
    files[layout.MAP_PROOFS] = _jcs(m)
    r = _verify(built, _rehash(files))
    assert r.check("streams.complete").reason == "bad_map"


def test_a_document_named_in_another_tenant_is_accounted_for(built: Built) -> None:
    """Another tenant names the same document later: a new package's document proof lists its
    event by index and leaf hash only, and says so."""
    kit = built.kit
    fp = hashlib.sha256(DOC).hexdigest()
    kit.append("other", [{"stream": "c:o", "type": "view", "actor": {"id": "o"},
                          "documents": [{"name": "x.pdf", "sha256": fp}]}])  # fmt: skip
    kit.seal_checkpoint()
    run(kit.stamp())
    data, _ = run(kit.package(Selection.of_stream("sub1", STREAM), {fp: DOC}))
    r = _verify(built, data)
    d = r.check("documents.complete")
    assert d.status is Status.PASSED
    assert "1 of them outside this package" in d.detail
    m = _map(layout.read_zip(data))
    assert m["documents"][0]["value"]["count"] == 3
    assert b'"tenant":"other"' not in data  # the other tenant's event body is not in it


def test_a_note_re_signed_with_a_forged_map_is_caught_by_its_timestamp(built: Built) -> None:
    """The operator, holding the ledger key, truncates the tail and re-signs the target note
    with the root of a forged map in which the stream ends one event earlier. Every map proof
    is then consistent — but the RFC 3161 token stamped the original note (and the map line
    with it), so the forgery fails there."""
    files = _files(built)
    idx = _events_of(built)
    _drop_events(files, [idx[-1]])
    ev = built.evidence
    size = ev.target.size
    last = ev.events[-2]
    key = vmap.stream_key("sub1", STREAM)
    head = vmap.StreamHead(4, last.index, last.leaf_hash).encode()
    m = _map(files)
    d = m["documents"][0]
    dkey = vmap.document_key(bytes.fromhex(d["sha256"]))
    dval = vmap.DocumentEvents(
        d["value"]["count"], d["value"]["last_index"], bytes.fromhex(d["value"]["hash"])
    ).encode()
    items = {vmap.key_hash(key): vmap.value_hash(head), vmap.key_hash(dkey): vmap.value_hash(dval)}
    root, nodes = build(items)
    m["root"] = root.hex()
    m["streams"][0]["value"] = {"count": 4, "last_index": last.index, "hash": last.leaf_hash.hex()}

    def fetch(hs: Any) -> dict[bytes, bytes]:
        return {h: nodes[h] for h in hs if h in nodes}

    m["streams"][0]["proof"] = prove(root, vmap.key_hash(key), fetch).to_json()
    d["proof"] = prove(root, vmap.key_hash(dkey), fetch).to_json()
    files[layout.MAP_PROOFS] = _jcs(m)
    name = layout.note_name(size)
    cp = parse_checkpoint(files[name].decode().split("\n\n")[0] + "\n")
    forged = type(cp)(cp.origin, cp.size, cp.root, (vmap.map_extension(root),))
    files[name] = sign_checkpoint(forged, built.kit.ledger.signer).encode()
    r = _verify(built, _rehash(files))
    assert r.check("checkpoints.signatures").status is Status.PASSED  # the operator's key
    assert r.check("streams.complete").status is Status.PASSED  # consistent forgery
    ts = r.check("timestamps.tokens")
    assert ts.status is Status.FAILED, r.to_text()
    assert r.status is Overall.FAILED


def test_the_hand_check_script_of_verify_md_catches_tail_truncation(
    built: Built, tmp_path: Path
) -> None:
    """VERIFY.md's section 7 (python3, standard library only) passes on the genuine package and
    fails on the tail-truncated one."""
    text = _files(built)[layout.VERIFY_MD].decode()
    script = text.split("## 7.")[1].split("```sh\n")[1].split("```")[0]

    def hand(files: Files, where: Path) -> subprocess.CompletedProcess[str]:
        for name, data in files.items():
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            (where / name).write_bytes(data)
        return subprocess.run(["bash", "-c", script], cwd=where, capture_output=True,
                              text=True, check=False)  # fmt: skip

    ok = hand(_files(built), tmp_path / "good")
    assert "map proofs OK" in ok.stdout, ok.stderr
    files = _files(built)
    _drop_events(files, [_events_of(built)[-1]])
    bad = hand(files, tmp_path / "bad")
    assert "map proofs FAILED" in bad.stdout, bad.stderr
