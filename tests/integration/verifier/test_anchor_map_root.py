"""Packages whose checkpoints are anchored with their map roots (contract version 2) or without
(version 1), checked by the verifier offline and against a real Ganache over plain JSON-RPC:
the receipt's map root against the note's line, the chain's against the note's, a note re-signed
by the operator's own key with another map line, and malformed receipt fields."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sealtrail.anchoring.chain import connect
from sealtrail.anchoring.contract import log_id_for
from sealtrail.anchoring.worker import AnchorWorker
from sealtrail.core.canonical import canonicalize_restricted
from sealtrail.core.note import Checkpoint, parse_checkpoint, sign_checkpoint
from sealtrail.core.vmap import map_extension, map_root_of
from sealtrail.export.evidence import Selection
from sealtrail.verifier import layout
from sealtrail.verifier.results import Status, VerificationReport
from sealtrail.verifier.rpc import RpcAnchorChecker
from sealtrail.verifier.verify import verify_package

from ..chain.conftest import ADDRESSES, CHAIN_ID, KEYS, Ganache, start_ganache
from .ledgerkit import DOC, Kit, contract_history, open_kit, run

pytestmark = pytest.mark.ganache

STREAM = "contract:map-anchored"


@dataclass
class Anchored:
    kit: Kit
    data: bytes
    target: int

    def files(self) -> dict[str, bytes]:
        return layout.read_zip(self.data)

    def verify(self, files: dict[str, bytes] | None = None, **kw: Any) -> VerificationReport:
        data = self.data if files is None else repack(files)
        return verify_package(
            data,
            trust_roots=[self.kit.tsa_ca, self.kit.seal.ca],
            ledger_key=self.kit.ledger.signer.verifier().vkey,
            **kw,
        )


def repack(files: dict[str, bytes]) -> bytes:
    """The files as a package again, the manifest's hashes rewritten to match (what anyone
    altering a package does first)."""
    manifest = json.loads(files[layout.MANIFEST])
    for name, data in files.items():
        if name != layout.MANIFEST:
            manifest["files"][name] = hashlib.sha256(data).hexdigest()
    files = {**files, layout.MANIFEST: canonicalize_restricted(manifest)}
    return layout.zip_bytes(files)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ganache]:
    g = start_ganache(tmp_path_factory.mktemp("ganache") / "ganache.log")
    try:
        yield g
    finally:
        g.stop()


def _anchored_package(base: Path, g: Ganache, version: int) -> Anchored:
    kit = open_kit(base)
    fp = contract_history(kit, STREAM)
    run(kit.stamp())
    owner = connect(g.url, KEYS[0], CHAIN_ID)
    contract = owner.deploy(version=version)
    owner.authorise(log_id_for(kit.ledger.origin), ADDRESSES[1])
    w = AnchorWorker(
        kit.store,
        lambda: connect(g.url, KEYS[1], CHAIN_ID, contract_address=contract),
        log_id_for(kit.ledger.origin),
        confirmations=1,
        clock=lambda: datetime.now(UTC),
    )
    for _ in range(8):
        w.step()
    assert all(a.status == "final" for a in kit.store.anchors.anchors())
    assert len(kit.store.anchors.anchors()) == 3
    data, ev = run(kit.package(Selection.of_stream("sub1", STREAM), {fp: DOC}))
    return Anchored(kit, data, ev.target.size)


@pytest.fixture(scope="module")
def v2(tmp_path_factory: pytest.TempPathFactory, chain: Ganache) -> Iterator[Anchored]:
    a = _anchored_package(tmp_path_factory.mktemp("v2"), chain, 2)
    try:
        yield a
    finally:
        a.kit.ledger.close_sync()


@pytest.fixture(scope="module")
def v1(tmp_path_factory: pytest.TempPathFactory, chain: Ganache) -> Iterator[Anchored]:
    a = _anchored_package(tmp_path_factory.mktemp("v1"), chain, 1)
    try:
        yield a
    finally:
        a.kit.ledger.close_sync()


def st(rep: VerificationReport) -> dict[str, tuple[str, str]]:
    return {c.id: (c.status.value, c.reason) for c in rep.checks}


def receipt_of(files: dict[str, bytes], size: int) -> dict[str, Any]:
    r: dict[str, Any] = json.loads(files[layout.anchor_name(size)])
    return r


def with_receipt(files: dict[str, bytes], size: int, r: dict[str, Any]) -> dict[str, bytes]:
    return {**files, layout.anchor_name(size): canonicalize_restricted(r)}


def note_map(files: dict[str, bytes], size: int) -> bytes:
    note = files[layout.note_name(size)].decode()
    cp = parse_checkpoint(note[: note.rfind("\n\n") + 1])
    got = map_root_of(cp.extensions)
    assert got is not None
    return got


def test_v2_package_map_roots_pass_offline_and_on_chain(v2: Anchored, chain: Ganache) -> None:
    files = v2.files()
    for size in (2, 4, v2.target):
        if layout.anchor_name(size) not in files:
            continue
        r = receipt_of(files, size)
        assert r["contract_version"] == 2
        assert r["map_root"] == "0x" + note_map(files, size).hex()
    rep = v2.verify()
    s = st(rep)
    assert s["anchors.receipts"] == ("passed", "ok")
    assert s["anchors.map_root"] == ("passed", "ok")
    assert s["anchors.chain"] == ("not_checked", "no_rpc")
    rep = v2.verify(rpc=RpcAnchorChecker(chain.url))
    s = st(rep)
    assert s["anchors.chain"] == ("passed", "ok"), rep.to_text()
    assert "with their map roots" in rep.check("anchors.chain").detail
    assert not rep.failed(), rep.to_text()


def test_altered_receipt_map_root_fails(v2: Anchored, chain: Ganache) -> None:
    files = v2.files()
    r = receipt_of(files, v2.target)
    other = "0x" + hashlib.sha256(b"another map").hexdigest()
    for value in (other, None):  # another root; or "none" for a note that has a map line
        bad = with_receipt(files, v2.target, {**r, "map_root": value})
        rep = v2.verify(bad)
        s = st(rep)
        assert s["anchors.receipts"] == ("passed", "ok")
        assert s["anchors.map_root"] == ("failed", "map_root_mismatch")
        assert layout.anchor_name(v2.target) in rep.check("anchors.map_root").detail
        rep = v2.verify(bad, rpc=RpcAnchorChecker(chain.url))
        assert st(rep)["anchors.chain"] == ("failed", "map_root_mismatch")
        assert "the receipt says" in rep.check("anchors.chain").detail


def test_note_re_signed_with_another_map_root_fails_against_the_v2_anchor(
    v2: Anchored, chain: Ganache
) -> None:
    """The operator holds the ledger key: it signs a note with the same size and root but
    another map line, and rewrites the receipt to agree. Offline the package is consistent;
    the chain's anchor says otherwise."""
    files = v2.files()
    t = v2.target
    note = files[layout.note_name(t)].decode()
    cp = parse_checkpoint(note[: note.rfind("\n\n") + 1])
    forged_root = hashlib.sha256(b"a map without the inconvenient event").digest()
    forged = Checkpoint(cp.origin, cp.size, cp.root, (map_extension(forged_root),))
    forged_note = sign_checkpoint(forged, v2.kit.ledger.signer)
    assert forged_note != note
    r = receipt_of(files, t)
    bad = with_receipt(files, t, {**r, "map_root": "0x" + forged_root.hex()})
    bad[layout.note_name(t)] = forged_note.encode()
    rep = v2.verify(bad)
    s = st(rep)
    assert s["checkpoints.signatures"] == ("passed", "ok")  # the operator's key signed it
    assert s["anchors.map_root"] == ("passed", "ok")  # receipt and note agree…
    rep = v2.verify(bad, rpc=RpcAnchorChecker(chain.url))
    s = st(rep)
    assert s["anchors.chain"] == ("failed", "map_root_mismatch"), rep.to_text()  # …the chain not
    detail = rep.check("anchors.chain").detail
    assert f"0x{note_map(files, t).hex()}" in detail
    assert f"0x{forged_root.hex()}" in detail
    # the forged note with the receipt left as it was: caught offline already
    bad = {**files, layout.note_name(t): forged_note.encode()}
    assert st(v2.verify(bad))["anchors.map_root"] == ("failed", "map_root_mismatch")


def test_v2_receipt_passed_off_as_v1_is_not_checked_offline_and_fails_on_chain(
    v2: Anchored, chain: Ganache
) -> None:
    files = v2.files()
    r = receipt_of(files, v2.target)
    old = {k: v for k, v in r.items() if k not in ("contract_version", "map_root")}
    bad = with_receipt(files, v2.target, old)
    rep = v2.verify(bad)
    s = st(rep)
    assert s["anchors.receipts"] == ("passed", "ok")
    assert s["anchors.map_root"] == ("not_checked", "map_root_not_anchored")
    assert "contract v1, which does not record the map root" in rep.check("anchors.map_root").detail
    assert not rep.failed()
    assert rep.status.value == "incomplete"
    rep = v2.verify(bad, rpc=RpcAnchorChecker(chain.url))
    assert st(rep)["anchors.chain"] == ("failed", "anchor_not_on_chain")
    assert "version 1" in rep.check("anchors.chain").detail


@pytest.mark.parametrize(
    "field",
    [
        {"map_root": 123},
        {"map_root": "0x12"},
        {"map_root": "0x" + "00" * 32},
        {"map_root": "0x" + "AB" * 32},
        {"map_root": ["0x" + "ab" * 32]},
        {"map_root": "ab" * 32},
        {"contract_version": "2"},
        {"contract_version": 3},
        {"contract_version": True},
        {"contract_version": None},
        {"contract_version": 1, "map_root": "0x" + "ab" * 32},
    ],
)
def test_malformed_receipt_fields_fail_without_an_exception(
    v2: Anchored, field: dict[str, Any]
) -> None:
    files = v2.files()
    r = {**receipt_of(files, v2.target), **field}
    rep = v2.verify(with_receipt(files, v2.target, r))
    assert st(rep)["anchors.receipts"] == ("failed", "bad_anchor"), rep.to_text()
    assert st(rep)["anchors.chain"] == ("not_checked", "blocked")
    assert "anchors.map_root" not in st(rep)


def test_v2_receipt_without_map_root_key_fails(v2: Anchored) -> None:
    files = v2.files()
    r = {k: v for k, v in receipt_of(files, v2.target).items() if k != "map_root"}
    rep = v2.verify(with_receipt(files, v2.target, r))
    assert st(rep)["anchors.receipts"] == ("failed", "bad_anchor")
    assert "has no map_root" in rep.check("anchors.receipts").detail


def test_v1_deployment_still_verifies_and_leaves_map_roots_unchecked(
    v1: Anchored, chain: Ganache
) -> None:
    files = v1.files()
    r = receipt_of(files, v1.target)
    assert (r["contract_version"], r["map_root"]) == (1, None)
    rpc = RpcAnchorChecker(chain.url)
    for pkg in (None, with_receipt(files, v1.target, _old_format(r))):
        # as made now, and as packages made before version 2 wrote their receipts
        rep = v1.verify(pkg, rpc=rpc)
        s = st(rep)
        assert s["anchors.receipts"] == ("passed", "ok")
        assert s["anchors.chain"] == ("passed", "ok"), rep.to_text()
        assert s["anchors.map_root"] == ("not_checked", "map_root_not_anchored")
        assert not rep.failed()
        assert rep.status.value == "incomplete"  # never counted as passed
    # a v1 receipt claiming version 2 is refuted by the chain (v1's event, v1's anchorOf)
    m = "0x" + note_map(files, v1.target).hex()
    bad = with_receipt(files, v1.target, {**r, "contract_version": 2, "map_root": m})
    rep = v1.verify(bad, rpc=rpc)
    assert st(rep)["anchors.receipts"] == ("passed", "ok")
    assert st(rep)["anchors.chain"] == ("failed", "anchor_not_on_chain")
    assert "version 2" in rep.check("anchors.chain").detail


def _old_format(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k not in ("contract_version", "map_root")}


def test_checks_are_recorded_with_statuses(v2: Anchored) -> None:
    rep = v2.verify()
    assert rep.check("anchors.map_root").status is Status.PASSED
    assert base64.b64encode(note_map(v2.files(), v2.target))  # the note's line is base64


def test_verify_md_compares_the_map_root_by_hand(
    v2: Anchored, v1: Anchored, tmp_path: Path
) -> None:
    """VERIFY.md names version 2's event topic and the anchored map root, and its python3 line
    prints the note's map root, which equals the anchored one."""
    files = v2.files()
    text = files[layout.VERIFY_MD].decode()
    assert "0xa5a075337b25e826b34aaec08938fe05a4c35aca3e469eb0debb58759e5a0b5b" in text
    assert "four 32-byte words" in text
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    lines = [line for line in text.splitlines() if line.startswith("python3 -c 'import base64")]
    assert lines
    for line in lines:
        note = line.rsplit(" ", 1)[1]
        size = int(note.split("/")[1].split(".")[0])
        r = subprocess.run(["bash", "-e", "-c", line], cwd=tmp_path, capture_output=True,
                           text=True, check=False)  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == note_map(files, size).hex()
        assert f"#   → {note_map(files, size).hex()}" in text
    old = v1.files()[layout.VERIFY_MD].decode()
    assert "records no map root" in old
    assert "0x7196d6002b555d592bc808cc522b6e167501be1b6185fd206cd187b7330acf7a" in old
