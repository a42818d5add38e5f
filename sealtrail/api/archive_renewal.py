"""Renewing the archive timestamps of completed envelopes' PDFs (PAdES B-LTA, TIMESTAMPS.md §8).

A completed envelope's PDF ends with a document timestamp over its signatures and validation
data (:mod:`sealtrail.signing.archive`). Before that timestamp's TSA certificate expires (within
``renewal_margin_days``), or when its digest is deprecated, or when the PDF has none yet (an
envelope completed before B-LTA), :class:`EnvelopeArchiveRenewer` appends a new document
timestamp, stores the renewed PDF in place of the old one and records an
``envelope:archive-renewed`` event naming both fingerprints in the envelope's stream — in the
same transaction (the seal store's outbox), so the ledger always says which PDF succeeded which.
The earlier signatures are untouched: the renewed PDF is the old one plus one incremental update.

It runs on the sequencer lease holder with the checkpoint-token renewal (``Runtime.renew``),
walks completed envelopes page by page and renews at most ``max_per_round`` of them per round.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509

from sealtrail.core.errors import ConflictError, SealtrailError
from sealtrail.seals.outbox import outbox_event
from sealtrail.seals.store import SealStore
from sealtrail.signing.archive import archive_state, async_renew_archive, renewal_reason

log = logging.getLogger("sealtrail.signing")

#: the actor of the renewal events (the service itself)
ACTOR = {"id": "sealtrail-archive-renewal", "role": "service"}


@dataclass
class EnvelopeRenewalStats:
    """What the renewer did since it was made."""

    renewed: int = 0
    failures: int = 0
    #: envelopes found due in the last round (renewed or not)
    due: int = 0


def renewal_event(
    envelope_id: str, title: str, before: bytes, after: bytes, reason: str
) -> dict[str, Any]:
    """The ``envelope:archive-renewed`` event input (docs/FORMAT.md §7)."""
    return {
        "stream": f"envelope:{envelope_id}",
        "type": "envelope:archive-renewed",
        "actor": dict(ACTOR),
        "documents": [
            {"name": "before", "sha256": before.hex()},
            {"name": "after", "sha256": after.hex()},
        ],
        "attributes": {"envelope_id": envelope_id, "reason": reason, "title": title[:512]},
    }


class EnvelopeArchiveRenewer:
    """Renews the archive timestamps of completed envelopes (module docstring)."""

    def __init__(
        self,
        seals: SealStore,
        tsa_urls: Sequence[str],
        tsa_roots: Sequence[x509.Certificate],
        clock: Callable[[], datetime],
        *,
        margin: timedelta,
        deprecated: Collection[str] = (),
        max_per_round: int = 100,
        page: int = 100,
    ) -> None:
        self.seals = seals
        self.tsa_urls = list(tsa_urls)
        self.tsa_roots = list(tsa_roots)
        self.clock = clock
        self.margin = margin
        self.deprecated = tuple(deprecated)
        self.max_per_round = max_per_round
        self.page = page
        self.stats = EnvelopeRenewalStats()

    def _due(self, envelope_id: str, now: datetime) -> tuple[bytes, str] | None:
        pdf = self.seals.envelope_document(envelope_id)
        if pdf is None:
            return None
        try:
            reason = renewal_reason(archive_state(pdf), now, self.margin, self.deprecated)
        except SealtrailError as e:
            log.warning("envelope %s: cannot read its archive timestamps: %s", envelope_id, e)
            return None
        return None if reason is None else (pdf, reason)

    async def renew_due(self) -> int:
        """Renew the envelopes that are due now; return how many were renewed this round."""
        if not self.tsa_urls:
            return 0
        done, after, due = 0, "", 0
        while done < self.max_per_round:
            ids = await asyncio.to_thread(self.seals.completed_envelope_ids, after, self.page)
            if not ids:
                break
            after = ids[-1]
            for envelope_id in ids:
                now = self.clock()
                found = await asyncio.to_thread(self._due, envelope_id, now)
                if found is None:
                    continue
                due += 1
                if done >= self.max_per_round:
                    continue
                if await self._renew(envelope_id, *found, now):
                    done += 1
        self.stats.due = due
        return done

    async def _renew(self, envelope_id: str, pdf: bytes, reason: str, now: datetime) -> bool:
        env = await asyncio.to_thread(self.seals.envelope, envelope_id)
        if env is None:
            return False
        before = hashlib.sha256(pdf).digest()
        try:
            renewed = await async_renew_archive(pdf, self.tsa_urls, self.tsa_roots, at=now)
        except SealtrailError as e:
            self.stats.failures += 1
            log.warning("envelope %s: archive renewal failed (%s): %s", envelope_id, reason, e)
            return False
        after = hashlib.sha256(renewed).digest()
        event = outbox_event(env.tenant, renewal_event(env.id, env.title, before, after, reason))
        try:
            await asyncio.to_thread(
                self.seals.renew_envelope_document, envelope_id, before, renewed, [event]
            )
        except ConflictError as e:
            log.info("envelope %s: not renewed, it changed meanwhile: %s", envelope_id, e)
            return False
        self.stats.renewed += 1
        log.info("envelope %s: archive timestamp renewed (%s)", envelope_id, reason)
        return True
