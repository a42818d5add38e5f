"""The checkpoint JSON does not show the operator's internal TSA URLs (or what they answered)
to key holders or the public (issue 15, item 6): a generic ``last_error`` and a ``reason`` code
instead; the detail stays in the service's log."""

from __future__ import annotations

import json
import socket
from typing import Any

from .client import Api, event, poll, sha

SECRET_PATH = "internal-tsa-7f3a9c"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_pending_timestamp_shows_a_reason_code_not_the_tsa_url(start_service: Any) -> None:
    first = start_service()  # makes the dev TSA CA used as the (unused) trust root
    first.stop()
    port = _closed_port()
    svc = start_service(
        data_dir=first.data_dir,
        tsa_urls=f"http://127.0.0.1:{port}/{SECRET_PATH}/",
        tsa_ca_files=str(first.data_dir / "devtsa" / "ca.pem"),
    )
    api = Api(svc)
    doc = sha("leak-doc")
    api.append(event(1, doc=doc))
    cp = api.wait_for_checkpoint(1)

    def failed() -> dict[str, Any] | None:
        t = api.get(f"/v1/checkpoints/{cp['size']}", "aud_hq").json()["timestamp"]
        return t if t["status"] == "pending" and t["attempts"] >= 1 else None

    ts = poll(failed, 30, "a failed attempt")
    assert ts["reason"] == "tsa_unavailable"
    assert ts["last_error"].startswith("no TSA has given a valid token yet")
    views = {
        key: api.get(f"/v1/checkpoints/{cp['size']}", key).body.decode()
        for key in ("int_sub1", "aud_hq", "adm_hq")
    }
    views["latest"] = api.get("/v1/checkpoints/latest", "int_sub1").body.decode()
    views["public"] = api.get(f"/v1/public/fingerprints/{doc}").body.decode()
    views["console"] = api.get("/v1/console/checkpoints", "aud_hq").body.decode()
    for name, body in views.items():
        assert SECRET_PATH not in body, name
        assert f":{port}" not in body, name
    public = json.loads(views["public"])["timestamp"]
    assert public["reason"] == "tsa_unavailable"
    # the operator still has the detail: the service log names the TSA that failed
    assert SECRET_PATH in svc.log()
