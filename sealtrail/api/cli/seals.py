"""``sealtrail seals …``, ``sealtrail sign`` and ``sealtrail validate-pdf``: electronic seals for
operators (the same registry, events and checks as the HTTP routes).

``sign`` and ``validate-pdf`` use the configured TSAs; without one, ``sign`` starts the
development TSA of this data dir in-process (``DATA_DIR/devtsa``, the one the service mounts at
/devtsa) for the duration of the command, and ``validate-pdf`` trusts its CA.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from cryptography import x509

from sealtrail.anchoring.devtsa import CA_CERT_FILE, start_tsa
from sealtrail.anchoring.timestamping import load_trust_roots
from sealtrail.api.cli.context import Ctx, command, emit
from sealtrail.api.seals import (
    DEFAULT_BOX,
    field_name,
    parse_box,
    report_json,
    summary_lines,
    trust_list,
)
from sealtrail.core.errors import ConfigError, InvalidInputError, NotFoundError
from sealtrail.core.event import format_time
from sealtrail.ledger.log import utc_now
from sealtrail.seals import approvals, registry, trust
from sealtrail.seals.approvals import ApprovalRequiredError
from sealtrail.seals.envelopes import sha256
from sealtrail.seals.outbox import flush
from sealtrail.signing.appearance import SealKind
from sealtrail.signing.keystore import KeyProtector
from sealtrail.signing.masterkey import load_master_key
from sealtrail.signing.pdfinput import open_pdf
from sealtrail.signing.sign import Placement, SignatureLevel, SigningPolicy, async_sign_pdf

ACTOR = {"id": "cli:operator", "role": "operator"}
DEVTSA_DIR = "devtsa"


def _protector(ctx: Ctx) -> KeyProtector:
    s = ctx.settings
    return KeyProtector(load_master_key(s.seal_key, s.seal_key_file, s.data_dir))


def _read(path: Path, limit: int, what: str) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise InvalidInputError(f"cannot read {what} {path}: {e.strerror or e}") from None
    if len(data) > limit:
        raise InvalidInputError(f"{what} {path} is larger than {limit} bytes")
    return data


@click.group()
def seals() -> None:
    """Create, list, suspend, resume and revoke electronic seals."""


@seals.command("create")
@click.option("--tenant", required=True, help="Tenant the seal belongs to.")
@click.option("--kind", required=True, type=click.Choice([k.value for k in SealKind]))
@click.option("--name", required=True, help="Name on the seal (organisation or person).")
@click.option("--purpose", default="", help="Purpose line of a round seal (e.g. 合同专用章).")
@click.option("--code", default="", help="Code along the lower arc of a round seal.")
@click.option("--remarks", default="", help="Scope of use; embedded in every signature.")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), help="Uploaded picture.")
@click.option("--pkcs12", type=click.Path(dir_okay=False, path_type=Path), help="External cert.")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path))
@command
def seals_create(
    ctx: Ctx, *, as_json: bool, tenant: str, kind: str, name: str, purpose: str, code: str,
    remarks: str, png: Path | None, pkcs12: Path | None, password_file: Path | None,
) -> None:  # fmt: skip
    """Create a seal: certificate from the tenant's internal CA, or --pkcs12 (with
    --password-file); picture generated, or --png."""
    if (pkcs12 is None) != (password_file is None):
        raise InvalidInputError("--pkcs12 and --password-file go together")
    picture = None if png is None else _read(png, 2 * 1024 * 1024, "PNG")
    bundle = None
    if pkcs12 is not None and password_file is not None:
        password = _read(password_file, 4096, "password file").rstrip(b"\r\n")
        bundle = (_read(pkcs12, 64 * 1024, "PKCS#12"), password)
    with ctx.ledger() as ledger:
        db, directory = ctx.stores.seals, ctx.stores.directory
        seal = registry.create_seal(
            db, directory, _protector(ctx), tenant=tenant, kind=SealKind(kind), name=name,
            actor=ACTOR, now=utc_now(), purpose=purpose, code=code, remarks=remarks,
            png=picture, pkcs12=bundle, trust=trust_list(ctx.settings),
        )  # fmt: skip
        flush(ledger, db)
    obj = seal.to_json()
    emit(as_json, obj, f"created seal {seal.id} ({seal.kind.value}, {seal.name}) of {tenant}")


@seals.command("list")
@click.option("--tenant", default=None, help="Only this tenant's seals.")
@click.option("--status", type=click.Choice(registry.STATUSES), default=None)
@command
def seals_list(ctx: Ctx, *, as_json: bool, tenant: str | None, status: str | None) -> None:
    """List seals (never keys)."""
    with ctx.ledger():
        found = registry.list_seals(ctx.stores.seals, None if tenant is None else [tenant], status)
    lines = [f"{s.id}\t{s.tenant}\t{s.kind.value}\t{s.status}\t{s.name}" for s in found]
    emit(as_json, {"seals": [s.to_json() for s in found]}, "\n".join(lines) or "no seals")


def _set_status(ctx: Ctx, as_json: bool, seal_id: str, status: str, reason: str) -> None:
    with ctx.ledger() as ledger:
        db = ctx.stores.seals
        seal = registry.set_status(db, seal_id, status, reason=reason, actor=ACTOR, now=utc_now())
        flush(ledger, db)
    emit(as_json, seal.to_json(), f"seal {seal.id} is {seal.status}")


@seals.command("suspend")
@click.argument("seal_id", metavar="ID")
@click.option("--reason", required=True)
@command
def seals_suspend(ctx: Ctx, *, as_json: bool, seal_id: str, reason: str) -> None:
    """Suspend seal ID (it signs nothing until resumed)."""
    _set_status(ctx, as_json, seal_id, "suspended", reason)


@seals.command("resume")
@click.argument("seal_id", metavar="ID")
@click.option("--reason", default="")
@command
def seals_resume(ctx: Ctx, *, as_json: bool, seal_id: str, reason: str) -> None:
    """Resume a suspended seal ID."""
    _set_status(ctx, as_json, seal_id, "active", reason)


@seals.command("revoke")
@click.argument("seal_id", metavar="ID")
@click.option("--reason", required=True)
@command
def seals_revoke(ctx: Ctx, *, as_json: bool, seal_id: str, reason: str) -> None:
    """Revoke seal ID for good."""
    _set_status(ctx, as_json, seal_id, "revoked", reason)


def _tsa_roots(ctx: Ctx) -> list[x509.Certificate]:
    s = ctx.settings
    if s.tsa_urls:
        return load_trust_roots(list(s.tsa_ca_files))
    pem = s.data_dir / DEVTSA_DIR / CA_CERT_FILE
    return load_trust_roots([pem]) if pem.exists() else []


async def _sign(ctx: Ctx, pdf: bytes, seal: registry.SealRecord, key: Any, png: bytes,
                placement: Placement, reason: str, location: str, level: SignatureLevel,
                crls: tuple[x509.CertificateRevocationList, ...]) -> bytes:  # fmt: skip
    s = ctx.settings
    running = None
    if s.tsa_urls:
        urls, roots = tuple(s.tsa_urls), tuple(load_trust_roots(list(s.tsa_ca_files)))
    else:
        running = await start_tsa(s.data_dir / DEVTSA_DIR)
        urls, roots = (running.url,), (running.tsa.ca_cert,)
    try:
        policy = SigningPolicy(
            urls, seal.signing_roots(), roots, crls=crls, max_pdf_bytes=s.max_pdf_bytes
        )
        return await async_sign_pdf(
            pdf, key, placement, policy, appearance_png=png, reason=reason, location=location,
            remarks=seal.remarks, level=level,
        )  # fmt: skip
    finally:
        if running is not None:
            await running.close()


@click.command("sign")
@click.option("--tenant", required=True, help="Tenant the seal belongs to.")
@click.option("--seal", "seal_id", required=True, help="Seal id.")
@click.argument("source", metavar="IN.pdf", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--page", type=click.IntRange(1), default=None, help="1-based page [last].")
@click.option("--box", default=None, help="x1,y1,x2,y2 in PDF points [400,60,540,200].")
@click.option("--reason", default="", help="Signature reason.")
@click.option("--location", default="", help="Signature location.")
@click.option(
    "--level",
    type=click.Choice([lv.value for lv in SignatureLevel]),
    default=SignatureLevel.B_T.value,
    help="PAdES baseline level; B-LT embeds certificates and the CA's CRL.",
)
@command
def sign_cmd(
    ctx: Ctx, *, as_json: bool, tenant: str, seal_id: str, source: Path, output: Path,
    page: int | None, box: str | None, reason: str, location: str, level: str,
) -> None:  # fmt: skip
    """Seal IN.pdf with seal ID (PAdES B-T/B-LT/B-LTA, visible), write OUT.pdf and record it."""
    lv = SignatureLevel(level)
    s = ctx.settings
    pdf = _read(source, s.max_pdf_bytes, "PDF")
    pages = open_pdf(pdf, max_bytes=s.max_pdf_bytes).pages
    placement = Placement(
        field_name(), page=(page or pages) - 1, box=parse_box(box) if box else DEFAULT_BOX
    )
    with ctx.ledger() as ledger:
        db = ctx.stores.seals
        seal = registry.visible_seal(db, seal_id, [tenant])
        if approvals.get_policy(db, tenant).controls(seal.id):
            raise ApprovalRequiredError(
                f"seal {seal.id} is controlled: request and approve its use through the API"
            )
        key = registry.open_key(db, _protector(ctx), seal)
        png = registry.appearance(db, seal.id)
        crls: tuple[x509.CertificateRevocationList, ...] = ()
        if lv is SignatureLevel.B_LT and seal.source == registry.SOURCE_INTERNAL:
            crls = (registry.tenant_crl(db, _protector(ctx), tenant, utc_now()),)
        signed = asyncio.run(_sign(ctx, pdf, seal, key, png, placement, reason, location, lv, crls))
        before, after = sha256(pdf), sha256(signed)
        approvals.record_use(
            db, seal, key_id="cli", before=before, after=after, actor=ACTOR,
            at=format_time(utc_now()),
        )  # fmt: skip
        flush(ledger, db)
    try:
        output.write_bytes(signed)
    except OSError as e:
        raise ConfigError(f"cannot write {output}: {e.strerror or e}") from None
    obj = {"seal": seal.id, "output": str(output), "before_sha256": before.hex(),
           "after_sha256": after.hex()}  # fmt: skip
    emit(as_json, obj, f"sealed {source} with {seal.id} -> {output} (sha256 {after.hex()})")


@click.command("validate-pdf")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@command
def validate_pdf_cmd(ctx: Ctx, *, as_json: bool, path: Path) -> None:
    """Validate every signature of FILE against this data dir's seal CAs and TSA roots; exit
    0 only when every signature is intact, valid and trusted (1 otherwise).

    The seal CAs are every root of the deployment: the trust list, the tenants' own CAs, their
    internal CAs. Per signature it says who: subject, issuer, trust root, seal and tenant."""
    s = ctx.settings
    pdf = _read(path, s.max_pdf_bytes, "PDF")
    configured = trust_list(s)
    with ctx.ledger():
        roots = trust.validation_roots(ctx.stores.seals, configured)
        index = trust.seal_index(ctx.stores.seals)
    if not roots:
        raise NotFoundError("no seal CA in this data dir: nothing to trust")
    report = trust.validate_attributed(
        pdf, roots, index, _tsa_roots(ctx), at_time=datetime.now(UTC),
        max_pdf_bytes=s.max_pdf_bytes,
    )  # fmt: skip
    obj = report_json(report)
    r = report.report
    head = "OK: every signature intact, valid and trusted" if r.ok else (
        f"FAILED: {r.status.value}: {', '.join(r.reasons)}"
    )  # fmt: skip
    emit(as_json, obj, "\n".join([head, *summary_lines(obj)]))
    if not r.ok:
        click.echo(f"sealtrail: error: {head}", err=True)
        sys.exit(1)
