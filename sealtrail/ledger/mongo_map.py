"""The verifiable map on MongoDB (:class:`~sealtrail.ledger.store.MapStore`, docs/MAP.md §10), on
the shared :class:`~sealtrail.ledger.mongo_base.MongoConnection`.

Collections (declared with the ledger's, :data:`~sealtrail.ledger.mongo_schema.LEDGER_PART`,
from schema version 2; ``_id`` in brackets):

* ``map_nodes`` [the node's hash, 64 lowercase hex digits]: ``node``, its 65-byte encoding
  (``"I" || left || right`` or ``"L" || key_hash || value_hash``). Content-addressed and
  write-once: written with ``$setOnInsert`` upserts, so a node already stored is left alone
  (an insert that hit the duplicate would abort the whole transaction).
* ``map_values`` [the key hash, hex]: ``key`` (the encoded key, binary) and ``value`` (its
  current 49-byte value, binary).
* ``map_roots`` [checkpoint size]: ``size`` (the same, an integer field to sort and index on)
  and ``root`` (the 32-byte map root that checkpoint's ``sealtrail-map/v1`` line names).

Hashes are keyed as hex text, not binary: text equality and ``$in`` behave the same on every
server (the tests' stand-in does not match binary values by equality), at 32 more bytes a key.

Transactions. :meth:`MongoMapStore.put` writes in the transaction of the ``LedgerStore.write``
it is called from (the sealing one), so the map's nodes, values and root commit with the
checkpoint that names the root, or none of them does. Reads made on the thread running that
transaction (``nodes``, ``values``, ``latest_root`` while sealing) read its snapshot, so a
concurrent sealer cannot mix an old root with newer values; another sealer's commit makes this
transaction conflict (both write the ``log`` document) and re-run from the start. Reads from
other threads read majority-committed data, outside any transaction.

Batches. Node and value reads are one ``$in`` query per :data:`IN_CHUNK` hashes (about 70 KB of
filter, far below MongoDB's 16 MB document limit; the answers stream in cursor batches);
``vmap_tree`` asks for every node of one tree level at once. Writes go in bulk writes of
:data:`WRITE_CHUNK` operations (a node's upsert is about 200 bytes on the wire).
"""

from __future__ import annotations

from collections.abc import Collection, Coroutine, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from sealtrail.core.errors import StorageError
from sealtrail.ledger.mongo_base import Doc, MongoConnection, Txn
from sealtrail.ledger.mongo_schema import IN_CHUNK, PAGE
from sealtrail.ledger.store import WriteView

T = TypeVar("T")

#: operations per bulk write when storing nodes and values
WRITE_CHUNK = 5000
#: the map's collections
NODES, VALUES, ROOTS = "map_nodes", "map_values", "map_roots"
_HASH_HEX = 64


def _hex(h: bytes) -> str:
    if len(h) != 32:
        raise ValueError(f"a map hash is 32 bytes, got {len(h)}")
    return h.hex()


def _unhex(doc: Doc, where: str) -> bytes:
    """The 32-byte hash a document's ``_id`` holds; StorageError when it is not one."""
    key = doc.get("_id")
    if not isinstance(key, str) or len(key) != _HASH_HEX:
        raise StorageError(f"{where}: _id {key!r} is not a 64-digit hex hash")
    try:
        return bytes.fromhex(key)
    except ValueError:
        raise StorageError(f"{where}: _id {key!r} is not a 64-digit hex hash") from None


def _blob(doc: Doc, field: str, where: str) -> bytes:
    v = doc.get(field)
    if not isinstance(v, bytes):
        raise StorageError(f"{where}: {field} of {doc.get('_id')!r} is not binary")
    return bytes(v)


def _root(doc: Doc) -> tuple[int, bytes]:
    size, root = doc.get("size"), doc.get("root")
    if type(size) is not int or not isinstance(root, bytes) or len(root) != 32:
        raise StorageError(f"{ROOTS}: malformed map root document {doc.get('_id')!r}")
    return size, bytes(root)


class MongoMapStore:
    """The map's collections on the shared :class:`MongoConnection` (see ``MapStore`` and the
    module docstring). Safe to share between threads."""

    def __init__(self, conn: MongoConnection) -> None:
        self.conn = conn
        c = conn.collection
        self._nodes, self._values, self._roots = c(NODES), c(VALUES), c(ROOTS)

    def _session(self) -> AsyncClientSession | None:
        txn = self.conn.active()
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
        return self.conn.run(cursor.to_list(None))

    def _by_ids(self, coll: AsyncCollection[Doc], hashes: Sequence[bytes]) -> Iterator[Doc]:
        ids = list(dict.fromkeys(_hex(h) for h in hashes))
        for i in range(0, len(ids), IN_CHUNK):
            yield from self._find(coll, {"_id": {"$in": ids[i : i + IN_CHUNK]}})

    def nodes(self, hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        # vmap_tree re-hashes every node against the hash asked for: a corrupt one is caught there
        return {
            _unhex(d, NODES): _blob(d, "node", NODES) for d in self._by_ids(self._nodes, hashes)
        }

    def values(self, key_hashes: Collection[bytes]) -> dict[bytes, bytes]:
        return {
            _unhex(d, VALUES): _blob(d, "value", VALUES)
            for d in self._by_ids(self._values, list(key_hashes))
        }

    def root(self, size: int) -> bytes | None:
        found = self._find(self._roots, {"size": size}, limit=1)
        return _root(found[0])[1] if found else None

    def latest_root(self) -> tuple[int, bytes] | None:
        found = self._find(self._roots, {}, sort=[("size", DESCENDING)], limit=1)
        return _root(found[0]) if found else None

    def put(
        self,
        view: WriteView,
        nodes: Mapping[bytes, bytes],
        values: Mapping[bytes, tuple[bytes, bytes]],
        roots: Mapping[int, bytes],
    ) -> None:
        txn = self.conn.active()
        if txn is None:
            raise RuntimeError("MongoMapStore.put must run inside LedgerStore.write")
        node_ops = [
            UpdateOne({"_id": _hex(h)}, {"$setOnInsert": {"node": n}}, upsert=True)
            for h, n in nodes.items()
        ]
        value_ops = [
            UpdateOne({"_id": _hex(kh)}, {"$set": {"key": k, "value": v}}, upsert=True)
            for kh, (k, v) in values.items()
        ]
        # a size that has a root already is a duplicate key: the transaction fails, nothing kept
        root_ops = [InsertOne({"_id": s, "size": s, "root": r}) for s, r in roots.items()]
        for coll, ops in (
            (self._nodes, node_ops),
            (self._values, value_ops),
            (self._roots, root_ops),
        ):
            for i in range(0, len(ops), WRITE_CHUNK):
                self._write(txn, coll.bulk_write(ops[i : i + WRITE_CHUNK], session=txn.session))

    def _write(self, txn: Txn, coro: Coroutine[Any, Any, T]) -> T:
        txn.wrote = True
        return self.conn.run(coro)

    def all_nodes(self) -> Iterator[tuple[bytes, bytes]]:
        for d in self._scan(self._nodes):
            yield _unhex(d, NODES), _blob(d, "node", NODES)

    def all_values(self) -> Iterator[tuple[bytes, bytes, bytes]]:
        for d in self._scan(self._values):
            yield _unhex(d, VALUES), _blob(d, "key", VALUES), _blob(d, "value", VALUES)

    def _scan(self, coll: AsyncCollection[Doc]) -> Iterator[Doc]:
        """Every document of ``coll`` by ``_id`` (hex text sorts as the bytes do), in pages. The
        first page has no bound, so a document whose ``_id`` is not text (sorted before text) is
        read, and rejected by the caller, rather than skipped."""
        query: Doc = {}
        while True:
            page = self._find(coll, query, sort=[("_id", ASCENDING)], limit=PAGE)
            yield from page
            if len(page) < PAGE:
                return
            query = {"_id": {"$gt": page[-1]["_id"]}}

    def roots(self) -> list[tuple[int, bytes]]:
        return [_root(d) for d in self._find(self._roots, {}, sort=[("size", ASCENDING)])]
