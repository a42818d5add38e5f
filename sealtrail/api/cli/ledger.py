"""``sealtrail init``, ``append``, ``checkpoint``, ``proof`` and ``demo``: the ledger itself, from
the data directory (no service needed); ``audit`` is in :mod:`.audit`."""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from sealtrail import backend
from sealtrail.api import settings as settings_mod
from sealtrail.api.cli.audit import audit_text
from sealtrail.api.cli.context import Ctx, command, emit
from sealtrail.api.directory import create_tenant
from sealtrail.backend import Stores
from sealtrail.core import merkle, strictjson
from sealtrail.core.errors import (
    InvalidInputError,
    LeaseLostError,
    NotFoundError,
    SequencerHeldError,
)
from sealtrail.core.event import EventInput, format_time, parse_event_input, validate_tenant
from sealtrail.core.note import verify_checkpoint
from sealtrail.ledger.audit import audit
from sealtrail.ledger.log import Ledger, utc_now
from sealtrail.ledger.store import StoredCheckpoint

MAX_APPEND_EVENTS = 200_000


@click.command()
@click.option("--origin", default=None, help="Log origin (also the checkpoint key's name).")
@command
def init(ctx: Ctx, *, as_json: bool, origin: str | None) -> None:
    """Create the data directory, checkpoint key and database (idempotent)."""
    s = ctx.settings
    r = backend.init(s.data_dir, origin, settings_mod.database_path(s), db_url=s.db_url)
    obj = {
        "data_dir": str(r.data_dir),
        "origin": r.origin,
        "verifier_key": r.verifier_key,
        "created": r.created,
    }
    verb = "created" if r.created else "already initialised:"
    emit(as_json, obj, f"{verb} ledger {r.origin} in {r.data_dir}\nverifier key: {r.verifier_key}")


def _read_inputs(raw: bytes) -> list[EventInput]:
    """One JSON object, or JSON Lines; everything is validated before anything is written."""
    lines = [(n, ln) for n, ln in enumerate(raw.split(b"\n"), 1) if ln.strip()]
    if not lines:
        raise InvalidInputError("no event on input: want one JSON object or JSON Lines")
    if len(lines) > 1:
        try:  # one pretty-printed object?
            return [parse_event_input(strictjson.loads(raw))]
        except InvalidInputError:
            pass  # no: read JSON Lines
    if len(lines) > MAX_APPEND_EVENTS:
        raise InvalidInputError(
            f"{len(lines)} events on input, at most {MAX_APPEND_EVENTS}; "
            "append them in several runs"
        )
    out = []
    for n, line in lines:
        try:
            out.append(parse_event_input(strictjson.loads(line)))
        except InvalidInputError as e:
            if len(lines) > 1:
                e.args = (f"line {n}: {e}",)
            raise
    return out


@click.command()
@click.option("--tenant", required=True, help="Tenant the events belong to.")
@click.option(
    "--file",
    "source",
    type=click.File("rb"),
    default="-",
    help="Read events from this file instead of stdin.",
)
@command
def append(ctx: Ctx, *, as_json: bool, tenant: str, source: Any) -> None:
    """Append one JSON event, or JSON Lines of events, from stdin, atomically."""
    try:
        validate_tenant(tenant)
    except InvalidInputError as e:
        raise InvalidInputError(f"--tenant: {e}") from None
    inputs = _read_inputs(source.read())
    with ctx.ledger() as ledger:
        _require_tenant(ctx.stores, tenant)
        results = ledger.append(tenant, inputs)
    events = [{**r.event.to_json(), "duplicate": r.duplicate} for r in results]
    lines = [
        f"#{e['index']} {e['leaf_hash']} {e['type']} {e['stream']}"
        + (" (already recorded)" if e["duplicate"] else "")
        for e in events
    ]
    emit(as_json, {"events": events}, "\n".join(lines))


def _require_tenant(store: Stores, tenant: str) -> None:
    if store.directory.tenant(tenant) is None:
        raise NotFoundError(
            f"no tenant {tenant!r}; create it with 'sealtrail tenants create {tenant}'"
        )


def _checkpoint_json(cp: StoredCheckpoint, new: bool | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "size": cp.size,
        "root": cp.root.hex(),
        "note": cp.note,
        "created_at": cp.created_at,
    }
    if new is not None:
        obj["new"] = new
    return obj


def _sequencer_held(ctx: Ctx) -> SequencerHeldError:
    s = ctx.settings
    return SequencerHeldError(
        "a running service holds this ledger's sequencer lease and seals its checkpoints "
        f"itself (every {s.checkpoint_interval:g} s or {s.checkpoint_size} events): nothing "
        "to do here; read them with GET /v1/checkpoints/latest, or stop the service to seal "
        "from the command line"
    )


def _take_sequencer(ctx: Ctx, ledger: Ledger) -> None:
    """Become the sequencer before writing, or raise SequencerHeldError (nothing written)."""
    coord = ledger.coordinator
    if coord is not None and (coord.current() or coord.refresh()) is None:
        raise _sequencer_held(ctx)


@click.command()
@command
def checkpoint(ctx: Ctx, *, as_json: bool) -> None:
    """Seal a signed checkpoint of the log now (if it grew since the last one)."""
    with ctx.ledger() as ledger:
        _take_sequencer(ctx, ledger)
        try:
            cp, new = ledger.seal()
        except LeaseLostError:  # a service started meanwhile and took the lease over
            raise _sequencer_held(ctx) from None
    if cp is None:
        emit(as_json, {"size": 0, "new": False, "note": None}, "the log is empty: nothing to seal")
        return
    head = f"sealed checkpoint of size {cp.size}" if new else f"unchanged since size {cp.size}"
    emit(as_json, _checkpoint_json(cp, new), f"{head}\n\n{cp.note}")


@click.group()
def proof() -> None:
    """Print inclusion and consistency proofs (JSON)."""


@proof.command("inclusion")
@click.option("--index", type=click.IntRange(min=0), required=True, help="Event index.")
@click.option(
    "--size", type=click.IntRange(min=1), default=None, help="Tree size [latest checkpoint]."
)
@command
def proof_inclusion(ctx: Ctx, *, as_json: bool, index: int, size: int | None) -> None:
    """Inclusion proof of event INDEX in the tree of SIZE, with that checkpoint when sealed."""
    with ctx.ledger() as ledger:
        p = ledger.inclusion_proof(index, size)
        merkle.verify_inclusion(p.leaf_hash, p.index, p.size, p.proof, p.root)
        obj = p.to_json()
        cp = ledger.store.checkpoint(p.size)
        obj["checkpoint"] = cp.note if cp else None
    click.echo(json.dumps(obj, indent=None if as_json else 2))


@proof.command("consistency")
@click.option("--from", "old", type=click.IntRange(min=1), required=True, help="Older tree size.")
@click.option(
    "--to", "new", type=click.IntRange(min=1), default=None, help="Newer size [latest checkpoint]."
)
@command
def proof_consistency(ctx: Ctx, *, as_json: bool, old: int, new: int | None) -> None:
    """Consistency proof from tree size FROM to TO."""
    with ctx.ledger() as ledger:
        p = ledger.consistency_proof(old, new)
        merkle.verify_consistency(p.old_size, p.new_size, p.old_root, p.new_root, p.proof)
        obj = p.to_json()
        for key, size in (("old_checkpoint", p.old_size), ("new_checkpoint", p.new_size)):
            cp = ledger.store.checkpoint(size)
            obj[key] = cp.note if cp else None
    click.echo(json.dumps(obj, indent=None if as_json else 2))


_DEMO_DOC = "9f2c" * 16


@click.command()
@command
def demo(ctx: Ctx, *, as_json: bool) -> None:
    """Record a sample contract's life, seal it, prove it, audit it (a tour of the ledger).

    Writes into a new temporary directory unless a data directory is named (``--data-dir``,
    ``SEALTRAIL_DATA_DIR`` or ``data_dir`` in the settings file): never into a ledger the user
    did not name. A named ledger that a running service sequences is refused before anything
    is written (exit 9)."""
    s = ctx.settings
    named = ctx.data_dir is not None or settings_mod.names_data_dir(ctx.config)
    if not named:
        # the default ./data may be a real ledger (the README's service uses it): keep away
        tmp = Path(tempfile.mkdtemp(prefix="sealtrail-demo-"))
        s = replace(s, data_dir=tmp / "data", db_url=None)
        ctx.use_settings(s)
    backend.init(s.data_dir, db_path=settings_mod.database_path(s), db_url=s.db_url)

    contract = f"contract:demo-{secrets.token_hex(3)}"
    doc = {"name": "purchase-contract.pdf", "sha256": _DEMO_DOC}
    steps = [
        ("initiate", {"id": "u-1", "name": "Wang Fang", "org": "Acme Ltd", "role": "initiator"}),
        ("approve", {"id": "u-2", "name": "Zhao Lei", "org": "Acme Ltd", "role": "legal"}),
        ("sign", {"id": "u-3", "name": "Li Lei", "org": "Acme Ltd", "role": "legal-person"}),
        ("sign", {"id": "u-9", "name": "Chen Jie", "org": "Beta Co", "role": "contract-seal"}),
        ("view", {"id": "u-9", "name": "Chen Jie", "org": "Beta Co", "role": "signer"}),
        ("download", {"id": "u-1", "name": "Wang Fang", "org": "Acme Ltd", "role": "initiator"}),
    ]
    inputs = [
        parse_event_input(
            {
                "stream": contract,
                "type": t,
                "actor": actor,
                "documents": [doc],
                "client_event_id": f"{contract}-{n}",
                "attributes": {"source": "demo", "seal_id": "seal-1"}
                if t == "sign"
                else {"source": "demo"},
            }
        )
        for n, (t, actor) in enumerate(steps)
    ]
    with ctx.ledger() as ledger:
        _take_sequencer(ctx, ledger)
        if ctx.stores.directory.tenant("demo") is None:
            create_tenant(ctx.stores.directory, "demo", "Demo Ltd", None, format_time(utc_now()))
        appended = ledger.append("demo", inputs)
        cp, _ = ledger.seal()
        assert cp is not None
        signed = appended[2].event
        p = ledger.inclusion_proof(signed.index, cp.size)
        merkle.verify_inclusion(p.leaf_hash, p.index, p.size, p.proof, p.root)
        verify_checkpoint(cp.note, ledger.verifier)
        report = audit(ledger.store, ledger.verifier)
    obj = {
        "data_dir": str(s.data_dir),
        "temporary": not named,
        "stream": contract,
        "events": [
            {"index": a.event.index, "leaf_hash": a.event.leaf_hash.hex()} for a in appended
        ],
        "checkpoint": _checkpoint_json(cp),
        "inclusion_proof": p.to_json(),
        "audit": report.to_json(),
    }
    text = "\n".join(
        [f"recorded {len(appended)} events of {contract} in {s.data_dir}:"]
        + [
            f"  #{a.event.index} {a.event.leaf_hash.hex()[:16]}… {s[0]}"
            for a, s in zip(appended, steps, strict=True)
        ]
        + [
            f"sealed checkpoint: size {cp.size}, root {cp.root.hex()}",
            "",
            cp.note,
            f"inclusion proof of the legal-person signature (#{signed.index}): "
            f"{len(p.proof)} hashes, verified against the signed checkpoint",
            audit_text(report),
            ""
            if named
            else f"this demo ledger is in the temporary directory {s.data_dir}: look around "
            f"with 'sealtrail --data-dir {s.data_dir} audit', delete it when done",
        ]
    )
    emit(as_json, obj, text.rstrip("\n"))
    if not report.ok:
        sys.exit(1)
