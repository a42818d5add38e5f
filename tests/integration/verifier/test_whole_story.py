"""One package tells the whole story of a contract (issue 18): its own stream, the envelope
streams whose events name its documents (whole, with their heads proven), and the seal uses and
approvals naming its documents or their signed versions (by document, accounted for by the
documents' map proofs) — the same tenant's only; other tenants' events are counted, not shown.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from sealtrail.export.evidence import Selection
from sealtrail.verifier import layout
from sealtrail.verifier.results import Overall, Policy, Status
from sealtrail.verifier.verify import verify_package

from .ledgerkit import Kit, event, open_kit, run

STREAM = "contract:2026-0042"
V0 = b"%PDF-1.7 v0\n"
V1 = b"%PDF-1.7 v0 + seal 1\n"
V2 = b"%PDF-1.7 v0 + seal 1 + seal 2\n"
ACCEPT = Policy(accept=("anchors.",))


def _h(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _docs(**named: bytes) -> list[dict[str, str]]:
    return [{"name": n, "sha256": _h(b)} for n, b in named.items()]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Any:
    kit = open_kit(tmp_path_factory.mktemp("story"))
    a = kit.append
    a("sub1", [event(STREAM, "initiate", "u-1", documents=_docs(contract=V0))])
    a("sub1", [event("envelope:e1", "envelope:created", "u-1", documents=_docs(contract=V0))])
    a("sub1", [event("seal:s1", "seal-use:requested", "u-1", documents=_docs(document=V0))])
    a("sub1", [event("seal:s1", "seal-use:approved", "u-2", documents=_docs(document=V0))])
    a("sub1", [event("envelope:e1", "envelope:invitation-accepted", "partner")])  # no document
    a("sub1", [event("seal:s1", "seal-use:used", "u-1", documents=_docs(before=V0, after=V1))])
    a(
        "sub1",
        [event("envelope:e1", "envelope:signed", "u-1", documents=_docs(before=V0, after=V1))],
    )
    kit.seal_checkpoint()
    # the partner's seal (another tenant) signs the next version
    a("partner", [event("seal:p9", "seal-use:used", "x", documents=_docs(before=V1, after=V2))])
    a("sub1", [event("envelope:e1", "envelope:signed", "x", documents=_docs(before=V1, after=V2))])
    a("sub1", [event("envelope:e1", "envelope:completed", "x", documents=_docs(final=V2))])
    a(
        "sub1",
        [
            event(
                "seal:s1",
                "seal-use:used",
                "u-1",
                documents=_docs(before=b"other contract", after=b"other, sealed"),
            )
        ],
    )
    a("sub1", [event("contract:unrelated", "view", "u-3")])
    a("sub1", [event(STREAM, "view", "u-3", documents=_docs(final=V2))])
    kit.seal_checkpoint()
    run(kit.stamp())
    data, ev = run(kit.package(Selection.of_stream("sub1", STREAM)))
    yield kit, data, ev
    kit.ledger.close_sync()


def _verify(kit: Kit, data: bytes) -> Any:
    return verify_package(
        data, trust_roots=[kit.tsa_ca, kit.seal.ca], ledger_key=kit.ledger.verifier.vkey
    )


def test_the_package_holds_the_contract_its_envelope_and_its_seal_uses(story: Any) -> None:
    kit, data, ev = story
    got = [(e.tenant, e.stream, e.type) for e in ev.events]
    assert ("sub1", "envelope:e1", "envelope:invitation-accepted") in got  # whole envelope
    assert ("sub1", "seal:s1", "seal-use:used") in got
    assert ("sub1", "seal:s1", "seal-use:approved") in got
    assert all(t == "sub1" for t, _, _ in got)  # the partner's seal use is not shown
    assert not any(s == "contract:unrelated" for _, s, _ in got)
    uses = [e for e in ev.events if e.stream == "seal:s1" and e.type == "seal-use:used"]
    assert len(uses) == 1  # the seal's use on another contract is not part of this story
    files = layout.read_zip(data)
    streams = {s["stream"]: s["complete"] for s in json.loads(files[layout.STREAMS])}
    assert streams == {STREAM: True, "envelope:e1": True, "seal:s1": False}
    heads = [s["stream"] for s in json.loads(files[layout.MAP_PROOFS])["streams"]]
    assert sorted(heads) == sorted([STREAM, "envelope:e1"])
    r = _verify(kit, data)
    assert r.verdict(ACCEPT) is Overall.PASSED, r.to_text()
    assert "2 whole streams" in r.check("streams.complete").detail
    d = r.check("documents.complete")
    assert d.status is Status.PASSED
    assert "1 of them outside this package" in d.detail  # the partner's seal use


def _rehash(files: dict[str, bytes]) -> bytes:
    m = json.loads(files[layout.MANIFEST])
    m["files"] = {
        n: hashlib.sha256(b).hexdigest() for n, b in sorted(files.items()) if n != layout.MANIFEST
    }
    files[layout.MANIFEST] = json.dumps(m, separators=(",", ":"), sort_keys=True).encode()
    return layout.zip_bytes(files)


def test_dropping_the_envelope_stream_tail_fails_even_marked_partial(story: Any) -> None:
    """The operator drops the envelope's completion and marks the envelope's stream partial:
    an envelope stream of the contract's tenant must be whole, whatever streams.json says."""
    kit, data, ev = story
    files = layout.read_zip(data)
    last = [e for e in ev.events if e.stream == "envelope:e1"][-1].index
    s = json.loads(files[layout.STREAMS])
    for st in s:
        st["events"] = [i for i in st["events"] if i != last]
        if st["stream"] == "envelope:e1":
            st["complete"] = False
    files[layout.STREAMS] = json.dumps(s).encode()
    del files[layout.event_name(last)]
    del files[layout.inclusion_name(last)]
    m = json.loads(files[layout.MANIFEST])
    m["coverage"]["events"] -= 1
    files[layout.MANIFEST] = json.dumps(m).encode()
    mp = json.loads(files[layout.MAP_PROOFS])
    mp["streams"] = [x for x in mp["streams"] if x["stream"] != "envelope:e1"]
    files[layout.MAP_PROOFS] = json.dumps(mp).encode()
    r = _verify(kit, _rehash(files))
    assert r.status is Overall.FAILED
    assert r.check("streams.chains").status is Status.FAILED  # marked partial
    assert r.check("streams.complete").status is Status.FAILED  # no head proof


def test_a_query_package_is_unchanged(story: Any, tmp_path: Path) -> None:
    from sealtrail.ledger.store import EventQuery

    kit, _, _ = story
    q = EventQuery(tenants=("sub1",), stream=STREAM)
    data, ev = run(kit.package(Selection.of_query(q, {"stream": STREAM})))
    assert {e.stream for e in ev.events} == {STREAM}
    r = _verify(kit, data)
    assert r.check("streams.complete").reason == "query_selection"


def test_verify_md_chain_and_map_scripts_pass_on_the_story(story: Any, tmp_path: Path) -> None:
    import subprocess

    _, data, _ = story
    files = layout.read_zip(data)
    for name, b in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b)
    text = files[layout.VERIFY_MD].decode()
    blocks = [b.split("```", 1)[0] for b in text.split("```sh\n")[1:]]
    scripts = [b for b in blocks if "stream chains OK" in b or "map proofs OK" in b]
    assert len(scripts) == 2
    for script in scripts:
        r = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                           check=False)  # fmt: skip
        assert "FAILED" not in r.stdout, r.stdout + r.stderr
        assert "OK" in r.stdout, r.stdout + r.stderr
