"""Opening the MongoDB database every domain's MongoDB store shares, with every domain's layout.

The shared handle is :class:`~sealtrail.ledger.mongo_base.MongoConnection` (one client, majority
and journaled writes, transactions). Each domain describes its collections and indexes as a
:class:`MongoSchemaPart` beside its store; :func:`open_mongo` connects, refuses a server without
transactions or a database of another schema version, and creates every part's collections and
indexes once — idempotently, so several processes may open one database at once (creating an
existing index with the same specification is a no-op, and a collection created meanwhile by
another process is accepted). The stores themselves do nothing to the database when built.

One schema version for the whole database (``meta`` document ``schema_version``), as before
the stores were split by domain: the collections and indexes are those of the single store.
Versions: 1 the ledger, anchoring, directory, coordination and seals; 2 the verifiable map
(``map_nodes``, ``map_values``, ``map_roots``). Laying out is idempotent and creates only what is
missing, so a database of an older version is upgraded by laying it out and then raising its
version (:func:`_lay_out`); a newer one is refused, as an older Sealtrail refuses this one's.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo import IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import CollectionInvalid, DuplicateKeyError, OperationFailure

from sealtrail.core.errors import StorageError
from sealtrail.ledger.mongo_base import Doc, MongoConnection

T = TypeVar("T")
log = logging.getLogger("sealtrail.ledger")

SCHEMA_VERSION = 2
SCHEMA_KEY = "schema_version"
#: MongoDB's NamespaceExists: a collection created meanwhile by another process
_NAMESPACE_EXISTS = 48


@dataclass(frozen=True)
class MongoSchemaPart:
    """One domain's collections, their secondary indexes, and what must exist in them before
    first use (``prepare``, idempotent: e.g. a state or counter document upserted)."""

    name: str
    collections: tuple[str, ...]
    indexes: Mapping[str, Sequence[IndexModel]] = field(default_factory=dict)
    prepare: Callable[[MongoConnection], Coroutine[Any, Any, None]] | None = None


def open_mongo(
    url: str, parts: Sequence[MongoSchemaPart], *, server_timeout: float = 10.0
) -> MongoConnection:
    """Connect to the replica set at ``url`` and lay out every part (module docstring).

    Raises ConfigError for a bad URL or a server without transactions, StorageError when the
    server cannot be reached or holds a schema this version does not read.
    """
    conn = MongoConnection(url, server_timeout=server_timeout)
    try:
        conn.check_transactions()
        conn.run(_lay_out(conn, parts))
    except BaseException:
        conn.close()
        raise
    return conn


async def _lay_out(conn: MongoConnection, parts: Sequence[MongoSchemaPart]) -> None:
    meta = conn.collection("meta")
    found = await meta.find_one({"_id": SCHEMA_KEY})
    older = None if found is None else _older_version(found.get("value"))
    if found is not None and older is None and found.get("value") != str(SCHEMA_VERSION):
        raise StorageError(
            f"MongoDB at {conn.where}: schema version {found.get('value')}, "
            f"this Sealtrail reads {SCHEMA_VERSION}"
        )
    db = conn.db
    existing = set(await db.list_collection_names())
    for part in parts:
        for name in part.collections:
            if name in existing:
                continue
            try:
                await db.create_collection(name, check_exists=False)
            except CollectionInvalid:
                pass  # another process created it meanwhile
            except OperationFailure as e:
                if e.code != _NAMESPACE_EXISTS:  # likewise
                    raise
            existing.add(name)
        for name, models in part.indexes.items():
            await db[name].create_indexes(list(models))
        if part.prepare is not None:
            await part.prepare(conn)
    if older is not None:
        # Raised only now that every collection and index exists: a crash before leaves it
        # older, and the next open lays out again. Matched on the version read, so two
        # processes upgrading at once both succeed.
        await meta.update_one(
            {"_id": SCHEMA_KEY, "value": str(older)}, {"$set": {"value": str(SCHEMA_VERSION)}}
        )
        log.info(
            "MongoDB at %s: upgraded the schema from version %d to %d",
            conn.where,
            older,
            SCHEMA_VERSION,
        )
    # two first upserts may race (servers before 4.2 do not retry that): one won
    with contextlib.suppress(DuplicateKeyError):
        await meta.update_one(
            {"_id": SCHEMA_KEY}, {"$setOnInsert": {"value": str(SCHEMA_VERSION)}}, upsert=True
        )


def _older_version(value: Any) -> int | None:
    """The stored schema version when it is one this Sealtrail upgrades (1 ≤ v < current)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 4:
        v = int(value)
        if 1 <= v < SCHEMA_VERSION:
            return v
    return None


def find_all(
    conn: MongoConnection,
    coll: AsyncCollection[Doc],
    query: Doc,
    projection: Doc | None = None,
    *,
    sort: list[tuple[str, int]] | None = None,
    limit: int = 0,
    session: AsyncClientSession | None = None,
) -> list[Doc]:
    """The documents of ``coll`` matching ``query`` (in ``session``'s transaction if given)."""
    cursor = coll.find(query, projection, session=session, sort=sort, limit=limit)
    return conn.run(cursor.to_list(None))


def find_one(
    conn: MongoConnection,
    coll: AsyncCollection[Doc],
    query: Doc,
    projection: Doc | None = None,
    *,
    session: AsyncClientSession | None = None,
) -> Doc | None:
    """The first document of ``coll`` matching ``query``, or None."""
    return conn.run(coll.find_one(query, projection, session=session))
