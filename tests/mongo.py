"""A MongoDB for the tests: a real server when ``SEALTRAIL_TEST_MONGODB_URI`` is set, else the
``nx-27017`` stand-in.

**The stand-in is not MongoDB.** No MongoDB server can be installed on the CI machines
(../shared/STACK.md), so by default the suites run through the real PyMongo async driver, over a
real socket, against ``nx-27017`` 0.8.1 — a pure-Python server speaking MongoDB's wire protocol
on top of SQLite. What it lacks or gets wrong (found here):

* transactions are not isolated from other sessions, concurrent transactions are not detected as
  write conflicts, and two clients' transactions at once break it ("no such savepoint": they are
  savepoints of one SQLite connection); committing a transaction that wrote nothing fails;
* the first insert of a transaction also stores the command's ``readConcern`` ({level:
  snapshot}) as a document;
* update pipelines (``update_one``/``find_one_and_update`` with ``[{$set: …}]``) are refused;
  a ``find_one_and_update`` upsert whose ``_id`` exists but does not match returns None instead
  of a duplicate-key error;
* ``replace_one`` of an existing document holding binary fails ("bytes is not JSON
  serializable"); with upsert and no ``_id`` in the replacement it inserts under an ObjectId;
* ``partialFilterExpression`` is ignored (the index covers every document; SQLite's NULLs keep
  documents *without* the field from colliding);
* integer ``_id``s sort as text, and a secondary index that includes ``_id`` makes every insert
  fail ("JSON path error near '_id'"): sort and index a separate integer field;
* equality on binary fields does not match; ``$exists: false`` matches null values and ``$ne:
  null`` matches missing fields;
* ``$group`` evaluates a single expression as ``_id`` but not a document of them (one group);
  ``$graphLookup`` kills the connection.

Tests that need what it lacks are marked :data:`real_mongodb` or :func:`stand_in_lacks` and are
skipped against the stand-in, saying so; set ``SEALTRAIL_TEST_MONGODB_URI`` to run them
(docs/OPERATIONS.md, "Testing against a real MongoDB": the compose file's ``mongo`` service is
enough).

Each test gets a fresh database: :class:`MongoServer` hands out new database names on one server
(a module shares one stand-in process; a real server's databases are dropped at the end).
:func:`mongodb_url` is the one-database shorthand.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV_URI = "SEALTRAIL_TEST_MONGODB_URI"


def real_server_uri() -> str | None:
    """The real MongoDB the tests may use, or None."""
    return os.environ.get(ENV_URI) or None


def is_stand_in() -> bool:
    """True when the tests run against nx-27017 rather than MongoDB."""
    return real_server_uri() is None


#: mark for tests that need what only a real MongoDB has (see the module docstring)
real_mongodb = pytest.mark.skipif(
    is_stand_in(),
    reason=f"needs a real MongoDB (set {ENV_URI}); the nx-27017 stand-in lacks this feature",
)


def stand_in_lacks(missing: str) -> pytest.MarkDecorator:
    """:data:`real_mongodb`, naming what the stand-in lacks (shown when the test is skipped)."""
    return pytest.mark.skipif(
        is_stand_in(),
        reason=f"needs a real MongoDB (set {ENV_URI}): the nx-27017 stand-in lacks {missing}",
    )


def free_port() -> int:
    """A TCP port nothing listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _nx_binary() -> str:
    here = Path(sys.executable).with_name("nx-27017")
    if here.exists():
        return str(here)
    found = shutil.which("nx-27017")
    if found is None:
        pytest.fail("nx-27017 is not installed (pip install -e '.[dev]'), and no real MongoDB set")
    return found


class StandIn:
    """One nx-27017 process on a free port, one SQLite file per database in its own directory.

    ``--data-dir``: with ``--db FILE`` nx-27017 keeps every database in that one file, and
    databases of different names see each other's collections. ``--pid-file``: the default,
    ``/tmp/nx_27017.pid``, is shared, and a second stand-in on the machine (another suite, another
    checkout) refuses to start while it names a live process.
    """

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.data_dir = workdir / "nx-27017"
        self.log = (workdir / "nx-27017.log").open("ab")
        self.proc = subprocess.Popen(
            [
                _nx_binary(),
                *("--data-dir", str(self.data_dir)),
                *("--pid-file", str(workdir / "nx-27017.pid")),
                *("--host", "127.0.0.1", "-p", str(self.port)),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"nx-27017 did not start; see {workdir / 'nx-27017.log'}")
            time.sleep(0.05)

    def url(self, database: str) -> str:
        return f"mongodb://127.0.0.1:{self.port}/{database}?directConnection=true"

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


class MongoServer:
    """One MongoDB for many fresh databases: the real one, or one stand-in process.

    Starting a stand-in costs a process, so a module shares one and gives each test its own
    database (nx-27017 keeps each database in its own SQLite file).
    """

    def __init__(self, workdir: Path) -> None:
        self._real = real_server_uri()
        self._stand_in = StandIn(workdir) if self._real is None else None
        self._names: list[str] = []

    def fresh_url(self) -> str:
        """A URL naming a new, empty database (dropped by :meth:`close`)."""
        name = f"sealtrail_test_{secrets.token_hex(6)}"
        self._names.append(name)
        if self._stand_in is not None:
            return self._stand_in.url(name)
        assert self._real is not None
        return _with_database(self._real, name)

    def close(self) -> None:
        """Stop the stand-in, or drop the databases handed out on the real server."""
        if self._stand_in is not None:
            self._stand_in.stop()
            return
        from pymongo import MongoClient

        with MongoClient(self._real, serverSelectionTimeoutMS=10_000) as client:
            for name in self._names:
                client.drop_database(name)


def _with_database(url: str, name: str) -> str:
    """``url`` with its database (the path) replaced by ``name``, options kept."""
    base, q, query = url.partition("?")
    scheme, _, rest = base.partition("://")
    hosts = rest.split("/", 1)[0]
    return f"{scheme}://{hosts}/{name}" + (f"?{query}" if q else "")


@contextlib.contextmanager
def mongodb_server(workdir: Path) -> Iterator[MongoServer]:
    """A :class:`MongoServer` for the duration of the block."""
    server = MongoServer(workdir)
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def mongodb_url(workdir: Path) -> Iterator[str]:
    """A URL naming a fresh, empty database; dropped (or its stand-in stopped) afterwards."""
    with mongodb_server(workdir) as server:
        yield server.fresh_url()
