"""Renewing checkpoints' RFC 3161 tokens before they stop proving anything (docs/TIMESTAMPS.md §8).

A token shows a checkpoint existed at its genTime only while its TSA certificate is valid and its
algorithms are strong. Before either ends, the renewer timestamps the chain again, in the spirit
of RFC 4998 evidence records: renewal k is a token over
:func:`~sealtrail.verifier.timestamp.renewal_data` (the note and every earlier token), stored
as row k of the checkpoint's chain. A chain is due when its last token's TSA certificate expires
within ``margin`` of now, or when the last token's signer digest (or its certificate's signature
hash) is in ``deprecated``.

Only the sequencer lease's holder renews, and its writes are fenced by that lease. A renewal
that a TSA dates after the last token's certificate expired proves nothing: it is not stored,
and counted as ``late`` (the operator must look: evidence that was not renewed in time cannot be
repaired). A crash between the TSA's answer and the write costs one more request; a chain only
grows at its end (the store refuses a gap or a duplicate).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from asn1crypto import cms
from cryptography import x509

from sealtrail.anchoring.errors import TimestampError
from sealtrail.anchoring.store import AnchoringStores, TimestampRecord
from sealtrail.anchoring.tsa import TimestampClient, verify_token
from sealtrail.core.errors import ConflictError
from sealtrail.core.event import format_time
from sealtrail.ledger.store import Lease
from sealtrail.verifier.timestamp import MAX_RENEWALS, renewal_data

log = logging.getLogger("sealtrail.renewal")


@dataclass
class RenewalStats:
    """Counters and gauges for /metrics (updated by each :meth:`TimestampRenewer.renew_due`)."""

    renewed: int = 0
    failures: int = 0
    late: int = 0
    #: chains due at the last run that were not renewed (TSA down, or late)
    due: int = 0
    #: the earliest expiry of a chain's last TSA certificate (None: no stamped checkpoint)
    next_expiry: datetime | None = None


@dataclass(frozen=True)
class ChainHead:
    """What the renewal decision needs about a chain's last token."""

    gen_time: datetime
    not_after: datetime
    algorithms: frozenset[str]


def chain_head(rec: TimestampRecord, note: bytes, roots: list[x509.Certificate]) -> ChainHead:
    """The last token of ``rec``'s chain, verified over its data at its genTime.

    Raises TimestampError when it does not verify (a damaged store: the operator must look)."""
    if rec.token is None:
        raise ValueError("checkpoint is not stamped")
    chain = (rec.token, *rec.renewals)
    last = chain[-1]
    data = note if len(chain) == 1 else renewal_data(note, chain[:-1])
    info = verify_token(last, data, roots)
    signed = cms.ContentInfo.load(last)["content"]
    digest = str(signed["signer_infos"][0]["digest_algorithm"]["algorithm"].native)
    cert = info.signer_certificate
    algorithms = {digest.lower()}
    if cert.signature_hash_algorithm is not None:
        algorithms.add(cert.signature_hash_algorithm.name.lower())
    return ChainHead(info.gen_time, cert.not_valid_after_utc, frozenset(algorithms))


def due_reason(
    head: ChainHead, now: datetime, margin: timedelta, deprecated: Collection[str]
) -> str | None:
    """``digest_deprecated``, ``certificate_expiring`` or None (not due). Aware ``now``."""
    if head.algorithms & {d.lower() for d in deprecated}:
        return "digest_deprecated"
    if head.not_after - margin <= now:
        return "certificate_expiring"
    return None


class TimestampRenewer:
    """Renews the timestamp chains of checkpoints that are due (module docstring)."""

    def __init__(
        self,
        store: AnchoringStores,
        client: TimestampClient,
        roots: list[x509.Certificate],
        clock: Callable[[], datetime],
        *,
        margin: timedelta = timedelta(days=90),
        deprecated: Collection[str] = (),
        lease: Callable[[], Lease | None] | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._roots = roots
        self._clock = clock
        self.margin = margin
        self.deprecated = frozenset(d.lower() for d in deprecated)
        self._lease = lease
        self.stats = RenewalStats()

    async def renew_due(self) -> int:
        """Renew every due chain, oldest checkpoint first; return how many were renewed. Does
        nothing in a process that does not hold the sequencer lease (when configured)."""
        fence = None if self._lease is None else self._lease()
        if self._lease is not None and fence is None:
            return 0
        loop = asyncio.get_running_loop()
        records = await loop.run_in_executor(None, self._store.timestamps.timestamps)
        notes = await loop.run_in_executor(
            None, lambda: {cp.size: cp.note for cp in self._store.ledger.checkpoints()}
        )
        now = self._clock()
        done = due = 0
        next_expiry: datetime | None = None
        for rec in records:
            note = notes.get(rec.size)
            if rec.token is None or note is None:
                continue
            try:
                head = chain_head(rec, note.encode("utf-8"), self._roots)
            except (TimestampError, ValueError) as e:
                self.stats.failures += 1
                log.error("timestamp chain of checkpoint %d does not verify: %s", rec.size, e)
                continue
            expiry: datetime | None = head.not_after
            reason = due_reason(head, now, self.margin, self.deprecated)
            if reason is not None and len(rec.renewals) >= MAX_RENEWALS:
                log.error("checkpoint %d: chain holds %d renewals already", rec.size, MAX_RENEWALS)
                due += 1
            elif reason is not None:
                renewed = await self._renew(rec, note.encode("utf-8"), head, reason, fence)
                if renewed is None:
                    due += 1
                else:
                    done += 1
                    expiry = renewed
            if expiry is not None and (next_expiry is None or expiry < next_expiry):
                next_expiry = expiry
        self.stats.due = due
        self.stats.next_expiry = next_expiry
        return done

    async def _renew(
        self, rec: TimestampRecord, note: bytes, head: ChainHead, reason: str, fence: Lease | None
    ) -> datetime | None:
        """Renew ``rec``'s chain; the new last certificate's expiry, or None if not stored."""
        assert rec.token is not None
        chain = (rec.token, *rec.renewals)
        data = renewal_data(note, chain)
        try:
            ts = await self._client.timestamp(data)
            signer = verify_token(ts.token, data, self._roots).signer_certificate
        except TimestampError as e:
            self.stats.failures += 1
            log.warning("renewal of checkpoint %d (%s) failed: %s", rec.size, reason, e)
            return None
        if ts.gen_time >= head.not_after or ts.gen_time <= head.gen_time:
            self.stats.late += 1
            log.error(
                "renewal of checkpoint %d dated %s, outside (%s, %s): not stored; the chain can "
                "no longer be extended",
                rec.size, format_time(ts.gen_time), format_time(head.gen_time),
                format_time(head.not_after),
            )  # fmt: skip
            return None
        try:
            await asyncio.get_running_loop().run_in_executor(
                None,
                partial(self._store.timestamps.add_renewal, fence=fence),
                rec.size,
                len(chain),
                ts.token,
                format_time(ts.gen_time),
                ts.tsa,
                format_time(self._clock()),
            )
        except ConflictError as e:  # another holder renewed it meanwhile
            log.info("renewal of checkpoint %d not stored: %s", rec.size, e)
            return None
        self.stats.renewed += 1
        log.info("checkpoint %d: timestamp renewed (%s), chain of %d", rec.size, reason,
                 len(chain) + 1)  # fmt: skip
        return signer.not_valid_after_utc
