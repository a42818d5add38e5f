"""The data directory: the ledger database and the checkpoint signing key.

Layout (docs/FORMAT.md §Data directory)::

    DATA_DIR/ledger.db     SQLite database (plus -wal and -shm files while open)
    DATA_DIR/ledger.key    checkpoint signing key, C2SP note private key (mode 0600)
    DATA_DIR/ledger.pub    the matching verifier key, one line

The database remembers the log origin and verifier key (table ``meta``), so a key file that does
not belong to the database is refused.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sealtrail.core.errors import ConfigError, NotInitializedError
from sealtrail.core.note import NoteSigner, NoteVerifier
from sealtrail.ledger.sqlite_store import SQLiteStore
from sealtrail.ledger.store import ServiceStore

DB_FILE = "ledger.db"
KEY_FILE = "ledger.key"
PUB_FILE = "ledger.pub"


@dataclass(frozen=True)
class InitResult:
    """What ``init`` found or made."""

    data_dir: Path
    origin: str
    verifier_key: str
    created: bool


def default_origin() -> str:
    """A fresh, unique log origin (also the checkpoint key's name)."""
    return f"sealtrail.local/log-{secrets.token_hex(6)}"


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 atomically; never overwrite."""
    tmp = path.with_name(path.name + f".tmp-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # fails if path exists: never clobber a key
    finally:
        tmp.unlink(missing_ok=True)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def open_database(
    db_path: Path, *, db_url: str | None = None, busy_timeout: float = 10.0
) -> ServiceStore:
    """The database: MongoDB when ``db_url`` is a ``mongodb://`` URL, else SQLite at
    ``db_path`` (created if missing)."""
    if db_url is not None and db_url.startswith("mongodb"):
        from sealtrail.ledger.mongo_store import MongoStore  # the driver is only loaded when used

        return MongoStore(db_url)
    return SQLiteStore(db_path, busy_timeout=busy_timeout)


def init(
    data_dir: Path,
    origin: str | None = None,
    db_path: Path | None = None,
    *,
    db_url: str | None = None,
) -> InitResult:
    """Create the data directory, key and database if missing; idempotent.

    ``db_path`` defaults to ``data_dir/ledger.db``; ``db_url`` (``mongodb://…``) puts the
    database in MongoDB instead (the keys stay in the data directory).
    """
    db_path = db_path or data_dir / DB_FILE
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path = data_dir / KEY_FILE
    created = False
    if not key_path.exists():
        signer = NoteSigner.generate(origin or default_origin())
        try:
            _write_private(key_path, signer.skey + "\n")
            created = True
        except FileExistsError:
            pass  # another process won the race; use its key
    signer = load_signer(data_dir)
    if origin is not None and origin != signer.name:
        raise ConfigError(f"{data_dir} already holds the log {signer.name!r}, not {origin!r}")
    vkey = signer.verifier().vkey
    pub = data_dir / PUB_FILE
    if not pub.exists() or pub.read_text().strip() != vkey:
        pub.write_text(vkey + "\n")
    store = open_database(db_path, db_url=db_url)
    try:
        stored = store.meta("verifier_key")
        if stored is None:
            store.set_meta("origin", signer.name)
            store.set_meta("verifier_key", vkey)
        elif stored != vkey:
            raise ConfigError(f"{key_path} does not belong to {store.where}")
    finally:
        store.close()
    return InitResult(data_dir, signer.name, vkey, created)


def load_signer(data_dir: Path) -> NoteSigner:
    """The checkpoint signing key of an initialised data directory."""
    key_path = data_dir / KEY_FILE
    try:
        text = key_path.read_text()
    except FileNotFoundError:
        raise NotInitializedError(
            f"no ledger in {data_dir} (no {KEY_FILE}); run 'sealtrail init' first"
        ) from None
    mode = key_path.stat().st_mode & 0o077
    if mode:
        raise ConfigError(f"{key_path} is readable by others (mode {oct(mode)}); chmod 600 it")
    return NoteSigner.from_skey(text)


def open_store(
    data_dir: Path,
    *,
    db_path: Path | None = None,
    busy_timeout: float = 10.0,
    db_url: str | None = None,
) -> tuple[ServiceStore, NoteSigner]:
    """Open an initialised ledger; check the key belongs to the database."""
    db_path = db_path or data_dir / DB_FILE
    signer = load_signer(data_dir)
    mongo = db_url is not None and db_url.startswith("mongodb")
    if not mongo and not db_path.exists():
        raise NotInitializedError(f"no ledger database at {db_path}; run 'sealtrail init' first")
    store = open_database(db_path, db_url=db_url, busy_timeout=busy_timeout)
    vkey = store.meta("verifier_key")
    if vkey is None and mongo:
        store.close()
        raise NotInitializedError(
            f"no ledger in the database at {store.where}; run 'sealtrail init' first"
        )
    if vkey != signer.verifier().vkey:
        store.close()
        raise ConfigError(f"{data_dir / KEY_FILE} does not belong to {store.where}")
    return store, signer


def load_verifier(data_dir: Path) -> NoteVerifier:
    """The verifier key recorded in the data directory."""
    try:
        return NoteVerifier.from_vkey((data_dir / PUB_FILE).read_text().strip())
    except FileNotFoundError:
        raise NotInitializedError(f"no ledger in {data_dir}; run 'sealtrail init' first") from None
