"""The callbacks' outbox hook on the ledger's commits, and the subscriptions cache.

:class:`WebhookOutbox` is installed as the ``on_commit`` hook of the ledger's
:class:`~sealtrail.ledger.sequencer.LogWriter`: inside each append transaction it queues one
delivery per new event and per subscription of the event's tenant that wants its type. So
the events and their deliveries commit together or not at all (crash states: killed before
``COMMIT`` — neither exists, nothing was acknowledged; after — both are durable, and the
delivery worker sends it).

The hot path: subscriptions are cached per tenant in a dict, reloaded when this process changes
one (:meth:`WebhookOutbox.invalidate`) and at most every ``ttl`` seconds otherwise (a change made
by another worker process takes effect within ``ttl``). An event of a tenant with no
subscription costs one dict look-up.

``webhook:receipt`` events (what receipts append) never cause a delivery: a receipt of a
receipt would never end.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from sealtrail.core.event import Event
from sealtrail.ledger.sequencer import LogWriter
from sealtrail.webhooks.store import NewDelivery, Subscription, WebhookStore

#: the event type of receipts (docs/FORMAT.md §10), never delivered
RECEIPT_TYPE = "webhook:receipt"


def new_delivery_id() -> str:
    """A fresh delivery id, the ``webhook-id`` header (``msg_`` + 96 random bits, hex)."""
    return "msg_" + secrets.token_hex(12)


def event_data(ev: Event) -> dict[str, Any]:
    """The ``data`` of a ledger event's callback, before its proof is added."""
    return {"tenant": ev.tenant, "event": ev.to_json()}


class WebhookOutbox:
    """Queues deliveries for new events inside the append transaction (see module docs)."""

    def __init__(
        self,
        store: WebhookStore,
        *,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self._clock = clock
        self._monotonic = monotonic
        self._by_tenant: dict[str, list[Subscription]] = {}
        self._loaded = -float("inf")

    def invalidate(self) -> None:
        """Forget the cache (a subscription of this process changed)."""
        self._loaded = -float("inf")

    def subscriptions(self) -> dict[str, list[Subscription]]:
        """Subscriptions by tenant, reloaded when stale."""
        now = self._monotonic()
        if now - self._loaded > self.ttl:
            by: dict[str, list[Subscription]] = {}
            for sub in self.store.all_active():
                by.setdefault(sub.tenant, []).append(sub)
            self._by_tenant, self._loaded = by, now
        return self._by_tenant

    def __call__(self, events: Sequence[Event]) -> None:
        """The ``on_commit`` hook: queue deliveries for ``events`` in the running transaction."""
        by_tenant = self.subscriptions()
        if not by_tenant:
            return
        items: list[NewDelivery] = []
        now = 0.0
        for ev in events:
            subs = by_tenant.get(ev.tenant)
            if subs is None or ev.type == RECEIPT_TYPE:
                continue
            now = now or self._clock()
            data: bytes | None = None
            for sub in subs:
                if sub.wants(ev.type):
                    data = data or orjson.dumps(event_data(ev))
                    items.append(
                        NewDelivery(
                            new_delivery_id(),
                            sub.id,
                            ev.tenant,
                            "stream:" + ev.stream,
                            ev.type,
                            ev.index,
                            data,
                            now,
                        )
                    )
        if items:
            self.store.enqueue_in_transaction(items)


def install(writer: LogWriter, store: WebhookStore | None) -> WebhookOutbox | None:
    """Hook an outbox on ``store`` onto ``writer``'s commits (None when ``store`` is None: a
    backend without callbacks). Every process that may commit appends installs it: the
    service's workers and the command line."""
    if store is None:
        return None
    outbox = WebhookOutbox(store)
    writer.on_commit = outbox
    return outbox
