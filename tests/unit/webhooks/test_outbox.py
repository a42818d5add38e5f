"""The callbacks' outbox: deliveries commit with the events that cause them, or not at all."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sealtrail import backend
from sealtrail.core.errors import StorageError
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.sqlite_db import SCHEMA_VERSION
from sealtrail.webhooks.outbox import RECEIPT_TYPE, WebhookOutbox, install
from sealtrail.webhooks.store import PENDING, Subscription

from ...conftest import counting_random, event_input, fixed_clock

SECRET = "whsec_" + "A" * 44


def sub(wid: str, tenant: str, events: tuple[str, ...] = ("*",)) -> Subscription:
    return Subscription(wid, tenant, "https://oa.example.com/hook", events, False, SECRET, "t")


def open_ledger(data_dir: Path) -> tuple[Ledger, backend.Stores]:
    stores, signer = backend.open_store(data_dir)
    ledger = Ledger(stores.ledger, signer, clock=fixed_clock, random_bytes=counting_random())
    return ledger, stores


def rows(db: Path) -> list[tuple[str, str, int, str]]:
    con = sqlite3.connect(db)
    try:
        q = "SELECT webhook_id, type, event_index, status FROM webhook_delivery ORDER BY seq"
        return list(con.execute(q))
    finally:
        con.close()


def test_deliveries_are_queued_in_the_append_transaction(data_dir: Path) -> None:
    ledger, stores = open_ledger(data_dir)
    try:
        assert stores.webhooks is not None
        stores.webhooks.add(sub("wh_a", "acme"))
        stores.webhooks.add(sub("wh_b", "acme", ("view",)))
        stores.webhooks.add(sub("wh_c", "other"))
        install(ledger.writer, stores.webhooks)
        ledger.append("acme", [event_input("e1"), event_input("e2", type="view")])
        ledger.append("nobody", [event_input("e3")])  # a tenant without subscriptions
        ledger.append("acme", [event_input("e1")])  # a repeat: no new event, no delivery
        ledger.append("acme", [event_input("r1", type=RECEIPT_TYPE)])  # receipts: never
    finally:
        ledger.close_sync()
    assert rows(data_dir / "ledger.db") == [
        ("wh_a", "sign", 0, PENDING),
        ("wh_a", "view", 1, PENDING),
        ("wh_b", "view", 1, PENDING),
    ]


def test_a_failed_commit_keeps_neither_events_nor_deliveries(data_dir: Path) -> None:
    ledger, stores = open_ledger(data_dir)
    try:
        assert stores.webhooks is not None
        stores.webhooks.add(sub("wh_a", "acme"))
        outbox = install(ledger.writer, stores.webhooks)
        assert outbox is not None

        def after_queueing(events: object) -> None:
            outbox(events)  # type: ignore[arg-type]
            raise StorageError("disk full")  # the commit fails after the rows were written

        ledger.writer.on_commit = after_queueing
        with pytest.raises(StorageError):
            ledger.append("acme", [event_input("e1")])
        assert ledger.size() == 0
        assert rows(data_dir / "ledger.db") == []
        ledger.writer.on_commit = outbox
        ledger.append("acme", [event_input("e1")])
        assert ledger.size() == 1
        assert [r[2] for r in rows(data_dir / "ledger.db")] == [0]
    finally:
        ledger.close_sync()


def test_the_cache_costs_a_dict_lookup_and_reloads_when_told(data_dir: Path) -> None:
    ledger, stores = open_ledger(data_dir)
    try:
        assert stores.webhooks is not None
        now = [0.0]
        outbox = WebhookOutbox(stores.webhooks, ttl=60, monotonic=lambda: now[0])
        ledger.writer.on_commit = outbox
        ledger.append("acme", [event_input("e1")])
        stores.webhooks.add(sub("wh_a", "acme"))
        ledger.append("acme", [event_input("e2")])  # cached (empty) for 60 s: not seen yet
        assert rows(data_dir / "ledger.db") == []
        outbox.invalidate()  # what the API does after a change
        ledger.append("acme", [event_input("e3")])
        assert [r[2] for r in rows(data_dir / "ledger.db")] == [2]
        stores.webhooks.add(sub("wh_b", "acme"))
        now[0] = 61.0  # another process's change: seen once the TTL passed
        ledger.append("acme", [event_input("e4")])
        assert [r[0] for r in rows(data_dir / "ledger.db")][-2:] == ["wh_a", "wh_b"]
    finally:
        ledger.close_sync()


def test_enqueue_outside_a_transaction_is_refused(data_dir: Path) -> None:
    stores, _ = backend.open_store(data_dir)
    try:
        assert stores.webhooks is not None
        with pytest.raises(RuntimeError):
            stores.webhooks.enqueue_in_transaction([])
    finally:
        stores.close()


def test_a_version_7_database_gets_the_callback_tables(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    backend.open_sqlite(db).close()
    con = sqlite3.connect(db)
    for t in ("webhook", "webhook_delivery", "webhook_cursor"):
        con.execute(f"DROP TABLE {t}")
    con.execute("PRAGMA user_version = 7")
    con.commit()
    con.close()
    stores = backend.open_sqlite(db)
    try:
        assert stores.webhooks is not None
        stores.webhooks.add(sub("wh_a", "acme"))
        assert [s.id for s in stores.webhooks.for_tenant("acme")] == ["wh_a"]
    finally:
        stores.close()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()
