"""A PostgreSQL primary and a synchronous standby for tests: two real clusters on free ports.

:class:`ReplicatedPostgres` runs, in a temporary directory of its own:

1. ``initdb`` of the primary (trust authentication, which only local connections reach: each
   cluster listens on its own Unix socket directory and on 127.0.0.1), with ``wal_level =
   replica``, WAL senders, ``hot_standby``, a ``replicator`` role with ``REPLICATION`` and
   ``pg_hba.conf`` entries for replication over the socket and 127.0.0.1;
2. ``pg_basebackup -R`` of it into the standby's directory (``standby.signal`` and a
   ``primary_conninfo`` naming the standby ``application_name=standby1``), and the standby
   started on its own port;
3. ``synchronous_standby_names = 'standby1'`` set on the primary (``ALTER SYSTEM`` + reload,
   *after* the base backup, so the standby does not inherit it and a promoted standby does not
   wait for a standby it does not have), then waits until ``pg_stat_replication`` shows the
   standby streaming with ``sync_state = 'sync'``. From then on a commit on the primary returns
   only once the standby has flushed its WAL (``synchronous_commit = on``).

It offers multi-host libpq URLs over both (:meth:`url`: the Unix-socket form
``postgresql://postgres@/DB?host=/s1,/s2&port=p1,p2&target_session_attrs=read-write``, or the
``host:port`` list form), :meth:`kill_primary` (SIGKILL of the primary's postmaster, whose pid
is the first line of ``postmaster.pid``), :meth:`promote_standby` (``pg_ctl promote``, then
waits until it accepts a write), :meth:`stop_node`/:meth:`start_node` (a server unreachable for
a while) and :meth:`stop`.

Each server is a :class:`tests.pg.PgCluster` (the single-cluster harness): when the tests run as
uid 0 every server binary runs as the ``postgres`` user (``runuser -u postgres --``), which owns
the temporary directory (created under ``/tmp``, not under pytest's ``tmp_path``, which is
private to root). The binaries are found in ``/usr/lib/postgresql/*/bin`` (the newest).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from tests.pg import PG_SUPERUSER, PgCluster, pg_bin_dir

__all__ = ["Node", "ReplicatedPostgres", "pg_bin_dir", "replicated"]

REPLICATION_USER = "replicator"
STANDBY_NAME = "standby1"

#: the primary's settings for streaming replication (``synchronous_standby_names`` comes later)
PRIMARY_SETTINGS = (
    "wal_level=replica",
    "max_wal_senders=8",
    "max_replication_slots=8",
    "hot_standby=on",
    "synchronous_commit=on",
    "wal_keep_size=256MB",
    "wal_sender_timeout=10s",
    "log_min_messages=warning",
)
STANDBY_SETTINGS = ("hot_standby=on", "wal_receiver_timeout=10s", "log_min_messages=warning")


class Node(PgCluster):
    """One cluster of the pair: a :class:`~tests.pg.PgCluster` with a name and a socket
    connection."""

    def __init__(self, name: str, workdir: Path, settings: tuple[str, ...]) -> None:
        super().__init__(workdir, settings=settings)
        self.name = name

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def conninfo(self, dbname: str = "postgres", user: str = PG_SUPERUSER) -> str:
        return f"host={self.socket_dir} port={self.port} dbname={dbname} user={user}"

    def connect(self, dbname: str = "postgres", **kw: Any) -> psycopg.Connection[Any]:
        """An autocommit connection over the Unix socket."""
        return psycopg.connect(self.conninfo(dbname), autocommit=True, connect_timeout=5, **kw)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is dead for our purpose
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children_of(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (from /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(d.name))
    return out


class ReplicatedPostgres:
    """A primary and a synchronous standby (see the module docstring). Use :func:`replicated`
    or call :meth:`start` and, always, :meth:`stop`."""

    def __init__(self, dbname: str = "sealtrail") -> None:
        if pg_bin_dir() is None:
            raise RuntimeError("no PostgreSQL server binaries (apt-get install postgresql)")
        self.dbname = dbname
        self.base = Path(tempfile.mkdtemp(prefix="st-pgrep-", dir="/tmp"))
        os.chmod(self.base, 0o755)  # each node's directory in it belongs to the server's user
        self.primary = Node("primary", self.base / "primary", PRIMARY_SETTINGS)
        self.standby = Node("standby", self.base / "standby", STANDBY_SETTINGS)
        self.promoted = False

    def start_node(self, node: Node) -> None:
        """Start one server (``pg_ctl start -w``)."""
        node.start()

    def stop_node(self, node: Node, mode: str = "fast") -> None:
        """Stop one server (fast: disconnects clients, checkpoints; immediate: no checkpoint,
        recovery on the next start)."""
        node.stop(mode)

    def start(self) -> ReplicatedPostgres:
        p, s = self.primary, self.standby
        p.init()
        (p.data / "pg_hba.conf").write_text(
            "# tests/pg_replication.py: local connections only (socket and 127.0.0.1)\n"
            "local   all          all                       trust\n"
            "host    all          all         127.0.0.1/32  trust\n"
            f"local   replication  {REPLICATION_USER}                trust\n"
            f"host    replication  {REPLICATION_USER}  127.0.0.1/32  trust\n"
        )
        p.start()
        with p.connect() as con:
            con.execute(f"CREATE ROLE {REPLICATION_USER} WITH REPLICATION LOGIN")
            con.execute(f"CREATE DATABASE {self.dbname}")
        p.run(
            ["pg_basebackup", "-D", str(s.data), "-h", str(p.socket_dir), "-p", str(p.port),
             "-U", REPLICATION_USER, "-X", "stream", "-c", "fast", "-R"]
        )  # fmt: skip
        # -R wrote standby.signal and a primary_conninfo; this later line wins (same file)
        with (s.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(
                f"primary_conninfo = 'host={p.socket_dir} port={p.port} "
                f"user={REPLICATION_USER} application_name={STANDBY_NAME}'\n"
            )
        s.start()
        with p.connect() as con:
            con.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}'")
            con.execute("SELECT pg_reload_conf()")
        self.wait_sync()
        return self

    def wait_sync(self, timeout: float = 60) -> None:
        """Wait until the primary streams to the standby with ``sync_state = 'sync'``."""
        deadline = time.monotonic() + timeout
        state: list[tuple[Any, ...]] = []
        while time.monotonic() < deadline:
            with self.primary.connect() as con:
                state = con.execute(
                    "SELECT application_name, state, sync_state FROM pg_stat_replication"
                ).fetchall()
            if (STANDBY_NAME, "streaming", "sync") in state:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the standby is not synchronous: {state}\n{self.standby.log()}")

    def replication_state(self) -> list[tuple[str, str, str]]:
        """(application_name, state, sync_state) of every WAL sender of the primary."""
        with self.primary.connect() as con:
            rows = con.execute(
                "SELECT application_name, state, sync_state FROM pg_stat_replication"
            ).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    # -- URLs ------------------------------------------------------------------------------

    def nodes(self) -> list[Node]:
        return [self.primary, self.standby]

    def url(self, *, tcp: bool = False, connect_timeout: int = 3, **params: str) -> str:
        """A multi-host libpq URL over both servers, ``target_session_attrs=read-write``:
        Unix sockets by default, or ``host:port`` pairs on 127.0.0.1 with ``tcp=True``."""
        query = {"target_session_attrs": "read-write", "connect_timeout": str(connect_timeout)}
        query.update(params)
        if tcp:
            hosts = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes())
            head = f"postgresql://{PG_SUPERUSER}@{hosts}/{self.dbname}"
        else:
            sockets = ",".join(quote(str(n.socket_dir), safe="") for n in self.nodes())
            ports = ",".join(str(n.port) for n in self.nodes())
            head = f"postgresql://{PG_SUPERUSER}@/{self.dbname}"
            query = {"host": sockets, "port": ports, **query}
        return head + "?" + "&".join(f"{k}={v}" for k, v in query.items())

    def node_url(self, node: Node) -> str:
        """A single-host URL of one node (Unix socket)."""
        sock = quote(str(node.socket_dir), safe="")
        return f"postgresql://{PG_SUPERUSER}@/{self.dbname}?host={sock}&port={node.port}"

    # -- faults ----------------------------------------------------------------------------

    def kill_primary(self, *, wait_children: float = 10) -> float:
        """SIGKILL the primary's postmaster; returns the ``time.monotonic()`` of the kill.

        Its backends notice their postmaster's death and exit (a backend waiting for the
        standby to confirm a commit gives up without answering its client); this waits up to
        ``wait_children`` seconds for them to go, then SIGKILLs any left, so that nothing of
        the old primary still answers."""
        pid = self.primary.postmaster_pid()
        if pid is None:
            raise RuntimeError("the primary is not running")
        children = children_of(pid)
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        deadline = killed_at + wait_children
        while time.monotonic() < deadline and any(_pid_alive(c) for c in [pid, *children]):
            time.sleep(0.02)
        for c in children:
            if _pid_alive(c):
                os.kill(c, signal.SIGKILL)
        return killed_at

    def promote_standby(self, timeout: float = 60) -> None:
        """``pg_ctl promote`` the standby and wait until it accepts a write."""
        self.standby.run(
            ["pg_ctl", "-D", str(self.standby.data), "-w", "-t", str(int(timeout)), "promote"]
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.standby.connect() as con:
                    row = con.execute("SELECT pg_is_in_recovery()").fetchone()
                    if row is not None and row[0] is False:
                        con.execute("CREATE TEMP TABLE promoted_probe (x int)")
                        self.promoted = True
                        return
            except psycopg.Error:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the standby did not accept writes:\n{self.standby.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop both servers (immediately) and delete the directory."""
        for node in self.nodes():
            pid = node.postmaster_pid()
            if pid is not None and _pid_alive(pid):
                try:
                    node.stop("immediate")
                except subprocess.TimeoutExpired:
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.base, ignore_errors=True)


@contextmanager
def replicated(dbname: str = "sealtrail") -> Iterator[ReplicatedPostgres]:
    """A started :class:`ReplicatedPostgres`, stopped and deleted on exit."""
    pair = ReplicatedPostgres(dbname)
    try:
        yield pair.start()
    finally:
        pair.stop()
