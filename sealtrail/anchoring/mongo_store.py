"""Anchoring's stores on MongoDB: RFC 3161 timestamps (collection ``timestamps``) and chain
anchors (``anchors``), both keyed by checkpoint size, on the shared
:class:`~sealtrail.ledger.mongo_base.MongoConnection` (:data:`ANCHORING_PART`).

Anchor documents written before ``contract_version`` and ``map_root`` existed are read with
the values they mean (version 1, no map root): no migration is needed, and the next write of
an anchor stores every field.

The ledger's ``checkpoints`` documents carry ``stamped`` and ``anchor`` (the anchor's status):
the transactions here that store a token or an anchoring state set them, so "not yet stamped /
anchored / final" are index look-ups on ``checkpoints``, not scans or joins. Every write is one
transaction (majority, journaled); a fenced one checks the sequencer lease in it
(:func:`~sealtrail.ledger.mongo_coordination.check_fence`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Coroutine
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from sealtrail.anchoring.store import StoredAnchor, TimestampRecord
from sealtrail.core.errors import ConflictError
from sealtrail.ledger.mongo_base import Doc, MongoConnection, Txn
from sealtrail.ledger.mongo_coordination import check_fence
from sealtrail.ledger.mongo_db import MongoSchemaPart, find_all, find_one
from sealtrail.ledger.mongo_schema import CHECKPOINT_FIELDS as _CHECKPOINT_FIELDS
from sealtrail.ledger.mongo_schema import checkpoint_from_doc as _checkpoint
from sealtrail.ledger.store import Lease, StoredCheckpoint

T = TypeVar("T")

_INDEXES: dict[str, list[IndexModel]] = {
    "timestamps": [IndexModel([("size", ASCENDING)], name="size", unique=True)],
    "anchors": [
        IndexModel([("size", ASCENDING)], name="size", unique=True),
        IndexModel([("status", ASCENDING), ("size", ASCENDING)], name="status"),
    ],
}
#: timestamps and anchors of checkpoints
ANCHORING_PART = MongoSchemaPart("anchoring", ("timestamps", "anchors"), _INDEXES)
#: anchor states ``unanchored`` lists (None: anchoring never began)
_NOT_ON_ITS_WAY = [None, "pending", "retry", "failed"]


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
        tuple(bytes(r["token"]) for r in d.get("renewals") or ()),
    )


#: wei amounts, stored as decimal text: they may exceed BSON's 64-bit integers
_WEI = ("max_fee", "priority_fee", "effective_gas_price")
_ANCHOR_FIELDS = tuple(f.name for f in dataclasses.fields(StoredAnchor))


def _anchor_doc(a: StoredAnchor) -> Doc:
    """Every field of ``a`` (so ``$set`` of it replaces a stored state whole)."""
    doc: Doc = {name: getattr(a, name) for name in _ANCHOR_FIELDS}
    doc.update({k: None if doc[k] is None else str(doc[k]) for k in _WEI})
    doc["tx_hashes"] = list(a.tx_hashes)
    return doc


#: fields added after the first release, with the value documents stored before them mean:
#: every anchor stored before was made on contract version 1, which anchors no map root
_ANCHOR_DEFAULTS: Doc = {"contract_version": 1, "map_root": None}


def _anchor(d: Doc) -> StoredAnchor:
    fields = {name: d[name] if name in d else _ANCHOR_DEFAULTS[name] for name in _ANCHOR_FIELDS}
    if fields["map_root"] is not None:
        fields["map_root"] = bytes(fields["map_root"])
    fields.update({k: None if fields[k] is None else int(fields[k]) for k in _WEI})
    fields["tx_hashes"] = tuple(bytes(h) for h in d["tx_hashes"])
    return StoredAnchor(**fields)


class _Collections:
    def __init__(self, conn: MongoConnection) -> None:
        c = conn.collection
        self.timestamps, self.anchors, self.checkpoints = (
            c("timestamps"),
            c("anchors"),
            c("checkpoints"),
        )


class _View:
    """Reads and writes in one transaction."""

    def __init__(self, conn: MongoConnection, txn: Txn) -> None:
        self._conn, self._txn, self._s = conn, txn, txn.session

    def _one(self, coll: AsyncCollection[Doc], query: Doc, projection: Doc | None = None) -> Any:
        return find_one(self._conn, coll, query, projection, session=self._s)

    def _write(self, coro: Coroutine[Any, Any, T]) -> T:
        self._txn.wrote = True
        return self._conn.run(coro)

    def check_fence(self, lease: Lease) -> None:
        check_fence(self._conn, self._txn, lease)


class _Store:
    def __init__(self, conn: MongoConnection) -> None:
        self.conn = conn
        self._c = _Collections(conn)

    def _one(self, coll: AsyncCollection[Doc], query: Doc, projection: Doc | None = None) -> Any:
        return find_one(self.conn, coll, query, projection)

    def _transaction(self, fn: Callable[[_View], T]) -> T:
        return self.conn.transaction(lambda txn: fn(_View(self.conn, txn)))


class MongoTimestampStore(_Store):
    """The timestamps of checkpoints in the shared MongoDB database."""

    def timestamp(self, size: int) -> TimestampRecord | None:
        doc = self._one(self._c.timestamps, {"_id": size})
        return None if doc is None else _ts(doc)

    def untimestamped(self, limit: int = 100) -> list[StoredCheckpoint]:
        if limit <= 0:
            return []
        found = find_all(
            self.conn,
            self._c.checkpoints,
            {"stamped": False},
            _CHECKPOINT_FIELDS,
            sort=[("size", ASCENDING)],
            limit=limit,
        )
        return [_checkpoint(d) for d in found]

    def _put_timestamp(self, size: int, update: Doc, fence: Lease | None, stamped: bool) -> None:
        def put(view: _View) -> None:
            if fence is not None:
                view.check_fence(fence)
            current = view._one(self._c.timestamps, {"_id": size}, {"token": 1})
            if current is not None and current.get("token") is not None:
                return  # stamped: a token is never replaced
            view._write(
                self._c.timestamps.update_one({"_id": size}, update, upsert=True, session=view._s)
            )
            if stamped:
                view._write(
                    self._c.checkpoints.update_one(
                        {"_id": size}, {"$set": {"stamped": True}}, session=view._s
                    )
                )

        self._transaction(put)

    def put_timestamp(
        self,
        size: int,
        token: bytes,
        gen_time: str,
        serial: int,
        tsa: str,
        at: str,
        *,
        fence: Lease | None = None,
    ) -> None:
        """Store the token of checkpoint ``size`` unless it has one (fenced when ``fence``)."""
        fields = {"token": token, "gen_time": gen_time, "serial": str(serial), "tsa": tsa}
        update = {
            "$set": {"size": size, **fields, "last_error": None, "updated_at": at},
            "$inc": {"attempts": 1},
        }
        self._put_timestamp(size, update, fence, True)

    def timestamp_failed(
        self, size: int, error: str, at: str, *, fence: Lease | None = None
    ) -> None:
        """Count a failed attempt and why (first 1000 characters), unless a token is stored."""
        update = {
            "$set": {"size": size, "last_error": error[:1000], "updated_at": at},
            "$inc": {"attempts": 1},
            "$setOnInsert": {"token": None, "gen_time": None, "serial": None, "tsa": None},
        }
        self._put_timestamp(size, update, fence, False)

    def timestamps(self) -> list[TimestampRecord]:
        found = find_all(self.conn, self._c.timestamps, {}, sort=[("size", ASCENDING)])
        return [_ts(d) for d in found]

    def add_renewal(
        self,
        size: int,
        index: int,
        token: bytes,
        gen_time: str,
        tsa: str,
        at: str,
        *,
        fence: Lease | None = None,
    ) -> None:
        """Append renewal ``index`` to the timestamp document's ``renewals`` array (fenced when
        ``fence``); ConflictError unless it holds exactly ``index - 1`` and a token."""

        def put(view: _View) -> None:
            if fence is not None:
                view.check_fence(fence)
            current = view._one(self._c.timestamps, {"_id": size}, {"token": 1, "renewals": 1})
            held = len((current or {}).get("renewals") or ())
            if current is None or current.get("token") is None or held != index - 1:
                raise ConflictError(
                    f"checkpoint {size}: renewal {index} does not extend a chain of {held}"
                )
            entry = {"token": token, "gen_time": gen_time, "tsa": tsa, "created_at": at}
            view._write(
                self._c.timestamps.update_one(
                    {"_id": size}, {"$push": {"renewals": entry}}, session=view._s
                )
            )

        self._transaction(put)


class MongoAnchorStore(_Store):
    """The anchoring states of checkpoints in the shared MongoDB database."""

    def anchor(self, size: int) -> StoredAnchor | None:
        """The anchoring state of checkpoint ``size``, or None if anchoring never began."""
        doc = self._one(self._c.anchors, {"_id": size})
        return None if doc is None else _anchor(doc)

    def anchors(self, statuses: Collection[str] | None = None) -> list[StoredAnchor]:
        """Anchoring states (of these statuses, default all), by size."""
        query: Doc = {} if statuses is None else {"status": {"$in": list(statuses)}}
        found = find_all(self.conn, self._c.anchors, query, sort=[("size", ASCENDING)])
        return [_anchor(d) for d in found]

    def anchored_size(self, statuses: Collection[str] = ("final",)) -> int:
        """The largest checkpoint size with an anchor in one of ``statuses`` (0 if none)."""
        found = find_all(
            self.conn,
            self._c.anchors,
            {"status": {"$in": list(statuses)}},
            {"size": 1},
            sort=[("size", DESCENDING)],
            limit=1,
        )
        return int(found[0]["size"]) if found else 0

    def put_anchor(self, anchor: StoredAnchor, *, fence: Lease | None = None) -> None:
        """Insert or replace the anchoring state of one checkpoint, durably (with ``fence``:
        only while that sequencer lease is held, else LeaseLostError)."""

        def put(view: _View) -> None:
            if fence is not None:
                view.check_fence(fence)
            view._write(
                self._c.anchors.update_one(
                    {"_id": anchor.size},
                    {"$set": _anchor_doc(anchor)},
                    upsert=True,
                    session=view._s,
                )
            )
            view._write(
                self._c.checkpoints.update_one(
                    {"_id": anchor.size}, {"$set": {"anchor": anchor.status}}, session=view._s
                )
            )

        self._transaction(put)

    def unanchored(self, after: int = 0, limit: int = 100) -> list[StoredCheckpoint]:
        """Checkpoints larger than ``after`` that are not on their way to the chain (no anchor,
        or one in ``pending``, ``retry`` or ``failed``), by size."""
        if limit <= 0:
            return []
        found = find_all(
            self.conn,
            self._c.checkpoints,
            {"size": {"$gt": after}, "anchor": {"$in": _NOT_ON_ITS_WAY}},
            _CHECKPOINT_FIELDS,
            sort=[("size", ASCENDING)],
            limit=limit,
        )
        return [_checkpoint(d) for d in found]

    def oldest_unfinal(self) -> tuple[int, StoredCheckpoint | None]:
        """How many checkpoints are not anchored ``final`` yet, and the oldest of them."""
        query = {"anchor": {"$ne": "final"}}
        count = self.conn.run(self._c.checkpoints.count_documents(query))
        found = find_all(
            self.conn,
            self._c.checkpoints,
            query,
            _CHECKPOINT_FIELDS,
            sort=[("size", ASCENDING)],
            limit=1,
        )
        return int(count), _checkpoint(found[0]) if found else None
