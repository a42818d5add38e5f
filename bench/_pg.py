"""PostgreSQL for the benchmarks: a throwaway cluster, or a server given by URL; fresh databases.

:func:`server` yields a factory of URLs, each naming a FRESH, empty database (``CREATE
DATABASE``, a copy of ``template1``) on either a cluster of our own — ``initdb`` into a new
temporary directory (trust authentication, C locale), ``postgres`` started by ``pg_ctl`` on a
free TCP port of 127.0.0.1 with ``fsync=on`` and ``max_connections=200``, stopped (immediate) and
removed afterwards — or the server of a given URL (its user must be allowed to create databases).
The databases it created are dropped at the end (``WITH (FORCE)``). PostgreSQL refuses to run as
root: as uid 0 the cluster belongs to the ``postgres`` OS user (created with ``useradd`` if
missing) and every server program runs through ``runuser``. The binaries are looked for in
``/usr/lib/postgresql/*/bin`` (the newest), then on ``PATH``.

The same steps as tests/pg.py (``PgCluster``), kept here so that bench/ does not import the tests.
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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

OS_USER = "postgres"  # owns the cluster when the bench runs as root
SUPERUSER = "postgres"  # the database superuser we connect as


def bin_dir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``; RuntimeError when there is none."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path is None:
        raise RuntimeError("PostgreSQL binaries not found (apt-get install postgresql)")
    return Path(on_path).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One PostgreSQL cluster in a new temporary directory, on a free port."""

    def __init__(self) -> None:
        self.bin = bin_dir()
        self.workdir = Path(tempfile.mkdtemp(prefix="sealtrail-bench-pg-"))
        self.data = self.workdir / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                pwd.getpwnam(OS_USER)
            except KeyError:
                subprocess.run(
                    ["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", OS_USER],
                    check=True,
                )
            pw = pwd.getpwnam(OS_USER)
            os.chown(self.workdir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.workdir, 0o700)

    def run(self, argv: Sequence[str], *, check: bool = True, timeout: float = 120) -> None:
        cmd = [str(self.bin / argv[0]), *argv[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", OS_USER, "--", *cmd]
        subprocess.run(
            cmd, capture_output=True, text=True, check=check, timeout=timeout, cwd=self.workdir
        )

    def start(self) -> None:
        """initdb, then start the server and wait until it accepts connections."""
        self.run(
            ["initdb", "-D", str(self.data), "-A", "trust", "-U", SUPERUSER,
             "-E", "UTF8", "--locale=C", "--no-sync"]
        )  # fmt: skip
        opts = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=on "
            "-c max_connections=200"
        )
        self.run(
            ["pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.workdir / "postgres.log"),
             "-w", "-t", "60", "start"],
            timeout=70,
        )  # fmt: skip

    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def remove(self) -> None:
        """Stop the server (immediate; SIGKILL if it lingers) and remove its directory."""
        self.run(["pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"], check=False)
        pid_file = self.data / "postmaster.pid"
        deadline = time.monotonic() + 10
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_file.exists():
            with contextlib.suppress(ValueError, IndexError, OSError):
                os.kill(int(pid_file.read_text().split("\n", 1)[0]), signal.SIGKILL)
        shutil.rmtree(self.workdir, ignore_errors=True)


def with_database(url: str, name: str) -> str:
    """``url`` with its database name replaced by ``name`` (query and hosts kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@contextlib.contextmanager
def server(url: str | None) -> Iterator[Callable[[], str]]:
    """A factory of URLs naming fresh, empty databases on the server of ``url`` (on a cluster
    started here when None); every database made is dropped, and the cluster removed, after."""
    cluster = None
    if url is None:
        cluster = Cluster()
        try:
            cluster.start()
        except BaseException:
            cluster.remove()
            raise
        url = cluster.url()
    admin = url
    made: list[str] = []

    def fresh() -> str:
        name = f"st_bench_{secrets.token_hex(6)}"
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as con:
            con.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        made.append(name)
        return with_database(admin, name)

    try:
        yield fresh
    finally:
        if cluster is not None:
            cluster.remove()
        else:
            for name in made:
                drop(admin, name)


def drop(admin_url: str, name: str) -> None:
    """Drop database ``name`` on the server of ``admin_url``, disconnecting its sessions."""
    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as con,
    ):
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def settings_line(url: str) -> str:
    """The server's version and commit settings, for a header."""
    with psycopg.connect(url, autocommit=True) as con:
        version = con.execute("SHOW server_version").fetchone()
        sync = con.execute("SHOW synchronous_commit").fetchone()
        fsync = con.execute("SHOW fsync").fetchone()
        standbys = con.execute("SHOW synchronous_standby_names").fetchone()
    return (
        f"PostgreSQL {version[0] if version else '?'}: synchronous_commit="
        f"{sync[0] if sync else '?'}, fsync={fsync[0] if fsync else '?'}, "
        f"synchronous_standby_names='{standbys[0] if standbys else ''}'"
    )
