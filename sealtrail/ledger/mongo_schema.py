"""The MongoDB layout of the ledger database — collections, indexes, schema version — and the
mapping between its documents and the store's records (used by
:class:`~sealtrail.ledger.mongo_store.MongoStore`)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from pymongo import ASCENDING, IndexModel

from sealtrail.core.event import Event
from sealtrail.ledger.mongo_base import Doc, MongoConnection
from sealtrail.ledger.store import (
    ApiKey,
    Entry,
    Lease,
    StoredAnchor,
    StoredCheckpoint,
    Tenant,
    TimestampRecord,
)

T = TypeVar("T")
SCHEMA_VERSION = 1
SCHEMA_KEY = "schema_version"
#: documents per round trip when scanning (entries, audits) and ids per ``$in``
PAGE = 5000
IN_CHUNK = 1000

#: projections: what an Event (a StoredCheckpoint) is read from
_INDEXED = ("idx", "tenant", "stream", "client_event_id", "type", "actor_id", "recorded_at")
_EVENT_FIELDS = dict.fromkeys((*_INDEXED, "body", "leaf_hash"), 1)
_CHECKPOINT_FIELDS = {"size": 1, "root": 1, "note": 1, "created_at": 1}
_NOT_ON_ITS_WAY = [None, "pending", "retry", "failed"]  # anchor states ``unanchored`` lists

_INDEXES: dict[str, list[IndexModel]] = {
    "events": [
        IndexModel([("idx", ASCENDING)], name="idx", unique=True),
        # idempotent appends: one event per (tenant, client event id), when it has one
        IndexModel(
            [("tenant", ASCENDING), ("client_event_id", ASCENDING)],
            name="client_event_id",
            unique=True,
            # (an event without one has no such field; a query for ids implies "$exists")
            partialFilterExpression={"client_event_id": {"$exists": True}},
        ),
        IndexModel(
            [("tenant", ASCENDING), ("stream", ASCENDING), ("idx", ASCENDING)], name="stream"
        ),
        IndexModel([("tenant", ASCENDING), ("idx", ASCENDING)], name="tenant"),
        IndexModel([("fps", ASCENDING), ("idx", ASCENDING)], name="documents"),
        # the console's counts per day and type, and per tenant, read only this index
        IndexModel(
            [("tenant", ASCENDING), ("recorded_at", ASCENDING), ("type", ASCENDING)],
            name="activity",
        ),
    ],
    "checkpoints": [
        IndexModel([("size", ASCENDING)], name="size", unique=True),
        IndexModel([("stamped", ASCENDING), ("size", ASCENDING)], name="stamped"),
        IndexModel([("anchor", ASCENDING), ("size", ASCENDING)], name="anchor"),
    ],
    "timestamps": [IndexModel([("size", ASCENDING)], name="size", unique=True)],
    "anchors": [
        IndexModel([("size", ASCENDING)], name="size", unique=True),
        IndexModel([("status", ASCENDING), ("size", ASCENDING)], name="status"),
    ],
    "tenants": [IndexModel([("parent", ASCENDING)], name="parent")],
    "api_keys": [IndexModel([("tenant", ASCENDING), ("created_at", ASCENDING)], name="tenant")],
    "append_queue": [
        IndexModel(
            [("done_at", ASCENDING), ("queued_at", ASCENDING), ("seq", ASCENDING)], name="order"
        )
    ],
}
_COLLECTIONS = (*_INDEXES, "meta", "log", "leases")


def _fp(sha256: bytes) -> int:
    """The look-up key of a document fingerprint: its first 8 bytes, signed (as sqlite_store)."""
    return int.from_bytes(sha256[:8], "big", signed=True)


def _names(event: Event, sha256: bytes) -> bool:
    """True when the event really names this document (the index keys only a prefix)."""
    hexdigest = sha256.hex()
    return any(d["sha256"] == hexdigest for d in event.body()["documents"])


def _event(d: Doc) -> Event:
    return Event(
        int(d["idx"]),
        d["tenant"],
        d["stream"],
        d.get("client_event_id"),
        bytes(d["body"]),
        bytes(d["leaf_hash"]),
        d["type"],
        d["actor_id"],
        d["recorded_at"],
    )


def _event_doc(entry: Entry) -> Doc:
    ev = entry.event
    doc: Doc = {
        "_id": ev.index,
        "idx": ev.index,
        "tenant": ev.tenant,
        "stream": ev.stream,
        "type": ev.type,
        "actor_id": ev.actor_id,
        "recorded_at": ev.recorded_at,
        "leaf_hash": ev.leaf_hash,
        "subtrees": entry.subtrees,
        "body": ev.canonical,
        "fps": sorted({_fp(f) for f in entry.fingerprints}),
    }
    if ev.client_event_id is not None:  # absent, not null: outside the partial unique index
        doc["client_event_id"] = ev.client_event_id
    return doc


def _checkpoint(d: Doc) -> StoredCheckpoint:
    return StoredCheckpoint(int(d["size"]), bytes(d["root"]), d["note"], d["created_at"])


def _ts(d: Doc) -> TimestampRecord:
    token = d.get("token")
    return TimestampRecord(
        int(d["size"]),
        None if token is None else bytes(token),
        d.get("gen_time"),
        d.get("serial"),
        d.get("tsa"),
        int(d["attempts"]),
        d.get("last_error"),
        d["updated_at"],
    )


def _bytes_or_none(v: Any) -> bytes | None:
    return None if v is None else bytes(v)


#: wei amounts, stored as decimal text: they may exceed BSON's 64-bit integers
_WEI = ("max_fee", "priority_fee", "effective_gas_price")
_ANCHOR_FIELDS = tuple(f.name for f in dataclasses.fields(StoredAnchor))


def _anchor_doc(a: StoredAnchor) -> Doc:
    """Every field of ``a`` (so ``$set`` of it replaces a stored state whole)."""
    doc: Doc = {name: getattr(a, name) for name in _ANCHOR_FIELDS}
    doc.update({k: None if doc[k] is None else str(doc[k]) for k in _WEI})
    doc["tx_hashes"] = list(a.tx_hashes)
    return doc


def _anchor(d: Doc) -> StoredAnchor:
    fields = {name: d[name] for name in _ANCHOR_FIELDS}
    fields.update({k: None if fields[k] is None else int(fields[k]) for k in _WEI})
    fields["tx_hashes"] = tuple(bytes(h) for h in d["tx_hashes"])
    return StoredAnchor(**fields)


def _tenant(d: Doc) -> Tenant:
    return Tenant(d["_id"], d["name"], d.get("parent"), d["created_at"])


def _key(d: Doc) -> ApiKey:
    return ApiKey(
        d["_id"],
        d["tenant"],
        d["role"],
        bytes(d["secret_hash"]),
        d.get("label"),
        d["created_at"],
        d.get("revoked_at"),
    )


def _lease(d: Doc) -> Lease:
    return Lease(d["_id"], d["holder"], int(d["epoch"]), float(d["expires_at"]))


class _Collections:
    """The collections of one database (majority write and read concern)."""

    def __init__(self, conn: MongoConnection) -> None:
        c = conn.collection
        self.log, self.events, self.checkpoints = c("log"), c("events"), c("checkpoints")
        self.timestamps, self.anchors, self.meta = c("timestamps"), c("anchors"), c("meta")
        self.tenants, self.api_keys = c("tenants"), c("api_keys")
        self.leases, self.queue = c("leases"), c("append_queue")
