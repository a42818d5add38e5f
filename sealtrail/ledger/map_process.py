"""Preparing the verifiable map in a separate process (SQLite), so that sealing a checkpoint does
not take the interpreter from the appends.

Updating the map costs more CPU per event than appending it (docs/PERFORMANCE.md, "The map and
appends"); done in the service's process it would compete with the sequencer for the GIL and
roughly halve append throughput while a checkpoint is prepared. :class:`MapProcess` runs
:func:`~sealtrail.ledger.maps.prepare_map` and writes the draft's nodes (content-addressed,
harmless if the checkpoint is never sealed) in one child process with its own connection to the
same SQLite file; the parent then records the values, the root and the checkpoint in one short
transaction (:func:`~sealtrail.ledger.maps.commit_map`), after checking the map did not move.

If the child cannot run (it died, or cannot start), the draft is prepared in this process, as
without a :class:`MapProcess`, and a warning is logged: sealing never depends on the child.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

from sealtrail.ledger.maps import MapDraft, prepare_map, store_draft_nodes
from sealtrail.ledger.sqlite_db import SQLiteDatabase
from sealtrail.ledger.sqlite_map import MAP_PART
from sealtrail.ledger.sqlite_schema import LEDGER_PART
from sealtrail.ledger.sqlite_store import SQLiteLedgerStore
from sealtrail.ledger.store import LedgerStore

log = logging.getLogger("sealtrail.ledger")

_OPEN: dict[tuple[str, float], SQLiteLedgerStore] = {}


def _prepare_in_child(path: str, busy_timeout: float, size: int) -> MapDraft:
    """In the child: the draft of ``size`` for the database at ``path``, its nodes written."""
    store = _OPEN.get((path, busy_timeout))
    if store is None:
        db = SQLiteDatabase(path, (LEDGER_PART, MAP_PART), busy_timeout=busy_timeout)
        store = _OPEN[(path, busy_timeout)] = SQLiteLedgerStore(db)
    maps = store.maps
    assert maps is not None
    draft = prepare_map(store, maps, size)
    store_draft_nodes(store, maps, draft)
    return replace(draft, nodes={})


class MapProcess:
    """Prepares map drafts for the SQLite database at ``path`` in one child process (module
    docstring). Call :meth:`close` when done."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                ctx = multiprocessing.get_context("spawn")  # no fork of a threaded process
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx)
            return self._pool

    def prepare(self, store: LedgerStore, size: int) -> MapDraft:
        """The draft of the map of the log's first ``size`` events, its nodes already stored;
        falls back to this process when the child fails."""
        try:
            return self._executor().submit(_prepare_in_child, self.path, self.busy_timeout, size)\
                .result()  # fmt: skip
        except BrokenProcessPool as e:
            log.warning("map process died (%s); preparing the map in this process", e)
            with self._lock:
                pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        except Exception as e:  # the child's own failure: this process may still succeed
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            log.warning("map process failed (%s); preparing the map in this process", msg)
        maps = store.maps
        assert maps is not None
        draft = prepare_map(store, maps, size)
        store_draft_nodes(store, maps, draft)
        return replace(draft, nodes={})

    def close(self) -> None:
        """Stop the child process."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
