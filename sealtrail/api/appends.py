"""Appending events on behalf of the service's routes: through the ledger (validated inputs,
committed before this returns), then the log-size figures on /metrics and a nudge to the
checkpointer, which seals when K events are waiting (api/checkpointing.py)."""

from __future__ import annotations

from sealtrail.api.context import Services
from sealtrail.core.event import EventInput
from sealtrail.ledger.sequencer import Appended


async def append_events(svc: Services, tenant: str, inputs: list[EventInput]) -> list[Appended]:
    """Append ``inputs`` (already validated) to ``tenant``'s streams atomically and return each
    event with whether it repeats an earlier append (same client event id).

    Nothing new is validated here; the ledger's own checks and errors apply unchanged."""
    results = await svc.ledger.append_async(tenant, inputs)
    fresh = sum(1 for r in results if not r.duplicate)
    if fresh:
        svc.metrics.appended.inc(fresh)
        # (a worker without the sequencer lease learns the size from its events' indices)
        size = max(svc.ledger.writer.size or 0, 1 + max(r.event.index for r in results))
        svc.metrics.log_size.set(size)
        svc.metrics.unsealed.set(size - svc.sealer.sealed_size)
        svc.sealer.appended(size)
    return results
