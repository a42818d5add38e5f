"""Several ``sealtrail serve`` processes on one MongoDB database (issue 8).

The scenario of tests/integration/test_workers.py — clients appending through every worker,
the sequencer lease holder killed mid-stream, another taking over — on MongoDB: the nx-27017
stand-in over a real socket by default, a real server when ``SEALTRAIL_TEST_MONGODB_URI`` is set
(tests/mongo.py). Only the lease holder runs transactions here (the others queue appends with
single-document writes), which is what lets this run on the stand-in at all: it cannot run two
clients' transactions at once. Pausing the holder (SIGSTOP) in the middle of a transaction
would leave the stand-in's one SQLite connection inside it, so the pause scenario runs on a
real server only.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from sealtrail.backend import open_backend
from tests.integration.service import Service, cli, env_for, start
from tests.integration.test_workers import (
    Load,
    lease_holder_pid,
    pause_until_taken_over,
    stop_and_check,
    wait_for,
)
from tests.mongo import mongodb_url, stand_in_lacks

pytestmark = pytest.mark.slow

TTL = "2"


def lease_reader(url: str) -> Callable[[], tuple[str, int] | None]:
    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=10_000)

    def read() -> tuple[str, int] | None:
        doc = client.get_database().get_collection("leases").find_one({"_id": "sequencer"})
        return None if doc is None else (str(doc["holder"]), int(str(doc["epoch"])))

    return read


@pytest.fixture
def mongo_workers(
    tmp_path: Path,
) -> Iterator[tuple[Path, str, list[Service], str]]:
    data = tmp_path / "data"
    with mongodb_url(tmp_path / "mongo") as url:
        env = env_for(db_url=url)
        cli(data, "init", env=env)
        cli(data, "tenants", "create", "acme", env=env)
        key = cli(data, "keys", "create", "--tenant", "acme", "--role", "integrator", env=env)
        workers: list[Service] = []
        try:
            for i in range(3):
                workers.append(
                    start(
                        data,
                        tmp_path / f"worker{i}.log",
                        db_url=url,
                        lease_ttl=TTL,
                        checkpoint_interval="0.5",
                    )
                )
            yield data, url, workers, str(key["key"])
        finally:
            for w in workers:
                if w.proc is not None and w.proc.poll() is None:
                    os.kill(w.proc.pid, signal.SIGCONT)
                    w.stop()


def test_three_workers_on_mongodb_survive_a_killed_sequencer(
    mongo_workers: tuple[Path, str, list[Service], str],
) -> None:
    data, url, workers, key = mongo_workers
    read_lease = lease_reader(url)
    with Load(workers, key, threads=4) as load:
        wait_for(lambda: len(load.acked) >= 30, "the first acknowledged appends", timeout=60)
        pid, epoch = lease_holder_pid(read_lease)
        killed = next(w for w in workers if w.proc is not None and w.proc.pid == pid)
        before = len(load.acked)
        killed.stop(signal.SIGKILL)
        wait_for(lambda: lease_holder_pid(read_lease)[1] > epoch, "a takeover", timeout=60)
        wait_for(lambda: len(load.acked) >= before + 30, "appends after the takeover", 60)
    stop_and_check(workers, load, open_backend(data / "ledger.db", db_url=url), data)


@stand_in_lacks("a transaction left open by a paused client (one SQLite connection for all)")
def test_a_paused_sequencer_on_mongodb_is_replaced_and_fenced(
    mongo_workers: tuple[Path, str, list[Service], str],
) -> None:
    data, url, workers, key = mongo_workers
    read_lease = lease_reader(url)
    with Load(workers, key, threads=4) as load:
        wait_for(lambda: len(load.acked) >= 30, "the first acknowledged appends", timeout=60)
        pid, epoch = lease_holder_pid(read_lease)
        paused = next(w for w in workers if w.proc is not None and w.proc.pid == pid)
        try:
            pause_until_taken_over(pid, epoch, read_lease, float(TTL))
            mark = len(load.acked)
            wait_for(lambda: len(load.acked) >= mark + 30, "appends while it is paused", 60)
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_for(
            lambda: (
                "passed to another process" in paused.log()
                or "lost the sequencer lease" in paused.log()
            ),
            "the resumed worker to notice it lost the lease",
        )
        mark = len(load.acked)
        wait_for(lambda: len(load.acked) >= mark + 30, "appends after the resume", 60)
    stop_and_check(workers, load, open_backend(data / "ledger.db", db_url=url), data)
