"""The ``sealtrail`` command line.

Every command takes ``--json``; errors are one line on stderr (``sealtrail: error: …``), and with
``--json`` also ``{"error": {"code", "message"}}`` on stdout. Exit codes (docs/CLI.md):
0 ok, 1 a check failed (audit problems, bad proof), 2 bad input or usage, 3 no ledger here,
4 not found, 5 conflict, 6 ledger busy, 10 internal or storage error.
"""

from __future__ import annotations

import functools
import json
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from sealtrail.anchoring.devtsa import CA_CERT_FILE
from sealtrail.anchoring.timestamping import check_stored_timestamps, load_trust_roots
from sealtrail.api import settings as settings_mod
from sealtrail.api.directory import ROLES, create_key, create_tenant, key_json, tenant_json
from sealtrail.api.error_codes import exit_code_for
from sealtrail.core import merkle, strictjson
from sealtrail.core.errors import InvalidInputError, NotFoundError, SealtrailError
from sealtrail.core.event import EventInput, format_time, parse_event_input, validate_tenant
from sealtrail.core.note import verify_checkpoint
from sealtrail.ledger import datadir
from sealtrail.ledger.audit import AuditReport, audit
from sealtrail.ledger.coordination import Coordinator
from sealtrail.ledger.log import Ledger, utc_now
from sealtrail.ledger.store import ServiceStore, StoredCheckpoint

F = TypeVar("F", bound=Callable[..., Any])
MAX_APPEND_EVENTS = 200_000


class Ctx:
    """What the group options leave for the commands."""

    def __init__(self, data_dir: Path | None, config: Path | None) -> None:
        self.data_dir = data_dir
        self.config = config
        self._settings: settings_mod.Settings | None = None
        self.store: ServiceStore

    @property
    def settings(self) -> settings_mod.Settings:
        if self._settings is None:
            self._settings = settings_mod.load(self.config, overrides={"data_dir": self.data_dir})
        return self._settings

    @contextmanager
    def ledger(self) -> Iterator[Ledger]:
        s = self.settings
        store, signer = datadir.open_store(
            s.data_dir,
            db_path=settings_mod.database_path(s),
            busy_timeout=s.busy_timeout,
            db_url=s.db_url,
        )
        # Appends from the CLI go through the sequencer lease like a service's: when a running
        # service holds it, they are queued for it; else the CLI holds it while it runs.
        ledger = Ledger(store, signer, coordinator=Coordinator(store, ttl=s.lease_ttl))
        self.store = store
        try:
            yield ledger
        finally:
            ledger.close_sync()


def _emit(as_json: bool, obj: Any, text: str) -> None:
    if as_json:
        click.echo(json.dumps(obj, ensure_ascii=False, indent=None))
    else:
        click.echo(text)


def _fail(err: SealtrailError, as_json: bool) -> NoReturn:
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
            _fail(e, as_json)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


@main.command()
@click.option("--origin", default=None, help="Log origin (also the checkpoint key's name).")
@command
def init(ctx: Ctx, *, as_json: bool, origin: str | None) -> None:
    """Create the data directory, checkpoint key and database (idempotent)."""
    s = ctx.settings
    r = datadir.init(s.data_dir, origin, settings_mod.database_path(s), db_url=s.db_url)
    obj = {
        "data_dir": str(r.data_dir),
        "origin": r.origin,
        "verifier_key": r.verifier_key,
        "created": r.created,
    }
    verb = "created" if r.created else "already initialised:"
    _emit(as_json, obj, f"{verb} ledger {r.origin} in {r.data_dir}\nverifier key: {r.verifier_key}")


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


@main.command()
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
        _require_tenant(ctx.store, tenant)
        results = ledger.append(tenant, inputs)
    events = [{**r.event.to_json(), "duplicate": r.duplicate} for r in results]
    lines = [
        f"#{e['index']} {e['leaf_hash']} {e['type']} {e['stream']}"
        + (" (already recorded)" if e["duplicate"] else "")
        for e in events
    ]
    _emit(as_json, {"events": events}, "\n".join(lines))


def _require_tenant(store: ServiceStore, tenant: str) -> None:
    if store.tenant(tenant) is None:
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


@main.command()
@command
def checkpoint(ctx: Ctx, *, as_json: bool) -> None:
    """Seal a signed checkpoint of the log now (if it grew since the last one)."""
    with ctx.ledger() as ledger:
        cp, new = ledger.seal()
    if cp is None:
        _emit(as_json, {"size": 0, "new": False, "note": None}, "the log is empty: nothing to seal")
        return
    head = f"sealed checkpoint of size {cp.size}" if new else f"unchanged since size {cp.size}"
    _emit(as_json, _checkpoint_json(cp, new), f"{head}\n\n{cp.note}")


@main.group()
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


def _audit_text(r: AuditReport) -> str:
    lines = [
        f"log size {r.size}, {r.streams} streams, {r.checkpoints} checkpoints, root {r.root}",
    ]
    if r.ok:
        lines.append("OK: every event, chain, subtree, checkpoint signature and consistency holds")
    else:
        lines.append(
            f"FAILED: {len(r.problems)} problem(s)" + (" (list truncated)" if r.truncated else "")
        )
        lines += [f"  [{p.code}] {p.message}" for p in r.problems]
    return "\n".join(lines)


@main.command("audit")
@click.option(
    "--rpc",
    default=None,
    metavar="URL",
    help="Also check every final anchor on the chain at this JSON-RPC URL.",
)
@command
def audit_cmd(ctx: Ctx, *, as_json: bool, rpc: str | None) -> None:
    """Recompute everything from the stored events and re-verify every stored timestamp token
    (and, with --rpc, every final anchor on the chain); exit 0 only when all holds."""
    with ctx.ledger() as ledger:
        report = audit(ledger.store, ledger.verifier)
        stamps = _audit_timestamps(ctx, report)
        anchors = _audit_anchors(ctx, report, rpc)
    obj = {**report.to_json(), "timestamps": stamps, "anchors": anchors}
    text = _audit_text(report) + (
        f"\ntimestamps: {stamps['stamped']} stamped and re-verified, {stamps['pending']} pending"
        + ("" if stamps["checked"] else " (no TSA trust roots here: tokens not re-verified)")
        + f"\nanchors: {anchors['final']} final"
        + (" and found on the chain" if anchors["checked"] else " (not checked: no --rpc)")
    )
    _emit(as_json, obj, text)
    if not report.ok:
        sys.exit(1)


def _audit_timestamps(ctx: Ctx, report: AuditReport) -> dict[str, Any]:
    """Re-verify stored RFC 3161 tokens against the configured (or dev TSA) trust roots."""
    s = ctx.settings
    roots_files = list(s.tsa_ca_files) or [
        p for p in [s.data_dir / "devtsa" / CA_CERT_FILE] if p.exists()
    ]
    records = ctx.store.timestamps()
    pending = len(ctx.store.untimestamped(limit=10**9))
    stamped = sum(1 for r in records if r.token is not None)
    if not roots_files:
        return {"stamped": stamped, "pending": pending, "checked": False}
    for size, problem in check_stored_timestamps(ctx.store, load_trust_roots(roots_files)):
        report.add("timestamp_invalid", f"checkpoint {size}: {problem}")
    return {"stamped": stamped, "pending": pending, "checked": True}


def _audit_anchors(ctx: Ctx, report: AuditReport, rpc: str | None) -> dict[str, Any]:
    """With ``rpc``: look every final anchor up on the chain (read-only, no key needed)."""
    from sealtrail.anchoring.chain import connect
    from sealtrail.anchoring.contract import log_id_for
    from sealtrail.anchoring.deployment import load_deployment
    from sealtrail.anchoring.onchain_audit import check_chain_head, check_final_anchors

    log_id = log_id_for(ctx.store.meta("origin") or "?")
    roots = {cp.size: cp.root for cp in ctx.store.checkpoints()}
    for a in ctx.store.anchors():  # offline: every anchor names this log and its checkpoint
        if roots.get(a.size) != a.root or a.log_id != log_id:
            report.add(
                "anchor_mismatch",
                f"checkpoint {a.size}: the stored anchor names another root or log",
            )
    final = len(ctx.store.anchors(("final",)))
    if rpc is None:
        return {"final": final, "checked": False}
    s = ctx.settings
    d = load_deployment(s.data_dir)
    address = s.chain_contract or (d.contract if d else None)
    if address is None:
        finals = ctx.store.anchors(("final",))
        address = finals[-1].contract if finals else None
    if address is None:
        return {"final": 0, "checked": True}
    client = connect(rpc, None, contract_address=address)
    checked, problems = check_final_anchors(ctx.store, client)
    for size, problem in problems:
        report.add("anchor_not_on_chain", f"checkpoint {size}: {problem}")
    chain_size, behind = check_chain_head(ctx.store, client, log_id)
    for problem in behind:
        report.add("log_behind_chain", problem)
    return {
        "final": checked,
        "checked": True,
        "chain_id": client.chain_id,
        "contract": address,
        "chain_latest_size": chain_size,
    }


_DEMO_DOC = "9f2c" * 16


@main.command()
@command
def demo(ctx: Ctx, *, as_json: bool) -> None:
    """Record a sample contract's life, seal it, prove it, audit it (a tour of the ledger)."""
    s = ctx.settings
    datadir.init(s.data_dir, db_path=settings_mod.database_path(s), db_url=s.db_url)

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
        if ctx.store.tenant("demo") is None:
            create_tenant(ctx.store, "demo", "Demo Ltd", None, format_time(utc_now()))
        appended = ledger.append("demo", inputs)
        cp, _ = ledger.seal()
        assert cp is not None
        signed = appended[2].event
        p = ledger.inclusion_proof(signed.index, cp.size)
        merkle.verify_inclusion(p.leaf_hash, p.index, p.size, p.proof, p.root)
        verify_checkpoint(cp.note, ledger.verifier)
        report = audit(ledger.store, ledger.verifier)
    obj = {
        "stream": contract,
        "events": [
            {"index": a.event.index, "leaf_hash": a.event.leaf_hash.hex()} for a in appended
        ],
        "checkpoint": _checkpoint_json(cp),
        "inclusion_proof": p.to_json(),
        "audit": report.to_json(),
    }
    text = "\n".join(
        [f"recorded {len(appended)} events of {contract} in {ctx.settings.data_dir}:"]
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
            _audit_text(report),
        ]
    )
    _emit(as_json, obj, text)
    if not report.ok:
        sys.exit(1)


@main.command()
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


@main.group()
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
        t = create_tenant(ctx.store, tenant_id, name, parent, format_time(utc_now()))
    under = f" under {t.parent}" if t.parent else ""
    _emit(as_json, tenant_json(t), f"created tenant {t.id} ({t.name}){under}")


@tenants.command("list")
@command
def tenants_list(ctx: Ctx, *, as_json: bool) -> None:
    """List tenants."""
    with ctx.ledger():
        ts = ctx.store.tenants()
    lines = [f"{t.id}\t{t.name}\t{t.parent or '-'}" for t in ts]
    _emit(as_json, {"tenants": [tenant_json(t) for t in ts]}, "\n".join(lines) or "no tenants")


@main.group()
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
        record, key = create_key(ctx.store, tenant, role, label, format_time(utc_now()))
    _emit(as_json, {"key": key, **key_json(record)}, key)


@keys.command("list")
@click.option("--tenant", default=None, help="Only this tenant's keys.")
@command
def keys_list(ctx: Ctx, *, as_json: bool, tenant: str | None) -> None:
    """List keys (never their secrets)."""
    with ctx.ledger():
        store = ctx.store
        ks = store.keys([tenant] if tenant else [t.id for t in store.tenants()])
    lines = [f"{k.id}\t{k.tenant}\t{k.role}\t{'revoked' if k.revoked_at else 'active'}" for k in ks]
    _emit(as_json, {"keys": [key_json(k) for k in ks]}, "\n".join(lines) or "no keys")


@keys.command("revoke")
@click.argument("key_id", metavar="ID")
@command
def keys_revoke(ctx: Ctx, *, as_json: bool, key_id: str) -> None:
    """Revoke key ID (idempotent)."""
    with ctx.ledger():
        k = ctx.store.revoke_key(key_id, format_time(utc_now()))
    _emit(as_json, key_json(k), f"revoked key {k.id} at {k.revoked_at}")


# Registers `contract` and `anchors`; `export` and `verify`; `seals`, `sign` and `validate-pdf`.
from sealtrail.api import cli_chain, cli_migrate, cli_packages, cli_seals  # noqa: E402, F401

if __name__ == "__main__":  # pragma: no cover
    main()
