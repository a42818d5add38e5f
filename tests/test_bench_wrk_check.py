"""bench_wrk.py's check of the log against wrk's 2xx answers: on a real ledger file, each way
the log can disagree with what the client was told is reported (none passes silently)."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import _common as c
import bench_wrk

from sealtrail.core.event import parse_event_input


def _event(prefix: str, tid: int, i: int) -> dict[str, object]:
    e = c.sample_event(i)
    e["client_event_id"] = f"{prefix}-{tid}-{i}"
    e["stream"] = f"contract:{prefix}-{tid}-{i // 5}"
    return e


def _run(per: int, acked_first: list[str], generated: int, responses: int) -> bench_wrk.Run:
    return bench_wrk.Run(
        per=per,
        conc=1,
        seconds=1.0,
        responses=responses,
        ok=len(acked_first),
        bad=responses - len(acked_first),
        bad_statuses="",
        generated=generated,
        acked_first_ids=acked_first,
        p50=0.0,
        p99=0.0,
        socket_errors=0,
        server_cpu=None,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A ledger holding batches of 10 of scenario ``s1`` (thread 0, events 0-39: 4 batches)
    and one event of another scenario ``s10`` whose prefix starts like it."""
    ledger = c.open_ledger(tmp_path / "data")
    try:
        for b in range(4):
            ledger.append(
                c.TENANT, [parse_event_input(_event("s1", 0, b * 10 + k)) for k in range(10)]
            )
        ledger.append(c.TENANT, [parse_event_input(_event("s10", 0, 0))])
    finally:
        ledger.close_sync()
    return tmp_path / "data" / "ledger.db"


ACKED = ["s1-0-0", "s1-0-10", "s1-0-20"]  # the 4th batch was in flight when wrk stopped


def test_acknowledged_plus_in_flight_is_ok(db: Path) -> None:
    run = _run(10, ACKED, generated=40, responses=3)
    assert bench_wrk.check_stored(db, "s1", run) == []
    assert run.stored == 40  # s10's event is not counted with s1


def test_a_lost_acknowledged_event_is_reported(db: Path) -> None:
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM events WHERE client_event_id = 's1-0-15'")
    problems = bench_wrk.check_stored(db, "s1", _run(10, ACKED, generated=40, responses=3))
    assert any("1 acknowledged events not stored" in p for p in problems), problems


def test_more_unacknowledged_events_than_in_flight_is_reported(db: Path) -> None:
    # only two batches acknowledged and none in flight: 20 events nobody was told about
    problems = bench_wrk.check_stored(db, "s1", _run(10, ACKED[:2], generated=20, responses=2))
    assert any("never acknowledged" in p for p in problems), problems


def test_a_partly_stored_batch_is_reported(db: Path) -> None:
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM events WHERE client_event_id = 's1-0-35'")
    problems = bench_wrk.check_stored(db, "s1", _run(10, ACKED, generated=40, responses=3))
    assert any("stored in part" in p for p in problems), problems


def test_refused_requests_and_foreign_ids_are_reported(db: Path) -> None:
    run = _run(10, ["s1-0-0", "s1-0-10", "s1-0-20", "s10-0-0"], generated=50, responses=5)
    problems = bench_wrk.check_stored(db, "s1", run)
    assert any("non-2xx" in p for p in problems), problems
    assert any("not of this scenario" in p for p in problems), problems
