"""``sealtrail envelopes list|void``: the operator's view of envelopes on the data dir (the
API's GET /v1/envelopes and POST /v1/envelopes/{id}/void, without a key). Reading an envelope
past its deadline expires it (and records ``envelope:expired``), as the service does."""

from __future__ import annotations

import click

from sealtrail.api.cli.context import Ctx, command, emit
from sealtrail.core.errors import NotFoundError
from sealtrail.ledger.log import utc_now
from sealtrail.seals import envelopes as envelopes_mod
from sealtrail.seals import signing_links
from sealtrail.seals.outbox import flush

ACTOR = {"id": "cli:operator", "role": "operator"}


@click.group()
def envelopes() -> None:
    """List and void envelopes."""


@envelopes.command("list")
@click.option("--tenant", "tenants", multiple=True, required=True, help="Creating tenant.")
@click.option("--state", type=click.Choice(signing_links.STATES), default=None)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@command
def envelopes_list(
    ctx: Ctx, *, as_json: bool, tenants: tuple[str, ...], state: str | None, limit: int
) -> None:
    """List envelopes of TENANTs, newest first."""
    now = utc_now()
    with ctx.ledger() as ledger:
        db = ctx.stores.seals
        out = []
        for env_id in envelopes_mod.envelopes_of(db, tenants, 10_000):
            env = signing_links.expire_if_due(db, envelopes_mod.get_envelope(db, env_id), now)
            if state is None or signing_links.state_of(env) == state:
                out.append(signing_links.envelope_json(env, signing_links.links_of(db, env.id)))
            if len(out) >= limit:
                break
        flush(ledger, db)
    lines = [f"{e['id']}\t{e['tenant']}\t{e['state']}\t{e['title']}" for e in out]
    emit(as_json, {"envelopes": out}, "\n".join(lines) or "no envelopes")


@envelopes.command("void")
@click.argument("envelope_id", metavar="ID")
@click.option("--reason", required=True, help="Why (1 to 500 characters; recorded).")
@command
def envelopes_void(ctx: Ctx, *, as_json: bool, envelope_id: str, reason: str) -> None:
    """Void the open envelope ID: its signing links stop working."""
    with ctx.ledger() as ledger:
        db = ctx.stores.seals
        env = envelopes_mod.get_envelope(db, envelope_id)
        if env is None:  # pragma: no cover - get_envelope raises
            raise NotFoundError(f"no envelope {envelope_id}")
        done = signing_links.void(db, env, reason, actor=ACTOR, now=utc_now())
        flush(ledger, db)
    emit(as_json, signing_links.envelope_json(done, {}), f"envelope {done.id} is voided")
