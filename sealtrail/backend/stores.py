"""Every domain's store, built once on one database handle: :class:`Stores`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sealtrail.anchoring.store import AnchorStore, TimestampStore
from sealtrail.directory.store import DirectoryStore
from sealtrail.ledger.store import CoordinationStore, LedgerStore, LogStatistics
from sealtrail.seals.store import SealStore
from sealtrail.webhooks.store import WebhookStore


@dataclass(frozen=True)
class Stores:
    """Every domain's store on one database, built once per process (:func:`open_backend`).

    ``ledger`` and ``stats`` are one object (the log's statistics are read-only queries over
    the log's own tables). ``close()`` closes the shared database handle (idempotent).
    """

    #: where the database is, for messages (never a password)
    where: str
    ledger: LedgerStore
    stats: LogStatistics
    coordination: CoordinationStore
    timestamps: TimestampStore
    anchors: AnchorStore
    directory: DirectoryStore
    seals: SealStore
    _close: Callable[[], None] = field(repr=False)
    #: callbacks (webhooks); None on a backend that does not store them
    webhooks: WebhookStore | None = None

    def close(self) -> None:
        """Close the shared database handle (idempotent); every store is unusable after."""
        self._close()
