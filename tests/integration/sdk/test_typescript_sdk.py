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
    assert "# pass 9" in out, out[-1500:]


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


def test_callback_signed_in_python_verifies_in_node() -> None:
    """A callback signed here with the standard library (HMAC-SHA256, Standard Webhooks) is
    accepted by the SDK's verifyCallback, and the same with one body byte changed is refused."""
    import base64
    import hashlib
    import hmac
    import json
    import secrets
    import time

    raw = secrets.token_bytes(32)
    secret = "whsec_" + base64.b64encode(raw).decode()
    body = json.dumps({"type": "envelope.completed", "data": {"id": "env-1"}})
    ts = str(int(time.time()))
    mac = hmac.new(raw, f"msg_1.{ts}.{body}".encode(), hashlib.sha256).digest()
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": ts,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }
    script = (
        'import { verifyCallback } from "./src/index.js";'
        "const [secret, headers, body] = JSON.parse(process.argv[1]);"
        "try { console.log(JSON.stringify(verifyCallback(secret, headers, body))); }"
        'catch (e) { console.log("refused " + e.code); }'
    )
    outs = []
    for b in (body, body.replace("env-1", "env-2")):
        r = subprocess.run(
            [str(NODE), "--input-type=module", "-e", script, json.dumps([secret, headers, b])],
            cwd=SDK,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout.strip())
    assert json.loads(outs[0]) == json.loads(body)
    assert outs[1] == "refused bad_signature"
