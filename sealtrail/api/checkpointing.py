"""Scheduled sealing: a checkpoint every T seconds or every K events, whichever comes first.

APScheduler's AsyncIOScheduler fires the interval; appends nudge the sealer when K events are
waiting. Only one seal runs at a time, and only when the log grew. Each new checkpoint is handed
to the registered hooks in order (timestamping and anchoring attach here); a failing hook is
logged and counted, never lost silently, and never blocks sealing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from sealtrail.ledger.log import Ledger
from sealtrail.ledger.store import StoredCheckpoint

log = logging.getLogger("sealtrail.sealing")
CheckpointHook = Callable[[StoredCheckpoint], Awaitable[None]]


class Sealer:
    """Seals checkpoints of one ledger on a schedule and on volume."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        interval: float,
        size_trigger: int,
        on_sealed: Callable[[StoredCheckpoint], None] | None = None,
    ) -> None:
        self._ledger = ledger
        self._interval = interval
        self._size_trigger = size_trigger
        self._on_sealed = on_sealed
        self.hooks: list[CheckpointHook] = []
        #: run at every tick after sealing (retries of pending timestamps and anchors)
        self.periodic: list[Callable[[], Awaitable[object]]] = []
        self._lock = asyncio.Lock()
        self._scheduler: AsyncIOScheduler | None = None
        self._nudge: asyncio.Task[StoredCheckpoint | None] | None = None
        self._sealed_size = 0
        self.hook_failures = 0

    async def start(self) -> None:
        """Start the schedule; the first tick comes at once (within half a second), so a log
        that grew while we were down is sealed right away, once the service listens."""
        latest = self._ledger.store.latest_checkpoint()
        self._sealed_size = latest.size if latest else 0
        self._scheduler = AsyncIOScheduler()
        self._scheduler.add_job(
            self.tick,
            "interval",
            seconds=self._interval,
            max_instances=1,
            coalesce=True,
            id="seal",
            next_run_time=datetime.now(UTC) + timedelta(seconds=min(0.5, self._interval)),
        )
        self._scheduler.start()

    async def tick(self) -> None:
        """One scheduled round: seal if the log grew, then the periodic retries."""
        await self.seal_if_grown()
        for fn in self.periodic:
            try:
                await fn()
            except Exception:
                log.exception("periodic job %r failed", fn)

    def appended(self, log_size: int) -> None:
        """Tell the sealer the log reached ``log_size``; seals when K events are waiting."""
        if not self._ledger.is_sequencer():
            return  # another worker seals (and this one's sealed size never moves: no task)
        if log_size - self._sealed_size >= self._size_trigger and (
            self._nudge is None or self._nudge.done()
        ):
            self._nudge = asyncio.get_running_loop().create_task(self.seal_if_grown())

    @property
    def sealed_size(self) -> int:
        """Size of the latest checkpoint this sealer knows of."""
        return self._sealed_size

    async def seal_if_grown(self) -> StoredCheckpoint | None:
        """Seal now if the log grew; return the new checkpoint (None if unchanged)."""
        if not self._ledger.is_sequencer():
            return None  # another worker holds the sequencer lease: it seals
        async with self._lock:
            try:
                cp, new = await self._ledger.sequencer.run_sync(self._ledger.seal)
            except Exception:
                log.exception("sealing a checkpoint failed; retrying at the next tick")
                return None
            if cp is None or not new:
                return None
            self._sealed_size = cp.size
            if self._on_sealed is not None:
                self._on_sealed(cp)
            for hook in self.hooks:
                try:
                    await hook(cp)
                except Exception:
                    self.hook_failures += 1
                    log.exception("checkpoint hook %r failed for size %d", hook, cp.size)
            return cp

    async def stop(self) -> None:
        """Stop the schedule and wait for a running seal."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._nudge is not None:
            await asyncio.gather(self._nudge, return_exceptions=True)
        async with self._lock:
            pass
