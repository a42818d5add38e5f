"""Every checkpoint the service seals gets an RFC 3161 token from a real TSA over HTTP (the
built-in development TSA by default), or stays visibly pending and is retried; `sealtrail audit`
re-verifies stored tokens. Tokens are cross-checked with openssl, an independent implementation.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from cryptography import x509

from sealtrail.anchoring.tsa import verify_token
from sealtrail.core.event import format_time

from ..service import SEALTRAIL
from .client import Api, event, poll

OPENSSL = shutil.which("openssl")


def _stamped(api: Api, size: int) -> dict[str, Any]:
    def get() -> dict[str, Any] | None:
        r = api.get(f"/v1/checkpoints/{size}", "aud_hq")
        if r.status != 200:
            return None
        cp = r.json()
        return cp if cp["timestamp"]["status"] == "stamped" else None

    return poll(get, 30, f"a stamped checkpoint of size {size}")


def test_checkpoints_get_a_token_from_the_built_in_tsa(start_service: Any, tmp_path: Path) -> None:
    svc = start_service()
    api = Api(svc)
    for i in range(3):
        api.append(event(i))
    cp = api.wait_for_checkpoint(3)
    got = _stamped(api, cp["size"])
    ts = got["timestamp"]
    assert ts["tsa"].endswith("/devtsa/")
    assert got["anchor"] == {"status": "off"}  # no chain configured: said plainly

    token = base64.b64decode(ts["token"])
    ca = x509.load_pem_x509_certificate((svc.data_dir / "devtsa" / "ca.pem").read_bytes())
    info = verify_token(token, got["note"].encode("utf-8"), [ca])
    assert format_time(info.gen_time) == ts["gen_time"]
    assert str(info.serial) == ts["serial"]

    if OPENSSL is not None:  # an independent implementation agrees
        (tmp_path / "note").write_bytes(got["note"].encode("utf-8"))
        (tmp_path / "token.tst").write_bytes(token)
        r = subprocess.run(
            [
                OPENSSL,
                "ts",
                "-verify",
                "-data",
                str(tmp_path / "note"),
                "-in",
                str(tmp_path / "token.tst"),
                "-token_in",
                "-CAfile",
                str(svc.data_dir / "devtsa" / "ca.pem"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Verification: OK" in r.stdout, r.stdout + r.stderr

    # the public look-up shows the same timestamp facts
    doc = api.append(event(9))["documents"][0]["sha256"]

    def public() -> dict[str, Any] | None:
        r = api.get(f"/v1/public/fingerprints/{doc}")
        return (
            r.json() if r.status == 200 and r.json()["timestamp"]["status"] == "stamped" else None
        )

    pub = poll(public, 30, "a stamped public view")
    assert pub["timestamp"]["tsa"].endswith("/devtsa/")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_checkpoint_stays_pending_while_no_tsa_answers(start_service: Any) -> None:
    svc = start_service()  # first start makes the dev TSA CA we can point at
    svc.stop()
    ca = svc.data_dir / "devtsa" / "ca.pem"
    down = start_service(
        data_dir=svc.data_dir,
        tsa_urls=f"http://127.0.0.1:{_closed_port()}/",
        tsa_ca_files=str(ca),
    )
    api = Api(down)
    api.append(event(1))
    cp = api.wait_for_checkpoint(1)

    def failed() -> dict[str, Any] | None:
        t = api.get(f"/v1/checkpoints/{cp['size']}", "aud_hq").json()["timestamp"]
        return t if t["status"] == "pending" and t["attempts"] >= 2 else None

    ts = poll(failed, 30, "retried attempts")
    assert ts["last_error"]
    metrics = api.get("/metrics").body.decode()
    assert "sealtrail_timestamps_pending 1.0" in metrics
    down.stop()

    # Back on the built-in TSA, the pending checkpoint is stamped, oldest first.
    up = start_service(data_dir=svc.data_dir)
    _stamped(Api(up), cp["size"])


def test_audit_reverifies_stored_tokens(start_service: Any) -> None:
    svc = start_service()
    api = Api(svc)
    api.append(event(1))
    cp = api.wait_for_checkpoint(1)
    _stamped(api, cp["size"])
    svc.stop()

    def audit() -> tuple[int, dict[str, Any]]:
        r = subprocess.run(
            [SEALTRAIL, "--data-dir", str(svc.data_dir), "audit", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return r.returncode, json.loads(r.stdout)

    rc, report = audit()
    assert rc == 0, report
    assert report["timestamps"]["checked"] is True
    assert report["timestamps"]["stamped"] >= 1

    con = sqlite3.connect(svc.data_dir / "ledger.db")
    token = con.execute("SELECT token FROM timestamps WHERE size = ?", (cp["size"],)).fetchone()[0]
    flipped = bytearray(token)
    flipped[-10] ^= 0x01
    con.execute("UPDATE timestamps SET token = ? WHERE size = ?", (bytes(flipped), cp["size"]))
    con.commit()
    con.close()
    rc, report = audit()
    assert rc == 1
    (problem,) = [p for p in report["problems"] if p["code"] == "timestamp_invalid"]
    assert problem["message"].startswith(f"checkpoint {cp['size']}: stored timestamp token")
