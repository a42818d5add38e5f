"""The replication harness of tests/pg_replication.py, checked against the servers it starts.

The failover tests rely on three properties, each tested here on real clusters: replication is
synchronous (a commit returns only once the standby has the WAL, and does not return while the
standby is down); after the primary's postmaster is SIGKILLed and the standby promoted, the
multi-host URL (both forms) reaches the promoted standby and finds every committed row there;
and the old primary is really gone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.pg import require_pg_bin
from tests.pg_replication import ReplicatedPostgres, replicated


@pytest.fixture(scope="module")
def pair() -> Iterator[ReplicatedPostgres]:
    require_pg_bin()  # skips without PostgreSQL; fails in CI, which installs it
    with replicated("harness") as p:
        with p.primary.connect("harness") as con:
            con.execute("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)")
        yield p


def lsn(con: psycopg.Connection[Any], query: str) -> int:
    """An LSN as an integer (for comparing)."""
    row = con.execute(f"SELECT ({query}) - '0/0'::pg_lsn").fetchone()
    assert row is not None
    assert row[0] is not None
    return int(row[0])


def test_the_standby_is_synchronous_and_streaming(pair: ReplicatedPostgres) -> None:
    assert ("standby1", "streaming", "sync") in pair.replication_state()
    with pair.standby.connect("harness") as con:
        assert con.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    with pair.primary.connect("harness") as con:
        assert con.execute("SHOW synchronous_standby_names").fetchone() == ("standby1",)
        assert con.execute("SHOW synchronous_commit").fetchone() == ("on",)


def test_a_committed_row_is_on_the_standby_right_after(pair: ReplicatedPostgres) -> None:
    with pair.primary.connect("harness") as pcon, pair.standby.connect("harness") as scon:
        for i in range(20):
            with pcon.transaction():
                pcon.execute("INSERT INTO t VALUES (%s, %s)", (i, f"row {i}"))
                # the commit record will be written after this position
                before_commit = lsn(pcon, "pg_current_wal_insert_lsn()")
            # synchronous_commit=on: the standby flushed the commit record to its disk before
            # the primary answered, so the WAL it has received ends past that position
            flushed = lsn(scon, "pg_last_wal_receive_lsn()")
            assert flushed > before_commit, (i, flushed, before_commit)
        # and replayed soon after (hot standby reads see it)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if scon.execute("SELECT count(*) FROM t").fetchone() == (20,):
                break
            time.sleep(0.01)
        rows = scon.execute("SELECT id, v FROM t ORDER BY id").fetchall()
    assert rows == [(i, f"row {i}") for i in range(20)]


def test_a_commit_waits_while_the_standby_is_down(pair: ReplicatedPostgres) -> None:
    """The proof that replication is synchronous: with the standby stopped, a commit on the
    primary does not return; it returns once the standby is back."""
    pair.stop_node(pair.standby)
    done: list[float] = []
    errors: list[BaseException] = []

    def insert() -> None:
        try:
            with pair.primary.connect("harness") as con:
                con.execute("INSERT INTO t VALUES (1000, 'while the standby is down')")
            done.append(time.monotonic())
        except BaseException as e:
            errors.append(e)

    th = threading.Thread(target=insert)
    th.start()
    try:
        time.sleep(2.0)
        assert done == [], "the commit returned without the standby"
        assert errors == []
        restarted = time.monotonic()
        pair.start_node(pair.standby)
        th.join(60)
        assert errors == []
        assert done
        assert done[0] >= restarted
    finally:
        if th.is_alive():
            pair.start_node(pair.standby)
            th.join(60)
    pair.wait_sync()


def test_kill_primary_then_promote_the_multi_host_url_reaches_the_standby() -> None:
    require_pg_bin()
    with replicated("failover") as p:
        for url in (p.url(), p.url(tcp=True)):
            with psycopg.connect(url, autocommit=True) as con:
                assert con.execute("SHOW port").fetchone() == (str(p.primary.port),)
        with psycopg.connect(p.url(), autocommit=True) as con:
            con.execute("CREATE TABLE t (id int PRIMARY KEY)")
            con.execute("INSERT INTO t SELECT generate_series(1, 500)")
        pid = p.primary.postmaster_pid()
        assert pid is not None
        p.kill_primary()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(p.node_url(p.primary), connect_timeout=2)
        # before promotion nothing accepts writes: the URL finds no read-write server
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(p.url(), connect_timeout=2)
        p.promote_standby()
        for url in (p.url(), p.url(tcp=True)):
            with psycopg.connect(url, autocommit=True) as con:
                assert con.execute("SHOW port").fetchone() == (str(p.standby.port),)
                assert con.execute("SELECT count(*), max(id) FROM t").fetchone() == (500, 500)
        with psycopg.connect(p.url(), autocommit=True) as con:
            con.execute("INSERT INTO t VALUES (501)")  # writable, and not waiting
