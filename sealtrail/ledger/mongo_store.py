"""The MongoDB backend: a replica set (a single-node one is enough), through mongo_base.

Collections (``_id`` in brackets):

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
* ``timestamps``, ``anchors`` [checkpoint size]; ``tenants`` [id]; ``api_keys`` [key id];
  ``meta`` [key] (``schema_version`` among them); ``leases`` [name]; ``append_queue`` [ticket].

Crash consistency: every multi-document write is one transaction committed with write concern
``majority`` and ``j`` (mongo_base): killed before the commit is acknowledged, none of it is
visible; after, all of it is durable on a majority. Single-document writes (queue entries, key
revocation, leases, meta) are atomic on their own with the same write concern.

Fencing: :meth:`_View.check_fence` *writes* the lease document (``$inc`` of a counter, matched on
holder and epoch) inside the transaction, so a takeover that commits first makes the fenced
transaction fail (write conflict, re-run, then LeaseLostError), and one that comes later waits
for it to commit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Coroutine, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import CollectionInvalid, DuplicateKeyError, OperationFailure

from sealtrail.core.errors import ConflictError, LeaseLostError, NotFoundError, StorageError
from sealtrail.core.event import Event
from sealtrail.core.merkle import HASH_SIZE, NodeId
from sealtrail.ledger.mongo_base import Doc, MongoConnection, Txn
from sealtrail.ledger.mongo_schema import (
    _CHECKPOINT_FIELDS,
    _COLLECTIONS,
    _EVENT_FIELDS,
    _INDEXES,
    _NOT_ON_ITS_WAY,
    IN_CHUNK,
    PAGE,
    SCHEMA_KEY,
    SCHEMA_VERSION,
    _anchor,
    _anchor_doc,
    _bytes_or_none,
    _checkpoint,
    _Collections,
    _event,
    _event_doc,
    _fp,
    _key,
    _lease,
    _names,
    _tenant,
    _ts,
)
from sealtrail.ledger.store import (
    ApiKey,
    Entry,
    EventQuery,
    Lease,
    QueuedAppend,
    StoredAnchor,
    StoredCheckpoint,
    Tenant,
    TimestampRecord,
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

    def _find(
        self,
        coll: AsyncCollection[Doc],
        query: Doc,
        projection: Doc | None = None,
        *,
        sort: list[tuple[str, int]] | None = None,
        limit: int = 0,
    ) -> list[Doc]:
        cursor = coll.find(query, projection, session=self._s, sort=sort, limit=limit)
        return self._run(cursor.to_list(None))

    def _one(self, coll: AsyncCollection[Doc], query: Doc, projection: Doc | None = None) -> Any:
        return self._run(coll.find_one(query, projection, session=self._s))

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
        got = self._write(
            self._c.leases.update_one(
                {"_id": lease.name, "holder": lease.holder, "epoch": lease.epoch},
                {"$inc": {"fenced": 1}},
                session=self._s,
            )
        )
        if got.matched_count != 1:
            raise LeaseLostError(
                f"lease {lease.name!r} epoch {lease.epoch} is no longer held by this process"
            )

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


class MongoStore:
    """A ledger (and its directory, leases, queue, timestamps, anchors) in one MongoDB database.

    ``url`` is a ``mongodb://`` or ``mongodb+srv://`` URL of a replica set; its path names the
    database (default ``sealtrail``). Safe to share between threads and processes.
    Raises ConfigError for a bad URL or a server without transactions, StorageError when the
    server cannot be reached or holds a schema this version does not read.
    """

    def __init__(self, url: str, *, server_timeout: float = 10.0) -> None:
        #: the connection (the seal registry's MongoDB store shares it)
        self.conn = MongoConnection(url, server_timeout=server_timeout)
        #: the URL without its password, for messages
        self.where = self.conn.where
        self._c = _Collections(self.conn)
        self._read = _Reads(self.conn, self._c, None)
        try:
            self.conn.check_transactions()
            self.conn.run(self._open())
        except BaseException:
            self.conn.close()
            raise

    async def _open(self) -> None:
        """Check the schema version; create collections, indexes and the log document.

        Idempotent, so several processes may open one database at once.
        """
        found = await self._c.meta.find_one({"_id": SCHEMA_KEY})
        if found is not None and found.get("value") != str(SCHEMA_VERSION):
            raise StorageError(
                f"MongoDB at {self.where}: schema version {found.get('value')}, "
                f"this Sealtrail reads {SCHEMA_VERSION}"
            )
        db = self.conn.db
        existing = set(await db.list_collection_names())
        for name in _COLLECTIONS:
            if name in existing:
                continue
            try:
                await db.create_collection(name, check_exists=False)
            except CollectionInvalid:
                pass  # another process created it meanwhile
            except OperationFailure as e:
                if e.code != 48:  # NamespaceExists: likewise
                    raise
        for name, models in _INDEXES.items():
            await db[name].create_indexes(models)
        for coll, key, fields in (
            (self._c.log, "log", {"size": 0, "checkpoint": 0}),
            (self._c.meta, SCHEMA_KEY, {"value": str(SCHEMA_VERSION)}),
        ):
            # two first upserts may race (servers before 4.2 do not retry that): one won
            with contextlib.suppress(DuplicateKeyError):
                await coll.update_one({"_id": key}, {"$setOnInsert": fields}, upsert=True)

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

    # -- trusted timestamps ----------------------------------------------------------------

    def timestamp(self, size: int) -> TimestampRecord | None:
        doc = self._read._one(self._c.timestamps, {"_id": size})
        return None if doc is None else _ts(doc)

    def untimestamped(self, limit: int = 100) -> list[StoredCheckpoint]:
        if limit <= 0:
            return []
        found = self._read._find(
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

        self.write(put)

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
        found = self._read._find(self._c.timestamps, {}, sort=[("size", ASCENDING)])
        return [_ts(d) for d in found]

    # -- anchoring -------------------------------------------------------------------------

    def anchor(self, size: int) -> StoredAnchor | None:
        """The anchoring state of checkpoint ``size``, or None if anchoring never began."""
        doc = self._read._one(self._c.anchors, {"_id": size})
        return None if doc is None else _anchor(doc)

    def anchors(self, statuses: Collection[str] | None = None) -> list[StoredAnchor]:
        """Anchoring states (of these statuses, default all), by size."""
        query: Doc = {} if statuses is None else {"status": {"$in": list(statuses)}}
        found = self._read._find(self._c.anchors, query, sort=[("size", ASCENDING)])
        return [_anchor(d) for d in found]

    def anchored_size(self, statuses: Collection[str] = ("final",)) -> int:
        """The largest checkpoint size with an anchor in one of ``statuses`` (0 if none)."""
        found = self._read._find(
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

        self.write(put)

    def unanchored(self, after: int = 0, limit: int = 100) -> list[StoredCheckpoint]:
        """Checkpoints larger than ``after`` that are not on their way to the chain (no anchor,
        or one in ``pending``, ``retry`` or ``failed``), by size."""
        if limit <= 0:
            return []
        found = self._read._find(
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
        count = self._run(self._c.checkpoints.count_documents(query))
        found = self._read._find(
            self._c.checkpoints, query, _CHECKPOINT_FIELDS, sort=[("size", ASCENDING)], limit=1
        )
        return int(count), _checkpoint(found[0]) if found else None

    # -- tenants and API keys --------------------------------------------------------------

    def add_tenant(self, tenant: Tenant) -> None:
        def put(view: _View) -> None:
            if view._one(self._c.tenants, {"_id": tenant.id}, {"_id": 1}) is not None:
                raise ConflictError(f"tenant {tenant.id!r} already exists")
            if (
                tenant.parent is not None
                and view._one(self._c.tenants, {"_id": tenant.parent}, {"_id": 1}) is None
            ):
                raise NotFoundError(f"no tenant {tenant.parent!r}")
            doc = {
                "_id": tenant.id,
                "name": tenant.name,
                "parent": tenant.parent,
                "created_at": tenant.created_at,
            }
            try:
                view._write(self._c.tenants.insert_one(doc, session=view._s))
            except ConflictError:
                raise ConflictError(f"tenant {tenant.id!r} already exists") from None

        self.write(put)

    def tenant(self, tenant_id: str) -> Tenant | None:
        doc = self._read._one(self._c.tenants, {"_id": tenant_id})
        return None if doc is None else _tenant(doc)

    def tenants(self) -> list[Tenant]:
        return sorted(map(_tenant, self._read._find(self._c.tenants, {})), key=lambda t: t.id)

    def subtree_tenants(self, tenant_id: str) -> list[str]:
        if self.tenant(tenant_id) is None:
            return []
        found, frontier = {tenant_id}, [tenant_id]
        while frontier:  # one query per level of the group's hierarchy
            children = self._read._find(self._c.tenants, {"parent": {"$in": frontier}}, {"_id": 1})
            frontier = [d["_id"] for d in children if d["_id"] not in found]
            found.update(frontier)
        return sorted(found)

    def add_key(self, key: ApiKey) -> None:
        doc = {
            "_id": key.id,
            "tenant": key.tenant,
            "role": key.role,
            "secret_hash": key.secret_hash,
            "label": key.label,
            "created_at": key.created_at,
            "revoked_at": None,
        }
        try:
            self._run(self._c.api_keys.insert_one(doc))
        except ConflictError as e:  # as SQLite: a broken uniqueness is a storage failure
            raise StorageError(f"API key {key.id!r} is stored already") from e

    def key(self, key_id: str) -> ApiKey | None:
        doc = self._read._one(self._c.api_keys, {"_id": key_id})
        return None if doc is None else _key(doc)

    def keys(self, tenants: Collection[str]) -> list[ApiKey]:
        found = self._read._find(self._c.api_keys, {"tenant": {"$in": list(tenants)}})
        return sorted(map(_key, found), key=lambda k: (k.created_at, k.id))

    def revoke_key(self, key_id: str, at: str) -> ApiKey:
        self._run(
            self._c.api_keys.update_one(
                {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": at}}
            )
        )
        got = self.key(key_id)
        if got is None:
            raise NotFoundError(f"no API key {key_id!r}")
        return got

    # -- console reads ---------------------------------------------------------------------

    def event_counts(
        self, tenants: Collection[str], start: str, end: str
    ) -> list[tuple[str, str, int]]:
        """(UTC day, type, events) for these tenants' events with start <= recorded_at < end,
        by day then type (``recorded_at`` is fixed-width RFC 3339: its first 10 characters are
        the day, and text order is time order)."""
        if not tenants:
            return []
        pipeline: list[Doc] = [
            {
                "$match": {
                    "tenant": {"$in": list(tenants)},
                    "recorded_at": {"$gte": start, "$lt": end},
                }
            },
            # one group per "DAY TYPE" (the day has a fixed width, so the key splits back)
            {
                "$group": {
                    "_id": {"$concat": [{"$substrBytes": ["$recorded_at", 0, 10]}, " ", "$type"]},
                    "n": {"$sum": 1},
                }
            },
        ]
        rows = self._run(self._aggregate(self._c.events, pipeline))
        return sorted((str(r["_id"])[:10], str(r["_id"])[11:], int(r["n"])) for r in rows)

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

    # -- leases and the append queue (CoordinationStore) -----------------------------------

    def lease(self, name: str) -> Lease | None:
        doc = self._read._one(self._c.leases, {"_id": name})
        return None if doc is None else _lease(doc)

    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> Lease | None:
        # Compare-and-swap on what was read: the write matches only if the lease still has the
        # holder and epoch read (the epoch changes whenever the holder does). Two processes
        # racing for an expired lease both read epoch e; one write matches and sets e + 1, the
        # other matches nothing and gets None. A stale read only costs this round. The first
        # take ever inserts the document (a duplicate key: another process was first).
        doc = self._read._one(self._c.leases, {"_id": name})
        expires = now + ttl
        if doc is None:
            try:
                self._run(
                    self._c.leases.insert_one(
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
        got = self._run(
            self._c.leases.find_one_and_update(
                {"_id": name, "holder": seen.holder, "epoch": seen.epoch},
                {"$set": {"holder": holder, "epoch": epoch, "expires_at": expires}},
                return_document=ReturnDocument.AFTER,
            )
        )
        return None if got is None else _lease(got)

    def release_lease(self, lease: Lease) -> None:
        self._run(
            self._c.leases.update_one(
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
            self._run(self._c.queue.insert_one(doc))
        except ConflictError:
            raise ConflictError(f"queued append {item.ticket!r} exists") from None

    def queued_appends(self, limit: int = 100) -> list[QueuedAppend]:
        if limit <= 0:
            return []
        found = self._read._find(
            self._c.queue,
            {"done_at": None},
            {"tenant": 1, "body": 1, "queued_at": 1},
            sort=[("queued_at", ASCENDING), ("seq", ASCENDING)],
            limit=limit,
        )
        return [
            QueuedAppend(d["_id"], d["tenant"], bytes(d["body"]), d["queued_at"]) for d in found
        ]

    def queued_result(self, ticket: str) -> bytes | None:
        doc = self._read._one(self._c.queue, {"_id": ticket}, {"result": 1})
        if doc is None:
            raise NotFoundError(f"no queued append {ticket!r}")
        return _bytes_or_none(doc.get("result"))

    def prune_queue(self, before: str) -> int:
        got = self._run(self._c.queue.delete_many({"done_at": {"$lt": before}}))
        return int(got.deleted_count)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.conn.close()
