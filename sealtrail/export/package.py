"""The files of a certification package (format v1, docs/FORMAT.md §8) from its evidence.

:func:`package_files` renders every file, manifest included; the one pipeline that collects the
evidence, draws and seals the report and writes the ZIP is
:func:`sealtrail.export.service_seal.make_package`. Given the same evidence, inputs and report
bytes, the files (and so the ZIP, :func:`sealtrail.verifier.layout.write_zip`) are the same,
byte for byte; the sealed report itself differs from run to run (an ECDSA signature and a fresh
RFC 3161 token).

Every JSON file is RFC 8785 (JCS) canonical UTF-8 with no trailing newline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sealtrail.anchoring.store import StoredAnchor
from sealtrail.core.canonical import canonicalize_restricted
from sealtrail.core.vmap import DocumentEvents, StreamHead
from sealtrail.export.evidence import Evidence, MapEvidence
from sealtrail.export.handcheck import verify_md, verify_zh_md
from sealtrail.verifier import layout
from sealtrail.verifier.renewal import ers_json


@dataclass(frozen=True)
class PackageInputs:
    """What the caller, not the ledger, decides: when and by whom, certificates, documents.

    ``created_by``: e.g. ``{"tenant": "hq", "key_id": "…", "role": "auditor"}`` or
    ``{"operator": "cli"}``. ``tsa_roots_pem`` are the TSA trust roots the service uses;
    ``service_seal_pem`` the service seal's certificate then its chain (PEM). ``documents``:
    optional document bytes by lowercase hex SHA-256 — each must be named by a selected event.
    ``portal_url``: the service's public base URL for the report's QR code, or None.
    ``timezone`` (IANA) and ``language`` (``zh-CN``, ``en``, ``both``): how the report shows
    times and words (:mod:`.report_text`). ``seal_picture(tenant, seal_id)``: the registered
    picture (PNG) of a tenant's seal for the report, or None — never another tenant's.
    """

    created_at: str
    created_by: dict[str, str]
    tsa_roots_pem: bytes
    service_seal_pem: bytes
    portal_url: str | None = None
    documents: Mapping[str, bytes] = field(default_factory=dict)
    timezone: str = "Asia/Shanghai"
    language: str = "both"
    seal_picture: Callable[[str, str], bytes | None] | None = None


def _json(value: Any) -> bytes:
    return canonicalize_restricted(value)


def _hex0x(b: bytes | None) -> str | None:
    return None if b is None else "0x" + b.hex()


def anchor_receipt(a: StoredAnchor, size: int) -> dict[str, Any]:
    """The anchor receipt file's object (docs/FORMAT.md §8.2): ``contract_version`` 1 or 2;
    ``map_root`` the map root anchored with the root (version 2), null when none was."""
    return {
        "status": a.status,
        "chain_id": a.chain_id,
        "contract": a.contract,
        "contract_version": a.contract_version,
        "map_root": _hex0x(a.map_root),
        "log_id": _hex0x(a.log_id),
        "tree_size": size,
        "root": _hex0x(a.root),
        "tx_hash": _hex0x(a.tx_hash),
        "block_number": a.block_number,
        "block_hash": _hex0x(a.block_hash),
        "log_index": a.log_index,
        "confirmations": a.confirmations,
        "final_at": a.final_at,
    }


def _map_value(v: StreamHead | DocumentEvents) -> dict[str, Any]:
    h = v.last_leaf_hash if isinstance(v, StreamHead) else v.chain
    return {"count": v.count, "last_index": v.last_index, "hash": h.hex()}


def map_proofs_json(m: MapEvidence) -> dict[str, Any]:
    """``proofs/map.json`` (docs/FORMAT.md §8.8): the target's map root, the stream head and
    document values with their inclusion proofs (docs/MAP.md §5), and each document's events."""
    return {
        "size": m.size,
        "root": m.root.hex(),
        "streams": [
            {
                "tenant": s.tenant,
                "stream": s.stream,
                "value": _map_value(s.head),
                "proof": s.proof.to_json(),
            }
            for s in m.streams
        ],
        "documents": [
            {
                "sha256": d.sha256.hex(),
                "value": _map_value(d.value),
                "events": None
                if d.members is None
                else [{"index": i, "leaf_hash": h.hex()} for i, h in d.members],
                "proof": d.proof.to_json(),
            }
            for d in m.documents
        ],
    }


def fingerprints(ev: Evidence) -> list[str]:
    """Every document fingerprint (hex) the package's events name, sorted."""
    out: set[str] = set()
    for e in ev.events:
        for d in e.body()["documents"]:
            out.add(d["sha256"])
    return sorted(out)


def streams_json(ev: Evidence) -> list[dict[str, Any]]:
    """``streams.json``: per (tenant, stream), the event indices the package holds, and whether
    they are the stream's whole chain from its first event (a stream package's own stream and
    the envelope streams concerning it) or a selection (a query's; a seal's events naming the
    package's documents)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for e in ev.events:
        groups.setdefault((e.tenant, e.stream), []).append(e.index)
    sel = ev.selection.to_json()

    def complete(tenant: str, stream: str) -> bool:
        return layout.must_be_whole(sel, tenant, stream)

    return [
        {"tenant": t, "stream": s, "complete": complete(t, s), "events": idx}
        for (t, s), idx in sorted(groups.items())
    ]


def manifest(ev: Evidence, inputs: PackageInputs, files: Mapping[str, bytes]) -> dict[str, Any]:
    """The manifest object; ``files`` are all the other files (their SHA-256 are listed)."""
    docs = fingerprints(ev)
    portal = None
    if inputs.portal_url and docs:
        portal = f"{inputs.portal_url.rstrip('/')}/portal/#/fingerprint/{docs[0]}"
    return {
        "format": layout.FORMAT,
        "version": layout.VERSION,
        "created_at": inputs.created_at,
        "created_by": dict(inputs.created_by),
        "log": {"origin": ev.origin, "verifier_key": ev.verifier_key},
        "coverage": {
            "selection": ev.selection.to_json(),
            "events": len(ev.events),
            "first_index": ev.events[0].index,
            "last_index": ev.events[-1].index,
            "unsealed": ev.unsealed,
        },
        "target": {
            "size": ev.target.size,
            "root": ev.target.root.hex(),
            "reason": ev.target_reason,
        },
        "checkpoints": [
            {
                "size": c.size,
                "root": c.root.hex(),
                "created_at": c.created_at,
                "timestamp": c.size in ev.timestamps,
                "anchor": ev.anchor_status.get(c.size, "off"),
            }
            for c in ev.checkpoints
        ],
        "documents": [{"sha256": d, "included": d in inputs.documents} for d in docs],
        "portal": portal,
        "files": {n: hashlib.sha256(b).hexdigest() for n, b in sorted(files.items())},
    }


def package_files(ev: Evidence, inputs: PackageInputs, report_pdf: bytes) -> dict[str, bytes]:
    """Every file of the package, manifest included, by name."""
    named = set(fingerprints(ev))
    for fp in inputs.documents:
        if fp not in named:
            raise ValueError(f"document {fp} is not named by any event of the package")
        if hashlib.sha256(inputs.documents[fp]).hexdigest() != fp:
            raise ValueError(f"document {fp} does not have that SHA-256")
    files: dict[str, bytes] = {}
    for e in ev.events:
        files[layout.event_name(e.index)] = e.canonical
        p = ev.inclusion[e.index]
        files[layout.inclusion_name(e.index)] = _json(
            {
                "index": p.index,
                "size": p.size,
                "leaf_hash": p.leaf_hash.hex(),
                "proof": [h.hex() for h in p.proof],
            }
        )
    for c in ev.consistency:
        files[layout.consistency_name(c.old_size, c.new_size)] = _json(
            {"old_size": c.old_size, "new_size": c.new_size, "proof": [h.hex() for h in c.proof]}
        )
    for cp in ev.checkpoints:
        files[layout.note_name(cp.size)] = cp.note.encode()
        ts = ev.timestamps.get(cp.size)
        if ts is not None and ts.token is not None:
            files[layout.token_name(cp.size)] = ts.token
            if ts.renewals:  # the archive chain (TIMESTAMPS.md §8)
                files[layout.ers_name(cp.size)] = ers_json(ts.renewals)
        a = ev.anchors.get(cp.size)
        if a is not None:
            files[layout.anchor_name(cp.size)] = _json(anchor_receipt(a, cp.size))
    if ev.maps is not None:
        files[layout.MAP_PROOFS] = _json(map_proofs_json(ev.maps))
    files[layout.STREAMS] = _json(streams_json(ev))
    files[layout.LEDGER_KEY] = (ev.verifier_key + "\n").encode()
    files[layout.TSA_ROOTS] = inputs.tsa_roots_pem
    files[layout.SERVICE_SEAL] = inputs.service_seal_pem
    for fp, data in inputs.documents.items():
        files[layout.document_name(fp)] = data
    files[layout.REPORT_PDF] = report_pdf
    files[layout.VERIFY_MD] = verify_md(ev, inputs.documents.keys()).encode()
    files[layout.VERIFY_ZH_MD] = verify_zh_md(ev, inputs.documents.keys()).encode()
    files[layout.MANIFEST] = _json(manifest(ev, inputs, files))
    return files


#: the stream that records exports of query packages (a query has no one stream)
EXPORTS_STREAM = "sealtrail:exports"


def export_event(
    stream: str | None,
    digest: str,
    ev: Evidence,
    actor: dict[str, str],
    extra: Mapping[str, str | int] | None = None,
) -> dict[str, Any]:
    """The ``export`` event input recording a package (who exported what: FORMAT.md §8.7).

    ``stream``: the exported stream, or None for a query package (:data:`EXPORTS_STREAM`);
    ``digest``: the ZIP's SHA-256 (hex); ``actor``: an event actor (``id`` at least). Its
    ``client_event_id`` is derived from the digest, so recording one package twice (a retried
    append) stores one event. ``extra`` attributes go after the §8.7 ones.
    """
    return {
        "stream": stream or EXPORTS_STREAM,
        "type": "export",
        "actor": dict(actor),
        "client_event_id": f"export:{digest}",
        "attributes": {
            "package_sha256": digest,
            "package_format": f"{layout.FORMAT}/{layout.VERSION}",
            "events": len(ev.events),
            "first_index": ev.events[0].index,
            "last_index": ev.events[-1].index,
            "checkpoint": ev.target.size,
            **(extra or {}),
        },
    }
