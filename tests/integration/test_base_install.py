"""The base distribution alone (issue 13, done-when): a fresh virtual environment with
``pip install .`` (no extra, pinned by constraints.txt) holds none of web3, pymongo, reportlab,
APScheduler or Pillow, and there verifies a certification package offline with
:class:`sealtrail.verifier.Verifier`, runs the SDK's proof checks on proofs the ledger made, and
runs ``python -m sealtrail verify``.

The package and the proofs are made here, with the full install (the ledger, the development TSA
and the service seal need the server's libraries); only their bytes cross into the fresh venv.
Slow: it builds and installs the distribution (about a minute).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from sealtrail.export.evidence import Selection
from sealtrail.ledger.store import StoredCheckpoint

from .verifier.ledgerkit import DOC, contract_history, open_kit, run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STREAM = "contract:2026-0001"
SERVER_ONLY = ("web3", "pymongo", "reportlab", "apscheduler", "pillow")
SERVER_MODULES = ("web3", "pymongo", "reportlab", "apscheduler", "PIL", "prometheus_client")

# Runs inside the fresh venv. Sockets are cut off first: "offline" is proven, not assumed.
# Deprecation warnings are errors: ordinary use must show none.
CHECK = r"""
import json, socket, sys
from pathlib import Path

def _no_network(*args, **kwargs):
    raise OSError("network used during offline verification")

socket.socket.connect = _no_network
socket.create_connection = _no_network

from sealtrail.core import NoteVerifier
from sealtrail.sdk import check_consistency, check_event_proof
from sealtrail.verifier import Verifier

d = Path(sys.argv[1])
verifier = Verifier.from_pem(
    ledger_keys=[(d / "ledger.vkey").read_text()],
    tsa_roots_pem=(d / "tsa-roots.pem").read_bytes(),
    seal_roots_pem=(d / "seal-roots.pem").read_bytes(),
)
report = verifier.verify(d / "package.zip")
proofs = json.loads((d / "proofs.json").read_text())
key = NoteVerifier.from_vkey((d / "ledger.vkey").read_text().strip())
checked = [check_event_proof(e, p, key, e["index"]).event["index"] for e, p in proofs["events"]]
old, new = check_consistency(proofs["consistency"], key)
try:
    check_consistency({**proofs["consistency"], "proof": []}, key)
    tampered = "accepted"
except Exception as e:
    tampered = type(e).__name__
server = [m for m in SERVER_MODULES if m in sys.modules]
print(json.dumps({
    "status": report.status.value,
    "checks": {c.id: c.status.value for c in report.checks},
    "failed": [c.detail for c in report.failed()],
    "checked_events": checked,
    "consistency": [old.size, new.size],
    "tampered": tampered,
    "server_modules": server,
}))
""".replace("SERVER_MODULES", repr(SERVER_MODULES))


@dataclass
class Material:
    """What crosses into the fresh venv: the package, the trust material, the proofs."""

    dir: Path
    ledger_key: str


def _cp(cp: StoredCheckpoint) -> dict[str, Any]:
    # As the API shows it (GET /v1/events/{i}/proof, /v1/proofs/consistency).
    return {"size": cp.size, "root": cp.root.hex(), "note": cp.note, "created_at": cp.created_at}


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Material]:
    base = tmp_path_factory.mktemp("base-install-pkg")
    kit = open_kit(base)
    try:
        fp = contract_history(kit, STREAM)
        run(kit.stamp())
        data, ev = run(kit.package(Selection.of_stream("sub1", STREAM), {fp: DOC}))
        out = base / "material"
        out.mkdir()
        (out / "package.zip").write_bytes(data)
        (out / "ledger.vkey").write_text(kit.ledger.verifier.vkey + "\n")
        (out / "tsa-roots.pem").write_bytes(kit.tsa_ca_pem)
        seal_ca = kit.seal.ca.public_bytes(serialization.Encoding.PEM)
        (out / "seal-roots.pem").write_bytes(seal_ca)
        head = kit.ledger.checkpoint()
        first = kit.ledger.checkpoint(ev.checkpoints[0].size)
        events = []
        for e in ev.events:
            p = kit.ledger.inclusion_proof(e.index, head.size).to_json()
            events.append([kit.ledger.event(e.index).to_json(), {**p, "checkpoint": _cp(head)}])
        c = kit.ledger.consistency_proof(first.size, head.size)
        consistency = {
            **c.to_json(),
            "old_checkpoint": _cp(first),
            "new_checkpoint": _cp(head),
        }
        proofs = {"events": events, "consistency": consistency}
        (out / "proofs.json").write_text(json.dumps(proofs))
        yield Material(out, kit.ledger.verifier.vkey)
    finally:
        kit.ledger.close_sync()


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the base distribution, installed (not editable) from a copy of the
    sources, so that nothing of this checkout is on its path and no build files land here."""
    tmp = tmp_path_factory.mktemp("base-install")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "constraints.txt"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "sealtrail", src / "sealtrail", ignore=shutil.ignore_patterns("__pycache__")
    )
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-c", str(src / "constraints.txt"), str(src)],
        capture_output=True, text=True, timeout=900, cwd=tmp,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    return py


def _in_venv(py: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(py), *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_base_install_has_no_server_library(base_venv: Path) -> None:
    r = _in_venv(base_venv, "-m", "pip", "list", "--format=json", cwd=base_venv.parent)
    assert r.returncode == 0, r.stderr
    installed = {p["name"].lower() for p in json.loads(r.stdout)}
    assert "sealtrail" in installed
    assert not installed & set(SERVER_ONLY), sorted(installed & set(SERVER_ONLY))


def test_verifier_and_sdk_work_offline_in_the_base_install(
    base_venv: Path, material: Material
) -> None:
    script = material.dir / "check.py"
    script.write_text(CHECK)
    r = _in_venv(
        base_venv, "-W", "error::DeprecationWarning", str(script), str(material.dir),
        cwd=material.dir,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "DeprecationWarning" not in r.stderr, r.stderr[-3000:]  # cryptography's is a UserWarning
    out = json.loads(r.stdout)
    # No chain in this test: the anchors alone are not checked; everything else passed.
    assert out["status"] == "incomplete", out["failed"]
    assert {k for k, v in out["checks"].items() if v != "passed"} == {
        "anchors.receipts",
        "anchors.chain",
    }
    # Every kind of trust material was pinned, so each trust check passed, none was skipped.
    assert out["checks"]["trust.ledger_key"] == "passed"
    assert out["checks"]["trust.roots"] == "passed"
    assert out["checks"]["report.signature"] == "passed"
    assert out["checked_events"]  # the SDK's inclusion checks, one per event of the package
    assert out["consistency"][0] < out["consistency"][1]
    assert out["tampered"] == "VerificationError"
    assert out["server_modules"] == []


def test_sealtrail_verify_command_in_the_base_install(base_venv: Path, material: Material) -> None:
    r = _in_venv(
        base_venv, "-W", "error::DeprecationWarning", "-m", "sealtrail", "verify",
        str(material.dir / "package.zip"),
        "--trust-root", str(material.dir / "tsa-roots.pem"),
        "--trust-root", str(material.dir / "seal-roots.pem"),
        "--ledger-key", material.ledger_key,
        cwd=material.dir,
    )  # fmt: skip
    assert r.returncode == 8, r.stderr[-3000:]  # nothing failed, anchors not checked
    assert "DeprecationWarning" not in r.stderr, r.stderr[-3000:]
    assert "result: incomplete" in r.stdout, r.stdout[-2000:]  # no chain: anchors not checked
    again = _in_venv(
        base_venv, "-m", "sealtrail", "verify", str(material.dir / "package.zip"),
        "--trust-root", str(material.dir / "tsa-roots.pem"),
        "--trust-root", str(material.dir / "seal-roots.pem"),
        "--ledger-key", material.ledger_key, "--accept", "anchors.",
        cwd=material.dir,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert "verdict: passed (accepting not checked: anchors.)" in again.stdout
