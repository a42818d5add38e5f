"""``sealtrail export``: the certification package of one stream (docs/FORMAT.md §8).

``export`` builds a stream's package straight from the data directory (operators; no service
needed), seals its report with the service seal, records the export as an ``export`` event in
that stream, and reports progress on stderr. (``verify`` is in :mod:`sealtrail.api.cli.verify`.)
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import click

from sealtrail.anchoring.devtsa import start_tsa
from sealtrail.anchoring.store import AnchoringStores
from sealtrail.anchoring.timestamping import CheckpointTimestamper, load_trust_roots
from sealtrail.anchoring.tsa import TimestampClient
from sealtrail.api.cli.context import Ctx, command, emit
from sealtrail.api.settings import Settings, public_url, report_language_for, timezone_for
from sealtrail.core.event import format_time, parse_event_input
from sealtrail.export.evidence import Evidence, Selection
from sealtrail.export.package import PackageInputs, export_event
from sealtrail.export.service_seal import load_service_seal, make_package
from sealtrail.ledger.log import Ledger, utc_now
from sealtrail.signing.masterkey import load_master_key

DEVTSA_DIR = "devtsa"


async def _build(
    s: Settings,
    ledger: Ledger,
    store: AnchoringStores,
    tenant: str,
    stream: str,
    docs: dict[str, bytes],
    out: Path,
) -> Evidence:
    now = utc_now()
    seal = load_service_seal(
        s.data_dir, load_master_key(s.seal_key, s.seal_key_file, s.data_dir), now=now
    )
    running = None
    if s.tsa_urls:
        urls, roots = list(s.tsa_urls), load_trust_roots(list(s.tsa_ca_files))
    else:  # the development TSA of this data directory, served in-process for this export
        running = await start_tsa(s.data_dir / DEVTSA_DIR)
        urls, roots = [running.url], [running.tsa.ca_cert]
    # Stamp checkpoints still pending (the CLI's own checkpoints are never stamped otherwise).
    stamper = CheckpointTimestamper(store, TimestampClient(urls, roots), lambda: format_time(now))
    await stamper.stamp_pending()
    pem = b"".join(r.public_bytes(serialization_pem()) for r in roots)
    inputs = PackageInputs(
        created_at=format_time(now),
        created_by={"operator": "sealtrail export"},
        tsa_roots_pem=pem,
        service_seal_pem=seal.pem(),
        portal_url=public_url(s),
        documents=docs,
        timezone=timezone_for(s, tenant),
        language=report_language_for(s, tenant),
    )
    tmp = out.with_name(f".{out.name}.partial")
    try:
        with tmp.open("wb") as f:
            ev = await make_package(
                ledger,
                store,
                Selection.of_stream(tenant, stream),
                inputs,
                seal,
                urls,
                roots,
                f,
                progress=lambda msg: click.echo(f"export: {msg}", err=True),
            )
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
        if running is not None:
            await running.runner.cleanup()
    return ev


def serialization_pem() -> Any:
    """PEM encoding (cryptography's enum), for certificate files."""
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM


@click.command("export")
@click.option("--stream", required=True, help="The stream (contract) to export.")
@click.option("--tenant", required=True, help="The stream's tenant.")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the package (.zip).",
)
@click.option(
    "--document",
    "documents",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Include this document (repeatable).",
)
@command
def export_cmd(
    ctx: Ctx, *, as_json: bool, stream: str, tenant: str, output: Path, documents: tuple[Path, ...]
) -> None:
    """Build the certification package of one stream (docs/FORMAT.md §8)."""
    docs = {hashlib.sha256(b := p.read_bytes()).hexdigest(): b for p in documents}
    with ctx.ledger() as ledger:
        ev = asyncio.run(_build(ctx.settings, ledger, ctx.stores, tenant, stream, docs, output))
        digest = hashlib.sha256(output.read_bytes()).hexdigest()
        record = export_event(stream, digest, ev, {"id": "operator:cli"})
        (appended,) = ledger.append(tenant, [parse_event_input(record)])
    obj = {
        "path": str(output),
        "sha256": digest,
        "events": len(ev.events),
        "checkpoint": ev.target.size,
        "export_event": appended.event.index,
    }
    emit(as_json, obj, f"{output}: {len(ev.events)} events, sha256 {digest}")
