"""Settings: one frozen object, loaded once, from defaults < TOML file < ``SEALTRAIL_*`` < flags.

This is the only module that reads ``os.environ``. Unknown keys in the TOML file and unknown
``SEALTRAIL_*`` variables are errors (a typo must not silently fall back to a default).
``SEALTRAIL_TEST_*`` variables belong to the test suite and are ignored here.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..ledger.errors import ConfigError

ENV_PREFIX = "SEALTRAIL_"


@dataclass(frozen=True)
class Settings:
    """Every setting Sealtrail reads. See docs/OPERATIONS.md for the reference."""

    #: where the ledger database and keys live
    data_dir: Path = Path("data")
    #: seconds a writer waits for another process's write lock before giving up
    busy_timeout: float = 10.0


_PARSERS = {"data_dir": Path, "busy_timeout": float}
_CHECKS = {"busy_timeout": lambda v: 0 <= v <= 3600}
_NAMES = {f.name for f in fields(Settings)}


def _coerce(key: str, value: Any, source: str) -> Any:
    try:
        v = _PARSERS[key](value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {key} = {value!r} is not a valid value") from None
    check = _CHECKS.get(key)
    if check is not None and not check(v):
        raise ConfigError(f"{source}: {key} = {value!r} is out of range")
    return v


def load(
    config_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Load settings. ``config_file`` defaults to ``$SEALTRAIL_CONFIG`` when set."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or (Path(env["SEALTRAIL_CONFIG"]) if env.get("SEALTRAIL_CONFIG") else None)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"config file {path}: {e}") from None
        for key, value in data.items():
            if key not in _NAMES:
                raise ConfigError(
                    f"config file {path}: unknown setting {key!r} "
                    f"(known: {', '.join(sorted(_NAMES))})"
                )
            values[key] = _coerce(key, value, str(path))
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name.startswith("SEALTRAIL_TEST_"):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if name == "SEALTRAIL_CONFIG":
            continue
        if key not in _NAMES:
            raise ConfigError(f"unknown environment variable {name}")
        values[key] = _coerce(key, value, name)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(key, value, f"--{key.replace('_', '-')}")
    return replace(Settings(), **values)
