"""The ledger's store on MongoDB: a replica set (a single-node one is enough), on the shared
:class:`~sealtrail.ledger.mongo_base.MongoConnection`.

The ledger's collections (``_id`` in brackets; the other domains' are described beside their
stores):

* ``log`` [``"log"``]: the one state document, ``size`` (entries committed) and ``checkpoint``
  (the latest checkpoint's size). Every append updates it *conditionally* on the size it read,
  and every new checkpoint writes it, inside the write transaction; so two writers that read
  the same size conflict (MongoDB aborts one with a write conflict and it re-runs, seeing the
  other's entries) instead of forking the log, and ``size()`` is one point read.
* ``events`` [log index]: the indexed fields, ``leaf_hash``, ``subtrees`` (as in SQLite, see
  store.py), ``body`` (the canonical bytes) and ``fps``, the first 8 bytes of each named
  document's SHA-256 as a signed integer (the look-up-by-document index, multikey; look-ups
  re-check the full hash in the event). ``idx`` repeats the index for compound indexes.
* ``checkpoints`` [size], with ``stamped`` and ``anchor`` (the anchor's status) copied in by the
  transactions that store timestamps and anchors, so "not yet stamped / anchored / final" are
  index look-ups, not scans or joins.
  (:mod:`sealtrail.anchoring.mongo_store` writes those two fields; a new checkpoint reads
  ``timestamps`` and ``anchors`` for them, by collection name.)
* ``meta`` [key] (``schema_version`` among them, :mod:`.mongo_db`).

Crash consistency: every multi-document write is one transaction committed with write concern
``majority`` and ``j`` (mongo_base): killed before the commit is acknowledged, none of it is
visible; after, all of it is durable on a majority. Single-document writes (queue entries, key
revocation, leases, meta) are atomic on their own with the same write concern.

Fencing (:func:`~sealtrail.ledger.mongo_coordination.check_fence`) *writes* the lease
document (``$inc`` of a counter, matched on holder and epoch) inside the transaction, so a
takeover that commits first makes the fenced transaction fail (write conflict, re-run, then
LeaseLostError), and one that comes later waits for it to commit.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Coroutine, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from sealtrail.core.errors import ConflictError, StorageError
from sealtrail.core.event import Event
from sealtrail.core.merkle import HASH_SIZE, NodeId
from sealtrail.ledger.mongo_base import Doc, MongoConnection, Txn
from sealtrail.ledger.mongo_coordination import check_fence
from sealtrail.ledger.mongo_map import MongoMapStore
from sealtrail.ledger.mongo_schema import (
    _CHECKPOINT_FIELDS,
    _EVENT_FIELDS,
    IN_CHUNK,
    PAGE,
    _checkpoint,
    _Collections,
    _event,
    _event_doc,
    _fp,
    _names,
)
from sealtrail.ledger.store import (
    Entry,
    EventQuery,
    Lease,
    MapStore,
    StoredCheckpoint,
    check_count_prefix,
    subtree_location,
)

T = TypeVar("T")


class _Reads:
    """The reads a WriteView and the store share; in a transaction when ``session`` is one."""

    def __init__(
        self, conn: MongoConnection, c: _Collections, session: AsyncClientSession | None
    ) -> None:
        self._conn, self._c, self._s = conn, c, session

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._conn.run(coro)

    def _session(self) -> AsyncClientSession | None:
        """The view's session; for the store's reads, the transaction the calling thread runs
        (as SQLite's per-thread connection: reads made while sealing see its snapshot)."""
        if self._s is not None:
            return self._s
        txn = self._conn.active()
        return None if txn is None else txn.session

    def _find(
        self,
        coll: AsyncCollection[Doc],
        query: Doc,
        projection: Doc | None = None,
        *,
        sort: list[tuple[str, int]] | None = None,
        limit: int = 0,
    ) -> list[Doc]:
        cursor = coll.find(query, projection, session=self._session(), sort=sort, limit=limit)
        return self._run(cursor.to_list(None))

    def _one(self, coll: AsyncCollection[Doc], query: Doc, projection: Doc | None = None) -> Any:
        return self._run(coll.find_one(query, projection, session=self._session()))

    def size(self) -> int:
        doc = self._one(self._c.log, {"_id": "log"}, {"size": 1})
        if doc is None:
            raise StorageError(f"MongoDB at {self._conn.where}: the log state document is missing")
        return int(doc["size"])

    def events_by_client_id(self, tenant: str, client_ids: Collection[str]) -> dict[str, Event]:
        out: dict[str, Event] = {}
        ids = list(client_ids)
        for i in range(0, len(ids), IN_CHUNK):
            query = {"tenant": tenant, "client_event_id": {"$in": ids[i : i + IN_CHUNK]}}
            for d in self._find(self._c.events, query, _EVENT_FIELDS):
                out[d["client_event_id"]] = _event(d)
        return out

    def stream_head(self, tenant: str, stream: str) -> bytes | None:
        found = self._find(
            self._c.events,
            {"tenant": tenant, "stream": stream},
            {"leaf_hash": 1},
            sort=[("idx", DESCENDING)],
            limit=1,
        )
        return bytes(found[0]["leaf_hash"]) if found else None

    def subtrees(self, nodes: Iterable[NodeId]) -> dict[NodeId, bytes]:
        want = {n: subtree_location(n) for n in nodes}
        if not want:
            return {}
        rows: dict[int, Doc] = {}
        indices = sorted({loc[0] for loc in want.values()})
        for i in range(0, len(indices), IN_CHUNK):  # a proof needs O(log N): one round trip
            query = {"idx": {"$in": indices[i : i + IN_CHUNK]}}
            for d in self._find(self._c.events, query, {"idx": 1, "leaf_hash": 1, "subtrees": 1}):
                rows[int(d["idx"])] = d
        out: dict[NodeId, bytes] = {}
        for node, (idx, offset) in want.items():
            row = rows.get(idx)
            if row is None:
                raise StorageError(
                    f"subtree {node} lies beyond the stored log (entry {idx} missing)"
                )
            h = row["leaf_hash"] if offset is None else row["subtrees"][offset : offset + HASH_SIZE]
            if len(h) != HASH_SIZE:
                raise StorageError(f"entry {idx} does not hold subtree {node}")
            out[node] = bytes(h)
        return out

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        found = self._find(
            self._c.checkpoints, {}, _CHECKPOINT_FIELDS, sort=[("size", DESCENDING)], limit=1
        )
        return _checkpoint(found[0]) if found else None


class _View(_Reads):
    """The WriteView of one MongoDB transaction."""

    def __init__(self, conn: MongoConnection, c: _Collections, txn: Txn) -> None:
        super().__init__(conn, c, txn.session)
        self._txn = txn

    def _write(self, coro: Coroutine[Any, Any, T]) -> T:
        self._txn.wrote = True
        return self._run(coro)

    def append(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        start = entries[0].event.index
        if any(e.event.index != start + i for i, e in enumerate(entries)):
            raise StorageError(f"entries must continue the log at index {self.size()}, densely")
        # The density guarantee: this matches only if ``start`` is the size, and it writes the
        # one document every concurrent append writes too (so they conflict, not fork).
        moved = self._write(
            self._c.log.update_one(
                {"_id": "log", "size": start},
                {"$set": {"size": start + len(entries)}},
                session=self._s,
            )
        )
        if moved.matched_count != 1:
            raise StorageError(f"entries must continue the log at index {self.size()}, densely")
        try:
            self._write(
                self._c.events.insert_many(
                    [_event_doc(e) for e in entries], ordered=True, session=self._s
                )
            )
        except ConflictError as e:
            raise StorageError(
                f"an index or client event id of these entries is stored: {e}"
            ) from e

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        size = checkpoint.size
        latest = self.latest_checkpoint()
        if latest is not None and size <= latest.size:
            raise StorageError(f"checkpoint sizes only grow: {size} after {latest.size}")
        if size > self.size():
            raise StorageError(f"checkpoint size {size} exceeds the log")
        ts = self._one(self._c.timestamps, {"_id": size}, {"token": 1})
        anchor = self._one(self._c.anchors, {"_id": size}, {"status": 1})
        # Writing the log document serialises checkpoints (two sealers conflict).
        self._write(
            self._c.log.update_one({"_id": "log"}, {"$set": {"checkpoint": size}}, session=self._s)
        )
        doc = {
            "_id": size,
            "size": size,
            "root": checkpoint.root,
            "note": checkpoint.note,
            "created_at": checkpoint.created_at,
            "stamped": ts is not None and ts.get("token") is not None,
            "anchor": None if anchor is None else anchor["status"],
        }
        self._write(self._c.checkpoints.insert_one(doc, session=self._s))

    def check_fence(self, lease: Lease) -> None:
        check_fence(self._conn, self._txn, lease)

    def finish_queued(self, results: Mapping[str, bytes], at: str) -> None:
        if not results:
            return
        ops = [
            UpdateOne({"_id": t, "done_at": None}, {"$set": {"result": r, "done_at": at}})
            for t, r in results.items()
        ]
        got = self._write(self._c.queue.bulk_write(ops, ordered=True, session=self._s))
        if got.matched_count != len(ops):
            raise ConflictError(
                f"{len(ops) - got.matched_count} of the queued appends {sorted(results)} are "
                "unknown or already finished"
            )


class MongoLedgerStore:
    """The log, its checkpoints and settings, and statistics over them, on the shared
    :class:`MongoConnection` (laid out by :func:`~sealtrail.ledger.mongo_db.open_mongo` with
    :data:`~sealtrail.ledger.mongo_schema.LEDGER_PART`). Safe to share between threads and
    processes. ``close()`` closes the shared connection."""

    def __init__(self, conn: MongoConnection) -> None:
        #: the shared connection
        self.conn = conn
        #: the URL without its password, for messages
        self.where = conn.where
        #: the verifiable map's collections (mongo_map.py): checkpoints carry the map line
        self.maps: MapStore | None = MongoMapStore(conn)
        self._c = _Collections(conn)
        self._read = _Reads(conn, self._c, None)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.conn.run(coro)

    # -- the log ---------------------------------------------------------------------------

    def write(self, fn: Callable[[_View], T]) -> T:
        """Run ``fn`` in one transaction and commit it durably (see LedgerStore.write).

        ``fn`` is re-run from the start when the transaction conflicts with another writer.
        """
        return self.conn.transaction(lambda txn: fn(_View(self.conn, self._c, txn)))

    def size(self) -> int:
        return self._read.size()

    def event(self, index: int) -> Event | None:
        doc = self._read._one(self._c.events, {"_id": index}, _EVENT_FIELDS)
        return None if doc is None else _event(doc)

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[Entry]:
        stop = self.size() if end is None else end
        pos = start
        while pos < stop:
            page = self._read._find(
                self._c.events,
                {"idx": {"$gte": pos, "$lt": stop}},
                {**_EVENT_FIELDS, "subtrees": 1},
                sort=[("idx", ASCENDING)],
                limit=PAGE,
            )
            if not page:
                return
            for d in page:
                yield Entry(_event(d), bytes(d["subtrees"]))
            pos = int(page[-1]["idx"]) + 1

    def document_index(self) -> Iterator[tuple[bytes, int]]:
        pos = 0
        while True:
            page = self._read._find(
                self._c.events,
                {"idx": {"$gte": pos}},
                {"idx": 1, "fps": 1},
                sort=[("idx", ASCENDING)],
                limit=PAGE,
            )
            if not page:
                return
            for d in page:
                for fp in d["fps"]:
                    yield int(fp).to_bytes(8, "big", signed=True), int(d["idx"])
            pos = int(page[-1]["idx"]) + 1

    def stream(self, tenant: str, stream: str) -> list[Event]:
        found = self._read._find(
            self._c.events,
            {"tenant": tenant, "stream": stream},
            _EVENT_FIELDS,
            sort=[("idx", ASCENDING)],
        )
        return [_event(d) for d in found]

    def subtrees(self, nodes: Iterable[NodeId]) -> dict[NodeId, bytes]:
        return self._read.subtrees(nodes)

    def query(self, q: EventQuery, *, after: int = -1, limit: int = 100) -> list[Event]:
        if not q.tenants or limit <= 0:
            return []
        where: Doc = {"tenant": {"$in": list(q.tenants)}}
        for field, value in (("stream", q.stream), ("type", q.type), ("actor_id", q.actor_id)):
            if value is not None:
                where[field] = value
        recorded: Doc = {}
        if q.recorded_from is not None:
            recorded["$gte"] = q.recorded_from
        if q.recorded_to is not None:
            recorded["$lt"] = q.recorded_to
        if recorded:
            where["recorded_at"] = recorded
        if q.document is not None:
            where["fps"] = _fp(q.document)
        out: list[Event] = []
        while len(out) < limit:  # with a document: drop prefix collisions, keep pages full
            where["idx"] = {"$gt": after}
            page = [
                _event(d)
                for d in self._read._find(
                    self._c.events, where, _EVENT_FIELDS, sort=[("idx", ASCENDING)], limit=limit
                )
            ]
            out += page if q.document is None else [e for e in page if _names(e, q.document)]
            if len(page) < limit:
                break
            after = page[-1].index
        return out[:limit]

    def by_document(self, sha256: bytes, *, limit: int = 1000) -> list[Event]:
        out: list[Event] = []
        after = -1
        while len(out) < limit:
            page = [
                _event(d)
                for d in self._read._find(
                    self._c.events,
                    {"fps": _fp(sha256), "idx": {"$gt": after}},
                    _EVENT_FIELDS,
                    sort=[("idx", ASCENDING)],
                    limit=limit,
                )
            ]
            out += [e for e in page if _names(e, sha256)]
            if len(page) < limit:
                break
            after = page[-1].index
        return out[:limit]

    # -- checkpoints and meta --------------------------------------------------------------

    def checkpoint(self, size: int) -> StoredCheckpoint | None:
        doc = self._read._one(self._c.checkpoints, {"_id": size}, _CHECKPOINT_FIELDS)
        return None if doc is None else _checkpoint(doc)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self._read.latest_checkpoint()

    def checkpoints(self) -> list[StoredCheckpoint]:
        found = self._read._find(
            self._c.checkpoints, {}, _CHECKPOINT_FIELDS, sort=[("size", ASCENDING)]
        )
        return [_checkpoint(d) for d in found]

    def meta(self, key: str) -> str | None:
        doc = self._read._one(self._c.meta, {"_id": key})
        return None if doc is None or doc.get("value") is None else str(doc["value"])

    def set_meta(self, key: str, value: str) -> None:
        self._run(self._c.meta.update_one({"_id": key}, {"$set": {"value": value}}, upsert=True))

    # -- console reads ---------------------------------------------------------------------

    def event_counts(
        self, tenants: Collection[str], start: str, end: str, prefix: int = 10
    ) -> list[tuple[str, str, int]]:
        """(``recorded_at[:prefix]``, type, events) for these tenants' events with
        start <= recorded_at < end, by that key then type (``recorded_at`` is fixed-width
        RFC 3339: a prefix is a time granule, and text order is time order; ``prefix`` is one
        of :data:`~sealtrail.ledger.store.COUNT_PREFIXES`)."""
        check_count_prefix(prefix)
        if not tenants:
            return []
        pipeline: list[Doc] = [
            {
                "$match": {
                    "tenant": {"$in": list(tenants)},
                    "recorded_at": {"$gte": start, "$lt": end},
                }
            },
            # one group per "KEY TYPE" (the key has a fixed width, so it splits back)
            {
                "$group": {
                    "_id": {
                        "$concat": [{"$substrBytes": ["$recorded_at", 0, prefix]}, " ", "$type"]
                    },
                    "n": {"$sum": 1},
                }
            },
        ]
        rows = self._run(self._aggregate(self._c.events, pipeline))
        return sorted(
            (str(r["_id"])[:prefix], str(r["_id"])[prefix + 1 :], int(r["n"])) for r in rows
        )

    def tenant_activity(self, tenants: Collection[str]) -> dict[str, tuple[int, str]]:
        """tenant → (events, latest recorded_at), for those of ``tenants`` that have events."""
        if not tenants:
            return {}
        pipeline: list[Doc] = [
            {"$match": {"tenant": {"$in": list(tenants)}}},
            {"$group": {"_id": "$tenant", "n": {"$sum": 1}, "last": {"$max": "$recorded_at"}}},
        ]
        rows = self._run(self._aggregate(self._c.events, pipeline))
        return {str(r["_id"]): (int(r["n"]), str(r["last"])) for r in rows}

    def recent_checkpoints(self, limit: int) -> list[StoredCheckpoint]:
        """The latest ``limit`` checkpoints, newest first."""
        if limit <= 0:
            return []
        found = self._read._find(
            self._c.checkpoints, {}, _CHECKPOINT_FIELDS, sort=[("size", DESCENDING)], limit=limit
        )
        return [_checkpoint(d) for d in found]

    @staticmethod
    async def _aggregate(coll: AsyncCollection[Doc], pipeline: list[Doc]) -> list[Doc]:
        cursor = await coll.aggregate(pipeline)
        return await cursor.to_list(None)

    def close(self) -> None:
        """Close the shared connection (idempotent)."""
        self.conn.close()
