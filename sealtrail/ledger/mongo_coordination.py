"""Leases and the append queue on MongoDB (:class:`~sealtrail.ledger.store.CoordinationStore`)
on the shared :class:`~sealtrail.ledger.mongo_base.MongoConnection`: collections ``leases``
[name] and ``append_queue`` [ticket] (:data:`COORDINATION_PART`).

Single-document writes (queue entries, leases) are atomic on their own, with write concern
``majority`` and ``j``. :func:`check_fence` is the fencing check every fenced transaction runs
(the ledger's and the other domains').
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, ReturnDocument

from sealtrail.core.errors import ConflictError, LeaseLostError, NotFoundError
from sealtrail.ledger.mongo_base import Doc, MongoConnection, Txn
from sealtrail.ledger.mongo_db import MongoSchemaPart, find_all, find_one
from sealtrail.ledger.store import Lease, QueuedAppend

_INDEXES: dict[str, list[IndexModel]] = {
    "append_queue": [
        IndexModel(
            [("done_at", ASCENDING), ("queued_at", ASCENDING), ("seq", ASCENDING)], name="order"
        )
    ],
}
#: leases and the append queue
COORDINATION_PART = MongoSchemaPart("coordination", ("append_queue", "leases"), _INDEXES)


def _lease(d: Doc) -> Lease:
    return Lease(d["_id"], d["holder"], int(d["epoch"]), float(d["expires_at"]))


def _bytes_or_none(v: Any) -> bytes | None:
    return None if v is None else bytes(v)


def check_fence(conn: MongoConnection, txn: Txn, lease: Lease) -> None:
    """Raise LeaseLostError unless ``lease`` is still the one stored, inside ``txn``.

    It *writes* the lease document (``$inc`` of a counter, matched on holder and epoch) in the
    transaction, so a takeover that commits first makes the fenced transaction fail (write
    conflict, re-run, then LeaseLostError), and one that comes later waits for it to commit.
    """
    txn.wrote = True
    got = conn.run(
        conn.collection("leases").update_one(
            {"_id": lease.name, "holder": lease.holder, "epoch": lease.epoch},
            {"$inc": {"fenced": 1}},
            session=txn.session,
        )
    )
    if got.matched_count != 1:
        raise LeaseLostError(
            f"lease {lease.name!r} epoch {lease.epoch} is no longer held by this process"
        )


class MongoCoordinationStore:
    """Leases and the append queue shared by the service processes on one MongoDB database."""

    def __init__(self, conn: MongoConnection) -> None:
        self.conn = conn
        self._leases = conn.collection("leases")
        self._queue = conn.collection("append_queue")

    def _one(self, coll: Any, query: Doc, projection: Doc | None = None) -> Doc | None:
        return find_one(self.conn, coll, query, projection)

    def lease(self, name: str) -> Lease | None:
        doc = self._one(self._leases, {"_id": name})
        return None if doc is None else _lease(doc)

    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> Lease | None:
        # Compare-and-swap on what was read: the write matches only if the lease still has the
        # holder and epoch read (the epoch changes whenever the holder does). Two processes
        # racing for an expired lease both read epoch e; one write matches and sets e + 1, the
        # other matches nothing and gets None. A stale read only costs this round. The first
        # take ever inserts the document (a duplicate key: another process was first).
        doc = self._one(self._leases, {"_id": name})
        expires = now + ttl
        if doc is None:
            try:
                self.conn.run(
                    self._leases.insert_one(
                        {"_id": name, "holder": holder, "epoch": 1, "expires_at": expires}
                    )
                )
            except ConflictError:
                return None
            return Lease(name, holder, 1, expires)
        seen = _lease(doc)
        if seen.holder == holder:
            epoch = seen.epoch  # renewal
        elif seen.expires_at <= now:
            epoch = seen.epoch + 1  # takeover of an expired or released lease
        else:
            return None
        got = self.conn.run(
            self._leases.find_one_and_update(
                {"_id": name, "holder": seen.holder, "epoch": seen.epoch},
                {"$set": {"holder": holder, "epoch": epoch, "expires_at": expires}},
                return_document=ReturnDocument.AFTER,
            )
        )
        return None if got is None else _lease(got)

    def release_lease(self, lease: Lease) -> None:
        self.conn.run(
            self._leases.update_one(
                {"_id": lease.name, "holder": lease.holder, "epoch": lease.epoch},
                {"$set": {"expires_at": 0.0}},
            )
        )

    def enqueue_append(self, item: QueuedAppend) -> None:
        doc = {
            "_id": item.ticket,
            "tenant": item.tenant,
            "body": item.body,
            "queued_at": item.queued_at,
            "seq": ObjectId(),  # ties in queued_at: this process's ObjectId counter (FIFO)
            "result": None,
            "done_at": None,
        }
        try:
            self.conn.run(self._queue.insert_one(doc))
        except ConflictError:
            raise ConflictError(f"queued append {item.ticket!r} exists") from None

    def queued_appends(self, limit: int = 100) -> list[QueuedAppend]:
        if limit <= 0:
            return []
        found = find_all(
            self.conn,
            self._queue,
            {"done_at": None},
            {"tenant": 1, "body": 1, "queued_at": 1},
            sort=[("queued_at", ASCENDING), ("seq", ASCENDING)],
            limit=limit,
        )
        return [
            QueuedAppend(d["_id"], d["tenant"], bytes(d["body"]), d["queued_at"]) for d in found
        ]

    def queued_result(self, ticket: str) -> bytes | None:
        doc = self._one(self._queue, {"_id": ticket}, {"result": 1})
        if doc is None:
            raise NotFoundError(f"no queued append {ticket!r}")
        return _bytes_or_none(doc.get("result"))

    def prune_queue(self, before: str) -> int:
        got = self.conn.run(self._queue.delete_many({"done_at": {"$lt": before}}))
        return int(got.deleted_count)
