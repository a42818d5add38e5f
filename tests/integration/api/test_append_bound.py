"""An append never hangs: a commit that has not returned after ``append_timeout`` is answered
503 ``commit_pending`` (with Retry-After) while it goes on, and the client's retry with the same
client event id gets the one event it made — never a second one.

The held commit is real: the test holds SQLite's write lock from its own connection (as a
synchronous standby that went away holds a PostgreSQL commit), with ``busy_timeout`` longer than
``append_timeout`` so that the service's wait for the lock outlasts the bound.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import event_obj
from tests.integration.service import Service, provision, start


@pytest.fixture
def service(tmp_path: Path) -> Service:
    data = tmp_path / "data"
    keys = provision(data)
    svc = start(
        data,
        tmp_path / "service.log",
        append_timeout="0.5",
        busy_timeout="30",
        checkpoint_interval="3600",
    )
    svc.keys = keys
    yield svc
    svc.stop()


def post(svc: Service, body: dict[str, object]) -> tuple[int, dict[str, object], float, str | None]:
    req = urllib.request.Request(
        f"{svc.url}/v1/events",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {svc.keys['int_sub1']}",
            "Content-Type": "application/json",
        },
    )
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read()), time.monotonic() - t0, None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), time.monotonic() - t0, e.headers.get("Retry-After")


def test_a_held_commit_is_answered_503_and_the_retry_finds_the_one_event(
    service: Service,
) -> None:
    body = event_obj("held-1", stream="contract:held")
    status, first, _, _ = post(service, event_obj("before", stream="contract:held"))
    assert status == 201
    db = sqlite3.connect(service.data_dir / "ledger.db", isolation_level=None)
    db.execute("BEGIN IMMEDIATE")  # the service's commit now waits (busy_timeout 30 s)
    try:
        status, problem, took, retry_after = post(service, body)
        assert status == 503
        assert problem["type"].endswith("commit_pending")
        assert "client_event_id" in problem["detail"]
        assert retry_after is not None
        assert took < 10, f"answered after {took:.1f} s: the bound did not hold"
        # while the lock is held nothing of it is visible
        assert db.execute(
            "SELECT count(*) FROM events WHERE client_event_id = 'held-1'"
        ).fetchone() == (0,)
    finally:
        db.execute("COMMIT")
    # the commit went on in the background; the retry returns that event, not a second one
    deadline = time.monotonic() + 30
    while True:
        status, event, _, _ = post(service, body)
        if status in (200, 201) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200, event  # 200: a replay of an event already stored
    assert event["client_event_id"] == "held-1"
    assert event["index"] == first["index"] + 1
    rows = db.execute("SELECT idx FROM events WHERE client_event_id = 'held-1'").fetchall()
    assert rows == [(event["index"],)]
    db.close()
    assert "Traceback" not in service.log()
