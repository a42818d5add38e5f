"""The sequencer never sleeps through an append (issue: lost wake-up).

An idle lease holder runs an empty polling round on its executor thread, then waits for a
wake-up or the poll interval. An append that arrives *while that round runs* must be taken at
once. Before the fix the wait cleared the wake-up the append had set, so it waited for the poll
interval (backing off to ``queue_poll``). The test is deterministic, not timed: the append is
injected from inside the round (an event hook), and every wait of the sequencer is observed:
between the injection and the append's completion no wait may end by timing out.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealtrail.core.note import NoteSigner
from sealtrail.ledger.coordination import Coordinator
from sealtrail.ledger.log import Ledger
from sealtrail.ledger.sequencer import Sequencer
from sealtrail.ledger.sqlite_coordination import SQLiteCoordinationStore
from tests.conftest import SQLiteLedger as SQLiteStore
from tests.conftest import counting_random, event_input, fixed_clock

SIGNER = NoteSigner("test.example/wakeup", Ed25519PrivateKey.from_private_bytes(bytes(32)))
HOUR = 3600.0
BOUND = 20.0  # far below the poll interval; only a lost wake-up comes near it


class HookedSequencer(Sequencer):
    """Calls ``hook`` on the executor thread at the start of every commit round and records
    how each of its waits ended (True: woken, False: timed out)."""

    hook: object = None

    def __init__(self, *a: object, **kw: object) -> None:
        super().__init__(*a, **kw)  # type: ignore[arg-type]
        self.waits: list[bool] = []

    def _round(self, local, lease):  # type: ignore[no-untyped-def]
        if callable(self.hook):
            self.hook(len(local))
        return super()._round(local, lease)

    async def _wait_wakeup(self, timeout: float | None) -> bool:
        woken = await super()._wait_wakeup(timeout)
        self.waits.append(woken)
        return woken


def open_ledger(tmp_path: Path, *, coordinated: bool) -> Ledger:
    store = SQLiteStore(tmp_path / "ledger.db")
    coordination = SQLiteCoordinationStore(store.db)
    coord = (  # the holder polls the append queue only when appends are queued (MongoDB)
        Coordinator(coordination, ttl=HOUR, holder="w", queue_appends=True) if coordinated else None
    )
    return Ledger(
        store, SIGNER, clock=fixed_clock, random_bytes=counting_random(), coordinator=coord
    )


def append_during_an_idle_round(ledger: Ledger, poll: float) -> tuple[list[int], list[bool]]:
    """Start the sequencer idle, inject one append while an empty round is on the executor;
    return the append's indices and how the sequencer's waits ended after the injection."""

    async def run() -> tuple[list[int], list[bool]]:
        loop = asyncio.get_running_loop()
        seq = HookedSequencer(ledger.writer, coordinator=ledger.coordinator, queue_poll=poll)
        queued = threading.Event()
        result: asyncio.Future[list[int]] = loop.create_future()
        fired = False
        tasks: list[asyncio.Task[None]] = []
        mark = 0

        def start_append() -> None:
            async def go() -> None:
                try:
                    got = await seq.append("acme", [event_input("late")])
                    result.set_result([a.event.index for a in got])
                except Exception as e:  # surfaced through the future
                    result.set_exception(e)

            tasks.append(loop.create_task(go()))
            # runs after the task's first step, i.e. after append queued and set the wake-up
            loop.call_soon(queued.set)

        def hook(n_local: int) -> None:
            nonlocal fired, mark
            if n_local == 0 and not fired and len(seq.waits) >= 3:  # an idle round, backed off
                fired = True
                mark = len(seq.waits)
                loop.call_soon_threadsafe(start_append)
                assert queued.wait(BOUND), "the append was never queued"

        seq.hook = hook
        if ledger.coordinator is not None:
            assert ledger.coordinator.refresh() is not None  # this worker holds the lease
        seq.start()
        try:
            got = await asyncio.wait_for(result, BOUND)
        finally:
            await seq.close()
        return got, seq.waits[mark:]

    return asyncio.run(run())


def test_an_append_during_the_idle_holder_s_polling_round_is_taken_at_once(
    tmp_path: Path,
) -> None:
    ledger = open_ledger(tmp_path, coordinated=True)
    try:
        # a short poll so the idle rounds before the injection pass quickly; the waits after it
        # must all be wake-ups (a timed-out wait is the lost wake-up, however short the poll)
        indices, waits = append_during_an_idle_round(ledger, poll=0.02)
        assert indices == [0]
        assert False not in waits[:1], f"the append waited for the poll: {waits}"
        assert ledger.size() == 1
    finally:
        ledger.close_sync()


def test_an_append_racing_the_single_process_loop_is_taken_at_once(tmp_path: Path) -> None:
    """Without a coordinator the loop waits with no timeout at all: a lost wake-up hangs."""
    ledger = open_ledger(tmp_path, coordinated=False)
    try:
        ledger.append("acme", [event_input("first")])

        async def run() -> list[int]:
            seq = Sequencer(ledger.writer)
            got = []
            for i in range(200):  # each append lands while the loop is between rounds
                res = await asyncio.wait_for(seq.append("acme", [event_input(f"e{i}")]), BOUND)
                got.append(res[0].event.index)
            await seq.close()
            return got

        assert asyncio.run(run()) == list(range(1, 201))
    finally:
        ledger.close_sync()
