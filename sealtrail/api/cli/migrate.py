"""``sealtrail migrate``: copy the ledger database into another backend and prove the copy
(sealtrail/backend/migrate.py; docs/OPERATIONS.md, "Moving from SQLite to MongoDB")."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sealtrail.api import settings as settings_mod
from sealtrail.api.cli.context import Ctx, command, emit
from sealtrail.backend import Stores, open_backend, open_store
from sealtrail.backend.migrate import migrate
from sealtrail.core.errors import InvalidInputError


def _open_target(url: str) -> Stores:
    path = Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else Path()
    return open_backend(path, db_url=url)


def _progress(what: str, done: int, total: int) -> None:
    print(f"\rcopied {done:,} of {total:,} {what}", end="", file=sys.stderr, flush=True)
    if done == total:
        print(file=sys.stderr)


@click.command("migrate")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="The empty target database: postgresql://…, mongodb://… (a replica set) or "
    "sqlite:///PATH.",
)
@command
def migrate_cmd(ctx: Ctx, *, as_json: bool, target: str) -> None:
    """Copy this ledger's database into an empty one, then verify the copy.

    Stop every service worker first (the source's sequencer lease is taken for the copy). Exit 0
    only when the copy is verified: every entry byte-identical, every checkpoint's root
    recomputed from the copy, every other record equal, and a full audit of the copy clean.
    """
    s = ctx.settings
    url = settings_mod.check_db_url(target, "--to")
    src, signer = open_store(
        s.data_dir,
        db_path=settings_mod.database_path(s),
        busy_timeout=s.busy_timeout,
        db_url=s.db_url,
    )
    try:
        dst = _open_target(url)
        check = _open_target(url)
        try:
            if src.where == dst.where:
                raise InvalidInputError(f"--to names the source database itself ({src.where})")
            report = migrate(
                src,
                dst,
                check,
                signer.verifier(),
                progress=None if as_json else _progress,
            )
        finally:
            check.close()
            dst.close()
    finally:
        src.close()
    obj = {"from": src.where, "to": dst.where, **report.to_json()}
    copied = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in report.copied.items())
    text = (
        f"copied {copied}\nfrom {src.where}\nto   {dst.where}\n"
        + (
            "verified: the copy is identical and audits clean"
            if report.verified
            else "NOT VERIFIED:"
        )
        + "".join(f"\n  {p}" for p in report.problems)
        + f"\n({report.seconds:.1f} s)"
    )
    emit(as_json, obj, text)
    if not report.verified:
        sys.exit(1)
