"""Subscription secrets are encrypted at rest under the service's master key; secrets stored in
plain text before that still sign, and are re-encrypted at the next rotation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from standardwebhooks import Webhook

from ..api.client import Api, event
from ..conftest import StartService
from .conftest import FAST
from .receiver import Receiver
from .test_webhooks import deliveries, subscribe, tenant_admin, wait_acked, wait_log


def _db_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("ledger.db*")))


def _row(data_dir: Path, wid: str) -> tuple[str, str | None]:
    con = sqlite3.connect(data_dir / "ledger.db")
    try:
        row = con.execute(
            "SELECT secret, previous_secret FROM webhook WHERE id = ?", (wid,)
        ).fetchone()
    finally:
        con.close()
    return row[0], row[1]


def _set(data_dir: Path, wid: str, secret: str) -> None:
    con = sqlite3.connect(data_dir / "ledger.db", timeout=10)
    try:
        with con:
            con.execute("UPDATE webhook SET secret = ? WHERE id = ?", (secret, wid))
    finally:
        con.close()


def test_database_never_holds_the_secrets(start_service: StartService, receiver: Receiver) -> None:
    svc = start_service(**FAST)
    api = Api(svc)
    admin = tenant_admin(api)
    hook = subscribe(api, admin, receiver.url)
    old = hook["secret"]
    r = api.post(f"/v1/webhooks/{hook['id']}/rotate-secret", {}, key=admin)
    assert r.status == 200, r
    new = r.json()["secret"]
    api.append(event(1), key="int_sub1")
    (call,) = wait_acked(receiver, 1)
    # delivered, signed with both (the overlap), verifiable with either secret
    assert len(call.headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(call.body, call.headers)
    Webhook(old).verify(call.body, call.headers)
    stored, previous = _row(svc.data_dir, hook["id"])
    assert stored.startswith("enc1:")
    assert previous is not None
    assert previous.startswith("enc1:")
    raw = _db_bytes(svc.data_dir)
    for s in (old, new):
        assert s.encode() not in raw
        assert s.removeprefix("whsec_").encode() not in raw
    # a restart (same master key in the data directory) still opens them
    svc.stop()
    svc = start_service(data_dir=svc.data_dir, **FAST)
    api = Api(svc)
    api.append(event(2), key="int_sub1")
    calls = wait_acked(receiver, 2)
    Webhook(new).verify(calls[1].body, calls[1].headers)


def test_plain_text_secret_still_signs_and_is_reencrypted_on_rotation(
    start_service: StartService, receiver: Receiver
) -> None:
    svc = start_service(**FAST)
    api = Api(svc)
    admin = tenant_admin(api)
    hook = subscribe(api, admin, receiver.url)
    plain = "whsec_" + "QUFB" * 8  # a row written before encryption at rest
    _set(svc.data_dir, hook["id"], plain)
    api.append(event(1), key="int_sub1")
    (call,) = wait_acked(receiver, 1)
    Webhook(plain).verify(call.body, call.headers)
    r = api.post(f"/v1/webhooks/{hook['id']}/rotate-secret", {}, key=admin)
    assert r.status == 200, r
    new = r.json()["secret"]
    stored, previous = _row(svc.data_dir, hook["id"])
    assert stored.startswith("enc1:")
    assert previous is not None
    assert previous.startswith("enc1:")
    api.append(event(2), key="int_sub1")
    calls = wait_acked(receiver, 2)
    Webhook(new).verify(calls[1].body, calls[1].headers)
    Webhook(plain).verify(calls[1].body, calls[1].headers)  # the overlap keeps the old one


def test_secret_copied_onto_another_subscription_does_not_sign(
    start_service: StartService, receiver: Receiver
) -> None:
    svc = start_service(**FAST)
    api = Api(svc)
    admin = tenant_admin(api)
    a = subscribe(api, admin, receiver.url)
    b = subscribe(api, admin, receiver.url, events=["approve"])
    stolen, _ = _row(svc.data_dir, a["id"])
    _set(svc.data_dir, b["id"], stolen)  # the operator swaps the stored values
    api.append(event(1, etype="approve"), key="int_sub1")
    log = wait_log(api, admin, b["id"], lambda d: d and d[0]["attempts"] >= 1, "a failed attempt")
    assert log[0]["status"] == "pending"
    assert log[0]["last_status"] is None
    assert "does not open" in (log[0]["last_error"] or "")
    assert not [c for c in receiver.calls if c.json()["type"] == "approve"]
    assert deliveries(api, admin, a["id"]) == []
