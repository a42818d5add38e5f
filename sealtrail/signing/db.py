"""SQL access for the seal registry, seal-use control and envelopes, and their event outbox.

The tables live in the ledger database (schema v3, ``sealtrail.ledger.sqlite_store``). Writes go
through :meth:`SQLiteStore.write` (one ``BEGIN IMMEDIATE`` transaction, so they serialise with
ledger appends across processes); reads use the calling thread's connection.

**Outbox (crash consistency).** Every registry change that must be evidenced in the ledger
enqueues its event in ``seal_outbox`` *in the same transaction* as the change, with a fresh
``client_event_id``. :func:`flush` (and :func:`flush_async`) then appends the queued events and
deletes their rows. Crash states:

* before the change commits: neither the change nor its event exists;
* after it commits, before the append: the event waits in the outbox; the next flush (every
  command and the service's start flush) appends it;
* after the append, before the row is deleted: the next flush appends it again with the same
  ``client_event_id``, which the ledger answers with the original event (``duplicate``).

So a change and its event are never separated for longer than until the next flush.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from ..ledger.event import parse_event_input
from ..ledger.log import Ledger
from ..ledger.sqlite_store import SQLiteStore

T = TypeVar("T")


def transaction(store: SQLiteStore, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``fn`` in one write transaction of ``store`` (all or nothing)."""
    return store.write(lambda view: fn(view._con))


def reader(store: SQLiteStore) -> sqlite3.Connection:
    """The calling thread's connection, for reads."""
    return store._con()


def new_id(prefix: str) -> str:
    """A fresh random identifier, e.g. ``seal-3f9a…`` (64 random bits; only characters an
    X.509 PrintableString allows, as a seal id is its certificate's serialNumber)."""
    return f"{prefix}-{secrets.token_hex(8)}"


def enqueue(con: sqlite3.Connection, tenant: str, event: dict[str, Any]) -> None:
    """Queue ``event`` (an event input object) for ``tenant`` inside the caller's transaction.

    The event is validated now (an invalid one aborts the transaction) and given a fresh
    ``client_event_id`` so that re-appending it is idempotent.
    """
    body = {**event, "client_event_id": new_id("sealtrail")}
    parse_event_input(body)
    con.execute(
        "INSERT INTO seal_outbox (tenant, event) VALUES (?, ?)", (tenant, orjson.dumps(body))
    )


def _pending(store: SQLiteStore, limit: int = 500) -> list[tuple[int, str, dict[str, Any]]]:
    rows = reader(store).execute(
        "SELECT id, tenant, event FROM seal_outbox ORDER BY id LIMIT ?", (limit,)
    )
    return [(int(i), str(t), orjson.loads(bytes(e))) for i, t, e in rows]


def _done(store: SQLiteStore, ids: list[int]) -> None:
    marks = ",".join("?" * len(ids))
    sql = f"DELETE FROM seal_outbox WHERE id IN ({marks})"  # noqa: S608 (placeholders)
    transaction(store, lambda con: con.execute(sql, ids))


def flush(ledger: Ledger, store: SQLiteStore) -> int:
    """Append every queued event, in queue order, from synchronous code; return how many."""
    n = 0
    while batch := _pending(store):
        for row_id, tenant, body in batch:
            ledger.append(tenant, [parse_event_input(body)])
            _done(store, [row_id])
            n += 1
    return n


async def flush_async(
    ledger: Ledger, store: SQLiteStore, run: Callable[[Callable[[], Any]], Any]
) -> int:
    """:func:`flush` through the ledger's sequencer; ``run`` runs a blocking call off the loop."""
    n = 0
    while batch := await run(lambda: _pending(store)):
        for row_id, tenant, body in batch:
            await ledger.append_async(tenant, [parse_event_input(body)])
            await run(lambda i=row_id: _done(store, [i]))  # type: ignore[misc]
            n += 1
    return n
