"""The callbacks' storage interface and its records (SQLite: :mod:`.sqlite_store`).

Two tables' worth of state: subscriptions (:class:`Subscription`) and the delivery outbox and
log (:class:`Delivery`). A delivery row is written in the same transaction as what causes it
(:meth:`WebhookStore.enqueue_in_transaction`, called inside ``LedgerStore.write``), so a crash
never loses one nor invents one; the delivery worker then updates the row after each attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

#: delivery states: waiting for (another) attempt; acknowledged by a 2xx; given up after the
#: retry window (dead-lettered); not sent because its subscription was deleted
PENDING, DELIVERED, DEAD, CANCELLED = "pending", "delivered", "dead", "cancelled"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A tenant's callback subscription.

    ``events``: event types wanted, or ``("*",)`` for all. ``secret`` is the stored form of
    ``whsec_`` + base64 of the HMAC key — opaque to this package (the service stores it
    encrypted, ``enc1:…``, and decrypts it to sign); ``previous_secret`` still signs (beside
    the new one) until ``previous_until`` (Unix seconds) after a rotation.
    """

    id: str
    tenant: str
    url: str
    events: tuple[str, ...]
    receipts: bool
    secret: str
    created_at: str
    previous_secret: str | None = None
    previous_until: float | None = None

    def wants(self, event_type: str) -> bool:
        """Whether this subscription asks for ``event_type``."""
        return "*" in self.events or event_type in self.events

    def secrets(self, now: float) -> tuple[str, ...]:
        """The secrets a delivery at ``now`` is signed with (the new one first)."""
        if self.previous_secret is not None and (self.previous_until or 0) > now:
            return (self.secret, self.previous_secret)
        return (self.secret,)


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery to queue. ``ordering`` names the sequence it is delivered in order within
    (``stream:<stream>`` for a ledger event, ``checkpoints`` for checkpoint notices)."""

    id: str
    webhook_id: str
    tenant: str
    ordering: str
    type: str
    event_index: int | None
    data: bytes
    created_at: float
    replay_of: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A queued or finished delivery and its log: attempts, the last response's status code (or
    None), the last error (a short text, never the response body), the last latency."""

    seq: int
    id: str
    webhook_id: str
    tenant: str
    ordering: str
    type: str
    event_index: int | None
    data: bytes
    created_at: float
    status: str
    attempts: int
    next_attempt_at: float
    last_attempt_at: float | None
    last_status: int | None
    last_error: str | None
    latency_ms: int | None
    replay_of: str | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one delivery attempt, as the worker records it."""

    at: float
    status: str
    next_attempt_at: float
    response_status: int | None
    error: str | None
    latency_ms: int | None


class WebhookStore(Protocol):
    """Subscriptions and deliveries."""

    def add(self, sub: Subscription) -> None:
        """Store a new subscription (ConflictError if the id exists)."""

    def get(self, webhook_id: str) -> Subscription | None:
        """The subscription, or None (also once deleted)."""

    def for_tenant(self, tenant: str) -> list[Subscription]:
        """A tenant's subscriptions, oldest first."""

    def all_active(self) -> list[Subscription]:
        """Every subscription (what the outbox hook caches)."""

    def delete(self, webhook_id: str, at: str) -> bool:
        """Delete the subscription and cancel its pending deliveries; False if there was none."""

    def rotate(
        self,
        webhook_id: str,
        secret: str,
        previous_until: float,
        reseal: Callable[[str], str] | None = None,
    ) -> Subscription | None:
        """Make ``secret`` current, keep the old one signing until ``previous_until`` — stored
        as ``reseal(old)`` when given (in the same transaction: e.g. a secret stored in plain
        text re-encrypted)."""

    def enqueue_in_transaction(self, items: Sequence[NewDelivery]) -> None:
        """Queue deliveries inside the running ``LedgerStore.write`` transaction (same thread)."""

    def enqueue(
        self,
        build: Callable[[int | None], tuple[Sequence[NewDelivery], int | None]],
        cursor: str | None = None,
    ) -> int:
        """In one transaction: ``build(cursor value)`` gives deliveries and the cursor's next
        value; queue those and store the cursor. Returns how many were queued."""

    def cursor(self, name: str) -> int | None:
        """A stored cursor (e.g. the last checkpoint size notified), or None."""

    def due(self, now: float, sealed: int, seal_cutoff: float, limit: int) -> list[Delivery]:
        """Pending deliveries that may be attempted now: the oldest pending one of each
        (subscription, ordering) — so a sequence is delivered in order — whose time has come,
        and which is about an event below ``sealed`` (the latest checkpoint's size), or about
        no event, or queued at or before ``seal_cutoff``."""

    def record(self, delivery_id: str, attempt: Attempt) -> None:
        """Record an attempt (attempts + 1) and the delivery's new state."""

    def delivery(self, delivery_id: str) -> Delivery | None:
        """One delivery."""

    def deliveries(self, webhook_id: str, *, after: int, limit: int) -> list[Delivery]:
        """A subscription's deliveries with ``seq`` > ``after``, oldest first."""

    def replay(
        self,
        webhook_id: str,
        *,
        delivery_id: str | None,
        since: float | None,
        until: float | None,
        now: float,
        new_id: Callable[[], str],
        limit: int,
    ) -> list[str]:
        """Queue again (as new deliveries with ``replay_of``) one delivery or those queued in
        [``since``, ``until``); return the new ids. At most ``limit``."""

    def pending_count(self) -> int:
        """Deliveries still pending (a metric)."""
