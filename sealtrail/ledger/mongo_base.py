"""The connection every MongoDB-backed store shares: PyMongo's native async API behind a
synchronous facade.

Sealtrail's storage protocols are synchronous (the sequencer commits on its own thread, the CLI
is synchronous), while the driver is ``pymongo.AsyncMongoClient`` — PyMongo's native asyncio
API, the official successor of Motor (docs/OPERATIONS.md says why). :class:`MongoConnection`
runs one client on a private event loop in a daemon thread; :meth:`MongoConnection.run` submits
a coroutine to it and blocks the calling thread until it is done. Calling ``run`` from that loop
itself would deadlock and raises instead.

Guarantees asked of the server: every write with write concern ``majority`` and ``j=true``
(acknowledged = journaled on a majority), reads with read concern ``majority``, and multi-document
writes in transactions (:meth:`MongoConnection.transaction`), which MongoDB offers on a replica
set (a single-node one is enough). :meth:`MongoConnection.check_transactions` probes that
capability once at open so a standalone server is refused with one clear line, instead of
failing on the first append.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar
from urllib.parse import unquote_plus

from pymongo import AsyncMongoClient, uri_parser
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    BulkWriteError,
    ConfigurationError,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from sealtrail.core.errors import ConfigError, ConflictError, LedgerBusyError, StorageError

T = TypeVar("T")
Doc = dict[str, Any]

#: acknowledged = durable: journaled on a majority of the replica set
WRITE_CONCERN = WriteConcern(w="majority", j=True)
READ_CONCERN = ReadConcern("majority")
DEFAULT_DATABASE = "sealtrail"
#: how often a transaction that hit a transient error (write conflict, election) is run in all
TRANSACTION_ATTEMPTS = 8
#: the longest pause (seconds) before re-running a transaction (the pause doubles, jittered)
MAX_BACKOFF = 0.2


#: connection-string options whose values are secrets (matched case-insensitively)
_SECRET_OPTIONS = frozenset({"tlscertificatekeyfilepassword", "authmechanismproperties"})


def _userinfo_end(rest: str) -> int:
    """Where the ``user:password`` part of a scheme-less URL ends (its ``@``), or -1.

    The last ``@`` of the URL: RFC 3986 wants one in a password percent-encoded, but when it is
    not (or an option value holds one) this hides too much rather than too little.
    """
    return rest.rfind("@")


def redact(url: str) -> str:
    """``url`` without its password (nor secret options), for messages and logs.

    Pure string work: no DNS look-up (``mongodb+srv://``), and a URL too malformed to parse is
    still redacted.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "mongodb://…"
    at = _userinfo_end(rest)
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        rest = f"{user}:***@{rest[at + 1 :]}" if colon else rest
    head, q, query = rest.partition("?")
    if q:
        options = []
        for option in query.split("&"):
            name, eq, _ = option.partition("=")
            options.append(f"{name}=***" if eq and name.lower() in _SECRET_OPTIONS else option)
        rest = f"{head}?{'&'.join(options)}"
    return f"{scheme}://{rest}"


def _secrets_in(url: str) -> list[str]:
    """The password of ``url`` as written and decoded, to scrub from driver messages (drivers do
    not echo it; this is a second line). One shorter than 3 characters would blank plain text."""
    rest = url.partition("://")[2]
    at = _userinfo_end(rest)
    if at < 0:
        return []
    password = rest[:at].partition(":")[2]
    return [p for p in {password, unquote_plus(password)} if len(p) >= 3]


def _labelled(e: StorageError, label: str) -> bool:
    """True when ``e`` wraps a driver error carrying ``label`` (e.g. TransientTransactionError)."""
    cause = e.__cause__
    return isinstance(cause, PyMongoError) and cause.has_error_label(label)


class Txn:
    """One transaction in progress: its session, and whether anything was written in it.

    Stores mark ``wrote`` when they send a write; a transaction that wrote nothing is ended
    with an abort instead of a commit (the same outcome for a read-only transaction, one
    majority wait less).
    """

    __slots__ = ("session", "wrote")

    def __init__(self, session: AsyncClientSession) -> None:
        self.session = session
        self.wrote = False


class MongoConnection:
    """One ``AsyncMongoClient`` on a private event-loop thread, used from synchronous code.

    ``url`` is a ``mongodb://`` or ``mongodb+srv://`` connection string; its path names the
    database (default ``sealtrail``).
    """

    def __init__(self, url: str, *, server_timeout: float = 10.0) -> None:
        self.url = url
        self.where = redact(url)
        self._secrets = _secrets_in(url)
        if not url.startswith(("mongodb://", "mongodb+srv://")):
            raise ConfigError(
                f"invalid MongoDB URL {self.where}: want mongodb:// or mongodb+srv://"
            )
        # Options strictly (the client would only warn about a bad value, then ignore it);
        # hosts, credentials and the SRV rules are checked by the client's constructor.
        options = url.partition("?")[2]
        try:
            if options:
                uri_parser.split_options(options, validate=True, warn=False)
        except (ConfigurationError, ValueError) as e:
            raise ConfigError(f"invalid MongoDB URL {self.where}: {self._scrub(e)}") from None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="sealtrail-mongo", daemon=True
        )
        self._thread.start()
        self._closed = False
        self._active = threading.local()
        self._timeout_ms = int(server_timeout * 1000)
        try:
            self.client: AsyncMongoClient[Doc] = self.run(self._connect())
        except BaseException:
            self._stop_loop()
            raise
        self.database_name = self.client.get_default_database(DEFAULT_DATABASE).name
        self.db: AsyncDatabase[Doc] = self.client.get_database(
            self.database_name, write_concern=WRITE_CONCERN, read_concern=READ_CONCERN
        )

    def _scrub(self, e: BaseException) -> str:
        """A driver message with this URL's password blanked (drivers may echo the URL)."""
        text = str(e)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    async def _connect(self) -> AsyncMongoClient[Doc]:
        # The constructor validates the URL without network access (a mongodb+srv:// name is
        # resolved on the first operation, so a DNS failure reads as "cannot reach").
        try:
            client: AsyncMongoClient[Doc] = AsyncMongoClient(
                self.url,
                w="majority",
                journal=True,
                readConcernLevel="majority",
                serverSelectionTimeoutMS=self._timeout_ms,
                connectTimeoutMS=self._timeout_ms,
                tz_aware=False,
                appname="sealtrail",
            )
        except (ConfigurationError, ValueError, TypeError) as e:
            raise ConfigError(f"invalid MongoDB URL {self.where}: {self._scrub(e)}") from None
        try:
            await client.admin.command("ping")
        except PyMongoError as e:
            await client.close()
            raise StorageError(f"cannot reach MongoDB at {self.where}: {self._scrub(e)}") from e
        return client

    # -- running coroutines --------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the connection's loop and return its result (blocking).

        Driver errors become StorageError (ConflictError for a duplicate key, also when every
        failed write of a bulk write is one); the error keeps the driver's as its cause.
        """
        if self._closed:
            coro.close()
            raise StorageError("ledger store is closed")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            coro.close()
            raise RuntimeError("MongoConnection.run called from its own event loop")
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return fut.result()
        except DuplicateKeyError as e:
            raise ConflictError(f"duplicate key in MongoDB: {e.details or e}") from e
        except BulkWriteError as e:
            errors = e.details.get("writeErrors") or []
            if errors and all(w.get("code") == 11000 for w in errors):
                raise ConflictError(f"duplicate key in MongoDB: {errors[0]}") from e
            raise StorageError(f"MongoDB at {self.where}: {self._scrub(e)}") from e
        except ConnectionFailure as e:
            raise StorageError(f"MongoDB at {self.where} is unreachable: {self._scrub(e)}") from e
        except PyMongoError as e:
            raise StorageError(f"MongoDB at {self.where}: {self._scrub(e)}") from e

    def collection(self, name: str) -> AsyncCollection[Doc]:
        """A collection of the Sealtrail database (majority write and read concern)."""
        return self.db.get_collection(name)

    # -- transactions --------------------------------------------------------------------

    def transaction(self, fn: Callable[[Txn], T]) -> T:
        """Run ``fn(txn)`` in one multi-document transaction and commit it (majority, j).

        ``fn`` is synchronous, passes ``txn.session`` to every operation it runs through
        :meth:`run` and sets ``txn.wrote`` when it writes. If ``fn`` raises, the transaction is
        aborted and nothing it wrote is kept. While ``fn`` runs, :meth:`active` returns ``txn``
        on the calling thread.

        A transaction that fails with MongoDB's ``TransientTransactionError`` label (a write
        conflict with another transaction, a primary election) is run again from the start,
        after a short jittered pause, so ``fn`` must be safe to re-run; after
        TRANSACTION_ATTEMPTS such failures in a row it raises LedgerBusyError (the MongoDB form
        of "another writer holds the lock"). A commit whose outcome is unknown is retried as a
        commit (MongoDB makes that idempotent).
        """
        for attempt in range(TRANSACTION_ATTEMPTS):
            session: AsyncClientSession = self.run(self._start())
            txn = Txn(session)
            outer = getattr(self._active, "txn", None)
            self._active.txn = txn
            try:
                try:
                    result = fn(txn)
                except BaseException:
                    self._abort(session)
                    raise
                finally:
                    self._active.txn = outer
                if txn.wrote:
                    self._commit(session)
                else:
                    self._abort(session)
                return result
            except StorageError as e:
                if not _labelled(e, "TransientTransactionError"):
                    raise
                if attempt + 1 == TRANSACTION_ATTEMPTS:
                    raise LedgerBusyError(
                        f"MongoDB at {self.where}: the transaction conflicted with other writers "
                        f"{TRANSACTION_ATTEMPTS} times in a row; try again"
                    ) from e
            finally:
                self._end(session)
            pause = min(MAX_BACKOFF, 0.002 * 2**attempt)
            time.sleep(pause * (0.5 + secrets.randbelow(1000) / 2000))
        raise AssertionError("unreachable")  # pragma: no cover

    def active(self) -> Txn | None:
        """The transaction the calling thread is running ``fn`` of (:meth:`transaction`), or None.

        Stores whose protocol methods take no transaction (the map's, called while sealing) read
        and write in it, as SQLite's per-thread connection does: so what they read is the
        transaction's snapshot, and what they write commits with it.
        """
        txn: Txn | None = getattr(self._active, "txn", None)
        return txn

    async def _start(self) -> AsyncClientSession:
        session = self.client.start_session(causal_consistency=True)
        await session.start_transaction(
            read_concern=ReadConcern("snapshot"), write_concern=WRITE_CONCERN
        )
        return session

    def _commit(self, session: AsyncClientSession) -> None:
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                self.run(session.commit_transaction())
                return
            except StorageError as e:
                if _labelled(e, "UnknownTransactionCommitResult") and (
                    attempt + 1 < TRANSACTION_ATTEMPTS
                ):
                    continue
                raise

    def _abort(self, session: AsyncClientSession) -> None:
        if session.in_transaction:  # on failure the server drops it on its own
            with contextlib.suppress(StorageError):
                self.run(session.abort_transaction())

    def _end(self, session: AsyncClientSession) -> None:
        if not self._closed:
            with contextlib.suppress(StorageError):
                self.run(session.end_session())

    def check_transactions(self) -> None:
        """Refuse a server that cannot run multi-document transactions (a standalone mongod).

        Runs one small transaction that writes a marker document.
        """
        probe = self.collection("meta")

        def txn(t: Txn) -> None:
            t.wrote = True
            self.run(
                probe.update_one(
                    {"_id": "transactions"},
                    {"$set": {"value": "supported"}},
                    upsert=True,
                    session=t.session,
                )
            )

        try:
            self.transaction(txn)
        except StorageError as e:
            cause = e.__cause__
            if isinstance(cause, OperationFailure) and cause.code in (20, 263):
                raise ConfigError(
                    f"MongoDB at {self.where} cannot run transactions (a standalone server?); "
                    "Sealtrail needs a replica set — a single-node one is enough "
                    "(docs/OPERATIONS.md)"
                ) from e
            raise

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the client and stop the loop thread (idempotent)."""
        if self._closed:
            return
        with contextlib.suppress(StorageError):
            self.run(self.client.close())
        self._closed = True
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
