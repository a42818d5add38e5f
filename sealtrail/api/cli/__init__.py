"""The ``sealtrail`` command line: the root group and :func:`main`.

Commands live one group per module beside this one and are loaded only when they run:
:data:`COMMANDS` names each command's module and one-line help, so ``sealtrail --help`` lists
every command without importing any, and ``sealtrail verify …`` loads the verifier alone (no
aiohttp service, web3, MongoDB driver, PDF drawing or scheduler). Shared options, output and
exit codes: :mod:`sealtrail.api.cli.context`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any, NamedTuple

import click

from sealtrail.api.cli.context import Ctx


class LazyCommand(NamedTuple):
    """Where a command is defined, and its help line for ``sealtrail --help``."""

    module: str
    attr: str
    help: str


#: Every command: name → (module under ``sealtrail.api.cli``, attribute, first help sentence).
COMMANDS: Mapping[str, LazyCommand] = {
    "anchors": LazyCommand(
        "chain", "anchors_cmd", "The anchoring state of the latest checkpoints."
    ),
    "append": LazyCommand(
        "ledger",
        "append",
        "Append one JSON event, or JSON Lines of events, from stdin, atomically.",
    ),
    "audit": LazyCommand(
        "audit",
        "audit_cmd",
        "Recompute everything from the stored events and re-verify every stored timestamp "
        "token (and, with --rpc, every final anchor on the chain); exit 0 only when all holds.",
    ),
    "checkpoint": LazyCommand(
        "ledger",
        "checkpoint",
        "Seal a signed checkpoint of the log now (if it grew since the last one).",
    ),
    "contract": LazyCommand(
        "chain",
        "contract",
        "Deploy and inspect the SealtrailAnchor contract this ledger anchors to.",
    ),
    "demo": LazyCommand(
        "ledger",
        "demo",
        "Record a sample contract's life, seal it, prove it, audit it (a tour of the ledger).",
    ),
    "envelopes": LazyCommand("envelopes", "envelopes", "List and void envelopes."),
    "export": LazyCommand(
        "packages",
        "export_cmd",
        "Build the certification package of one stream (docs/FORMAT.md §8).",
    ),
    "init": LazyCommand(
        "ledger",
        "init",
        "Create the data directory, checkpoint key and database (idempotent).",
    ),
    "keys": LazyCommand("directory", "keys", "Create, list and revoke API keys."),
    "map-proof": LazyCommand(
        "maps",
        "map_proof",
        "Fetch a map proof from a service and check it here (completeness of a stream or of a "
        "document's events).",
    ),
    "migrate": LazyCommand(
        "migrate",
        "migrate_cmd",
        "Copy this ledger's database into an empty one, then verify the copy.",
    ),
    "proof": LazyCommand("ledger", "proof", "Print inclusion and consistency proofs (JSON)."),
    "seals": LazyCommand(
        "seals", "seals", "Create, list, suspend, resume and revoke electronic seals."
    ),
    "serve": LazyCommand(
        "serve",
        "serve",
        "Run the HTTP service (database: SEALTRAIL_DB_URL, else SQLite in the data dir; keys "
        "created on first start).",
    ),
    "sign": LazyCommand(
        "seals",
        "sign_cmd",
        "Seal IN.pdf with seal ID (PAdES B-T or B-LT, visible), write OUT.pdf and record it.",
    ),
    "tenants": LazyCommand(
        "directory",
        "tenants",
        "Create and list tenants (organisations; subsidiaries name their headquarters).",
    ),
    "validate-pdf": LazyCommand(
        "seals",
        "validate_pdf_cmd",
        "Validate every signature of FILE against this data dir's seal CAs and TSA roots; exit "
        "0 only when every signature is intact, valid and trusted (1 otherwise).",
    ),
    "verify": LazyCommand(
        "verify",
        "verify_cmd",
        "Verify a certification package offline (anchors on a chain with --rpc).",
    ),
    "webhooks": LazyCommand(
        "webhooks",
        "webhooks",
        "Manage callback subscriptions (webhooks) of the key's tenant on a running service.",
    ),
}


class CommandTable(MutableMapping[str, click.Command]):
    """A group's commands: those of :data:`COMMANDS` are imported on first look-up; a name
    test or a listing imports nothing."""

    def __init__(self) -> None:
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            lazy = COMMANDS.get(name)
            if lazy is None:
                raise KeyError(name)
            cmd = getattr(importlib.import_module(f"{__name__}.{lazy.module}"), lazy.attr)
            if not isinstance(cmd, click.Command):  # pragma: no cover - a wrong table entry
                raise TypeError(f"{lazy.module}.{lazy.attr} is not a click command")
            self._loaded[name] = cmd
        return self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in COMMANDS

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({*self._loaded, *COMMANDS}))

    def __len__(self) -> int:
        return len({*self._loaded, *COMMANDS})

    def __setitem__(self, name: str, cmd: click.Command) -> None:
        self._loaded[name] = cmd

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]


class LazyGroup(click.Group):
    """A click group whose commands (:data:`COMMANDS`) are imported only when they run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = CommandTable()

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands from the table's help lines (as click would, without imports)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            lazy = COMMANDS.get(name)
            if lazy is not None:
                # a stand-in with the same help shortens it exactly as the real command would
                rows.append((name, click.Command(name, help=lazy.help).get_short_help_str(limit)))
                continue
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Ledger data directory [default: $SEALTRAIL_DATA_DIR or ./data].",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML settings file [default: $SEALTRAIL_CONFIG].",
)
@click.version_option(package_name="sealtrail")
@click.pass_context
def main(click_ctx: click.Context, data_dir: Path | None, config: Path | None) -> None:
    """Sealtrail: a tamper-evident evidence ledger for electronic signing."""
    click_ctx.obj = Ctx(data_dir, config)


__all__ = ["COMMANDS", "CommandTable", "LazyGroup", "main"]
