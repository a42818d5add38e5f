"""Appending events on behalf of the service's routes: through the ledger (validated inputs,
committed before this returns), then the log-size figures on /metrics and a nudge to the
checkpointer, which seals when K events are waiting (api/checkpointing.py)."""

from __future__ import annotations

import asyncio

from sealtrail.api.context import Services
from sealtrail.core.errors import CommitPendingError
from sealtrail.core.event import EventInput
from sealtrail.ledger.sequencer import Appended


async def append_events(svc: Services, tenant: str, inputs: list[EventInput]) -> list[Appended]:
    """Append ``inputs`` (already validated) to ``tenant``'s streams atomically and return each
    event with whether it repeats an earlier append (same client event id).

    Nothing new is validated here; the ledger's own checks and errors apply unchanged.

    Never a hang: a commit that has not returned after ``append_timeout`` seconds (a
    synchronous standby away, a database that accepted the commit and went quiet) is answered
    CommitPendingError (503) while it goes on in the background — it is neither cancelled nor
    rolled back by this, so nothing acknowledged can be lost and nothing half-done is shown; a
    retry with the same client event id returns the event once it is committed."""
    commit = asyncio.ensure_future(svc.ledger.append_async(tenant, inputs))
    try:
        results = await asyncio.wait_for(asyncio.shield(commit), svc.settings.append_timeout)
    except TimeoutError:
        commit.add_done_callback(_forget)
        raise CommitPendingError(
            f"the commit has not returned after {svc.settings.append_timeout:g} s (the database "
            "has neither confirmed nor refused it); it may still commit: retry with the same "
            "client_event_id, which returns the event if it did"
        ) from None
    fresh = sum(1 for r in results if not r.duplicate)
    if fresh:
        svc.metrics.appended.inc(fresh)
        # (a worker without the sequencer lease learns the size from its events' indices)
        size = max(svc.ledger.writer.size or 0, 1 + max(r.event.index for r in results))
        svc.metrics.log_size.set(size)
        svc.metrics.unsealed.set(size - svc.sealer.sealed_size)
        svc.sealer.appended(size)
    return results


def _forget(task: asyncio.Future[list[Appended]]) -> None:
    """The outcome of a commit nobody waits for any more (its caller was answered 503): taken,
    so that asyncio does not log it as never retrieved; a retry learns it from the database."""
    if not task.cancelled():
        task.exception()
