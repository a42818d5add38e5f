"""Several service processes on one database: the sequencer lease (and, on MongoDB only, the
append queue).

Every process appends on its own: it commits its own groups, and the database's serialisation
of the log head (SQLite's write lock, PostgreSQL's row lock on the log's head) orders them
(sealtrail/ledger/sequencer.py). One process at a time runs the *background jobs* —
checkpointing, timestamping, anchoring, renewals, callback delivery, map sealing: the holder of
the lease named ``sequencer`` (docs/OPERATIONS.md, "Several workers").

* **Lease.** A row/document ``leases/sequencer`` with ``holder``, ``epoch`` and ``expires_at``.
  The holder renews it every third of its time to live; any other process takes it (epoch + 1)
  once it has expired, so a dead holder is replaced within about ``ttl``.
* **Fencing.** Every write of a background job (checkpoints, timestamps, anchoring state)
  checks, inside its own transaction, that the stored lease still has this process's holder and
  epoch (:meth:`WriteView.check_fence`). A holder that was paused or cut off and lost the lease
  therefore cannot write anything after the takeover: its transaction fails with LeaseLostError
  and nothing of it is kept. Expiry times only decide when a takeover is *allowed* (liveness);
  clocks that disagree cannot make two sealers (safety is the epoch). Appends are not fenced:
  they need no single writer.
* **Append queue — MongoDB only** (``Coordinator(queue_appends=True)``). Direct appends from
  every worker are safe only if the store's write transactions really serialise writers. On
  MongoDB that rests on snapshot isolation and write-conflict detection on the ``log`` state
  document (mongo_store.py), which a real replica set has but which has never run here: the
  test stand-in (nx-27017) has no isolation, detects no write conflicts, and breaks when two
  clients run transactions at once (tests/mongo.py). So on MongoDB the old division stays —
  the lease holder is the only process that runs append transactions, fenced: a process that
  does not hold the lease stores each append request durably (``append_queue``, a
  single-document write) and waits for its outcome; the holder takes queued requests into its
  next group commit and stores each outcome *in the same transaction* as the events. So a
  queued request is appended exactly once, whoever holds the lease when it is taken, and a
  request whose process dies while waiting is still appended (like any request in flight). A
  caller that gives up waiting gets LedgerBusyError naming the ticket; retrying with the same
  ``client_event_id`` is safe, as always.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from sealtrail.core.errors import LedgerBusyError, NotFoundError, SealtrailError, StorageError
from sealtrail.core.event import Event, EventInput, format_time, parse_event_input
from sealtrail.ledger.errors import QueuedAppendError as QueuedAppendError
from sealtrail.ledger.store import CoordinationStore, Lease, QueuedAppend

log = logging.getLogger("sealtrail.coordination")

LEASE_NAME = "sequencer"
#: how long finished queue entries are kept (for a waiter that polls late)
QUEUE_RETENTION = timedelta(minutes=10)


def new_holder_id() -> str:
    """A holder id unique to this process start: host, pid and 32 random bits."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def encode_outcome(result: Sequence[tuple[int, bool]] | SealtrailError) -> bytes:
    """The JSON outcome stored for a queued append: indices and duplicate flags, or the error."""
    if isinstance(result, SealtrailError):
        return orjson.dumps({"error": {"code": result.code, "message": str(result)}})
    return orjson.dumps({"events": [[i, d] for i, d in result]})


def decode_outcome(raw: bytes) -> list[tuple[int, bool]]:
    """Indices and duplicate flags of a queued append; raises the error it stored."""
    try:
        obj: Any = orjson.loads(raw)
        if "error" in obj:
            e = obj["error"]
            raise QueuedAppendError(str(e["code"]), str(e["message"]))
        return [(int(i), bool(d)) for i, d in obj["events"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise StorageError(f"unreadable outcome of a queued append: {e}") from e


def encode_inputs(inputs: Sequence[EventInput]) -> bytes:
    """A request's event inputs as stored in the queue (their normal-form JSON)."""
    return orjson.dumps([i.body() for i in inputs])


def decode_inputs(body: bytes) -> tuple[EventInput, ...]:
    """The event inputs of a queued append (validated again)."""
    items = orjson.loads(body)
    if not isinstance(items, list) or not items:
        raise StorageError("a queued append holds no events")
    return tuple(parse_event_input(i) for i in items)


class Coordinator:
    """This process's side of the sequencer lease and (with ``queue_appends``) the append queue.

    Thread-safe. ``ttl`` is the lease's time to live in seconds; ``clock`` gives Unix time.
    """

    def __init__(
        self,
        store: CoordinationStore,
        *,
        ttl: float = 10.0,
        holder: str | None = None,
        clock: Callable[[], float] = time.time,
        wait_timeout: float | None = None,
        queue_appends: bool = False,
    ) -> None:
        self.store = store
        #: appends go through the lease holder (the append queue) instead of being committed
        #: by every process: for MongoDB only (see the module docstring)
        self.queue_appends = queue_appends
        self.ttl = ttl
        self.holder = holder or new_holder_id()
        self._clock = clock
        #: how long a queued append is waited for before LedgerBusyError
        self.wait_timeout = wait_timeout if wait_timeout is not None else max(30.0, 3 * ttl)
        self._lock = threading.Lock()
        self._lease: Lease | None = None
        self._last_prune = 0.0

    # -- the lease --------------------------------------------------------------------------

    def current(self) -> Lease | None:
        """The lease if this process holds it (by its own clock), else None."""
        with self._lock:
            lease = self._lease
        if lease is None or lease.expires_at <= self._clock():
            return None
        return lease

    def refresh(self) -> Lease | None:
        """Take or renew the lease (one database round trip); the lease held now, or None.

        A database error keeps what is held until it expires (and is logged).
        """
        try:
            got = self.store.acquire_lease(LEASE_NAME, self.holder, self.ttl, self._clock())
        except SealtrailError as e:
            log.warning("cannot renew the sequencer lease: %s", e)
            return self.current()
        with self._lock:
            before, self._lease = self._lease, got
        if got is not None and (before is None or before.epoch != got.epoch):
            log.info("this process is now the sequencer (lease epoch %d)", got.epoch)
        elif got is None and before is not None:
            log.warning("the sequencer lease passed to another process")
        return got

    def lost(self, lease: Lease) -> None:
        """A fenced write found ``lease`` gone: forget it."""
        with self._lock:
            if self._lease == lease:
                self._lease = None
        log.warning("lost the sequencer lease (epoch %d) to another process", lease.epoch)

    def release(self) -> None:
        """Give the lease up now, so another process need not wait for it to expire."""
        with self._lock:
            lease, self._lease = self._lease, None
        if lease is not None:
            try:
                self.store.release_lease(lease)
            except SealtrailError as e:
                log.warning("cannot release the sequencer lease: %s", e)

    def maybe_prune(self) -> None:
        """Delete finished queue entries older than QUEUE_RETENTION (at most once a minute)."""
        now = self._clock()
        if now - self._last_prune < 60:
            return
        self._last_prune = now
        try:
            self.store.prune_queue(format_time_now(now - QUEUE_RETENTION.total_seconds()))
        except SealtrailError as e:
            log.warning("cannot prune the append queue: %s", e)

    # -- the queue --------------------------------------------------------------------------

    def submit(self, tenant: str, inputs: Sequence[EventInput]) -> str:
        """Queue an append for the sequencer; return its ticket (durable on return)."""
        ticket = f"q-{secrets.token_hex(12)}"
        at = format_time_now(self._clock())
        self.store.enqueue_append(QueuedAppend(ticket, tenant, encode_inputs(inputs), at))
        return ticket

    def outcome(self, ticket: str) -> list[tuple[int, bool]] | None:
        """The (index, duplicate) pairs of a queued append once sequenced, else None."""
        try:
            raw = self.store.queued_result(ticket)
        except NotFoundError:
            raise StorageError(f"queued append {ticket} vanished before its outcome") from None
        return None if raw is None else decode_outcome(raw)

    def wait(self, ticket: str) -> list[tuple[int, bool]]:
        """Block until ``ticket`` is sequenced (synchronous callers, e.g. the CLI)."""
        deadline = time.monotonic() + self.wait_timeout
        delay = 0.002
        while True:
            got = self.outcome(ticket)
            if got is not None:
                return got
            if time.monotonic() > deadline:
                raise not_sequenced(ticket, self.wait_timeout)
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)


def format_time_now(unix: float) -> str:
    """Unix seconds in the ledger's normal time form."""
    return format_time(datetime.fromtimestamp(unix, UTC))


def not_sequenced(ticket: str, waited: float) -> LedgerBusyError:
    """The error for a queued append that no sequencer took in time."""
    return LedgerBusyError(
        f"append queued as {ticket} was not sequenced within {waited:g} s (no process holds "
        "the sequencer lease?); it stays queued and will be appended — retry with the same "
        "client_event_id to learn its outcome"
    )


def events_of(
    pairs: Sequence[tuple[int, bool]], event: Callable[[int], Event | None]
) -> list[tuple[Event, bool]]:
    """Read the events a queued append produced."""
    out: list[tuple[Event, bool]] = []
    for index, dup in pairs:
        ev = event(index)
        if ev is None:
            raise StorageError(f"queued append outcome names event {index}, which is missing")
        out.append((ev, dup))
    return out
