"""The anchoring worker: every checkpoint gets onto the chain, once, and is followed until final.

A persistent state machine per checkpoint (table ``anchors``, :class:`StoredAnchor`)::

    (no row) ─▶ pending ─▶ sent ─▶ confirmed ─▶ final
                  ▲  │       ▲ │        │
                  │  ▼       │ └────────┘  reorg: the block is gone, the transaction is
                retry/failed └──────────     re-sent as it was (same bytes, same nonce)

* **pending → sent.** The signed transaction is stored *before* it is broadcast (crash
  invariant: whatever may be on the chain is known to the store). A crash between the two only
  means the next round finds a ``sent`` transaction the node never saw, and sends it.
* **sent.** Each round looks for a receipt of every transaction sent for the checkpoint (a
  replacement may lose to the original). No receipt: if the account's mined nonce passed ours,
  another transaction took the nonce — the anchor goes back to ``pending`` and is signed anew;
  if the node does not hold the transaction (dropped, node restarted, never sent) it is re-sent;
  if it stayed pending longer than ``replace_after`` it is replaced with higher fees.
* **confirmed → final.** Mined; confirmations are counted against the block *hash*, so a reorg
  that drops the block is noticed (:meth:`ChainClient.confirmations` answers None) and the anchor
  returns to ``sent`` (or to its new block if the transaction was mined again). ``final`` once
  ``k`` blocks (its own included) build on it; final anchors are no longer followed.
* **retry** (the chain was down, the account cannot pay, the nonce was in use) and **failed**
  (the contract refused, e.g. ``NotAnchorer``: an operator must act) are tried again, the
  latter only every ``failed_retry`` seconds.

Order: the contract only takes growing sizes, so checkpoints are sent in size order and a new
one is sent only when no earlier transaction is still unmined: at most one anchoring
transaction of ours is in the pool, so the account's nonce is simply the next one (Ganache
reports the mined count as the "pending" nonce; that is then right too). This caps anchoring at
one checkpoint per block: seal checkpoints less often than blocks come (docs/PERFORMANCE.md).

Before signing, the contract is asked whether the root is already anchored (a lost state, a
restored backup): if so, that transaction is adopted rather than anchoring twice — unless it
anchored another map root than the checkpoint's note names (then the anchor is ``failed``).

Map roots: on a version-2 contract the map root of the note's ``sealtrail-map/v1`` line is
anchored with the log root (zero for a note without the line, "before the map"); on a version-1
contract it cannot be, and the worker says so in the log once (deploy version 2 and switch the
address: docs/FORMAT.md §6.1). Each anchor records the contract version and the map root sent.

Synchronous: :meth:`AnchorWorker.step` runs one round on one thread (the service runs it in a
single-thread executor, see :class:`AnchorLoop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime

from sealtrail.anchoring.chain import ChainClient
from sealtrail.anchoring.errors import (
    AnchoringError,
    ChainUnavailableError,
    ContractRevertError,
    InsufficientFundsError,
    LogForkedError,
    NonceConflictError,
)
from sealtrail.anchoring.records import AnchorTransaction, Fees, Receipt
from sealtrail.anchoring.store import AnchoringStores, StoredAnchor
from sealtrail.core.event import format_time
from sealtrail.core.merkle import fold, root_subtrees
from sealtrail.core.note import parse_checkpoint
from sealtrail.core.vmap import map_root_of
from sealtrail.ledger.store import Lease, StoredCheckpoint

log = logging.getLogger("sealtrail.anchoring")

#: states in which an anchor is still followed on the chain
FOLLOWED = ("sent", "confirmed")


def note_map_root(note: str) -> bytes | None:
    """The map root a stored checkpoint's signed note names in its ``sealtrail-map/v1`` line,
    or None (a checkpoint before the map). Raises ValueError (``NoteError`` is one) when the
    note's text or the line is malformed."""
    split = note.rfind("\n\n")
    if split < 0:
        raise ValueError("malformed note: no signature block")
    return map_root_of(parse_checkpoint(note[: split + 1]).extensions)


@dataclass
class AnchorStats:
    """Counters for /metrics (since the worker started)."""

    sent: int = 0
    replaced: int = 0
    resent: int = 0
    reorgs: int = 0
    nonce_conflicts: int = 0
    adopted: int = 0
    finalised: int = 0
    gas_used: int = 0
    fees_wei: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    #: True while the account cannot pay (an alert)
    insufficient_funds: bool = False
    last_error: str | None = None

    def failed(self, code: str, message: str) -> None:
        """Count a failure by error code and remember its message."""
        self.failures[code] = self.failures.get(code, 0) + 1
        self.last_error = message


class AnchorWorker:
    """Anchors one ledger's checkpoints through one contract.

    ``connect`` makes a bound :class:`ChainClient` (it may raise ``ChainUnavailableError``; it
    is called again after a failure). ``confirmations`` is k (>= 1). ``clock`` gives aware UTC
    datetimes.
    """

    def __init__(
        self,
        store: AnchoringStores,
        connect: Callable[[], ChainClient],
        log_id: bytes,
        *,
        confirmations: int,
        clock: Callable[[], datetime],
        replace_after: float = 60.0,
        failed_retry: float = 300.0,
        lease: Callable[[], Lease | None] | None = None,
    ) -> None:
        if confirmations < 1:
            raise ValueError(f"confirmations must be >= 1, got {confirmations}")
        self._store = store
        self._connect = connect
        self._client: ChainClient | None = None
        self.log_id = log_id
        self.k = confirmations
        self._clock = clock
        self.replace_after = replace_after
        self.failed_retry = failed_retry
        self.stats = AnchorStats()
        #: nonces below this were found taken by someone else (nodes that report only mined
        #: transactions in the "pending" count would hand them out again)
        self._min_nonce = 0
        #: several workers on one database: anchoring runs only in the sequencer lease's holder,
        #: and every state write is fenced by that lease (a stale holder cannot store, so it
        #: cannot broadcast either: a transaction is stored before it is sent)
        self._lease = lease
        self._fence: Lease | None = None
        #: whether the log said once that a version-1 contract leaves map roots unanchored
        self._warned_v1 = False

    # -- one round ----------------------------------------------------------------------------

    def step(self) -> None:
        """Follow every unfinished anchor, then send the next checkpoint if the way is clear.

        Raises :class:`AnchoringError` subclasses when the chain is unreachable or refuses (the
        state stays as it was; call again later). Does nothing in a process that does not hold
        the sequencer lease (when one is configured)."""
        if self._lease is not None:
            self._fence = self._lease()
            if self._fence is None:
                return
        try:
            client = self.client()
            self._follow(client)
            self._send_next(client)
        except ChainUnavailableError:
            self._client = None  # reconnect next time (the node may have restarted)
            raise

    def client(self) -> ChainClient:
        """The connected chain client (connecting on first use)."""
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _now(self) -> str:
        return format_time(self._clock())

    def _age(self, at: str | None) -> float:
        if at is None:
            return float("inf")
        return (self._clock() - datetime.fromisoformat(at)).total_seconds()

    def _put(self, a: StoredAnchor, **changes: object) -> StoredAnchor:
        new = replace(a, **changes, updated_at=self._now())  # type: ignore[arg-type]
        self._store.anchors.put_anchor(new, fence=self._fence)
        return new

    # -- following ----------------------------------------------------------------------------

    def _follow(self, client: ChainClient) -> None:
        for a in self._store.anchors.anchors(FOLLOWED):
            if a.status == "sent":
                self._follow_sent(client, a)
            else:
                self._follow_confirmed(client, a)

    def _find_receipt(self, client: ChainClient, a: StoredAnchor) -> Receipt | None:
        for tx_hash in reversed(a.tx_hashes):
            r = client.receipt(tx_hash)
            if r is not None:
                return r
        return None

    def _follow_sent(self, client: ChainClient, a: StoredAnchor) -> None:
        r = self._find_receipt(client, a)
        if r is None and a.nonce is not None and client.mined_nonce() > a.nonce:
            r = self._find_receipt(client, a)  # it may have been mined between the two reads
            if r is None:
                self.stats.nonce_conflicts += 1
                self._min_nonce = max(self._min_nonce, a.nonce + 1)
                message = f"nonce {a.nonce} was used by another transaction of this account"
                log.warning("anchor of checkpoint %d: %s; signing it anew", a.size, message)
                self._put(a, status="pending", tx_hash=None, raw=None, last_error=message)
                return
        if r is not None:
            self._mined(client, a, r)
            return
        if a.raw is None or a.tx_hash is None:
            # An adopted anchor (someone else's transaction) that a reorg dropped: we cannot
            # re-send it, so anchor the checkpoint ourselves.
            message = "the adopted anchoring transaction is no longer on the chain"
            self._put(a, status="pending", tx_hash=None, last_error=message)
            return
        tx = self._transaction(a)
        if not client.has_transaction(a.tx_hash):
            log.info("anchor of checkpoint %d: node lacks tx 0x%s; sending it again", a.size,
                     a.tx_hash.hex())  # fmt: skip
            self.stats.resent += 1
            self._broadcast(client, a, tx)
        elif self._age(a.sent_at) >= self.replace_after:
            self._replace(client, a, tx)

    def _mined(self, client: ChainClient, a: StoredAnchor, r: Receipt) -> None:
        if not r.succeeded or r.event is None:
            # Reverted (e.g. someone else anchored a larger size first): start over; signing
            # anew runs eth_estimateGas, which names the contract's reason.
            message = f"transaction 0x{r.tx_hash.hex()} reverted in block {r.block_number}"
            log.warning("anchor of checkpoint %d: %s", a.size, message)
            self.stats.failed("reverted", message)
            self._put(a, status="pending", tx_hash=None, raw=None, last_error=message)
            return
        confirmations = client.confirmations(r.block_number, r.block_hash) or 0
        if a.block_number is None:
            self.stats.gas_used += r.gas_used
            self.stats.fees_wei += r.gas_used * r.effective_gas_price
        self._record(a, r, confirmations)

    def _record(self, a: StoredAnchor, r: Receipt, confirmations: int) -> None:
        final = confirmations >= self.k
        if final:
            self.stats.finalised += 1
            log.info("checkpoint %d anchored: final in block %d", a.size, r.block_number)
        self._put(
            a,
            status="final" if final else "confirmed",
            tx_hash=r.tx_hash,
            block_number=r.block_number,
            block_hash=r.block_hash,
            log_index=r.log_index,
            gas_used=r.gas_used,
            effective_gas_price=r.effective_gas_price,
            confirmations=confirmations,
            last_error=None,
            final_at=self._now() if final else None,
        )

    def _follow_confirmed(self, client: ChainClient, a: StoredAnchor) -> None:
        assert a.block_number is not None
        assert a.block_hash is not None
        confirmations = client.confirmations(a.block_number, a.block_hash)
        if confirmations is not None:
            if confirmations != a.confirmations:
                final = confirmations >= self.k
                if final:
                    self.stats.finalised += 1
                    log.info("checkpoint %d anchored: final in block %d", a.size, a.block_number)
                self._put(
                    a,
                    status="final" if final else "confirmed",
                    confirmations=confirmations,
                    final_at=self._now() if final else None,
                )
            return
        # The block that held the anchor is no longer on the canonical chain.
        self.stats.reorgs += 1
        r = self._find_receipt(client, a)
        if r is not None and r.succeeded and r.event is not None:
            log.warning("anchor of checkpoint %d moved to block %d by a reorg", a.size,
                        r.block_number)  # fmt: skip
            self._record(a, r, client.confirmations(r.block_number, r.block_hash) or 0)
            return
        log.warning("a reorg dropped the anchor of checkpoint %d; sending it again", a.size)
        a = self._put(
            a,
            status="sent",
            block_number=None,
            block_hash=None,
            log_index=None,
            confirmations=0,
            last_error=f"block {a.block_number} 0x{a.block_hash.hex()} left the chain",
        )
        if a.raw is not None:
            self.stats.resent += 1
            self._broadcast(client, a, self._transaction(a))

    # -- sending ------------------------------------------------------------------------------

    def _send_next(self, client: ChainClient) -> None:
        if self._store.anchors.anchors(("sent",)):
            return  # one unmined transaction at a time (sizes must grow on chain)
        after = self._store.anchors.anchored_size(("confirmed", "final"))
        for cp in self._store.anchors.unanchored(after=after, limit=1):
            a = self._store.anchors.anchor(cp.size)
            if (
                a is not None
                and a.status == "failed"
                and self._age(a.updated_at) < self.failed_retry
            ):
                return
            self._send(client, cp, a)

    def _send(self, client: ChainClient, cp: StoredCheckpoint, a: StoredAnchor | None) -> None:
        now = self._now()
        version = client.contract_version or 1
        bad_note: str | None = None
        try:
            note_map = note_map_root(cp.note)
        except ValueError as e:
            note_map, bad_note = None, str(e)
        # what the contract records: on version 1, no map root at all
        map_root = note_map if version >= 2 else None
        if (
            a is None
            or a.contract != client.contract_address
            or a.chain_id != client.chain_id
            or a.contract_version != version
        ):
            a = StoredAnchor(
                size=cp.size,
                status="pending",
                chain_id=client.chain_id,
                contract=str(client.contract_address),
                log_id=self.log_id,
                root=cp.root,
                created_at=now,
                updated_at=now,
                contract_version=version,
                map_root=map_root,
            )
            self._store.anchors.put_anchor(a, fence=self._fence)
        elif a.map_root != map_root:
            a = self._put(a, map_root=map_root)
        if bad_note is not None:
            self._give_up(a, ContractRevertError(
                f"checkpoint {cp.size}'s note has a malformed map line: {bad_note}",
                error="MalformedMapLine",
            ))  # fmt: skip
            return
        if note_map is not None and version < 2 and not self._warned_v1:
            self._warned_v1 = True
            log.warning(
                "anchoring on contract version %d at %s: checkpoints' map roots are NOT anchored "
                "(only their log roots); deploy version 2 (`sealtrail contract deploy --force`) "
                "and switch to its address (docs/FORMAT.md §6.1)",
                version,
                client.contract_address,
            )
        existing = client.lookup(self.log_id, cp.root)
        if existing is not None:
            if version >= 2 and existing.map_root != map_root:
                self._give_up(a, ContractRevertError(
                    f"the contract already holds checkpoint {cp.size}'s root with map root "
                    f"{_hex(existing.map_root)}, but its note names {_hex(map_root)}",
                    error="MapRootMismatch",
                ))  # fmt: skip
                return
            self._adopt(client, a, existing.block_number)
            return
        forked = self._fork_check(client, cp.size)
        if forked is not None:
            self._give_up(a, forked)
            return
        try:
            tx = client.prepare_anchor(
                self.log_id,
                cp.size,
                cp.root,
                nonce=max(client.pending_nonce(), self._min_nonce),
                map_root=map_root,
            )
        except ContractRevertError as e:
            self._give_up(a, e)
            return
        except InsufficientFundsError as e:
            self._retry(a, e, count=False)  # the loop counts it as it backs off
            raise
        a = self._put(
            a,
            status="sent",
            tx_hash=tx.tx_hash,
            tx_hashes=(*a.tx_hashes, tx.tx_hash),
            nonce=tx.nonce,
            raw=tx.raw,
            max_fee=tx.fees.max_fee,
            priority_fee=tx.fees.priority_fee,
            gas_limit=tx.gas_limit,
            sent_at=self._now(),
            attempts=a.attempts + 1,
        )
        self.stats.sent += 1
        self._broadcast(client, a, tx)

    def _adopt(self, client: ChainClient, a: StoredAnchor, block_number: int) -> None:
        r = client.find_anchor(self.log_id, a.size, from_block=block_number)
        if r is None:
            raise AnchoringError(
                f"the contract holds root of checkpoint {a.size} but no Anchored event for it"
            )
        log.warning("checkpoint %d was already anchored (tx 0x%s): adopting it", a.size,
                    r.tx_hash.hex())  # fmt: skip
        self.stats.adopted += 1
        a = self._put(a, status="sent", tx_hashes=(*a.tx_hashes, r.tx_hash), tx_hash=r.tx_hash)
        self._mined(client, a, r)

    def _broadcast(self, client: ChainClient, a: StoredAnchor, tx: AnchorTransaction) -> None:
        try:
            client.broadcast(tx)
        except NonceConflictError as e:
            if e.reason == "already_known":
                return  # the node holds this very transaction
            # Another transaction holds or used this nonce: sign anew with a later one.
            self.stats.nonce_conflicts += 1
            self._min_nonce = max(self._min_nonce, tx.nonce + 1)
            self._retry(a, e)
        except InsufficientFundsError as e:
            self._retry(a, e, count=False)
            raise
        else:
            if self.stats.insufficient_funds:
                log.info("the anchoring account can pay again")
            self.stats.insufficient_funds = False
        # ChainUnavailableError propagates: the transaction may or may not have reached the
        # node; it stays ``sent`` and the next round looks it up and re-sends it if need be.

    def _replace(self, client: ChainClient, a: StoredAnchor, tx: AnchorTransaction) -> None:
        try:
            new = client.prepare_anchor(
                tx.log_id,
                tx.tree_size,
                tx.root,
                nonce=tx.nonce,
                gas_limit=tx.gas_limit,
                map_root=tx.map_root,
                **_fee_args(client.replacement_fees(tx)),
            )
        except ContractRevertError:
            return  # the original (or another) was mined meanwhile: the next round sees it
        log.info("anchor of checkpoint %d pending for %.0f s: replacing 0x%s with 0x%s "
                 "(max fee %d)", a.size, self._age(a.sent_at), tx.tx_hash.hex(),
                 new.tx_hash.hex(), new.fees.max_fee)  # fmt: skip
        a = self._put(
            a,
            tx_hash=new.tx_hash,
            tx_hashes=(*a.tx_hashes, new.tx_hash),
            raw=new.raw,
            max_fee=new.fees.max_fee,
            priority_fee=new.fees.priority_fee,
            sent_at=self._now(),
        )
        self.stats.replaced += 1
        try:
            client.broadcast(new)
        except NonceConflictError as e:
            if e.reason != "already_known":  # mined meanwhile, or the node wants more
                log.info("replacement of checkpoint %d's anchor refused: %s", a.size, e)

    def _transaction(self, a: StoredAnchor) -> AnchorTransaction:
        assert a.tx_hash is not None
        assert a.raw is not None
        assert a.nonce is not None
        assert a.max_fee is not None
        assert a.priority_fee is not None
        assert a.gas_limit is not None
        return AnchorTransaction(
            a.tx_hash,
            a.nonce,
            a.log_id,
            a.size,
            a.root,
            Fees(a.max_fee, a.priority_fee),
            a.gas_limit,
            a.raw,
            a.map_root,
        )

    def _retry(self, a: StoredAnchor, e: AnchoringError, *, count: bool = True) -> None:
        if isinstance(e, InsufficientFundsError):
            self.stats.insufficient_funds = True
        if count:
            self.stats.failed(e.code, str(e))
        log.warning("anchor of checkpoint %d will be retried: %s", a.size, e)
        self._put(a, status="retry", tx_hash=None, raw=None, last_error=str(e)[:1000])

    def _fork_check(self, client: ChainClient, size: int) -> LogForkedError | None:
        """Is the chain's latest anchor of this log (size L < ``size``) a prefix of our log?

        The contract only asks sizes to grow; after a restore that lost events the log may grow
        past L again with other events, and anchoring it would make the fork permanent. Our own
        confirmed anchor of size L settles it without a call; else our root at L is looked up.
        """
        latest = client.latest_size(self.log_id)
        if latest == 0 or latest >= size:
            return None  # nothing anchored yet; or the contract itself refuses a smaller size
        mine = self._store.anchors.anchor(latest)
        if mine is not None and mine.status in ("confirmed", "final"):
            return None
        ids = root_subtrees(latest)
        got = self._store.ledger.subtrees(ids)
        record = client.lookup(self.log_id, fold([got[n] for n in ids]))
        if record is not None and record.tree_size == latest:
            return None
        return LogForkedError(
            f"the chain's latest anchor of this log (size {latest}) is not this log's tree of "
            f"size {latest}: the log was restored without its latest events, or altered; run "
            "'sealtrail audit --rpc' and restore a complete backup"
        )

    def _give_up(self, a: StoredAnchor, e: ContractRevertError) -> None:
        self.stats.failed(e.error, str(e))
        log.error("anchor of checkpoint %d failed (an operator must act): %s", a.size, e)
        self._put(a, status="failed", attempts=a.attempts + 1, last_error=str(e)[:1000])


def _hex(b: bytes | None) -> str:
    return "none" if b is None else "0x" + b.hex()


def _fee_args(fees: Fees) -> dict[str, int]:
    return {"max_fee": fees.max_fee, "priority_fee": fees.priority_fee}


class AnchorLoop:
    """Runs :meth:`AnchorWorker.step` every ``interval`` seconds (and when nudged) on one
    thread of its own, backing off exponentially up to ``max_backoff`` while rounds fail."""

    def __init__(
        self,
        worker: AnchorWorker,
        *,
        interval: float = 1.0,
        max_backoff: float = 60.0,
        after_step: Callable[[], None] | None = None,
    ) -> None:
        self.worker = worker
        self.interval = interval
        self.max_backoff = max_backoff
        self._after_step = after_step
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sealtrail-anchor")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.failures_in_a_row = 0

    def update_metrics(self) -> None:
        """Run ``after_step`` (metrics) now; its failures are logged, never raised."""
        if self._after_step is not None:
            try:
                self._after_step()
            except Exception:
                log.exception("anchoring metrics update failed")

    def start(self) -> None:
        """Start the loop on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="anchoring")

    def nudge(self) -> None:
        """Run a round now (a checkpoint was sealed)."""
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            try:
                await loop.run_in_executor(self._executor, self.worker.step)
                self.failures_in_a_row = 0
                delay = self.interval
            except AnchoringError as e:
                self.failures_in_a_row += 1
                delay = min(self.max_backoff, self.interval * 2**self.failures_in_a_row)
                self.worker.stats.failed(e.code, str(e))
                log.warning("anchoring round failed (next in %.1f s): %s", delay, e)
            except Exception:
                self.failures_in_a_row += 1
                delay = min(self.max_backoff, self.interval * 2**self.failures_in_a_row)
                log.exception("anchoring round failed unexpectedly (next in %.1f s)", delay)
            self.update_metrics()
            if self.failures_in_a_row:
                await asyncio.sleep(delay)  # backing off: a nudge does not cut it short
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)

    async def stop(self) -> None:
        """Stop after the running round (the thread finishes it; its state is stored)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)


def anchor_json(a: StoredAnchor | None, confirmations: int | None) -> dict[str, object]:
    """A checkpoint's ``anchor`` member (docs/FORMAT.md §6.2). ``confirmations`` is k, or None
    when no chain is configured (then a checkpoint never anchored says ``off``)."""
    if a is None:
        if confirmations is None:
            return {"status": "off"}
        return {"status": "pending", "attempts": 0, "last_error": None}
    mined = a.status in ("confirmed", "final")
    return {
        "status": a.status,
        "chain_id": a.chain_id,
        "contract": a.contract,
        "log_id": "0x" + a.log_id.hex(),
        "tx_hash": None if a.tx_hash is None else "0x" + a.tx_hash.hex(),
        "block_number": a.block_number if mined else None,
        "block_hash": "0x" + a.block_hash.hex() if mined and a.block_hash else None,
        "log_index": a.log_index if mined else None,
        "confirmations": a.confirmations if mined else 0,
        "required_confirmations": confirmations,
        "gas_used": a.gas_used if mined else None,
        "sent_at": a.sent_at,
        "final_at": a.final_at,
        "attempts": a.attempts,
        "last_error": a.last_error,
        "contract_version": a.contract_version,
        "map_root": None if a.map_root is None else "0x" + a.map_root.hex(),
    }
