"""The committed contract artifact: equal to a fresh compile, shipped in the package, and the
log id definition."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sealtrail.anchoring.contract import ContractArtifact, load_artifact, log_id_for
from sealtrail.core.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "contracts_sol" / "SealtrailAnchor.sol"
BUILD = ROOT / "contracts_sol" / "build" / "SealtrailAnchor.json"
PACKAGED = ROOT / "sealtrail" / "anchoring" / "SealtrailAnchor.json"
COMPILE_JS = ROOT / "contracts_sol" / "compile.js"


def _node() -> str:
    node = shutil.which("node")
    if not (ROOT / "node_modules" / "solc").exists() or node is None:
        pytest.skip("node_modules/solc is missing: run `npm ci` at the repo root")
    return node


def test_committed_artifact_equals_a_fresh_compile(tmp_path: Path) -> None:
    node = _node()
    r = subprocess.run(
        [node, str(COMPILE_JS), "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    fresh = (tmp_path / "SealtrailAnchor.json").read_bytes()
    assert fresh == BUILD.read_bytes(), "run `node contracts_sol/compile.js` and commit"
    assert fresh == PACKAGED.read_bytes(), "run `node contracts_sol/compile.js` and commit"


def test_compile_check_mode(tmp_path: Path) -> None:
    node = _node()
    r = subprocess.run(
        [node, str(COMPILE_JS), "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr


def test_packaged_artifact_is_the_committed_one() -> None:
    assert PACKAGED.read_bytes() == BUILD.read_bytes()


def test_artifact_is_canonical_json_of_this_source() -> None:
    text = BUILD.read_text()
    obj = json.loads(text)
    assert text == json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert obj["sourceSha256"] == hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    assert obj["compiler"]["version"].startswith("0.8.28+")
    assert obj["compiler"]["settings"] == {
        "evmVersion": "shanghai",
        "optimizer": {"enabled": True, "runs": 200},
    }


def test_load_artifact() -> None:
    a = load_artifact(1)
    assert a.contract_name == "SealtrailAnchor"
    assert a.version == 1
    names = {(e["type"], e.get("name")) for e in a.abi}
    for expected in [
        ("function", "anchor"),
        ("function", "anchorOf"),
        ("function", "authorise"),
        ("function", "revoke"),
        ("function", "latestSize"),
        ("function", "isAnchorer"),
        ("event", "Anchored"),
        ("error", "NotAnchorer"),
        ("error", "TreeSizeNotIncreasing"),
        ("error", "RootAlreadyAnchored"),
    ]:
        assert expected in names
    # The runtime code is the tail end of what the constructor returns.
    assert a.deployed_bytecode
    assert a.deployed_bytecode in a.bytecode
    # Shanghai, not cancun: no MCOPY (0x5e), TLOAD (0x5c), TSTORE (0x5d) opcodes.
    assert not _opcodes(a.deployed_bytecode) & {0x5C, 0x5D, 0x5E}


def _opcodes(code: bytes) -> set[int]:
    """Opcodes of EVM code (PUSH data skipped; the CBOR metadata tail is not code)."""
    meta_len = int.from_bytes(code[-2:], "big") + 2
    code = code[:-meta_len]
    ops, i = set(), 0
    while i < len(code):
        op = code[i]
        ops.add(op)
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return ops


def test_bad_artifact_is_rejected() -> None:
    with pytest.raises(InvalidInputError):
        ContractArtifact.from_json('{"contractName": "X"}')


def test_log_id_is_sha256_of_the_origin() -> None:
    origin = "sealtrail.local/log-0123456789ab"
    assert log_id_for(origin) == hashlib.sha256(origin.encode()).digest()
    assert log_id_for(origin).hex() == (
        "8533b2ea458a22089baf99687827d60854cf08c3daa3618365bd2cbff97b36c4"
    )
    assert log_id_for("é").hex() == hashlib.sha256("é".encode()).hexdigest()
    for bad in ("", "a\nb"):
        with pytest.raises(InvalidInputError):
            log_id_for(bad)
    with pytest.raises(TypeError):
        log_id_for(b"bytes")  # type: ignore[arg-type]
