"""The storage protocol every ledger backend implements, and the records it holds.

Two small interfaces, after the CT logs (Sunlight, Tessera):

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

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from .event import Event
from .merkle import HASH_SIZE, NodeId

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
class TimestampRecord:
    """The RFC 3161 timestamp of a checkpoint: the token once had, else why it is pending."""

    size: int
    token: bytes | None
    gen_time: str | None
    serial: str | None
    tsa: str | None
    attempts: int
    last_error: str | None
    updated_at: str

    @property
    def status(self) -> str:
        """``stamped`` once a token is stored, else ``pending`` (it is retried)."""
        return "stamped" if self.token is not None else "pending"


#: anchoring states (docs/FORMAT.md §6): ``pending`` → ``sent`` → ``confirmed`` → ``final``;
#: ``retry`` (the last try failed for a reason that may pass) and ``failed`` (the chain or the
#: contract refused; needs an operator, still retried now and then)
ANCHOR_STATES = ("pending", "sent", "confirmed", "final", "retry", "failed")


@dataclass(frozen=True, slots=True)
class StoredAnchor:
    """The anchoring state of one checkpoint on one chain (a row of table ``anchors``).

    Crash invariant: a signed transaction is stored (``raw``, its hash appended to
    ``tx_hashes``) *before* it is broadcast, so after any crash the worker knows every
    transaction that may be on the chain for this checkpoint and can re-send or follow it.
    """

    size: int
    status: str
    chain_id: int
    contract: str
    log_id: bytes
    root: bytes
    #: the latest transaction sent (a replacement supersedes the one before)
    tx_hash: bytes | None = None
    #: every transaction ever sent for this checkpoint, oldest first
    tx_hashes: tuple[bytes, ...] = ()
    nonce: int | None = None
    raw: bytes | None = field(default=None, repr=False)
    max_fee: int | None = None
    priority_fee: int | None = None
    gas_limit: int | None = None
    sent_at: str | None = None
    #: set from the receipt once mined (``confirmed``, ``final``)
    block_number: int | None = None
    block_hash: bytes | None = None
    log_index: int | None = None
    gas_used: int | None = None
    effective_gas_price: int | None = None
    confirmations: int = 0
    attempts: int = 0
    last_error: str | None = None
    created_at: str = ""
    updated_at: str = ""
    final_at: str | None = None


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
class Tenant:
    """An organisation; ``parent`` is its group headquarters, if any."""

    id: str
    name: str
    parent: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's record. Only a hash of the secret is kept."""

    id: str
    tenant: str
    role: str
    secret_hash: bytes = field(repr=False)
    label: str | None
    created_at: str
    revoked_at: str | None = None


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


class LedgerStore(Protocol):
    """A ledger backend."""

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


class DirectoryStore(Protocol):
    """Tenants and API keys (kept in the same database as the ledger)."""

    def add_tenant(self, tenant: Tenant) -> None:
        """Create a tenant; ConflictError if it exists, NotFoundError if its parent does not."""

    def tenant(self, tenant_id: str) -> Tenant | None:
        """One tenant."""

    def tenants(self) -> list[Tenant]:
        """All tenants, by id."""

    def subtree_tenants(self, tenant_id: str) -> list[str]:
        """The tenant and all its descendants (subsidiaries, recursively)."""

    def add_key(self, key: ApiKey) -> None:
        """Store a new API key record."""

    def key(self, key_id: str) -> ApiKey | None:
        """One key record."""

    def keys(self, tenants: Collection[str]) -> list[ApiKey]:
        """Key records of these tenants."""

    def revoke_key(self, key_id: str, at: str) -> ApiKey:
        """Mark a key revoked (idempotent); NotFoundError if unknown."""
