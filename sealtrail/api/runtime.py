"""The service's background work for one open ledger, started and stopped once.

* **checkpointing** (:mod:`sealtrail.api.checkpointing`): a signed checkpoint every T seconds
  or every K events, whichever comes first;
* **timestamping**: each new checkpoint stamped by an RFC 3161 TSA, pending ones retried at
  every tick (:class:`~sealtrail.anchoring.timestamping.CheckpointTimestamper`);
* **anchoring** (:mod:`sealtrail.api.anchoring`), when a chain is configured: each new
  checkpoint nudges the anchoring loop;
* **callbacks** (:mod:`sealtrail.api.webhooks`): the delivery worker, nudged by each new
  checkpoint;
* **renewals**: every ``renewal_interval`` seconds, checkpoint timestamp chains whose last TSA
  certificate expires within ``renewal_margin_days`` (or whose algorithm is deprecated) are
  timestamped again (:class:`~sealtrail.anchoring.renewal.TimestampRenewer`);
* **envelope expiry**: open envelopes past their deadline expired (``envelope:expired``)
  every few seconds, without waiting for a read (:func:`sealtrail.seals.signing_links.expire_due`);
* **metrics**: the Prometheus figures all of these update, and this worker's sequencer lease.

Timestamping, renewals, anchoring and callback deliveries run only while this worker holds the
sequencer lease (several workers may share one database; docs/OPERATIONS.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from cryptography import x509

from sealtrail.anchoring.renewal import TimestampRenewer
from sealtrail.anchoring.timestamping import CheckpointTimestamper
from sealtrail.anchoring.tsa import TimestampClient
from sealtrail.anchoring.worker import AnchorLoop
from sealtrail.api.anchoring import start_anchoring
from sealtrail.api.archive_renewal import EnvelopeArchiveRenewer
from sealtrail.api.checkpointing import Sealer
from sealtrail.api.context import Metrics
from sealtrail.api.settings import Settings
from sealtrail.api.webhooks import DeliveryWorker
from sealtrail.backend import Stores
from sealtrail.core.event import format_time
from sealtrail.ledger.coordination import Coordinator
from sealtrail.ledger.log import Ledger, utc_now
from sealtrail.ledger.store import StoredCheckpoint
from sealtrail.seals import signing_links
from sealtrail.seals.outbox import flush_async

log = logging.getLogger("sealtrail.api")
#: seconds between sweeps for envelopes past their deadline (at least the checkpoint interval)
EXPIRY_INTERVAL = 2.0


class Runtime:
    """Checkpointing, timestamping, anchoring and metrics for ``ledger``.

    Build it once the ledger is open, :meth:`start` it once, :meth:`stop` it once before the
    ledger closes. ``tsa_urls`` are tried in order; their tokens must chain to ``tsa_roots``.
    """

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        stores: Stores,
        coordinator: Coordinator,
        tsa_urls: Sequence[str],
        tsa_roots: Sequence[x509.Certificate],
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.stores = stores
        self.coordinator = coordinator
        self.clock = clock
        self.metrics = Metrics()
        self.sealer = Sealer(
            ledger,
            interval=settings.checkpoint_interval,
            size_trigger=settings.checkpoint_size,
            on_sealed=self._sealed,
        )
        self.timestamper = CheckpointTimestamper(
            stores,
            TimestampClient(list(tsa_urls), list(tsa_roots)),
            lambda: format_time(self.clock()),
            lease=coordinator.current,
        )
        self.renewer = TimestampRenewer(
            stores,
            TimestampClient(list(tsa_urls), list(tsa_roots)),
            list(tsa_roots),
            self.clock,
            margin=timedelta(days=settings.renewal_margin_days),
            deprecated=settings.deprecated_hash_algorithms,
            lease=coordinator.current,
        )
        #: completed envelopes' PDFs: their archive timestamps renewed with the tokens'
        self.archive_renewer = EnvelopeArchiveRenewer(
            stores.seals,
            list(tsa_urls),
            list(tsa_roots),
            self.clock,
            margin=timedelta(days=settings.renewal_margin_days),
            deprecated=settings.deprecated_hash_algorithms,
        )
        self._renewed_at: float | None = None
        self.anchoring: AnchorLoop | None = None
        #: the callbacks' delivery worker (None on a backend without callbacks)
        self.webhooks: DeliveryWorker | None = None
        self.sealer.hooks.append(lambda cp: self.stamp())
        self.sealer.periodic.append(self.stamp)
        self.sealer.periodic.append(self.renew)
        self.sealer.periodic.append(self.worker_metrics)
        self._expired_at: float | None = None
        self.sealer.periodic.append(self.expire_envelopes)

    def _sealed(self, cp: StoredCheckpoint) -> None:
        m = self.metrics
        m.sealed.inc()
        m.checkpoint_size.set(cp.size)
        m.unsealed.set((self.ledger.writer.size or cp.size) - cp.size)

    async def stamp(self) -> None:
        """Stamp every checkpoint still waiting for a timestamp; count failures."""
        failures = self.timestamper.stats.failures
        await self.timestamper.stamp_pending()
        self.metrics.tsa_failures.inc(self.timestamper.stats.failures - failures)
        self.metrics.timestamps_pending.set(
            len(await asyncio.to_thread(self.stores.timestamps.untimestamped))
        )

    async def renew(self, *, force: bool = False) -> None:
        """Renew due timestamp chains, at most every ``renewal_interval`` seconds (or now, with
        ``force``); update the renewal metrics."""
        started = time.monotonic()
        interval = self.settings.renewal_interval
        if not force and self._renewed_at is not None and started - self._renewed_at < interval:
            return
        self._renewed_at = started
        stats = self.renewer.stats
        before = (stats.renewed, stats.failures, stats.late)
        await self.renewer.renew_due()
        m = self.metrics
        m.renewals.inc(stats.renewed - before[0])
        m.renewal_failures.inc(stats.failures - before[1])
        m.renewals_late.inc(stats.late - before[2])
        m.renewals_due.set(stats.due)
        expiry = stats.next_expiry
        left = 0.0 if expiry is None else (expiry - self.clock()).total_seconds()
        m.renewal_expiry.set(max(left, 0.0))
        if self.coordinator.current() is not None:
            a = self.archive_renewer.stats
            done, failed = a.renewed, a.failures
            await self.archive_renewer.renew_due()
            m.archive_renewals.inc(a.renewed - done)
            m.archive_renewal_failures.inc(a.failures - failed)
            m.archive_renewals_due.set(a.due)

    async def expire_envelopes(self) -> None:
        """On the lease holder, at most every :data:`EXPIRY_INTERVAL` seconds (or the checkpoint
        interval, if longer): expire envelopes past their deadline and append the events."""
        if self.coordinator.current() is None:
            return
        started = time.monotonic()
        every = max(EXPIRY_INTERVAL, self.settings.checkpoint_interval)
        if self._expired_at is not None and started - self._expired_at < every:
            return
        self._expired_at = started
        seals = self.stores.seals
        if await asyncio.to_thread(signing_links.expire_due, seals, self.clock()):
            await flush_async(self.ledger, seals, asyncio.to_thread)

    async def worker_metrics(self) -> None:
        """This worker's lease, and the log's size (other workers' and the CLI's appends too)."""
        lease = self.coordinator.current()
        self.metrics.sequencer.set(1 if lease is not None else 0)
        self.metrics.lease_epoch.set(lease.epoch if lease is not None else 0)
        self.metrics.log_size.set(await asyncio.to_thread(self.stores.ledger.size))

    async def start(self) -> None:
        """Start the sequencer, anchoring (when configured) and the checkpoint schedule."""
        self.ledger.sequencer.start()
        self.metrics.log_size.set(self.stores.ledger.size())
        anchoring = self.anchoring = start_anchoring(
            self.settings,
            self.stores,
            self.ledger.origin,
            self.metrics,
            self.clock,
            lease=self.coordinator.current,
        )
        if anchoring is not None:
            nudge = anchoring.nudge

            async def anchor_now(cp: StoredCheckpoint) -> None:
                nudge()

            async def anchor_metrics() -> None:
                await asyncio.to_thread(anchoring.update_metrics)

            self.sealer.hooks.append(anchor_now)
            self.sealer.periodic.append(anchor_metrics)
        if self.stores.webhooks is not None:
            worker = self.webhooks = DeliveryWorker(
                self.settings,
                self.ledger,
                self.stores,
                self.stores.webhooks,
                confirmations=self.settings.chain_confirmations
                if self.settings.chain_rpc_url
                else None,
            )

            async def deliver_now(cp: StoredCheckpoint) -> None:
                worker.nudge()

            self.sealer.hooks.append(deliver_now)
            worker.start()
        await self.sealer.start()

    async def stop(self) -> None:
        """Stop the schedule (a running seal finishes) and anchoring; the ledger stays open."""
        await self.sealer.stop()
        if self.webhooks is not None:
            await self.webhooks.stop()
        if self.anchoring is not None:
            await self.anchoring.stop()
