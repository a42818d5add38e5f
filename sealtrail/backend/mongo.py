"""Every domain's store on one MongoDB connection (imported only when MongoDB is used)."""

from __future__ import annotations

from sealtrail.anchoring.mongo_store import ANCHORING_PART, MongoAnchorStore, MongoTimestampStore
from sealtrail.backend.stores import Stores
from sealtrail.directory.mongo_store import DIRECTORY_PART, MongoDirectoryStore
from sealtrail.ledger.mongo_coordination import COORDINATION_PART, MongoCoordinationStore
from sealtrail.ledger.mongo_db import MongoSchemaPart, open_mongo
from sealtrail.ledger.mongo_schema import LEDGER_PART
from sealtrail.ledger.mongo_store import MongoLedgerStore
from sealtrail.seals.mongo_store import SEALS_PART, MongoSealStore
from sealtrail.webhooks.mongo_store import WEBHOOKS_PART, MongoWebhookStore

#: every domain's collections and indexes, in the order they are laid out
MONGO_PARTS: tuple[MongoSchemaPart, ...] = (
    LEDGER_PART,
    ANCHORING_PART,
    DIRECTORY_PART,
    COORDINATION_PART,
    SEALS_PART,
    WEBHOOKS_PART,
)


def open_mongodb_stores(url: str, *, server_timeout: float = 10.0) -> Stores:
    """Every store on the MongoDB replica set at ``url`` (see stores.open_mongodb)."""
    conn = open_mongo(url, MONGO_PARTS, server_timeout=server_timeout)
    ledger = MongoLedgerStore(conn)
    return Stores(
        where=conn.where,
        ledger=ledger,
        stats=ledger,
        coordination=MongoCoordinationStore(conn),
        timestamps=MongoTimestampStore(conn),
        anchors=MongoAnchorStore(conn),
        directory=MongoDirectoryStore(conn),
        seals=MongoSealStore(conn),
        _close=conn.close,
        webhooks=MongoWebhookStore(conn),
    )
