"""The storage composition root: open a backend (SQLite or MongoDB) from settings or a data
directory and build every domain's store on it, once (:func:`open_backend`); initialise a data
directory with its database (:func:`init`, :func:`open_store`); copy a whole database into
another backend (:mod:`.migrate`).

The one place that knows every domain's storage: the ledger's (log, coordination, statistics),
anchoring's (timestamps, anchors), the directory's and the seals'. Nothing below it imports it;
the API, the CLI, tests and benches open storage through it.
"""

from sealtrail.backend.stores import Stores, init, open_backend, open_store

__all__ = ["Stores", "init", "open_backend", "open_store"]
