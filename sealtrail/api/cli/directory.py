"""``sealtrail tenants …`` and ``sealtrail keys …``: the directory of tenants and API keys."""

from __future__ import annotations

import click

from sealtrail.api.cli.context import Ctx, command, emit
from sealtrail.api.directory import ROLES, create_key, create_tenant, key_json, tenant_json
from sealtrail.core.event import format_time
from sealtrail.ledger.log import utc_now


@click.group()
def tenants() -> None:
    """Create and list tenants (organisations; subsidiaries name their headquarters)."""


@tenants.command("create")
@click.argument("tenant_id", metavar="ID")
@click.option("--name", default=None, help="Display name [default: ID].")
@click.option("--parent", default=None, help="Headquarters tenant this one belongs to.")
@command
def tenants_create(
    ctx: Ctx, *, as_json: bool, tenant_id: str, name: str | None, parent: str | None
) -> None:
    """Create tenant ID (under --parent)."""
    with ctx.ledger():
        t = create_tenant(ctx.stores.directory, tenant_id, name, parent, format_time(utc_now()))
    under = f" under {t.parent}" if t.parent else ""
    emit(as_json, tenant_json(t), f"created tenant {t.id} ({t.name}){under}")


@tenants.command("list")
@command
def tenants_list(ctx: Ctx, *, as_json: bool) -> None:
    """List tenants."""
    with ctx.ledger():
        ts = ctx.stores.directory.tenants()
    lines = [f"{t.id}\t{t.name}\t{t.parent or '-'}" for t in ts]
    emit(as_json, {"tenants": [tenant_json(t) for t in ts]}, "\n".join(lines) or "no tenants")


@click.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--tenant", required=True, help="Tenant the key acts for.")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the key may do.")
@click.option("--label", default=None, help="A note to tell keys apart.")
@command
def keys_create(ctx: Ctx, *, as_json: bool, tenant: str, role: str, label: str | None) -> None:
    """Create a key; it is printed once and only its hash is kept."""
    with ctx.ledger():
        record, key = create_key(ctx.stores.directory, tenant, role, label, format_time(utc_now()))
    emit(as_json, {"key": key, **key_json(record)}, key)


@keys.command("list")
@click.option("--tenant", default=None, help="Only this tenant's keys.")
@command
def keys_list(ctx: Ctx, *, as_json: bool, tenant: str | None) -> None:
    """List keys (never their secrets)."""
    with ctx.ledger():
        store = ctx.stores
        ks = store.directory.keys([tenant] if tenant else [t.id for t in store.directory.tenants()])
    lines = [f"{k.id}\t{k.tenant}\t{k.role}\t{'revoked' if k.revoked_at else 'active'}" for k in ks]
    emit(as_json, {"keys": [key_json(k) for k in ks]}, "\n".join(lines) or "no keys")


@keys.command("revoke")
@click.argument("key_id", metavar="ID")
@command
def keys_revoke(ctx: Ctx, *, as_json: bool, key_id: str) -> None:
    """Revoke key ID (idempotent)."""
    with ctx.ledger():
        k = ctx.stores.directory.revoke_key(key_id, format_time(utc_now()))
    emit(as_json, key_json(k), f"revoked key {k.id} at {k.revoked_at}")
