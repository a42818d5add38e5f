"""The sequencer lease, fencing and the append queue (sealtrail/ledger/coordination.py), with
two ledgers on one real SQLite file — and on one real PostgreSQL database (tests/pg.py) — standing
for two service processes. The coordinators queue appends (``queue_appends=True``, the mode
MongoDB runs in) so that the queue is exercised on a store with real isolation; direct appends
from every worker are tests/integration/test_workers_nofork.py.

Time is a parameter: each coordinator reads a clock the test moves, so a lease expires when the
test says so. The multi-process version (real ``sealtrail serve`` processes, SIGKILL and
SIGSTOP) is tests/integration/test_workers.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealtrail import backend
from sealtrail.api.error_codes import http_status_for
from sealtrail.core.errors import LeaseLostError, LedgerBusyError
from sealtrail.core.note import NoteSigner
from sealtrail.ledger.audit import audit
from sealtrail.ledger.coordination import LEASE_NAME, Coordinator, QueuedAppendError
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.sqlite_coordination import SQLiteCoordinationStore
from tests.conftest import FIXED_TIME, counting_random, event_input, fixed_clock
from tests.conftest import SQLiteLedger as SQLiteStore

SIGNER = NoteSigner("test.example/workers", Ed25519PrivateKey.from_private_bytes(bytes(32)))
TTL = 10.0


class Clock:
    """Unix time the test moves by hand. It starts at the ledgers' fixed time: the queue's
    outcomes are stamped with the ledger's clock and pruned by the coordinator's, so two clocks
    weeks apart made every finished outcome look older than the retention — pruned before its
    waiter read it ("vanished"), whenever the keeper's first prune ran late."""

    def __init__(self) -> None:
        self.now = FIXED_TIME.timestamp()

    def __call__(self) -> float:
        return self.now


def worker(db: Path | str, name: str, clock: Clock, **kw: float) -> Ledger:
    """A ledger on the SQLite file ``db``, or on the PostgreSQL database at URL ``db``."""
    if isinstance(db, str):
        stores = backend.open_postgres(db)
        store, coord_store = stores.ledger, stores.coordination
    else:
        store = SQLiteStore(db)
        coord_store = SQLiteCoordinationStore(store.db)
    coord = Coordinator(
        coord_store,
        ttl=TTL,
        holder=name,
        clock=clock,
        queue_appends=True,
        **kw,  # type: ignore[arg-type]
    )
    return Ledger(store, SIGNER, clock=fixed_clock, random_bytes=counting_random(),
                  coordinator=coord)  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where the two workers' database is: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_db_url"))
    return tmp_path / "ledger.db"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pair(db: Path | str, clock: Clock) -> tuple[Ledger, Ledger]:
    a, b = worker(db, "a", clock), worker(db, "b", clock)
    yield a, b
    a.close_sync()
    b.close_sync()


def holder(ledger: Ledger) -> str | None:
    lease = ledger.coordinator.store.lease(LEASE_NAME)  # type: ignore[attr-defined]
    return None if lease is None else str(lease.holder)


def test_first_taker_holds_the_lease_and_others_are_refused(
    pair: tuple[Ledger, Ledger], clock: Clock
) -> None:
    a, b = pair
    assert a.coordinator is not None
    assert b.coordinator is not None
    got = a.coordinator.refresh()
    assert got is not None
    assert got.epoch == 1
    assert got.expires_at == clock.now + TTL
    assert b.coordinator.refresh() is None
    assert a.is_sequencer()
    assert not b.is_sequencer()
    clock.now += TTL / 3
    renewed = a.coordinator.refresh()
    assert renewed is not None
    assert renewed.epoch == 1
    assert renewed.expires_at == clock.now + TTL


def test_an_expired_lease_is_taken_with_the_next_epoch_and_fences_the_old_holder(
    pair: tuple[Ledger, Ledger], clock: Clock
) -> None:
    a, b = pair
    assert a.coordinator is not None
    assert b.coordinator is not None
    a.append("acme", [event_input("one")])
    old = a.coordinator.current()
    assert old is not None
    clock.now += TTL + 1  # a stops renewing (paused, cut off, dead)
    taken = b.coordinator.refresh()
    assert taken is not None
    assert taken.epoch == old.epoch + 1
    assert holder(b) == "b"
    # a still believes in its lease (its own clock says nothing) — a fenced commit refuses it
    with pytest.raises(LeaseLostError):
        a.writer.commit([], fence=old)
    size = b.size()
    with pytest.raises(LeaseLostError):
        a.store.write(lambda v: (v.check_fence(old), v.append([]))[1])
    assert b.size() == size


def test_a_stale_holder_s_append_goes_through_the_queue_to_the_new_holder(
    pair: tuple[Ledger, Ledger], clock: Clock
) -> None:
    a, b = pair
    assert a.coordinator is not None
    assert b.coordinator is not None
    a.append("acme", [event_input("first")])
    clock.now += TTL + 1
    assert b.coordinator.refresh() is not None

    async def run() -> list[int]:
        b.sequencer.start()
        # a's lease looks valid to a until its own clock passes expires_at: move a's view
        # back so a still thinks it holds it and tries a fenced commit first
        got = await asyncio.to_thread(a.append, "acme", [event_input("second")])
        await b.sequencer.close()
        return [x.event.index for x in got]

    clock_a = a.coordinator._clock
    a.coordinator._clock = lambda: clock_a() - TTL  # a's clock lags: it trusts its old lease
    assert asyncio.run(run()) == [1]
    assert a.coordinator._lease is None  # it learned it lost the lease
    assert [e.event.index for e in a.store.entries()] == [0, 1]
    assert audit(b.store, b.verifier).ok


def test_appends_from_a_non_holder_are_sequenced_by_the_holder(
    pair: tuple[Ledger, Ledger],
) -> None:
    a, b = pair
    assert a.coordinator is not None
    assert b.coordinator is not None
    assert a.coordinator.refresh() is not None

    async def run() -> tuple[list[int], list[int]]:
        a.sequencer.start()
        b.sequencer.start()
        jobs = []
        for i in range(30):
            who = a if i % 2 else b
            jobs.append(who.append_async("acme", [event_input(f"e{i}", stream=f"s{i % 4}")]))
        got = await asyncio.gather(*jobs)
        # a retry through the other worker returns the original event
        again = await b.append_async("acme", [event_input("e3", stream="s3")])
        await b.sequencer.close()
        await a.sequencer.close()
        return sorted(r[0].event.index for r in got), [again[0].event.index, again[0].duplicate]

    indices, again = asyncio.run(run())
    assert indices == list(range(30))  # dense, each exactly once
    assert again[1] is True
    assert b.coordinator.store.queued_appends() == []  # every queued request got its outcome
    assert audit(a.store, a.verifier).ok


def test_a_queued_append_that_conflicts_fails_with_the_holder_s_error(
    pair: tuple[Ledger, Ledger],
) -> None:
    a, b = pair
    assert a.coordinator is not None
    assert b.coordinator is not None
    assert a.coordinator.refresh() is not None
    a.append("acme", [event_input("x")])

    async def run() -> None:
        a.sequencer.start()
        try:
            changed = event_input("x", type="approve")
            with pytest.raises(QueuedAppendError) as err:
                await b.append_async("acme", [changed])
            assert err.value.code == "conflict"
            assert http_status_for(err.value) == 409
        finally:
            await a.sequencer.close()

    asyncio.run(run())
    assert a.size() == 1


def test_a_queued_append_nobody_sequences_times_out_and_stays_queued(
    db: Path | str, clock: Clock
) -> None:
    a = worker(db, "a", clock)
    b = worker(db, "b", clock, wait_timeout=0.3)
    try:
        assert a.coordinator is not None
        assert a.coordinator.refresh() is not None
        with pytest.raises(LedgerBusyError, match=r"was not sequenced within 0\.3 s"):
            b.append("acme", [event_input("late", client_event_id="late-1")])
        (queued,) = b.coordinator.store.queued_appends()  # type: ignore[attr-defined]
        assert queued.tenant == "acme"
        a.coordinator.release()
        # the next holder appends it along with its own next request (b itself, here)
        got = b.append("acme", [event_input("later")])
        assert got[0].event.index == 0
        assert b.coordinator.store.queued_appends() == []  # type: ignore[attr-defined]
        late = b.store.event(1)
        assert late is not None
        assert late.client_event_id == "late-1"
    finally:
        a.close_sync()
        b.close_sync()


def test_only_the_holder_seals(pair: tuple[Ledger, Ledger]) -> None:
    a, b = pair
    assert a.coordinator is not None
    a.append("acme", [event_input("x")])
    with pytest.raises(LeaseLostError, match="another process holds the sequencer lease"):
        b.seal()
    cp, new = a.seal()
    assert new
    assert cp is not None
    assert cp.size == 1


def test_release_lets_another_take_over_at_once(pair: tuple[Ledger, Ledger]) -> None:
    a, b = pair
    assert a.coordinator is not None
    assert b.coordinator is not None
    first = a.coordinator.refresh()
    assert first is not None
    assert b.coordinator.refresh() is None
    a.coordinator.release()
    got = b.coordinator.refresh()
    assert got is not None
    assert got.epoch == first.epoch + 1
