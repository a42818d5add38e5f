"""The event outbox of the seal registry, seal-use control and envelopes, and fresh ids.

The records live in the ledger's database, behind :class:`~.store.SealStore` (SQLite:
:mod:`.sql_store`; MongoDB: :mod:`.mongo_store`).

**Outbox (crash consistency).** Every registry change that must be evidenced in the ledger
queues its event in the outbox *in the same atomic operation* as the change (one SQLite
transaction, or one MongoDB multi-document transaction: every :class:`~.store.SealStore`
method taking ``events``), with a fresh ``client_event_id`` (:func:`outbox_event`). :func:`flush`
(and :func:`flush_async`) then appends the queued events and removes them from the queue.
Crash states:

* before the change commits: neither the change nor its event exists;
* after it commits, before the append: the event waits in the outbox; the next flush (every
  command and the service's start flush) appends it;
* after the append, before the event is removed: the next flush appends it again with the same
  ``client_event_id``, which the ledger answers with the original event (``duplicate``).

So a change and its event are never separated for longer than until the next flush.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import orjson

from sealtrail.core.event import parse_event_input
from sealtrail.ledger.log import Ledger
from sealtrail.seals.store import PENDING_BATCH, OutboxEvent, SealStore


def new_id(prefix: str) -> str:
    """A fresh random identifier, e.g. ``seal-3f9a…`` (64 random bits; only characters an
    X.509 PrintableString allows, as a seal id is its certificate's serialNumber)."""
    return f"{prefix}-{secrets.token_hex(8)}"


def outbox_event(tenant: str, event: dict[str, Any]) -> OutboxEvent:
    """``event`` (an event input object) for ``tenant``, ready to be queued with a change.

    The event is validated now (an invalid one raises before anything is written) and given a
    fresh ``client_event_id`` so that re-appending it is idempotent.
    """
    body = {**event, "client_event_id": new_id("sealtrail")}
    parse_event_input(body)
    return OutboxEvent(tenant, orjson.dumps(body))


def flush(ledger: Ledger, seals: SealStore) -> int:
    """Append every queued event, in queue order, from synchronous code; return how many."""
    n = 0
    while batch := seals.pending_events(PENDING_BATCH):
        for queued in batch:
            ledger.append(queued.tenant, [parse_event_input(orjson.loads(queued.body))])
            seals.events_done([queued.id])
            n += 1
    return n


async def flush_async(
    ledger: Ledger, seals: SealStore, run: Callable[[Callable[[], Any]], Any]
) -> int:
    """:func:`flush` through the ledger's sequencer; ``run`` runs a blocking call off the loop."""
    n = 0
    while batch := await run(lambda: seals.pending_events(PENDING_BATCH)):
        for queued in batch:
            body = parse_event_input(orjson.loads(queued.body))
            await ledger.append_async(queued.tenant, [body])
            await run(lambda i=queued.id: seals.events_done([i]))  # type: ignore[misc]
            n += 1
    return n
