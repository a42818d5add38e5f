"""The callbacks' :class:`~.store.WebhookStore` on MongoDB, through the ledger's
:class:`~sealtrail.ledger.mongo_base.MongoConnection`.

Collections (in the Sealtrail database, next to the ledger's), one document per SQLite row:

* ``webhooks`` (``_id``: the subscription id; ``events`` an array; ``secret`` and
  ``previous_secret`` as stored by the service — encrypted, ``enc1:…``);
* ``webhook_deliveries`` (``_id``: the delivery id, ``msg_…``): ``seq`` an integer drawn from
  ``webhook_counters`` inside the writing transaction (so it grows in commit order; sorted and
  indexed as its own field, never as ``_id``); ``data`` the payload's data member as JSON text;
* ``webhook_cursors`` (``_id``: the cursor's name, ``value``);
* ``webhook_counters`` (``_id``: ``deliveries``, ``n``).

**Atomicity.** :meth:`MongoWebhookStore.enqueue_in_transaction` writes in the transaction the
calling thread is running (:meth:`MongoConnection.active`): called by the outbox hook inside
``MongoLedgerStore.write``, the deliveries commit with the events that cause them, or not at all
(and a transaction re-run after a conflict re-runs the hook: nothing is queued twice). Every
other compound change (delete and cancel, rotate, replay, notices with their cursor) is one
transaction.

**Due deliveries.** :meth:`MongoWebhookStore.due` reads the pending deliveries' keys (``seq``
order) and keeps the head of each (subscription, ordering) sequence: a round costs one read of
the pending backlog's index entries, then one read of the due documents.

Collections, indexes and the counter are this module's :data:`WEBHOOKS_PART`, laid out when the
database is opened (idempotently).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from sealtrail.core.errors import ConflictError
from sealtrail.ledger.mongo_base import Doc, MongoConnection, Txn
from sealtrail.ledger.mongo_db import MongoSchemaPart, find_all, find_one
from sealtrail.webhooks.store import (
    CANCELLED,
    PENDING,
    Attempt,
    Delivery,
    NewDelivery,
    Subscription,
)

T = TypeVar("T")

HOOKS, DELIVERIES = "webhooks", "webhook_deliveries"
CURSORS, COUNTERS = "webhook_cursors", "webhook_counters"
_COLLECTIONS = (HOOKS, DELIVERIES, CURSORS, COUNTERS)
_SEQ = "deliveries"
_INDEXES: dict[str, list[IndexModel]] = {
    HOOKS: [IndexModel([("tenant", ASCENDING), ("created_at", ASCENDING)], name="webhooks_tenant")],
    DELIVERIES: [
        IndexModel([("seq", ASCENDING)], name="webhook_deliveries_seq", unique=True),
        IndexModel(
            [("webhook_id", ASCENDING), ("seq", ASCENDING)], name="webhook_deliveries_by_hook"
        ),
        IndexModel(
            [("status", ASCENDING), ("seq", ASCENDING)], name="webhook_deliveries_by_status"
        ),
        IndexModel(
            [("webhook_id", ASCENDING), ("created_at", ASCENDING)],
            name="webhook_deliveries_by_time",
        ),
    ],
}


async def _counter(conn: MongoConnection) -> None:
    with contextlib.suppress(DuplicateKeyError):  # another process's upsert won
        await conn.collection(COUNTERS).update_one(
            {"_id": _SEQ}, {"$setOnInsert": {"n": 0}}, upsert=True
        )


#: the callbacks' collections, their indexes and the delivery counter
WEBHOOKS_PART = MongoSchemaPart("webhooks", _COLLECTIONS, _INDEXES, _counter)


def _sub(d: Doc) -> Subscription:
    return Subscription(
        d["_id"], d["tenant"], d["url"], tuple(d["events"]), bool(d["receipts"]), d["secret"],
        d["created_at"], d.get("previous_secret"), d.get("previous_until"),
    )  # fmt: skip


def _delivery(d: Doc) -> Delivery:
    return Delivery(
        int(d["seq"]), d["_id"], d["webhook_id"], d["tenant"], d["ordering"], d["type"],
        d.get("event_index"), str(d["data"]).encode(), d["created_at"], d["status"],
        int(d["attempts"]), d["next_attempt_at"], d.get("last_attempt_at"), d.get("last_status"),
        d.get("last_error"), d.get("latency_ms"), d.get("replay_of"),
    )  # fmt: skip


class MongoWebhookStore:
    """Subscriptions and deliveries in MongoDB (module docstring), on the shared connection."""

    def __init__(self, conn: MongoConnection) -> None:
        self.conn = conn
        self._c = {name: conn.collection(name) for name in _COLLECTIONS}

    # -- helpers -------------------------------------------------------------------------------

    def _txn(self, fn: Callable[[Txn], T]) -> T:
        """Run ``fn(txn)`` in one transaction (re-run on transient errors); ``fn`` marks
        ``txn.wrote`` when it writes (one that wrote nothing is ended without a commit)."""
        return self.conn.transaction(fn)

    def _insert(self, items: Sequence[NewDelivery], t: Txn) -> None:
        if not items:
            return
        t.wrote = True
        s = t.session
        doc = self.conn.run(
            self._c[COUNTERS].find_one_and_update(
                {"_id": _SEQ},
                {"$inc": {"n": len(items)}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=s,
            )
        )
        assert doc is not None
        first = int(doc["n"]) - len(items) + 1
        docs = [
            {
                "_id": d.id, "seq": first + i, "webhook_id": d.webhook_id, "tenant": d.tenant,
                "ordering": d.ordering, "type": d.type, "event_index": d.event_index,
                "data": d.data.decode(), "created_at": d.created_at, "status": PENDING,
                "attempts": 0, "next_attempt_at": d.created_at, "last_attempt_at": None,
                "last_status": None, "last_error": None, "latency_ms": None,
                "replay_of": d.replay_of,
            }
            for i, d in enumerate(items)
        ]  # fmt: skip
        self.conn.run(self._c[DELIVERIES].insert_many(docs, ordered=True, session=s))

    # -- subscriptions -------------------------------------------------------------------------

    def add(self, sub: Subscription) -> None:
        doc = {
            "_id": sub.id, "tenant": sub.tenant, "url": sub.url, "events": list(sub.events),
            "receipts": sub.receipts, "secret": sub.secret, "created_at": sub.created_at,
            "previous_secret": sub.previous_secret, "previous_until": sub.previous_until,
        }  # fmt: skip
        try:
            self.conn.run(self._c[HOOKS].insert_one(doc))
        except ConflictError as e:
            raise ConflictError(f"webhook {sub.id!r} exists") from e

    def get(self, webhook_id: str) -> Subscription | None:
        d = find_one(self.conn, self._c[HOOKS], {"_id": webhook_id})
        return None if d is None else _sub(d)

    def for_tenant(self, tenant: str) -> list[Subscription]:
        docs = find_all(self.conn, self._c[HOOKS], {"tenant": tenant})
        return sorted(map(_sub, docs), key=lambda s: (s.created_at, s.id))

    def all_active(self) -> list[Subscription]:
        return [_sub(d) for d in find_all(self.conn, self._c[HOOKS], {})]

    def delete(self, webhook_id: str, at: str) -> bool:
        def txn(t: Txn) -> bool:
            s = t.session
            if (
                find_one(self.conn, self._c[HOOKS], {"_id": webhook_id}, {"_id": 1}, session=s)
                is None
            ):
                return False
            t.wrote = True
            self.conn.run(self._c[HOOKS].delete_one({"_id": webhook_id}, session=s))
            self.conn.run(
                self._c[DELIVERIES].update_many(
                    {"webhook_id": webhook_id, "status": PENDING},
                    {"$set": {"status": CANCELLED, "last_error": f"subscription deleted at {at}"}},
                    session=s,
                )
            )
            return True

        return self._txn(txn)

    def rotate(
        self,
        webhook_id: str,
        secret: str,
        previous_until: float,
        reseal: Callable[[str], str] | None = None,
    ) -> Subscription | None:
        def txn(t: Txn) -> Subscription | None:
            s = t.session
            d = find_one(self.conn, self._c[HOOKS], {"_id": webhook_id}, session=s)
            if d is None:
                return None
            t.wrote = True
            old = str(d["secret"])
            change = {
                "secret": secret,
                "previous_secret": old if reseal is None else reseal(old),
                "previous_until": previous_until,
            }
            self.conn.run(
                self._c[HOOKS].update_one({"_id": webhook_id}, {"$set": change}, session=s)
            )
            return _sub({**d, **change})

        return self._txn(txn)

    # -- deliveries ----------------------------------------------------------------------------

    def enqueue_in_transaction(self, items: Sequence[NewDelivery]) -> None:
        txn = self.conn.active()
        if txn is None:
            raise RuntimeError("enqueue_in_transaction must run inside LedgerStore.write")
        self._insert(items, txn)

    def enqueue(
        self,
        build: Callable[[int | None], tuple[Sequence[NewDelivery], int | None]],
        cursor: str | None = None,
    ) -> int:
        def txn(t: Txn) -> int:
            s = t.session
            value = None
            if cursor is not None:
                d = find_one(self.conn, self._c[CURSORS], {"_id": cursor}, session=s)
                value = None if d is None else int(d["value"])
            items, nxt = build(value)
            self._insert(items, t)
            if cursor is not None and nxt is not None and nxt != value:
                t.wrote = True
                self.conn.run(
                    self._c[CURSORS].update_one(
                        {"_id": cursor}, {"$set": {"value": nxt}}, upsert=True, session=s
                    )
                )
            return len(items)

        return self._txn(txn)

    def cursor(self, name: str) -> int | None:
        d = find_one(self.conn, self._c[CURSORS], {"_id": name})
        return None if d is None else int(d["value"])

    def due(self, now: float, sealed: int, seal_cutoff: float, limit: int) -> list[Delivery]:
        keys = find_all(
            self.conn,
            self._c[DELIVERIES],
            {"status": PENDING},
            {"webhook_id": 1, "ordering": 1, "seq": 1, "next_attempt_at": 1, "event_index": 1,
             "created_at": 1},
            sort=[("seq", ASCENDING)],
        )  # fmt: skip
        heads: dict[tuple[str, str], Doc] = {}
        for k in keys:
            heads.setdefault((k["webhook_id"], k["ordering"]), k)
        ready = sorted(
            (
                k
                for k in heads.values()
                if k["next_attempt_at"] <= now
                and (
                    k.get("event_index") is None
                    or k["event_index"] < sealed
                    or k["created_at"] <= seal_cutoff
                )
            ),
            key=lambda k: (k["next_attempt_at"], int(k["seq"])),
        )[:limit]
        if not ready:
            return []
        docs = find_all(self.conn, self._c[DELIVERIES], {"_id": {"$in": [k["_id"] for k in ready]}})
        order = {k["_id"]: i for i, k in enumerate(ready)}
        return sorted(map(_delivery, docs), key=lambda d: order[d.id])

    def record(self, delivery_id: str, attempt: Attempt) -> None:
        self.conn.run(
            self._c[DELIVERIES].update_one(
                {"_id": delivery_id, "status": PENDING},
                {
                    "$inc": {"attempts": 1},
                    "$set": {
                        "status": attempt.status,
                        "next_attempt_at": attempt.next_attempt_at,
                        "last_attempt_at": attempt.at,
                        "last_status": attempt.response_status,
                        "last_error": attempt.error,
                        "latency_ms": attempt.latency_ms,
                    },
                },
            )
        )

    def delivery(self, delivery_id: str) -> Delivery | None:
        d = find_one(self.conn, self._c[DELIVERIES], {"_id": delivery_id})
        return None if d is None else _delivery(d)

    def deliveries(self, webhook_id: str, *, after: int, limit: int) -> list[Delivery]:
        docs = find_all(
            self.conn,
            self._c[DELIVERIES],
            {"webhook_id": webhook_id, "seq": {"$gt": after}},
            sort=[("seq", ASCENDING)],
            limit=limit,
        )
        return [_delivery(d) for d in docs]

    def replay(
        self,
        webhook_id: str,
        *,
        delivery_id: str | None,
        since: float | None,
        until: float | None,
        now: float,
        new_id: Callable[[], str],
        limit: int,
    ) -> list[str]:
        def txn(t: Txn) -> list[str]:
            s = t.session
            coll = self._c[DELIVERIES]
            if delivery_id is not None:
                q: dict[str, Any] = {"_id": delivery_id, "webhook_id": webhook_id}
                docs = find_all(self.conn, coll, q, session=s)
            else:
                q = {"webhook_id": webhook_id, "created_at": {"$gte": since, "$lt": until}}
                docs = find_all(self.conn, coll, q, sort=[("seq", ASCENDING)], session=s)
                # replays are never replayed by range (filtered here: the stand-in's
                # ``replay_of: null`` also matches missing fields, not the other way round)
                docs = [d for d in docs if d.get("replay_of") is None][:limit]
            items = [
                NewDelivery(
                    new_id(), d.webhook_id, d.tenant, d.ordering, d.type, d.event_index, d.data,
                    now, replay_of=d.id,
                )
                for d in map(_delivery, docs)
            ]  # fmt: skip
            self._insert(items, t)
            return [d.id for d in items]

        return self._txn(txn)

    def pending_count(self) -> int:
        return int(self.conn.run(self._c[DELIVERIES].count_documents({"status": PENDING})))
