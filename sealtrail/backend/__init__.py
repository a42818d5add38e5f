"""The storage composition root: open a backend (SQLite, PostgreSQL or MongoDB) from settings or
a data directory and build every domain's store on it, once (:func:`open_backend`,
:func:`open_store`); initialise a data directory with its database (:func:`init`); copy a whole
database into another backend (:mod:`.migrate`).

The one place that knows every domain's storage: the ledger's (log, coordination, statistics),
anchoring's (timestamps, anchors), the directory's and the seals'. Nothing below it imports it;
the API, the CLI, tests and benches open storage through it.
"""

from sealtrail.backend.opening import (
    init,
    is_mongodb,
    is_postgres,
    is_remote,
    open_backend,
    open_mongodb,
    open_postgres,
    open_store,
)
from sealtrail.backend.sqlite import SQLITE_PARTS, open_sqlite, sqlite_stores
from sealtrail.backend.stores import Stores

__all__ = [
    "SQLITE_PARTS",
    "Stores",
    "init",
    "is_mongodb",
    "is_postgres",
    "is_remote",
    "open_backend",
    "open_mongodb",
    "open_postgres",
    "open_sqlite",
    "open_store",
    "sqlite_stores",
]
