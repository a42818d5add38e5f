"""Anchoring's storage protocols — RFC 3161 timestamps and chain anchors of checkpoints — and
the records they hold. Implemented by :mod:`.sqlite_store` and :mod:`.mongo_store` on the
ledger's database (they read the ledger's checkpoints, and write fenced by its leases)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol

from sealtrail.ledger.store import Lease, LedgerStore, StoredCheckpoint


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
    #: the renewals of ``token`` (docs/TIMESTAMPS.md §8), DER tokens, oldest first: renewal k
    #: timestamps the note and the k tokens before it
    renewals: tuple[bytes, ...] = ()

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
    #: the version of the contract anchored to (1: log root only; 2: log root and map root)
    contract_version: int = 1
    #: the map root anchored with the log root (version 2, a note with a ``sealtrail-map/v1``
    #: line); None on version 1 (the contract records none) and for a note without the line
    map_root: bytes | None = None


class TimestampStore(Protocol):
    """The RFC 3161 timestamps of checkpoints (table/collection ``timestamps``)."""

    def timestamp(self, size: int) -> TimestampRecord | None:
        """The timestamp record of checkpoint ``size``, or None."""

    def untimestamped(self, limit: int = 100) -> list[StoredCheckpoint]:
        """Checkpoints without a token yet, by size."""

    def put_timestamp(
        self,
        size: int,
        token: bytes,
        gen_time: str,
        serial: int,
        tsa: str,
        at: str,
        *,
        fence: Lease | None = None,
    ) -> None:
        """Store the token of checkpoint ``size`` (fenced by ``fence`` when given)."""

    def timestamp_failed(
        self, size: int, error: str, at: str, *, fence: Lease | None = None
    ) -> None:
        """Count a failed attempt and remember why (fenced by ``fence`` when given)."""

    def timestamps(self) -> list[TimestampRecord]:
        """Every timestamp record, by size."""

    def add_renewal(
        self,
        size: int,
        index: int,
        token: bytes,
        gen_time: str,
        tsa: str,
        at: str,
        *,
        fence: Lease | None = None,
    ) -> None:
        """Store renewal ``index`` (1 for the first) of checkpoint ``size``'s token (fenced by
        ``fence`` when given). Requires that the checkpoint is stamped and holds exactly
        ``index - 1`` renewals, else ConflictError: a chain only grows at its end."""


class AnchorStore(Protocol):
    """The anchoring state of checkpoints (table/collection ``anchors``)."""

    def anchor(self, size: int) -> StoredAnchor | None:
        """The anchoring state of checkpoint ``size``, or None if anchoring never began."""

    def anchors(self, statuses: Collection[str] | None = None) -> list[StoredAnchor]:
        """Anchoring states (of these statuses, default all), by size."""

    def anchored_size(self, statuses: Collection[str] = ("final",)) -> int:
        """The largest checkpoint size with an anchor in one of ``statuses`` (0 if none)."""

    def put_anchor(self, anchor: StoredAnchor, *, fence: Lease | None = None) -> None:
        """Insert or replace one checkpoint's anchoring state (fenced by ``fence`` if given)."""

    def unanchored(self, after: int = 0, limit: int = 100) -> list[StoredCheckpoint]:
        """Checkpoints larger than ``after`` not on their way to the chain, by size."""

    def oldest_unfinal(self) -> tuple[int, StoredCheckpoint | None]:
        """How many checkpoints are not anchored ``final`` yet, and the oldest of them."""


class AnchoringStores(Protocol):
    """The stores anchoring works on: its own, and the ledger's (checkpoints, subtree hashes).
    The composition root's ``Stores`` is one."""

    @property
    def ledger(self) -> LedgerStore:
        """The ledger's store (read only here)."""

    @property
    def timestamps(self) -> TimestampStore:
        """Timestamps of checkpoints."""

    @property
    def anchors(self) -> AnchorStore:
        """Anchoring states of checkpoints."""
