"""Callbacks on a service whose database is MongoDB (the nx-27017 stand-in by default, a real
server when ``SEALTRAIL_TEST_MONGODB_URI`` is set): subscribe, a delivery queued in the append's
transaction, signed with a secret stored encrypted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pymongo import MongoClient
from standardwebhooks import Webhook

from sealtrail.sdk import Client
from tests.integration.service import cli, env_for, start
from tests.mongo import mongodb_url

from ..api.client import event
from .conftest import FAST
from .receiver import Receiver
from .test_webhooks import wait_acked


def test_callbacks_on_mongodb(tmp_path: Path, receiver: Receiver) -> None:
    data = tmp_path / "data"
    with mongodb_url(tmp_path / "mongo") as url:
        env = env_for(db_url=url)
        cli(data, "init", env=env)
        cli(data, "tenants", "create", "acme", env=env)
        admin = cli(data, "keys", "create", "--tenant", "acme", "--role", "admin", env=env)
        key = cli(data, "keys", "create", "--tenant", "acme", "--role", "integrator", env=env)
        svc = start(data, tmp_path / "service.log", db_url=url, **FAST)
        try:
            c = Client(svc.url, str(admin["key"]))
            hook: dict[str, Any] = c.create_webhook(receiver.url, ["sign"])
            assert [h["id"] for h in c.webhooks()] == [hook["id"]]
            Client(svc.url, str(key["key"])).append(event(1))
            (call,) = wait_acked(receiver, 1)
            Webhook(hook["secret"]).verify(call.body, call.headers)
            assert call.json()["data"]["event"]["index"] == 0
            log = list(c.webhook_deliveries(hook["id"]))
            assert [(d["status"], d["event_index"]) for d in log] == [("delivered", 0)]
            mongo: MongoClient[dict[str, Any]] = MongoClient(url)
            try:
                stored = mongo.get_default_database()["webhooks"].find_one({"_id": hook["id"]})
            finally:
                mongo.close()
            assert stored is not None
            assert stored["secret"].startswith("enc1:")
            assert hook["secret"] not in str(stored)
            c.delete_webhook(hook["id"])
            assert c.webhooks() == []
        finally:
            svc.stop()
