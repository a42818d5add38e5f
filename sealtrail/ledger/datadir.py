"""The data directory: the checkpoint signing key, and where the SQLite database lives.

Layout (docs/FORMAT.md §Data directory)::

    DATA_DIR/              mode 0700
    DATA_DIR/ledger.db     SQLite database (plus -wal and -shm files while open; mode 0600)
    DATA_DIR/ledger.key    checkpoint signing key, C2SP note private key (mode 0600)
    DATA_DIR/ledger.pub    the matching verifier key, one line (public: may be 0644)

A data directory found open to others (created by ``mkdir`` before Sealtrail made it 0700) is
tightened to 0700 when opened (:func:`secure_dir`), with a warning in the log; a key file
readable by others is refused (it may have been read: make a new key, docs/OPERATIONS.md).

The database remembers the log origin and verifier key (table ``meta``, :func:`bind`), so a key
file that does not belong to the database is refused (:func:`check_bound`). Opening the database
(SQLite or MongoDB, every domain's store) is the composition root's job
(:mod:`sealtrail.backend`).
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sealtrail.core.errors import ConfigError, NotInitializedError
from sealtrail.core.note import NoteSigner, NoteVerifier
from sealtrail.ledger.store import LedgerStore

log = logging.getLogger("sealtrail.ledger")

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


def secure_dir(data_dir: Path) -> None:
    """Tighten ``data_dir`` to mode 0700 if group or others may use it (logged); a directory
    that is not ours is left alone with a warning."""
    try:
        mode = data_dir.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    if mode & 0o077:
        try:
            os.chmod(data_dir, 0o700)
        except PermissionError as e:
            log.warning(
                "data directory %s is mode %o and cannot be tightened: %s",
                data_dir,
                mode,
                e.strerror,
            )
            return
        log.warning(
            "data directory %s was mode %o, open to others: tightened to 0700", data_dir, mode
        )


def prepare(data_dir: Path, origin: str | None = None) -> tuple[NoteSigner, bool]:
    """Create the data directory and the checkpoint key if missing (idempotent); return the key
    and whether it was created now. The database is the composition root's
    (:func:`sealtrail.backend.init`), bound to the key by :func:`bind`."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    secure_dir(data_dir)
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
    return signer, created


def bind(store: LedgerStore, signer: NoteSigner, data_dir: Path) -> None:
    """Record the log origin and verifier key in a new database; in one that has them, check
    they are ``signer``'s (ConfigError if not)."""
    vkey = signer.verifier().vkey
    stored = store.meta("verifier_key")
    if stored is None:
        store.set_meta("origin", signer.name)
        store.set_meta("verifier_key", vkey)
    elif stored != vkey:
        raise ConfigError(f"{data_dir / KEY_FILE} does not belong to {store.where}")


def check_bound(
    store: LedgerStore, signer: NoteSigner, data_dir: Path, *, unbound_is_uninitialised: bool
) -> None:
    """Raise unless the database records ``signer``'s verifier key: NotInitializedError when it
    records none and ``unbound_is_uninitialised`` (a database created on connect, MongoDB),
    else ConfigError."""
    vkey = store.meta("verifier_key")
    if vkey is None and unbound_is_uninitialised:
        raise NotInitializedError(
            f"no ledger in the database at {store.where}; run 'sealtrail init' first"
        )
    if vkey != signer.verifier().vkey:
        raise ConfigError(f"{data_dir / KEY_FILE} does not belong to {store.where}")


def load_signer(data_dir: Path) -> NoteSigner:
    """The checkpoint signing key of an initialised data directory (tightened to 0700 first,
    :func:`secure_dir`)."""
    secure_dir(data_dir)
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


def load_verifier(data_dir: Path) -> NoteVerifier:
    """The verifier key recorded in the data directory."""
    try:
        return NoteVerifier.from_vkey((data_dir / PUB_FILE).read_text().strip())
    except FileNotFoundError:
        raise NotInitializedError(f"no ledger in {data_dir}; run 'sealtrail init' first") from None
