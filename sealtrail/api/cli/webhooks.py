"""``sealtrail webhooks …``: a tenant admin manages its callback subscriptions on a running
service, over the API with the SDK (docs/WEBHOOKS.md): ``add``, ``list``, ``delete``,
``rotate``, ``deliveries``, ``replay``. The admin key is read from ``--key-file``; the tenant
is the key's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sealtrail.api.cli.context import Ctx, command, emit
from sealtrail.core.errors import InvalidInputError

#: an API key file is one line; anything longer is not one
MAX_KEY_FILE_BYTES = 4096


def _client(url: str, key_file: Path) -> Any:
    from sealtrail.sdk import Client

    raw = key_file.read_bytes()[: MAX_KEY_FILE_BYTES + 1]
    if len(raw) > MAX_KEY_FILE_BYTES or not raw.strip():
        raise InvalidInputError(f"--key-file {key_file}: want one API key")
    return Client(url, raw.decode("utf-8", "replace").strip())


_url = click.option("--url", required=True, help="The service's base URL.")
_key = click.option(
    "--key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="File holding the tenant's admin API key.",
)


@click.group()
def webhooks() -> None:
    """Manage callback subscriptions (webhooks) of the key's tenant on a running service."""


@webhooks.command("add")
@click.argument("callback_url")
@click.option(
    "--event",
    "events",
    multiple=True,
    help="An event type to deliver (repeat); default: every event ('*').",
)
@click.option("--receipts", is_flag=True, help="Append each delivery's receipt to the ledger.")
@_url
@_key
@command
def add(
    ctx: Ctx,
    callback_url: str,
    *,
    as_json: bool,
    events: tuple[str, ...],
    receipts: bool,
    url: str,
    key_file: Path,
) -> None:
    """Subscribe CALLBACK_URL; prints its id and secret (shown only now)."""
    got = _client(url, key_file).create_webhook(
        callback_url, list(events) or ["*"], receipts=receipts
    )
    emit(as_json, got, f"{got['id']}\t{got['secret']}")


@webhooks.command("list")
@_url
@_key
@command
def list_cmd(ctx: Ctx, *, as_json: bool, url: str, key_file: Path) -> None:
    """List the tenant's subscriptions."""
    got = _client(url, key_file).webhooks()
    lines = [f"{w['id']}\t{w['url']}\t{','.join(w['events'])}" for w in got]
    emit(as_json, {"webhooks": got}, "\n".join(lines) or "no webhooks")


@webhooks.command("delete")
@click.argument("webhook_id")
@_url
@_key
@command
def delete(ctx: Ctx, webhook_id: str, *, as_json: bool, url: str, key_file: Path) -> None:
    """Delete subscription WEBHOOK_ID (its pending deliveries are cancelled)."""
    _client(url, key_file).delete_webhook(webhook_id)
    emit(as_json, {"id": webhook_id, "deleted": True}, f"deleted {webhook_id}")


@webhooks.command("rotate")
@click.argument("webhook_id")
@_url
@_key
@command
def rotate(ctx: Ctx, webhook_id: str, *, as_json: bool, url: str, key_file: Path) -> None:
    """Give WEBHOOK_ID a new secret (printed once); the old one signs too for a while."""
    got = _client(url, key_file).rotate_webhook_secret(webhook_id)
    emit(as_json, got, got["secret"])


@webhooks.command("deliveries")
@click.argument("webhook_id")
@_url
@_key
@command
def deliveries(ctx: Ctx, webhook_id: str, *, as_json: bool, url: str, key_file: Path) -> None:
    """The delivery log of WEBHOOK_ID (status, attempts, last response code, latency)."""
    got = list(_client(url, key_file).webhook_deliveries(webhook_id))
    lines = [
        f"{d['id']}\t{d['type']}\t{d['status']}\t{d['attempts']}\t{d['last_status']}\t"
        f"{d['last_error'] or ''}"
        for d in got
    ]
    emit(as_json, {"deliveries": got}, "\n".join(lines) or "no deliveries")


@webhooks.command("replay")
@click.argument("webhook_id")
@click.option("--delivery", "delivery_id", default=None, help="One delivery to send again.")
@click.option("--from", "since", default=None, help="Replay deliveries queued from (RFC 3339).")
@click.option("--to", "until", default=None, help="… up to, excluded (RFC 3339).")
@_url
@_key
@command
def replay(
    ctx: Ctx,
    webhook_id: str,
    *,
    as_json: bool,
    delivery_id: str | None,
    since: str | None,
    until: str | None,
    url: str,
    key_file: Path,
) -> None:
    """Queue deliveries of WEBHOOK_ID again: --delivery ID, or --from and --to."""
    if (delivery_id is None) == (since is None or until is None):
        raise InvalidInputError("give --delivery, or --from and --to")
    ids = _client(url, key_file).replay_webhook(
        webhook_id, delivery_id=delivery_id, since=since, until=until
    )
    emit(as_json, {"replayed": ids}, "\n".join(ids) or "nothing to replay")
