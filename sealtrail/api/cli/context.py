"""What every ``sealtrail`` command shares: the group options (:class:`Ctx`), output as JSON or
text, and the one-line error with its exit code.

Errors are one line on stderr (``sealtrail: error: …``), and with ``--json`` also
``{"error": {"code", "message"}}`` on stdout. Exit codes: 0 ok, 1 a check failed
(audit problems, bad proof), 2 bad input or usage, 3 no ledger here, 4 not found, 5 conflict,
6 ledger busy, 7 a TSA or the chain failed, 8 a running service holds the sequencer (it seals
checkpoints), 10 internal or storage error (README.md, "Exit codes").

This module is imported by every command module, ``verify`` included, so it imports only
click and :mod:`sealtrail.core` at load time; settings and the ledger are loaded when a command
asks for them.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from sealtrail.api.error_codes import exit_code_for
from sealtrail.core.errors import SealtrailError

if TYPE_CHECKING:
    from sealtrail.api.settings import Settings
    from sealtrail.backend import Stores
    from sealtrail.ledger.log import Ledger

F = TypeVar("F", bound=Callable[..., Any])


class Ctx:
    """What the group options leave for the commands: the data dir and settings file given on
    the command line; settings are loaded on first use."""

    def __init__(self, data_dir: Path | None, config: Path | None) -> None:
        self.data_dir = data_dir
        self.config = config
        self._settings: Settings | None = None
        self.stores: Stores

    @property
    def settings(self) -> Settings:
        """The settings (TOML + ``SEALTRAIL_*``), with ``--data-dir`` applied; loaded once."""
        if self._settings is None:
            from sealtrail.api import settings as settings_mod

            self._settings = settings_mod.load(self.config, overrides={"data_dir": self.data_dir})
        return self._settings

    def use_settings(self, settings: Settings) -> None:
        """Run the rest of this command with ``settings`` instead (``demo``'s own ledger)."""
        self._settings = settings

    @contextmanager
    def ledger(self) -> Iterator[Ledger]:
        """Open the ledger of the data dir (``self.stores`` are its stores while open)."""
        from sealtrail import backend
        from sealtrail.api import settings as settings_mod
        from sealtrail.ledger.coordination import Coordinator
        from sealtrail.ledger.log import Ledger

        s = self.settings
        stores, signer = backend.open_store(
            s.data_dir,
            db_path=settings_mod.database_path(s),
            busy_timeout=s.busy_timeout,
            db_url=s.db_url,
        )
        # Appends from the CLI commit like a service's, serialised by the database; on MongoDB
        # they go through the sequencer lease: when a running service holds it, they are queued
        # for it, else the CLI holds it while it runs.
        coordinator = Coordinator(
            stores.coordination, ttl=s.lease_ttl, queue_appends=backend.is_mongodb(s.db_url)
        )
        ledger = Ledger(stores.ledger, signer, coordinator=coordinator)
        # appends made here queue their callbacks as the service's do (docs/WEBHOOKS.md)
        from sealtrail.webhooks.outbox import install

        install(ledger.writer, stores.webhooks)
        self.stores = stores
        try:
            yield ledger
        finally:
            ledger.close_sync()


def emit(as_json: bool, obj: Any, text: str) -> None:
    """Print ``obj`` as one line of JSON with ``--json``, else ``text``."""
    if as_json:
        click.echo(json.dumps(obj, ensure_ascii=False, indent=None))
    else:
        click.echo(text)


def fail(err: SealtrailError, as_json: bool) -> NoReturn:
    """Report ``err`` in one line (and as JSON with ``--json``) and exit with its code."""
    message = str(err).splitlines()[0] if str(err) else err.code
    if as_json:
        click.echo(
            json.dumps({"error": {"code": err.code, "message": message}}, ensure_ascii=False)
        )
    click.echo(f"sealtrail: error: {message}", err=True)
    sys.exit(exit_code_for(err))


def command(fn: F) -> F:
    """Add ``--json`` and turn Sealtrail errors into one line and an exit code."""

    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
    @click.pass_obj
    @functools.wraps(fn)
    def wrapper(ctx: Ctx, /, *args: Any, as_json: bool, **kwargs: Any) -> Any:
        try:
            return fn(ctx, *args, as_json=as_json, **kwargs)
        except SealtrailError as e:
            fail(e, as_json)

    return wrapper  # type: ignore[return-value]
