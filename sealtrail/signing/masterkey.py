"""The seal master key: where it comes from, and the default key file for development.

Order: the ``seal_key`` setting (``SEALTRAIL_SEAL_KEY``, 64 hex digits), else the file named by
``seal_key_file``, else ``DATA_DIR/seal.key``, created with mode 0600 on first use. **Production
deployments set ``seal_key`` or ``seal_key_file`` from a secret store**, kept apart from the
database: whoever holds both the database and the key can seal in any tenant's name.

Nothing here ever puts key material into a message.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from sealtrail.core.errors import ConfigError

KEY_FILE = "seal.key"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def _parse(text: str, source: str) -> bytes:
    text = text.strip()
    if not _HEX64.fullmatch(text):
        raise ConfigError(f"{source}: the seal master key must be 64 hex digits")
    return bytes.fromhex(text)


def _create(path: Path) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race: keep its
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_master_key(key_hex: str | None, key_file: Path | None, data_dir: Path) -> bytes:
    """The 32-byte master key (module docstring); creates ``DATA_DIR/seal.key`` if neither
    setting is given and the file does not exist. Raises ConfigError for an unreadable or
    malformed key, or a default key file readable by others."""
    if key_hex is not None:
        return _parse(key_hex, "seal_key")
    path = key_file
    if path is None:
        path = data_dir / KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            _create(path)
    try:
        text = path.read_text()
        mode = path.stat().st_mode & 0o077
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read seal key file {path}: {type(e).__name__}") from None
    if mode:
        raise ConfigError(f"{path} is readable by others (mode {oct(mode)}); chmod 600 it")
    return _parse(text, str(path))
