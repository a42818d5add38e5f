"""The ledger's storage protocols, and the records they hold.

The ledger's store is small: log entries, checkpoints and ledger settings
(:class:`LedgerStore`), leases and the append queue (:class:`CoordinationStore`), and read-only
statistics over the log (:class:`LogStatistics`). The other domains keep their storage
interfaces beside them (anchoring: timestamps and anchors; the directory: tenants and keys;
seals); every backend implements each in a module of its own, on one shared database handle
(:mod:`.sqlite_db`, :mod:`.mongo_db`).

Two interfaces carry the log, after the CT logs (Sunlight, Tessera):

* :class:`WriteView` — what the sequencer may read and write inside one exclusive, atomic
  write transaction;
* :class:`LedgerStore` — running such transactions (:meth:`LedgerStore.write`) and the
  read-only queries proofs, audits and the API need.

What is stored per log entry: the event (canonical bytes, leaf hash, the indexed fields) and
the hashes of the perfect subtrees the entry's append completed (levels 1 up, concatenated).
Node ``(level, idx)`` with ``level >= 1`` was completed by entry ``((idx + 1) << level) - 1`` and
sits at offset ``(level - 1) * 32`` of that entry's ``subtrees``; level 0 is the leaf hash. So
every proof needs O(log N) point reads, and nothing is ever rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sealtrail.core.event import Event
from sealtrail.core.merkle import HASH_SIZE, NodeId

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: the event, the subtree hashes its append completed, and (when appending)
    the fingerprints (SHA-256, raw) of the documents it names, for look-ups by document."""

    event: Event
    subtrees: bytes
    fingerprints: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A sealed checkpoint: tree size, root, the signed note, and when it was sealed."""

    size: int
    root: bytes
    note: str
    created_at: str


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters for listing events; every given field must match. ``tenants`` is required."""

    tenants: tuple[str, ...]
    stream: str | None = None
    type: str | None = None
    actor_id: str | None = None
    document: bytes | None = None
    #: inclusive lower bound on ``recorded_at`` (normal form, see event.format_time)
    recorded_from: str | None = None
    #: exclusive upper bound on ``recorded_at``
    recorded_to: str | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    """A named lease held in the database (e.g. ``sequencer``: the one process that appends).

    ``epoch`` is the fencing token: it grows by one each time the lease changes hands, and every
    fenced write checks it inside its transaction, so a holder that lost the lease (paused,
    partitioned, presumed dead) can never write again. ``expires_at`` is Unix time in seconds by
    the holder's clock; expiry only decides when others may *take* the lease (liveness), never
    whether a write is allowed (safety comes from the epoch).
    """

    name: str
    holder: str
    epoch: int
    expires_at: float


@dataclass(frozen=True, slots=True)
class QueuedAppend:
    """An append request a worker without the sequencer lease hands to the one holding it.

    ``body`` is the JSON array of the event inputs (as the client sent them, normal form);
    ``result`` is set, in the same transaction that appended the events, to the JSON outcome
    (``{"events": [[index, duplicate], …]}`` or ``{"error": {"code": …, "message": …}}``).
    """

    ticket: str
    tenant: str
    body: bytes
    queued_at: str
    result: bytes | None = None


def subtree_location(node: NodeId) -> tuple[int, int | None]:
    """Which entry holds ``node``, and at which byte offset (None: the entry's leaf hash)."""
    level, idx = node
    if level == 0:
        return idx, None
    return ((idx + 1) << level) - 1, (level - 1) * HASH_SIZE


class WriteView(Protocol):
    """Reads and writes inside one exclusive write transaction."""

    def size(self) -> int:
        """Number of entries in the log."""

    def events_by_client_id(self, tenant: str, client_ids: Collection[str]) -> dict[str, Event]:
        """Stored events of ``tenant`` with these client event ids, keyed by that id."""

    def stream_head(self, tenant: str, stream: str) -> bytes | None:
        """Leaf hash of the last event of the stream, or None for a new stream."""

    def subtrees(self, nodes: Iterable[NodeId]) -> dict[NodeId, bytes]:
        """Hashes of perfect subtrees that lie within the log."""

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint with the largest size."""

    def append(self, entries: Sequence[Entry]) -> None:
        """Append entries; requires ``entries[i].event.index == size() + i``."""

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """Store a checkpoint; requires its size to exceed every stored one."""

    def check_fence(self, lease: Lease) -> None:
        """Raise LeaseLostError unless ``lease`` (name, holder, epoch) is still the one stored.

        Must make a concurrent change of the lease conflict with this transaction (SQLite: the
        write lock is held; MongoDB: the lease document is written in the transaction).
        """

    def finish_queued(self, results: Mapping[str, bytes], at: str) -> None:
        """Store the outcome of queued appends (ticket → result JSON) in this transaction;
        raises ConflictError if one of them already has an outcome."""


class MapStore(Protocol):
    """The verifiable map's storage (docs/MAP.md): content-addressed nodes (write-once), each
    key's current value, and the map root each checkpoint commits to (by checkpoint size).

    :meth:`put` must run inside :meth:`LedgerStore.write`'s ``fn`` with that call's ``view``:
    it joins that transaction, so a checkpoint and the map nodes its root needs commit together.
    """

    def nodes(self, hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        """Stored node encodings (hash -> 65 bytes) of those of ``hashes`` that are stored."""

    def values(self, key_hashes: Collection[bytes]) -> dict[bytes, bytes]:
        """Current encoded values (key hash -> value) of those keys that are in the map."""

    def root(self, size: int) -> bytes | None:
        """The map root committed by the checkpoint of ``size``, or None (before the map)."""

    def latest_root(self) -> tuple[int, bytes] | None:
        """(checkpoint size, map root) of the newest checkpoint with a map root, or None."""

    def put(
        self,
        view: WriteView,
        nodes: Mapping[bytes, bytes],
        values: Mapping[bytes, tuple[bytes, bytes]],
        roots: Mapping[int, bytes],
    ) -> None:
        """In ``view``'s transaction: insert ``nodes`` (hash -> encoding; existing ones are left
        alone), set ``values`` (key hash -> (encoded key, encoded value)), and record ``roots``
        (checkpoint size -> map root; a size must not have one yet)."""

    def all_nodes(self) -> Iterator[tuple[bytes, bytes]]:
        """Every stored node (hash, encoding), for migration."""

    def all_values(self) -> Iterator[tuple[bytes, bytes, bytes]]:
        """Every stored value (key hash, encoded key, encoded value), for migration."""

    def roots(self) -> list[tuple[int, bytes]]:
        """Every (checkpoint size, map root), by size."""


class LedgerStore(Protocol):
    """A ledger backend."""

    #: where the database is, for messages (never a password)
    where: str
    #: the verifiable map's storage; None where the backend does not store the map yet
    #: (its checkpoints are then sealed without the map line)
    maps: MapStore | None

    def write(self, fn: Callable[[WriteView], T]) -> T:
        """Run ``fn`` in one exclusive transaction and commit durably before returning.

        If ``fn`` raises, nothing it wrote is kept. Raises LedgerBusyError when the write lock
        cannot be had in time.
        """

    def size(self) -> int:
        """Number of committed entries."""

    def event(self, index: int) -> Event | None:
        """The event at ``index``, or None."""

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[Entry]:
        """Committed entries in index order, as stored (used by audits); no fingerprints."""

    def document_index(self) -> Iterator[tuple[bytes, int]]:
        """Every row of the look-up-by-document index: (first 8 bytes of a fingerprint, index)."""

    def stream(self, tenant: str, stream: str) -> list[Event]:
        """A stream's events in index order."""

    def subtrees(self, nodes: Iterable[NodeId]) -> dict[NodeId, bytes]:
        """Hashes of perfect subtrees that lie within the committed log."""

    def checkpoint(self, size: int) -> StoredCheckpoint | None:
        """The checkpoint of exactly ``size``, or None."""

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint with the largest size, or None."""

    def checkpoints(self) -> list[StoredCheckpoint]:
        """All checkpoints, by size."""

    def meta(self, key: str) -> str | None:
        """A ledger-wide setting (origin, verifier key, schema version)."""

    def set_meta(self, key: str, value: str) -> None:
        """Set a ledger-wide setting durably."""

    def query(self, q: EventQuery, *, after: int = -1, limit: int = 100) -> list[Event]:
        """Events matching ``q`` with index > ``after``, in index order, at most ``limit``."""

    def by_document(self, sha256: bytes, *, limit: int = 1000) -> list[Event]:
        """Events (of any tenant) naming a document with this fingerprint, in index order."""

    def close(self) -> None:
        """Release connections and locks."""


class CoordinationStore(Protocol):
    """Leases and the append queue shared by several service processes on one database."""

    def lease(self, name: str) -> Lease | None:
        """The stored lease, expired or not, or None if it was never taken."""

    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> Lease | None:
        """Atomically take or renew lease ``name`` for ``holder``.

        Renews (same epoch, ``expires_at = now + ttl``) when ``holder`` holds it; takes it
        (epoch + 1) when it is free or expired; returns None when another holder's lease has
        not expired.
        """

    def release_lease(self, lease: Lease) -> None:
        """Give the lease up (it expires now) if it is still this one; else do nothing."""

    def enqueue_append(self, item: QueuedAppend) -> None:
        """Store a queued append durably; ConflictError if the ticket exists."""

    def queued_appends(self, limit: int = 100) -> list[QueuedAppend]:
        """Queued appends without an outcome, oldest first."""

    def queued_result(self, ticket: str) -> bytes | None:
        """The outcome of a queued append, or None while it waits; NotFoundError if unknown."""

    def prune_queue(self, before: str) -> int:
        """Delete queued appends that got their outcome before ``before``; return how many."""


#: the ``recorded_at`` prefixes :meth:`LogStatistics.event_counts` groups by: the UTC day, hour,
#: minute or second of an RFC 3339 time written ``YYYY-MM-DDTHH:MM:SS.ffffffZ``
COUNT_PREFIXES = (10, 13, 16, 19)


def check_count_prefix(prefix: int) -> None:
    """ValueError unless ``prefix`` is one of :data:`COUNT_PREFIXES`."""
    if isinstance(prefix, bool) or prefix not in COUNT_PREFIXES:
        raise ValueError(f"count prefix {prefix!r}: want one of {COUNT_PREFIXES}")


class LogStatistics(Protocol):
    """Read-only aggregates over the log (what the auditors' console shows)."""

    def event_counts(
        self, tenants: Collection[str], start: str, end: str, prefix: int = 10
    ) -> list[tuple[str, str, int]]:
        """(``recorded_at[:prefix]``, type, events) with start <= recorded_at < end, by that
        key then type; ``prefix`` in :data:`COUNT_PREFIXES` (ValueError otherwise)."""

    def tenant_activity(self, tenants: Collection[str]) -> dict[str, tuple[int, str]]:
        """tenant → (events, latest recorded_at), for those of ``tenants`` that have events."""

    def recent_checkpoints(self, limit: int) -> list[StoredCheckpoint]:
        """The latest ``limit`` checkpoints, newest first."""
