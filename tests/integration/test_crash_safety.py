"""SIGKILL while appends are in flight loses nothing acknowledged and corrupts nothing.

The issue's requirement: "a test kills the process (SIGKILL) at random points while appends are
in flight, reopens the store, and proves that every acknowledged event is there exactly once,
indices are dense, every stream chain links, and the stored tree matches a full
recomputation." Each round starts crash_driver.py on the same data directory, kills it after a
random delay (some before it has even opened the ledger), then reopens the store and checks:

* every event acknowledged so far (in any round) is stored exactly once, at the acknowledged
  index with the acknowledged leaf hash;
* indices are dense and the log never shrinks;
* requests are atomic: a request is stored with all of its events or none;
* audit() finds no problem: chains, leaf hashes, stored subtrees, checkpoint roots, signatures
  and consistency all match a full recomputation;
* a client retry (same client event ids) of a request that was committed but not acknowledged
  gets the original events back as duplicates; a retry of a lost request appends it.

The schedule comes from a fixed seed, so a failing round can be replayed.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from sealtrail import backend
from sealtrail.core.event import parse_event_input
from sealtrail.ledger.audit import audit
from sealtrail.ledger.log import Ledger

from .crash_driver import request_for

DRIVER = Path(__file__).with_name("crash_driver.py")
ROUNDS = 15
SCHEDULE_SEED = 20261124

Key = tuple[str, str]  # (tenant, client_event_id)


def read_acks(path: Path) -> dict[Key, tuple[int, str]]:
    """Complete lines only: a line cut short by the kill acknowledges nothing."""
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    acks: dict[Key, tuple[int, str]] = {}
    for line in complete.splitlines():
        tenant, cid, index, leaf = line.split(" ")
        assert (tenant, cid) not in acks, f"{cid} acknowledged twice"
        acks[(tenant, cid)] = (int(index), leaf)
    return acks


def run_driver_and_kill(
    data_dir: Path, seed: int, ack_file: Path, *, early: bool, delay: float
) -> None:
    """Run the driver with stdout to ``ack_file``; SIGKILL it ``delay`` s after it starts
    (``early``) or after its first acknowledgement."""
    with ack_file.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(DRIVER), str(data_dir), str(seed)],
            stdout=out,
            stderr=subprocess.PIPE,
        )
        try:
            if not early:  # let appends get going, then kill at a random point
                deadline = time.monotonic() + 60
                while ack_file.stat().st_size == 0 and proc.poll() is None:
                    assert time.monotonic() < deadline, "driver acknowledged nothing in 60 s"
                    time.sleep(0.01)
            time.sleep(delay)
            if proc.poll() is not None:
                pytest.fail(f"driver exited by itself ({proc.returncode}): {proc.stderr.read()}")
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_sigkill_during_appends_loses_nothing(tmp_path: Path, data_dir: Path) -> None:
    schedule = random.Random(SCHEDULE_SEED)
    acked: dict[Key, tuple[int, str]] = {}
    size_before = 0
    committed_unacked = 0
    for round_no in range(ROUNDS):
        seed = 1000 + round_no
        early = round_no % 4 == 0
        delay = schedule.uniform(0.0, 0.3) if early else schedule.uniform(0.2, 1.5)
        ack_file = tmp_path / f"acks-{round_no}.txt"
        run_driver_and_kill(data_dir, seed, ack_file, early=early, delay=delay)
        round_acks = read_acks(ack_file)
        assert not round_acks.keys() & acked.keys()
        acked.update(round_acks)

        stores, signer = backend.open_store(data_dir)
        store = stores.ledger
        try:
            where = f"round {round_no} (seed {seed}, delay {delay:.3f} s, early={early})"
            entries = list(store.entries())
            size = store.size()
            assert [e.event.index for e in entries] == list(range(size)), where
            assert size >= size_before, where

            stored: dict[Key, list[tuple[int, str]]] = defaultdict(list)
            for e in entries:
                ev = e.event
                stored[(ev.tenant, ev.client_event_id)].append((ev.index, ev.leaf_hash.hex()))
            for key, ack in acked.items():
                assert stored.get(key) == [ack], f"{where}: acknowledged {key} {ack}"
            assert all(len(v) == 1 for v in stored.values()), where

            report = audit(store, signer.verifier())
            assert report.ok, (where, [p.to_json() for p in report.problems])
            assert report.size == size

            # Requests of this round: all events stored or none; retry the unacknowledged.
            ledger = Ledger(store, signer)
            by_request: dict[int, set[int]] = defaultdict(set)
            for tenant, cid in stored:
                s, n, j = (int(x) for x in cid.split("-"))
                if s == seed:
                    by_request[n].add(j)
            for n in range(max(by_request, default=-1) + 1):
                tenant, objs = request_for(seed, n)
                cids = [o["client_event_id"] for o in objs]
                have = by_request.get(n, set())
                assert have in (set(), set(range(len(objs)))), f"{where}: request {n} partial"
                if have and all((tenant, c) in acked for c in cids):
                    continue
                results = ledger.append(tenant, [parse_event_input(o) for o in objs])
                if have:  # committed, but the kill came before the acknowledgement
                    committed_unacked += 1
                    assert all(r.duplicate for r in results), f"{where}: request {n}"
                    assert [(r.event.index, r.event.leaf_hash.hex()) for r in results] == [
                        stored[(tenant, c)][0] for c in cids
                    ]
                else:  # lost in flight: never acknowledged, so the retry appends it
                    assert not any(r.duplicate for r in results), f"{where}: request {n}"
                for r in results:
                    acked[(tenant, r.event.client_event_id)] = (
                        r.event.index,
                        r.event.leaf_hash.hex(),
                    )
            size_before = store.size()
        finally:
            store.close()

    stores, signer = backend.open_store(data_dir)
    store = stores.ledger
    try:
        report = audit(store, signer.verifier())
        assert report.ok, [p.to_json() for p in report.problems]
        assert report.size == store.size() == len(acked)
        assert report.checkpoints > 0
    finally:
        store.close()
    print(
        f"{len(acked)} events, {report.checkpoints} checkpoints, "
        f"{committed_unacked} committed-but-unacknowledged requests retried"
    )
