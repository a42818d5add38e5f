"""The sequencer: assigns indices, links stream chains, commits appends in groups.

:class:`LogWriter` does one commit: a group of append requests in one exclusive write
transaction of the store. :class:`Sequencer` feeds it from asyncio: while one group is being
committed (in a dedicated thread, so fsync never blocks the event loop), new requests queue up
and form the next group — group commit, so throughput grows with concurrency. A caller's future
resolves only after its group's ``COMMIT`` returned, i.e. after its events are durable.

Several processes (``sealtrail serve`` workers, the CLI) may commit to one database at once:
each commits its own groups, and the store's write transaction (SQLite's write lock, a row lock
on the log's head in PostgreSQL) is what serialises them. Nothing else is needed for safety,
because everything a commit builds on is read *under* that serialisation:

1. take the write lock; read the log size. If it is not the size this writer last committed
   (another process appended, or a commit failed), reload the right edge of the tree and forget
   the stream-head cache. What a writer remembers from its last commit is therefore only ever
   used when the size proves nobody wrote since — a worker paused for any time between two
   commits, with a stale right edge and stale stream heads, re-reads them and cannot fork the
   log or a stream chain (tests/integration/test_workers_nofork.py);
2. per request, resolve idempotency against stored events (read in this transaction, so an
   event another worker committed a moment ago with the same client event id is found and
   returned as a duplicate) and earlier requests of the group; a request with a conflict fails
   whole (all or nothing) and the others go on;
3. build events (index, server time, salt, previous stream hash), extend the tree;
4. insert and COMMIT. A crash before COMMIT returns leaves no trace and acknowledged nothing; a
   crash after it leaves every event durable, and a retry with the same client event id returns
   the original event (``duplicate=True``) instead of a second one.

The sequencer lease (:mod:`sealtrail.ledger.coordination`) does not guard appends; it elects
the one worker that runs background jobs. Only on a backend whose transactions cannot be
trusted to serialise several writers (MongoDB: see ``Coordinator.queue_appends``) does the
lease holder still commit every append, the others queueing theirs in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sealtrail.core.canonical import canonicalize_checked
from sealtrail.core.errors import ConflictError, LeaseLostError, SealtrailError, StorageError
from sealtrail.core.event import Event, EventInput, build_event, format_time
from sealtrail.core.merkle import CompactRange, root_subtrees
from sealtrail.ledger.coordination import (
    Coordinator,
    decode_inputs,
    encode_outcome,
    events_of,
    not_sequenced,
)
from sealtrail.ledger.store import Entry, Lease, LedgerStore, QueuedAppend, WriteView

T = TypeVar("T")
Clock = Callable[[], datetime]
RandomBytes = Callable[[int], bytes]


@dataclass(frozen=True, slots=True)
class AppendRequest:
    """Events one caller wants appended together, all or nothing."""

    tenant: str
    inputs: tuple[EventInput, ...]


@dataclass(frozen=True, slots=True)
class Appended:
    """One appended event; ``duplicate`` when it was stored by an earlier request."""

    event: Event
    duplicate: bool


class LogWriter:
    """Commits groups of append requests to a store. Not thread-safe: one caller at a time."""

    def __init__(
        self,
        store: LedgerStore,
        *,
        clock: Clock,
        random_bytes: RandomBytes,
        head_cache_size: int = 200_000,
    ) -> None:
        self._store = store
        self._clock = clock
        self._random = random_bytes
        self._range: CompactRange | None = None
        self._heads: dict[tuple[str, str], bytes] = {}
        self._head_cache_size = head_cache_size
        self._lock = threading.Lock()
        #: called inside each commit's transaction with the new events (not the repeats), so
        #: that what they cause (callback deliveries) commits with them or not at all; it must
        #: be cheap when there is nothing to do, and raise only to abort the whole commit
        self.on_commit: Callable[[Sequence[Event]], None] | None = None

    @property
    def store(self) -> LedgerStore:
        """The store this writer commits to."""
        return self._store

    @property
    def size(self) -> int | None:
        """The log size as of this writer's last commit (None before the first)."""
        return None if self._range is None else self._range.size

    def _sync(self, view: WriteView) -> CompactRange:
        size = view.size()
        if self._range is None or self._range.size != size:
            ids = root_subtrees(size) if size else []
            got = view.subtrees(ids)
            self._range = CompactRange(size, [got[i] for i in ids])
            self._heads.clear()
        return self._range

    def commit(
        self,
        requests: Sequence[AppendRequest | SealtrailError],
        *,
        fence: Lease | None = None,
        tickets: Sequence[str | None] = (),
    ) -> list[list[Appended] | SealtrailError]:
        """Append every request that does not conflict, durably, in one transaction.

        Returns, per request, its appended events in input order, or the error that refused it
        (a request given as an error is passed through as refused). With ``fence``, the
        transaction first checks that this process still holds that sequencer lease
        (LeaseLostError, nothing written, if not). ``tickets`` names the queued appends among
        the requests (by position; None for local ones): their outcomes are stored in the same
        transaction. Thread-safe: callers on several threads take turns.
        """
        with self._lock:
            return self._commit(requests, fence, tickets)

    def _commit(
        self,
        requests: Sequence[AppendRequest | SealtrailError],
        fence: Lease | None,
        tickets: Sequence[str | None],
    ) -> list[list[Appended] | SealtrailError]:
        staged: dict[tuple[str, str], bytes] = {}
        grown: list[CompactRange] = []

        def txn(view: WriteView) -> list[list[Appended] | SealtrailError]:
            staged.clear()
            grown.clear()
            if fence is not None:
                view.check_fence(fence)
            rng = self._sync(view).copy()
            recorded_at = format_time(self._clock())
            by_cid: dict[tuple[str, str], Event] = {}
            entries: list[Entry] = []
            results: list[list[Appended] | SealtrailError] = []
            # Idempotency: one look-up per tenant for the whole group.
            wanted: dict[str, set[str]] = {}
            for req in requests:
                if isinstance(req, SealtrailError):
                    continue
                for i in req.inputs:
                    if i.client_event_id is not None:
                        wanted.setdefault(req.tenant, set()).add(i.client_event_id)
            for tenant, cids in wanted.items():
                for cid, ev in view.events_by_client_id(tenant, cids).items():
                    by_cid[(tenant, cid)] = ev
            # One draw for the whole group (16 bytes per input, enough for every new event),
            # sliced in order; what repeats and refused requests would have used stays unused.
            salts = self._random(
                16 * sum(len(r.inputs) for r in requests if not isinstance(r, SealtrailError))
            )
            drawn = 0
            for req in requests:
                if isinstance(req, SealtrailError):
                    results.append(req)
                    continue
                try:
                    plan = _plan(req, by_cid)
                except ConflictError as e:
                    results.append(e)
                    continue
                out: list[Appended] = []
                for inp, existing in plan:
                    if isinstance(existing, int):
                        out.append(Appended(out[existing].event, True))
                        continue
                    if existing is not None:
                        out.append(Appended(existing, True))
                        continue
                    key = (req.tenant, inp.stream)
                    prev = staged.get(key) or self._heads.get(key)
                    if prev is None:
                        prev = view.stream_head(req.tenant, inp.stream)
                    ev = build_event(
                        inp,
                        tenant=req.tenant,
                        index=rng.size,
                        recorded_at=recorded_at,
                        salt=salts[drawn : drawn + 16],
                        prev=prev,
                    )
                    drawn += 16
                    fingerprints = tuple(bytes.fromhex(d["sha256"]) for d in inp.documents)
                    entries.append(Entry(ev, b"".join(rng.append(ev.leaf_hash)), fingerprints))
                    staged[key] = ev.leaf_hash
                    if ev.client_event_id is not None:
                        by_cid[(req.tenant, ev.client_event_id)] = ev
                    out.append(Appended(ev, False))
                results.append(out)
            if entries:
                view.append(entries)
                if self.on_commit is not None:
                    self.on_commit([e.event for e in entries])
            outcomes = {
                t: encode_outcome(r if isinstance(r, SealtrailError) else _pairs(r))
                for t, r in zip(tickets, results, strict=False)
                if t is not None
            }
            if outcomes:
                view.finish_queued(outcomes, recorded_at)
            grown.append(rng)
            return results

        try:
            results = self._store.write(txn)
        except BaseException:
            self._range = None  # the store may or may not hold this group: re-read next time
            self._heads.clear()
            raise
        self._range = grown[0]
        if len(self._heads) + len(staged) > self._head_cache_size:
            self._heads.clear()
        self._heads.update(staged)
        return results


def _pairs(appended: list[Appended]) -> list[tuple[int, bool]]:
    return [(a.event.index, a.duplicate) for a in appended]


def _input_bytes(body: dict[str, object]) -> bytes:
    """Compare inputs by their canonical bytes: ``1`` and ``true`` differ, as they do in JSON."""
    return canonicalize_checked(body)


def _plan(
    req: AppendRequest, by_cid: dict[tuple[str, str], Event]
) -> list[tuple[EventInput, Event | int | None]]:
    """Pair each input with what it repeats: a stored event, the position of an earlier input
    of the same request, or None (new). Raise ConflictError when a repeat differs."""
    plan: list[tuple[EventInput, Event | int | None]] = []
    seen: dict[str, int] = {}
    for pos, inp in enumerate(req.inputs):
        cid = inp.client_event_id
        if cid is None:
            plan.append((inp, None))
            continue
        if cid in seen:
            if _input_bytes(req.inputs[seen[cid]].body()) != _input_bytes(inp.body()):
                raise ConflictError(f"client_event_id {cid!r} appears twice with different bodies")
            plan.append((inp, seen[cid]))
            continue
        seen[cid] = pos
        existing = by_cid.get((req.tenant, cid))
        if existing is not None and _input_bytes(existing.input_body()) != _input_bytes(inp.body()):
            raise ConflictError(
                f"client_event_id {cid!r} was already used for event {existing.index} "
                "with a different body"
            )
        plan.append((inp, existing))
    return plan


def commit_round(
    writer: LogWriter,
    coord: Coordinator | None,
    local: list[AppendRequest],
    lease: Lease | None,
    max_events: int = 20_000,
) -> tuple[list[list[Appended] | SealtrailError], int]:
    """One commit: the local requests plus, for the lease holder, the oldest queued ones.

    Returns the local requests' results and how many queued requests were taken (their
    outcomes are stored in the same transaction)."""
    queued: list[QueuedAppend] = []
    if lease is not None and coord is not None:
        room = max_events - sum(len(r.inputs) for r in local)
        if room > 0:
            queued = coord.store.queued_appends(limit=min(500, room))
    reqs: list[AppendRequest | SealtrailError] = list(local)
    n = sum(len(r.inputs) for r in local)
    taken: list[QueuedAppend] = []
    for q in queued:
        try:
            req: AppendRequest | SealtrailError = AppendRequest(q.tenant, decode_inputs(q.body))
        except (SealtrailError, ValueError) as e:
            req = StorageError(f"queued append {q.ticket} is unreadable: {e}")
        size = len(req.inputs) if isinstance(req, AppendRequest) else 0
        if (local or taken) and n + size > max_events:
            break
        reqs.append(req)
        taken.append(q)
        n += size
    if not reqs:
        return [], 0
    tickets = [None] * len(local) + [q.ticket for q in taken]
    results = writer.commit(reqs, fence=lease, tickets=tickets)
    return results[: len(local)], len(taken)


class Sequencer:
    """Async group commit in front of a :class:`LogWriter`.

    ``append`` returns only after the events are durable. ``close`` stops taking requests and
    waits for those already queued.

    With a :class:`~sealtrail.ledger.coordination.Coordinator` (several processes on one
    database) it also keeps the sequencer lease: renews it, or takes it when it expired. Appends
    do not depend on it: every process commits its own groups, serialised by the store (see the
    module docstring). Only with ``coordinator.queue_appends`` (MongoDB) does the old division
    hold: the holder commits, fenced, and takes the appends other processes queued in the
    database into its groups; while another process holds the lease, ``append`` queues the
    request in the database and waits for its outcome, and requests caught by a lost lease are
    re-routed the same way (their commit failed whole, so nothing of them was written).
    """

    def __init__(
        self,
        writer: LogWriter,
        *,
        max_group_events: int = 20_000,
        coordinator: Coordinator | None = None,
        queue_poll: float = 0.1,
    ) -> None:
        self._writer = writer
        self._max = max_group_events
        self._coord = coordinator
        self._poll_max = queue_poll
        self._queue: deque[tuple[AppendRequest, asyncio.Future[list[Appended]]]] = deque()
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sealtrail-sequencer")
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._stop_keeping = asyncio.Event()

    @property
    def coordinator(self) -> Coordinator | None:
        """The lease and queue of a multi-process deployment (None: this process only)."""
        return self._coord

    @property
    def _queued(self) -> Coordinator | None:
        """The coordinator when appends go through the lease holder (MongoDB), else None."""
        return self._coord if self._coord is not None and self._coord.queue_appends else None

    def start(self) -> None:
        """Start the commit loop on the running event loop (again, if an earlier loop ended)."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._wakeup = asyncio.Event()
            self._queue = deque(item for item in self._queue if not item[1].done())
            self._task = loop.create_task(self._run())
        if self._coord is not None and (
            self._keeper is None or self._keeper.done() or self._keeper.get_loop() is not loop
        ):
            self._stop_keeping = asyncio.Event()
            self._keeper = loop.create_task(self._keep_lease(self._coord))

    async def append(self, tenant: str, inputs: list[EventInput]) -> list[Appended]:
        """Append ``inputs`` for ``tenant`` atomically; return once they are durable."""
        if self._closing:
            raise StorageError("sequencer is shutting down")
        loop = asyncio.get_running_loop()
        task = self._task
        if self._queued is not None:
            self.start()
            if self._queued.current() is None:
                return await self._remote(tenant, inputs)
        elif task is None or task.done() or task.get_loop() is not loop:
            self.start()  # else the commit loop runs on this loop already: nothing to start
        fut: asyncio.Future[list[Appended]] = loop.create_future()
        self._queue.append((AppendRequest(tenant, tuple(inputs)), fut))
        self._wakeup.set()
        return await fut

    def run_sync(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``fn`` on the sequencer's thread (serialised with commits)."""
        return asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def _remote(self, tenant: str, inputs: Sequence[EventInput]) -> list[Appended]:
        """Queue the append in the database for the lease holder and wait for its outcome."""
        coord = self._queued
        assert coord is not None
        ticket = await asyncio.to_thread(coord.submit, tenant, inputs)
        deadline = asyncio.get_running_loop().time() + coord.wait_timeout
        delay = 0.002
        while True:
            pairs = await asyncio.to_thread(coord.outcome, ticket)
            if pairs is not None:
                got = await asyncio.to_thread(events_of, pairs, self._writer.store.event)
                return [Appended(ev, dup) for ev, dup in got]
            if coord.current() is not None:
                self._wakeup.set()  # this process became the sequencer: take it now
            if asyncio.get_running_loop().time() > deadline:
                raise not_sequenced(ticket, coord.wait_timeout)
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.05)

    def _reroute(self, req: AppendRequest, fut: asyncio.Future[list[Appended]]) -> None:
        task = asyncio.get_running_loop().create_task(self._remote(req.tenant, req.inputs))

        def done(t: asyncio.Task[list[Appended]]) -> None:
            if fut.done():
                return
            if t.cancelled():
                fut.set_exception(StorageError("append cancelled"))
            elif (e := t.exception()) is not None:
                fut.set_exception(e)
            else:
                fut.set_result(t.result())

        task.add_done_callback(done)

    async def _keep_lease(self, coord: Coordinator) -> None:
        """Renew (or try to take) the lease every third of its time to live."""
        while not self._stop_keeping.is_set():
            before = coord.current()
            lease = await asyncio.to_thread(coord.refresh)
            if lease is not None:
                if before is None:
                    self._wakeup.set()
                await asyncio.to_thread(coord.maybe_prune)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_keeping.wait(), coord.ttl / 3)

    def _round(
        self, local: list[AppendRequest], lease: Lease | None
    ) -> tuple[list[list[Appended] | SealtrailError], int]:
        return commit_round(self._writer, self._queued, local, lease, self._max)

    async def _wait_wakeup(self, timeout: float | None) -> bool:
        """Wait for a wake-up (True) or until ``timeout`` seconds pass (False; None: forever)."""
        if timeout is None:
            await self._wakeup.wait()
            return True
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        poll = 0.005
        while True:
            # Clear the wake-up *before* looking at the queue: an append that arrives after this
            # point (while a round runs on the executor, say) sets it again, so no wait below
            # can sleep through it. Clearing after a round erased such wake-ups (a lost wake-up:
            # the append waited for the next poll, up to ``queue_poll``).
            self._wakeup.clear()
            # Direct appends (no queue): every process commits its own groups, unfenced; the
            # store serialises them. With a queue only the lease holder commits, fenced.
            queued = self._queued
            lease = queued.current() if queued is not None else None
            holder = queued is None or lease is not None
            group: list[tuple[AppendRequest, asyncio.Future[list[Appended]]]] = []
            if holder:
                n = 0
                while self._queue and (not group or n + len(self._queue[0][0].inputs) <= self._max):
                    item = self._queue.popleft()
                    group.append(item)
                    n += len(item[0].inputs)
            else:
                while self._queue:  # the lease went elsewhere: hand them to its holder
                    self._reroute(*self._queue.popleft())
            if not group and (lease is None or self._closing):
                if self._closing and not self._queue:
                    return
                await self._wait_wakeup(None if queued is None else self._poll_max)
                continue
            try:
                results, taken = await loop.run_in_executor(
                    self._executor, self._round, [r for r, _ in group], lease
                )
            except LeaseLostError:
                assert queued is not None
                assert lease is not None
                queued.lost(lease)
                for req, fut in group:
                    self._reroute(req, fut)
                continue
            except BaseException as e:  # the whole group failed; nothing of it is acknowledged
                for _, fut in group:
                    if not fut.done():
                        fut.set_exception(
                            e
                            if isinstance(e, Exception)
                            else StorageError(f"commit aborted: {e!r}")
                        )
                if not isinstance(e, Exception):
                    raise
                continue
            for (_, fut), res in zip(group, results, strict=True):
                if fut.done():
                    continue  # the caller went away; its events are durable regardless
                if isinstance(res, BaseException):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)
            if not group and not taken:  # an idle holder: poll the queue, backing off
                await self._wait_wakeup(poll)
                poll = min(poll * 2, self._poll_max)
            elif taken:
                poll = 0.005

    async def close(self) -> None:
        """Finish queued appends, then stop (and give the lease up)."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._keeper is not None:
            self._stop_keeping.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        if self._coord is not None:
            await asyncio.to_thread(self._coord.release)
        self._executor.shutdown(wait=True)
