"""Trusted time for checkpoints: every sealed checkpoint gets an RFC 3161 token, or stays
visibly pending and is retried.

The timestamped data is the checkpoint's signed note, exactly as stored (UTF-8 bytes); see
docs/TIMESTAMPS.md. State lives in the store (table ``timestamps``): a checkpoint with no token
is pending, with the number of attempts and the last error, and is retried at every sealing tick
until a token that verifies is stored. A crash between receiving a token and storing it only
costs one more request.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cryptography import x509

from sealtrail.anchoring.errors import TimestampError
from sealtrail.anchoring.store import AnchoringStores, TimestampRecord
from sealtrail.anchoring.tsa import TimestampClient, verify_token
from sealtrail.core.event import format_time
from sealtrail.ledger.store import Lease, StoredCheckpoint

log = logging.getLogger("sealtrail.timestamping")


def load_trust_roots(paths: list[Path]) -> list[x509.Certificate]:
    """PEM certificates (one or more per file) to trust as TSA roots."""
    roots: list[x509.Certificate] = []
    for p in paths:
        try:
            roots += x509.load_pem_x509_certificates(p.read_bytes())
        except (OSError, ValueError) as e:
            raise TimestampError(f"cannot read TSA trust roots from {p}: {e}") from None
    if not roots:
        raise TimestampError("no TSA trust roots configured")
    return roots


@dataclass
class TimestampStats:
    """Counters for /metrics."""

    stamped: int = 0
    failures: int = 0


class CheckpointTimestamper:
    """Asks the configured TSAs for a token over each checkpoint that has none yet."""

    def __init__(
        self,
        store: AnchoringStores,
        client: TimestampClient,
        clock: Callable[[], str],
        *,
        lease: Callable[[], Lease | None] | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._clock = clock
        self.stats = TimestampStats()
        #: several workers on one database: only the sequencer lease's holder timestamps, and
        #: its writes are fenced by that lease
        self._lease = lease

    async def stamp_pending(self) -> int:
        """Timestamp every pending checkpoint, oldest first; return how many got a token.
        Does nothing in a process that does not hold the sequencer lease (when configured)."""
        fence = None if self._lease is None else self._lease()
        if self._lease is not None and fence is None:
            return 0
        loop = asyncio.get_running_loop()
        pending = await loop.run_in_executor(None, self._store.timestamps.untimestamped)
        done = 0
        for cp in pending:
            try:
                ts = await self._client.timestamp(cp.note.encode("utf-8"))
            except TimestampError as e:
                self.stats.failures += 1
                log.warning("timestamp of checkpoint %d still pending: %s", cp.size, e)
                await loop.run_in_executor(
                    None,
                    partial(self._store.timestamps.timestamp_failed, fence=fence),
                    cp.size,
                    str(e),
                    self._clock(),
                )
                break  # the TSAs are failing: keep order, retry at the next tick
            await loop.run_in_executor(
                None,
                partial(self._store.timestamps.put_timestamp, fence=fence),
                cp.size,
                ts.token,
                format_time(ts.gen_time),
                ts.serial,
                ts.tsa,
                self._clock(),
            )
            self.stats.stamped += 1
            done += 1
        return done

    async def on_checkpoint(self, cp: StoredCheckpoint) -> None:
        """Sealer hook: timestamp the new checkpoint (and any still pending) now."""
        await self.stamp_pending()


def timestamp_json(rec: TimestampRecord | None) -> dict[str, object]:
    """A checkpoint's ``timestamp`` member (docs/FORMAT.md §5)."""
    if rec is None:
        return {"status": "pending", "attempts": 0, "last_error": None}
    if rec.token is None:
        return {"status": "pending", "attempts": rec.attempts, "last_error": rec.last_error}
    return {
        "status": "stamped",
        "token": base64.b64encode(rec.token).decode("ascii"),
        "gen_time": rec.gen_time,
        "serial": rec.serial,
        "tsa": rec.tsa,
    }


def check_stored_timestamps(
    store: AnchoringStores, trust_roots: list[x509.Certificate]
) -> list[tuple[int, str]]:
    """Re-verify every stored token against its checkpoint note; return (size, problem)."""
    problems: list[tuple[int, str]] = []
    notes = {cp.size: cp.note for cp in store.ledger.checkpoints()}
    for rec in store.timestamps.timestamps():
        if rec.token is None:
            continue
        note = notes.get(rec.size)
        if note is None:
            problems.append(
                (rec.size, "a timestamp is stored for a checkpoint that does not exist")
            )
            continue
        try:
            info = verify_token(rec.token, note.encode("utf-8"), trust_roots)
        except TimestampError as e:
            problems.append((rec.size, f"stored timestamp token does not verify: {e}"))
            continue
        if format_time(info.gen_time) != rec.gen_time:
            problems.append(
                (
                    rec.size,
                    f"stored gen_time {rec.gen_time} differs from the token's "
                    f"{format_time(info.gen_time)}",
                )
            )
    return problems
