"""The TypeScript SDK (sdk/typescript) run by Node's test runner: against the shared vectors,
and against a live service started here (append, proofs, checkpoints, map proofs, tampering).
Skipped only when ``node`` is absent (it is present on the CI machine)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ..api.client import Api
from ..service import Service

ROOT = Path(__file__).resolve().parents[3]
SDK = ROOT / "sdk" / "typescript"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def run_node(test_file: str, env: dict[str, str] | None = None) -> str:
    r = subprocess.run(
        [str(NODE), "--test", "--test-reporter=tap", f"test/{test_file}"],
        cwd=SDK,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    return r.stdout


def test_vectors() -> None:
    out = run_node("vectors.test.js")
    assert "# fail 0" in out
    assert "# pass 8" in out, out[-1500:]


def test_live_service(module_service: Service) -> None:
    Api(module_service)  # the service is up
    env = {
        "SEALTRAIL_URL": module_service.url,
        "SEALTRAIL_KEY": module_service.keys["int_sub1"],
        "SEALTRAIL_AUDITOR_KEY": module_service.keys["aud_sub1"],
        "SEALTRAIL_VERIFIER_KEY": (module_service.data_dir / "ledger.pub").read_text().strip(),
    }
    out = run_node("live.test.js", env)
    assert "# fail 0" in out
    assert "# skipped 0" in out
    assert "# pass 2" in out, out[-1500:]
