"""The MongoDB layout of the ledger's collections — :data:`LEDGER_PART`, laid out by
:func:`~sealtrail.ledger.mongo_db.open_mongo` — and the mapping between their documents and the
ledger's records (used by :class:`~sealtrail.ledger.mongo_store.MongoLedgerStore`)."""

from __future__ import annotations

import contextlib
from typing import Any, TypeVar

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from sealtrail.core.event import Event
from sealtrail.ledger.mongo_base import Doc, MongoConnection
from sealtrail.ledger.mongo_db import MongoSchemaPart
from sealtrail.ledger.store import Entry, StoredCheckpoint

T = TypeVar("T")
#: documents per round trip when scanning (entries, audits) and ids per ``$in``
PAGE = 5000
IN_CHUNK = 1000

#: projections: what an Event (a StoredCheckpoint) is read from
_INDEXED = ("idx", "tenant", "stream", "client_event_id", "type", "actor_id", "recorded_at")
_EVENT_FIELDS = dict.fromkeys((*_INDEXED, "body", "leaf_hash"), 1)
_CHECKPOINT_FIELDS = {"size": 1, "root": 1, "note": 1, "created_at": 1}

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
    # the verifiable map (schema version 2, mongo_map.py): nodes and values are keyed by _id
    "map_roots": [IndexModel([("size", ASCENDING)], name="size", unique=True)],
}
#: collections without secondary indexes
_PLAIN = ("meta", "log", "map_nodes", "map_values")


async def _log_document(conn: MongoConnection) -> None:
    # two first upserts may race (servers before 4.2 do not retry that): one won
    with contextlib.suppress(DuplicateKeyError):
        await conn.collection("log").update_one(
            {"_id": "log"}, {"$setOnInsert": {"size": 0, "checkpoint": 0}}, upsert=True
        )


#: the log: its state document, events, checkpoints, settings, and the verifiable map
LEDGER_PART = MongoSchemaPart("ledger", (*_INDEXES, *_PLAIN), _INDEXES, _log_document)


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


def _bytes_or_none(v: Any) -> bytes | None:
    return None if v is None else bytes(v)


class _Collections:
    """The collections the ledger's store uses (majority write and read concern): its own, the
    append queue (outcomes are stored with the appends) and, read only, ``timestamps`` and
    ``anchors`` (a new checkpoint copies their state in)."""

    def __init__(self, conn: MongoConnection) -> None:
        c = conn.collection
        self.log, self.events, self.checkpoints = c("log"), c("events"), c("checkpoints")
        self.timestamps, self.anchors, self.meta = c("timestamps"), c("anchors"), c("meta")
        self.queue = c("append_queue")


#: the projection :func:`checkpoint_from_doc` reads (for the other domains' queries)
CHECKPOINT_FIELDS = _CHECKPOINT_FIELDS


def checkpoint_from_doc(d: Doc) -> StoredCheckpoint:
    """A checkpoint from a document of ``checkpoints``."""
    return _checkpoint(d)
