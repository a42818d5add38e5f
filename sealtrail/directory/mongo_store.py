"""The directory on MongoDB: tenants [id] and API key records [key id] (collections ``tenants``
and ``api_keys``, :data:`DIRECTORY_PART`) on the shared
:class:`~sealtrail.ledger.mongo_base.MongoConnection`.

Adding a tenant is one transaction (its parent must exist); key writes are single-document
writes, atomic on their own (majority, journaled).
"""

from __future__ import annotations

from collections.abc import Collection, Coroutine
from typing import Any, TypeVar

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from sealtrail.core.errors import ConflictError, NotFoundError, StorageError
from sealtrail.directory.store import ApiKey, Tenant
from sealtrail.ledger.mongo_base import Doc, MongoConnection, Txn
from sealtrail.ledger.mongo_db import MongoSchemaPart, find_all, find_one

T = TypeVar("T")

_INDEXES: dict[str, list[IndexModel]] = {
    "tenants": [IndexModel([("parent", ASCENDING)], name="parent")],
    "api_keys": [IndexModel([("tenant", ASCENDING), ("created_at", ASCENDING)], name="tenant")],
}
#: tenants and API keys
DIRECTORY_PART = MongoSchemaPart("directory", ("tenants", "api_keys"), _INDEXES)


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


class _View:
    """Reads and writes in one transaction."""

    def __init__(self, conn: MongoConnection, txn: Txn) -> None:
        self._conn, self._txn, self._s = conn, txn, txn.session

    def _one(self, coll: AsyncCollection[Doc], query: Doc, projection: Doc | None = None) -> Any:
        return find_one(self._conn, coll, query, projection, session=self._s)

    def _write(self, coro: Coroutine[Any, Any, T]) -> T:
        self._txn.wrote = True
        return self._conn.run(coro)


class _Collections:
    def __init__(self, conn: MongoConnection) -> None:
        self.tenants, self.api_keys = conn.collection("tenants"), conn.collection("api_keys")


class MongoDirectoryStore:
    """Tenants and API key records in the shared MongoDB database."""

    def __init__(self, conn: MongoConnection) -> None:
        self.conn = conn
        self._c = _Collections(conn)

    def _one(self, coll: AsyncCollection[Doc], query: Doc, projection: Doc | None = None) -> Any:
        return find_one(self.conn, coll, query, projection)

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

        self.conn.transaction(lambda txn: put(_View(self.conn, txn)))

    def tenant(self, tenant_id: str) -> Tenant | None:
        doc = self._one(self._c.tenants, {"_id": tenant_id})
        return None if doc is None else _tenant(doc)

    def tenants(self) -> list[Tenant]:
        return sorted(map(_tenant, find_all(self.conn, self._c.tenants, {})), key=lambda t: t.id)

    def subtree_tenants(self, tenant_id: str) -> list[str]:
        if self.tenant(tenant_id) is None:
            return []
        found, frontier = {tenant_id}, [tenant_id]
        while frontier:  # one query per level of the group's hierarchy
            children = find_all(
                self.conn, self._c.tenants, {"parent": {"$in": frontier}}, {"_id": 1}
            )
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
            self.conn.run(self._c.api_keys.insert_one(doc))
        except ConflictError as e:  # as SQLite: a broken uniqueness is a storage failure
            raise StorageError(f"API key {key.id!r} is stored already") from e

    def key(self, key_id: str) -> ApiKey | None:
        doc = self._one(self._c.api_keys, {"_id": key_id})
        return None if doc is None else _key(doc)

    def keys(self, tenants: Collection[str]) -> list[ApiKey]:
        found = find_all(self.conn, self._c.api_keys, {"tenant": {"$in": list(tenants)}})
        return sorted(map(_key, found), key=lambda k: (k.created_at, k.id))

    def revoke_key(self, key_id: str, at: str) -> ApiKey:
        self.conn.run(
            self._c.api_keys.update_one(
                {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": at}}
            )
        )
        got = self.key(key_id)
        if got is None:
            raise NotFoundError(f"no API key {key_id!r}")
        return got
