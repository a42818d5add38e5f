"""``sealtrail contract …`` and ``sealtrail anchors``: the anchoring contract and anchor states."""

from __future__ import annotations

from typing import Any

import click

from sealtrail.anchoring.chain import connect
from sealtrail.anchoring.deployment import DEPLOYMENT_FILE, deploy, load_deployment, save_deployment
from sealtrail.anchoring.errors import AnchoringError
from sealtrail.anchoring.worker import anchor_json
from sealtrail.api.cli.context import Ctx, command, emit
from sealtrail.api.settings import chain_key
from sealtrail.core.errors import ConfigError
from sealtrail.core.event import format_time
from sealtrail.ledger.log import utc_now


@click.group()
def contract() -> None:
    """Deploy and inspect the SealtrailAnchor contract this ledger anchors to."""


@contract.command("deploy")
@click.option(
    "--anchorer",
    "anchorers",
    multiple=True,
    help="Address allowed to anchor this ledger (repeatable) [default: the deploying account].",
)
@click.option("--force", is_flag=True, help="Deploy a new contract even if one is remembered.")
@command
def contract_deploy(ctx: Ctx, *, as_json: bool, anchorers: tuple[str, ...], force: bool) -> None:
    """Deploy the contract with SEALTRAIL_CHAIN_KEY's account (it becomes the owner), authorise
    the anchorer for this ledger, and remember the address in the data dir. Once: a remembered
    contract that is still on the chain is kept unless --force."""
    s = ctx.settings
    if s.chain_rpc_url is None:
        raise ConfigError("set SEALTRAIL_CHAIN_RPC_URL to the chain's JSON-RPC endpoint")
    key = chain_key(s)
    if key is None:
        raise ConfigError("set SEALTRAIL_CHAIN_KEY or SEALTRAIL_CHAIN_KEY_FILE (the owner's key)")
    with ctx.ledger() as ledger:
        origin = ledger.origin
    client = connect(s.chain_rpc_url, key, s.chain_id)
    known = load_deployment(s.data_dir)
    if known is not None and not force:
        if known.chain_id != client.chain_id:
            raise ConfigError(
                f"{DEPLOYMENT_FILE} names chain {known.chain_id}, the node serves "
                f"{client.chain_id}: use --force to deploy anew"
            )
        try:
            client.use_contract(known.contract)
        except AnchoringError as e:
            raise ConfigError(f"the remembered contract is gone ({e}); use --force") from None
        obj: dict[str, Any] = {**known.to_json(), "deployed": False}
        emit(as_json, obj, f"already deployed: {known.contract} on chain {known.chain_id}")
        return
    d = deploy(client, origin, list(anchorers), format_time(utc_now()))
    save_deployment(s.data_dir, d)
    obj = {**d.to_json(), "deployed": True}
    emit(
        as_json,
        obj,
        f"deployed SealtrailAnchor at {d.contract} on chain {d.chain_id} "
        f"(anchorers: {', '.join(d.anchorers)}); remembered in {s.data_dir / DEPLOYMENT_FILE}",
    )


def _owner_change(ctx: Ctx, as_json: bool, anchorer: str, *, allow: bool) -> None:
    """Authorise or revoke ``anchorer`` for this ledger's log, signed with the owner's key."""
    s = ctx.settings
    if s.chain_rpc_url is None:
        raise ConfigError("set SEALTRAIL_CHAIN_RPC_URL to the chain's JSON-RPC endpoint")
    key = chain_key(s)
    if key is None:
        raise ConfigError("set SEALTRAIL_CHAIN_KEY or SEALTRAIL_CHAIN_KEY_FILE (the owner's key)")
    d = load_deployment(s.data_dir)
    if d is None:
        raise ConfigError("no contract deployed for this data dir: run `sealtrail contract deploy`")
    client = connect(
        s.chain_rpc_url, key, s.chain_id, contract_address=s.chain_contract or d.contract
    )
    receipt = (client.authorise if allow else client.revoke)(d.log_id, anchorer)
    now = client.is_anchorer(d.log_id, anchorer)
    obj = {
        "anchorer": anchorer,
        "authorised": now,
        "contract": client.contract_address,
        "log_id": "0x" + d.log_id.hex(),
        "tx_hash": "0x" + receipt.tx_hash.hex(),
        "block_number": receipt.block_number,
    }
    verb = "may now anchor" if now else "may no longer anchor"
    emit(as_json, obj, f"{anchorer} {verb} log 0x{d.log_id.hex()} (tx 0x{receipt.tx_hash.hex()})")


@contract.command("authorise")
@click.option("--anchorer", required=True, metavar="ADDRESS", help="The address to authorise.")
@command
def contract_authorise(ctx: Ctx, *, as_json: bool, anchorer: str) -> None:
    """Allow another account to anchor this ledger (owner's key; key rotation, OPERATIONS.md)."""
    _owner_change(ctx, as_json, anchorer, allow=True)


@contract.command("revoke")
@click.option("--anchorer", required=True, metavar="ADDRESS", help="The address to revoke.")
@command
def contract_revoke(ctx: Ctx, *, as_json: bool, anchorer: str) -> None:
    """Stop an account anchoring this ledger (owner's key); its earlier anchors stay valid."""
    _owner_change(ctx, as_json, anchorer, allow=False)


@contract.command("show")
@command
def contract_show(ctx: Ctx, *, as_json: bool) -> None:
    """Print the remembered deployment."""
    d = load_deployment(ctx.settings.data_dir)
    if d is None:
        raise ConfigError("no contract deployed for this data dir: run `sealtrail contract deploy`")
    emit(as_json, d.to_json(), f"{d.contract} on chain {d.chain_id}, log id 0x{d.log_id.hex()}")


@click.command("anchors")
@click.option("--limit", type=click.IntRange(1), default=20, help="Show the latest N.")
@command
def anchors_cmd(ctx: Ctx, *, as_json: bool, limit: int) -> None:
    """The anchoring state of the latest checkpoints."""
    s = ctx.settings
    on = s.chain_rpc_url is not None or load_deployment(s.data_dir) is not None
    k = s.chain_confirmations if on else None
    with ctx.ledger():
        cps = ctx.stores.ledger.checkpoints()[-limit:]
        rows = [
            {"size": cp.size, **anchor_json(ctx.stores.anchors.anchor(cp.size), k)} for cp in cps
        ]
    lines = [
        f"{r['size']}\t{r['status']}\t{r.get('tx_hash') or '-'}\t"
        f"block {r.get('block_number') or '-'}\t{r.get('confirmations', 0)} conf"
        for r in rows
    ]
    emit(as_json, {"anchors": rows}, "\n".join(lines) or "no checkpoints")
