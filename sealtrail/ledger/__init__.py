"""The ledger: the log's storage (its protocols in ``store``; SQLite in ``sqlite_*``, MongoDB in
``mongo_*``, each on one shared database handle, ``sqlite_db`` / ``mongo_db``, that the other
domains' stores share too), the writer and sequencer, coordination between processes, audit and
the data directory.
"""
