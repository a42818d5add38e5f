"""A real PostgreSQL for the tests: clusters started in temporary directories on free ports.

No system service is used or needed: :class:`PgCluster` runs ``initdb`` into a directory of its
own, starts ``postgres`` with ``pg_ctl`` on a free port (TCP on 127.0.0.1, its unix socket in the
same directory, ``fsync=on`` so commits are as durable as in production), and stops it at the
end. The binaries are found in ``/usr/lib/postgresql/*/bin`` (the newest), or on ``PATH``.

PostgreSQL refuses to run as root: when the tests run as uid 0, the cluster belongs to the
``postgres`` user (created with ``useradd`` if missing) and every server command runs through
``runuser -u postgres``; the test process itself connects as the database superuser
``postgres`` over TCP with ``trust`` authentication (local clusters only).

Fixtures (registered in tests/conftest.py):

* ``pg_cluster`` (session): the one cluster of the test session, started on first use;
* ``pg_url`` (session): a URL of a database on it (``sealtrail``);
* ``pg_db_url`` (function): a URL naming a FRESH, empty database for one test, created by
  ``CREATE DATABASE`` (a copy of ``template1``) and dropped afterwards.

Without PostgreSQL binaries the fixtures skip, saying so — except in CI (``CI`` set), where they
fail: CI installs PostgreSQL (.ci/run). The replication harness (tests/pg_replication.py)
builds on :class:`PgCluster` (``data``, ``port``, :meth:`PgCluster.run`, :meth:`PgCluster.kill`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

#: the OS user that owns clusters when the tests run as root
PG_OS_USER = "postgres"
#: the database superuser the tests connect as
PG_SUPERUSER = "postgres"


def free_port() -> int:
    """A TCP port nothing listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin_dir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def require_pg_bin() -> Path:
    """:func:`pg_bin_dir`, or skip (fail in CI) saying PostgreSQL is not installed."""
    found = pg_bin_dir()
    if found is None:
        msg = "PostgreSQL binaries not found (apt-get install postgresql; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return found


def _ensure_os_user() -> None:
    try:
        pwd.getpwnam(PG_OS_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", PG_OS_USER],
            check=True,
        )


class PgCluster:
    """One PostgreSQL cluster in ``workdir`` (created, owned by the server's OS user).

    ``data`` is the data directory, ``port`` the TCP port, ``socket_dir`` the unix socket's
    directory. :meth:`init` runs initdb; :meth:`start` / :meth:`stop` / :meth:`kill` control the
    server. ``settings`` are extra ``-c name=value`` server settings.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        settings: Sequence[str] = (),
        bin_dir: Path | None = None,
    ) -> None:
        self.bin = bin_dir or require_pg_bin()
        self.workdir = workdir
        self.data = workdir / "data"
        self.socket_dir = workdir
        self.log_file = workdir / "postgres.log"
        self.port = port or free_port()
        self.settings = tuple(settings)
        self.as_root = os.geteuid() == 0
        workdir.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            _ensure_os_user()
            pw = pwd.getpwnam(PG_OS_USER)
            os.chown(workdir, pw.pw_uid, pw.pw_gid)
        os.chmod(workdir, 0o700)

    # -- commands --------------------------------------------------------------------------

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program (``argv[0]`` is a name in the bin directory) as the
        cluster's owner; output captured."""
        cmd = [str(self.bin / argv[0]), *argv[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", PG_OS_USER, "--", *cmd]
        return subprocess.run(
            cmd, capture_output=True, text=True, check=check, timeout=timeout, cwd=self.workdir
        )

    def init(self) -> None:
        """initdb (trust authentication, UTF-8, C locale) and allow local replication."""
        self.run(
            ["initdb", "-D", str(self.data), "-A", "trust", "-U", PG_SUPERUSER,
             "-E", "UTF8", "--locale=C", "--no-sync"]
        )  # fmt: skip

    def options(self) -> str:
        """The server options ``pg_ctl -o`` passes."""
        opts = [
            f"-p {self.port}",
            f"-k {self.socket_dir}",
            "-c listen_addresses=127.0.0.1",
            "-c fsync=on",
            "-c max_connections=200",
            *(f"-c {s}" for s in self.settings),
        ]
        return " ".join(opts)

    def start(self, *, timeout: float = 60) -> None:
        """Start the server and wait until it accepts connections."""
        self.run(
            ["pg_ctl", "-D", str(self.data), "-o", self.options(), "-l", str(self.log_file),
             "-w", "-t", str(int(timeout)), "start"],
            timeout=timeout + 10,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: abort sessions, clean shutdown); no error if stopped."""
        self.run(["pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"], check=False)

    def postmaster_pid(self) -> int | None:
        """The running postmaster's pid, from ``postmaster.pid``, or None."""
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash: no shutdown checkpoint). Its backends notice and
        exit on their own; :meth:`start` then runs crash recovery."""
        pid = self.postmaster_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def url(self, dbname: str = "postgres", **params: str) -> str:
        """A libpq URL of ``dbname`` on this cluster, over TCP."""
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{self.port}/{dbname}" + (
            f"?{query}" if query else ""
        )

    def sql(self, statement: str, dbname: str = "postgres") -> None:
        """Run one statement in autocommit (e.g. CREATE DATABASE)."""
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=10) as con:
            con.execute(statement)  # type: ignore[arg-type]

    def create_database(self, name: str | None = None) -> str:
        """Create a new empty database (a copy of template1); return its URL."""
        name = name or f"st_{secrets.token_hex(6)}"
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url_or_name: str) -> None:
        """Drop a database, disconnecting whoever is still connected (no error if missing)."""
        name = url_or_name.rsplit("/", 1)[-1].split("?", 1)[0]
        with contextlib.suppress(Exception):
            self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def pg_cluster_at(workdir: Path | None = None, **kw: object) -> Iterator[PgCluster]:
    """An initialised, running cluster for the duration of the block; removed afterwards.

    ``workdir`` defaults to a new directory under the system temp dir (pytest's own temp dirs
    are private to root, so the ``postgres`` user could not enter them)."""
    bin_dir = require_pg_bin()
    own = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="sealtrail-pg-")) if workdir is None else workdir
    cluster = PgCluster(wd, bin_dir=bin_dir, **kw)  # type: ignore[arg-type]
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.stop("immediate")
        deadline = time.monotonic() + 10
        while cluster.postmaster_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if own:
            shutil.rmtree(wd, ignore_errors=True)


# -- fixtures (registered in tests/conftest.py) ----------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """The test session's PostgreSQL cluster, started on first use, stopped at the end."""
    with pg_cluster_at() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def pg_url(pg_cluster: PgCluster) -> str:
    """A URL of the session's database ``sealtrail`` (shared by the tests that take it)."""
    return pg_cluster.create_database("sealtrail")


@pytest.fixture
def pg_db_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A URL naming a fresh, empty database for this test; dropped when it ends."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)
