"""``sealtrail map-proof``: fetch a map proof from a running service and check it here, with the
SDK (:mod:`sealtrail.sdk`), against a checkpoint signed by the ledger key given on the command
line (docs/MAP.md §7, docs/FORMAT.md §5.2).

* ``stream STREAM``: the stream's head (count, last event) in the latest checkpoint's map;
* ``document SHA256``: every event naming the document, proven complete — or proven none.

Exit status: 0 proven; 1 a check failed (a wrong proof, a bad signature, a rollback); 4 no
such stream; 8 nothing failed but nothing could be proven (a checkpoint before the map, a
capped answer); 2 bad input. With ``--state FILE`` the newest verified checkpoint is kept
between runs, so a later answer must extend it (a consistency proof); without, the first
checkpoint seen is trusted on its signature alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sealtrail.api.cli.context import Ctx, command, emit
from sealtrail.core.errors import InvalidInputError, SealtrailError
from sealtrail.core.note import NoteVerifier

#: an API key file is one line; anything longer is not one
MAX_KEY_FILE_BYTES = 4096


def _log(ledger_key: str, state: Path | None) -> Any:
    from sealtrail.sdk import FileState, MemoryState, TrustedLog

    try:
        verifier = NoteVerifier.from_vkey(ledger_key.strip())
    except SealtrailError as e:
        raise InvalidInputError(f"--ledger-key: not a verifier key ({e})") from e
    return TrustedLog(verifier, FileState(state) if state else MemoryState())


def _key(path: Path | None) -> str | None:
    if path is None:
        return None
    raw = path.read_bytes()[: MAX_KEY_FILE_BYTES + 1]
    if len(raw) > MAX_KEY_FILE_BYTES or not raw.strip():
        raise InvalidInputError(f"--key-file {path}: want one API key")
    return raw.decode("utf-8", "replace").strip()


_url = click.option("--url", required=True, help="The service's base URL.")
_ledger_key = click.option(
    "--ledger-key", required=True, help="The ledger's published verifier key (ledger.pub)."
)
_state = click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File keeping the newest verified checkpoint between runs.",
)


@click.group("map-proof")
def map_proof() -> None:
    """Fetch a map proof from a service and check it here (completeness of a stream or of a
    document's events)."""


@map_proof.command("stream")
@click.argument("stream")
@_url
@_ledger_key
@_state
@click.option(
    "--key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="File holding an integrator or auditor API key.",
)
@click.option("--tenant", default=None, help="The subsidiary's stream (HQ auditors).")
@command
def map_proof_stream(
    ctx: Ctx,
    stream: str,
    *,
    as_json: bool,
    url: str,
    ledger_key: str,
    state: Path | None,
    key_file: Path,
    tenant: str | None,
) -> None:
    """Prove STREAM's head (number of events, last event) as of the latest checkpoint."""
    from sealtrail.sdk import Client

    head = Client(url, _key(key_file)).stream_head(stream, _log(ledger_key, state), tenant=tenant)
    obj = {
        "tenant": head.tenant,
        "stream": head.stream,
        "checkpoint": head.checkpoint.size,
        "count": head.count,
        "last_index": head.last_index,
        "last_leaf_hash": head.last_leaf_hash.hex(),
    }
    emit(
        as_json,
        obj,
        f"proven: stream {head.stream!r} of tenant {head.tenant} has {head.count} event(s) as of "
        f"checkpoint {head.checkpoint.size}; the last is #{head.last_index} "
        f"(leaf {head.last_leaf_hash.hex()})",
    )


@map_proof.command("document")
@click.argument("sha256")
@_url
@_ledger_key
@_state
@command
def map_proof_document(
    ctx: Ctx, sha256: str, *, as_json: bool, url: str, ledger_key: str, state: Path | None
) -> None:
    """Prove which events name the document SHA256 (all of them, or none) as of the latest
    checkpoint; no API key needed."""
    import re

    from sealtrail.sdk import Client

    if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise InvalidInputError("SHA256: want 64 hex digits")
    doc = Client(url).document_events_complete(sha256, _log(ledger_key, state))
    events = [
        {k: e.get(k) for k in ("index", "type", "recorded_at", "leaf_hash")} for e in doc.events
    ]
    size = doc.checkpoint.size
    text = (
        f"proven: no event names {doc.sha256} as of checkpoint {size}"
        if not events
        else f"proven: these are all {len(events)} event(s) naming {doc.sha256} as of "
        f"checkpoint {size}:\n"
        + "\n".join(f"  #{e['index']} {e['type']} {e['recorded_at']}" for e in events)
    )
    emit(as_json, {"sha256": doc.sha256, "checkpoint": size, "events": events}, text)
