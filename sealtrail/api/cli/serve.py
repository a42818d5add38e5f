"""``sealtrail serve``: run the HTTP service (the aiohttp app is imported only here)."""

from __future__ import annotations

import click

from sealtrail.api import settings as settings_mod
from sealtrail.api.cli.context import Ctx, command


@click.command()
@click.option("--host", default=None, help="Address to listen on [default: from settings].")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port to listen on.")
@command
def serve(ctx: Ctx, *, as_json: bool, host: str | None, port: int | None) -> None:
    """Run the HTTP service (database: SEALTRAIL_DB_URL, else SQLite in the data dir; keys
    created on first start). Several workers may share one database (docs/OPERATIONS.md)."""
    s = ctx.settings
    if host is not None or port is not None:
        h, p = settings_mod.listen_address(s)
        listen = f"{host or h}:{port or p}"
        if ":" in (host or h):
            listen = f"[{host or h}]:{port or p}"
        s = settings_mod.load(ctx.config, overrides={"data_dir": ctx.data_dir, "listen": listen})
    from sealtrail.api.app import serve as run_service

    run_service(s)
