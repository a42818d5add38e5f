"""The offline verifier of certification packages (docs/FORMAT.md §8.6).

:func:`verify_package` checks a package's bytes and returns a frozen
:class:`~.results.VerificationReport`; it never raises on bad content (a check fails instead)
and needs no database and no network — except, when the caller passes an
:class:`~.rpc.RpcAnchorChecker`, the JSON-RPC calls that check anchors. It depends on the
ledger's pure core, the pure RFC 3161 verifier and pyHanko's PDF validation.

This module runs the steps and holds those over the log itself (container, manifest, ledger
key, checkpoints, consistency, events, streams, timeline); :mod:`.external_checks` those over
what vouches for it from outside (timestamps, anchors, documents, the report's seal).

Steps, numbered as in FORMAT.md §8.6; a step that cannot run because an earlier one failed is
reported ``not_checked`` with reason ``blocked``.

Requires no running event loop in the calling thread (the PDF check runs pyHanko's validator
with ``asyncio.run``); services call it in a worker thread.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from cryptography import x509

from sealtrail.core.errors import SealtrailError
from sealtrail.core.event import decode_event
from sealtrail.core.merkle import leaf_hash, verify_consistency, verify_inclusion
from sealtrail.core.note import Checkpoint, NoteVerifier, verify_checkpoint
from sealtrail.core.vmap import map_root_of
from sealtrail.verifier import layout
from sealtrail.verifier.checkrun import CheckRun, loads
from sealtrail.verifier.completeness import check_completeness
from sealtrail.verifier.errors import UnreadablePackageError
from sealtrail.verifier.external_checks import (
    check_anchors,
    check_documents,
    check_report,
    check_report_facts,
    check_timestamps,
)
from sealtrail.verifier.renewal import check_renewals
from sealtrail.verifier.results import Check, Status, TimelineEntry, VerificationReport
from sealtrail.verifier.rpc import RpcAnchorChecker

_NOTE_RE = re.compile(r"checkpoints/([0-9]{12})\.note")
_EVENT_RE = re.compile(r"events/([0-9]{12})\.json")
DEFAULT_LIMITS = layout.Limits()
_MANIFEST_KEYS = frozenset(
    {
        "format",
        "version",
        "created_at",
        "created_by",
        "log",
        "coverage",
        "target",
        "checkpoints",
        "documents",
        "portal",
        "files",
    }
)


def verify_package(
    data: bytes,
    *,
    trust_roots: Sequence[x509.Certificate] = (),
    ledger_key: str | None = None,
    rpc: RpcAnchorChecker | None = None,
    at: datetime | None = None,
    limits: layout.Limits = DEFAULT_LIMITS,
    tsa_roots: Sequence[x509.Certificate] = (),
    seal_roots: Sequence[x509.Certificate] = (),
    ledger_keys: Sequence[str] = (),
) -> VerificationReport:
    """Verify the package in ``data`` (module docstring).

    ``trust_roots``: pinned roots for the TSA tokens and the report's seal; without them the
    package's own ``certs/`` are used and ``trust.roots`` is not checked. ``tsa_roots`` and
    ``seal_roots``, when given, pin each purpose apart (they take precedence over
    ``trust_roots`` for theirs). ``ledger_key``: the ledger's verifier key as published, or
    several in ``ledger_keys`` (the package's must be one of them); without any,
    ``trust.ledger_key`` is not checked. ``at``: validation time of the report's signature
    (default: now, pyHanko's default). :class:`~.verifier.Verifier` holds this trust material
    in one object.
    """
    pinned_tsa = tuple(tsa_roots) or tuple(trust_roots)
    pinned_seal = tuple(seal_roots) or tuple(trust_roots)
    pinned_keys = (*ledger_keys, *(() if ledger_key is None else (ledger_key,)))
    digest = hashlib.sha256(data).hexdigest()
    # 1. The container.
    try:
        files = layout.read_zip(data, limits)
    except UnreadablePackageError as e:
        check = Check("package.container", Status.FAILED, e.code, str(e))
        return VerificationReport(digest, (check,))
    run = CheckRun(files)
    run.add("package.container", [], len(files), f"{len(files)} entries within the caps", "")
    manifest = _manifest(run)
    if manifest is None:
        return VerificationReport(digest, tuple(run.checks))
    _step(run, "manifest.files", None, _files, run, manifest)
    verifier = _step(run, "ledger.key", None, _ledger_key, run, manifest, pinned_keys)
    notes = _step(run, "checkpoints.signatures", None, _checkpoints, run, manifest, verifier)
    target = notes.get(manifest["target"].get("size")) if notes is not None else None
    _step(run, "checkpoints.consistency", None, _consistency, run, notes)
    no_leaves: dict[int, tuple[bytes, dict[str, Any]]] = {}
    no_stamps: dict[int, str] = {}
    no_timeline: tuple[TimelineEntry, ...] = ()
    leaves = _step(run, "events.encoding", no_leaves, _events, run, manifest, target)
    _step(run, "streams.chains", None, _streams, run, manifest, leaves)
    _step(run, "streams.complete", None, check_completeness, run, manifest, target, leaves)
    stamps = _step(
        run, "timestamps.tokens", no_stamps, check_timestamps, run, manifest, notes, pinned_tsa,
        bool(pinned_seal),
    )  # fmt: skip
    _step(run, "timestamps.longterm", None, check_renewals, run, notes, pinned_tsa, at)
    _step(run, "anchors.receipts", None, check_anchors, run, manifest, notes, rpc)
    _step(run, "documents.fingerprints", None, check_documents, run, manifest, leaves)
    _step(run, "report.signature", None, check_report, run, pinned_seal, at, pinned_tsa)
    _step(run, "report.facts", None, check_report_facts, run, manifest, leaves, notes)
    timeline = _step(run, "timeline", no_timeline, _timeline, leaves, notes, stamps)
    coverage = manifest["coverage"] if isinstance(manifest["coverage"], dict) else {}
    return VerificationReport(digest, tuple(run.checks), dict(coverage), timeline)


_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError, UnicodeDecodeError)
_T = TypeVar("_T")


def _step(run: CheckRun, cid: str, default: _T, fn: Callable[..., _T], *args: Any) -> _T:
    """Run one step; a hostile value it trips over (a missing key, a wrong type) fails the
    step's check with reason ``malformed`` instead of crashing the verifier."""
    try:
        return fn(*args)
    except _MALFORMED as e:
        detail = f"malformed package data ({type(e).__name__}: {e})"
        run.checks.append(Check(cid, Status.FAILED, "malformed", detail[:300]))
        return default


# 2. manifest.json: strict JSON, the v1 keys, our format.
def _manifest(run: CheckRun) -> dict[str, Any] | None:
    raw = run.files.get(layout.MANIFEST)
    problems: list[str] = []
    obj: Any = None
    if raw is None:
        problems.append("manifest.json is missing")
    else:
        try:
            obj = loads(raw)
        except SealtrailError as e:
            problems.append(f"manifest.json is not valid JSON: {e}")
    if obj is not None:
        if not isinstance(obj, dict) or set(obj) != _MANIFEST_KEYS:
            got = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
            problems.append(f"manifest.json keys {got}, want {sorted(_MANIFEST_KEYS)}")
        elif obj["format"] != layout.FORMAT or obj["version"] not in layout.VERSIONS:
            problems.append(f"manifest.json format {obj['format']!r} v{obj['version']!r}")
        elif not isinstance(obj["files"], dict) or not isinstance(obj["checkpoints"], list):
            problems.append("manifest.json files/checkpoints have the wrong type")
    version = obj.get("version") if isinstance(obj, dict) else None
    ok = run.add("manifest.format", problems, 1, f"format v{version}", "bad_manifest")
    return obj if ok else None


# 3. Every other file is listed with its SHA-256; nothing more, nothing less.
def _files(run: CheckRun, m: dict[str, Any]) -> None:
    listed: dict[str, Any] = m["files"]
    problems = []
    for name, want in sorted(listed.items()):
        got = run.files.get(name)
        if got is None:
            problems.append(f"{name} is listed but missing")
        elif hashlib.sha256(got).hexdigest() != want:
            problems.append(f"{name}: SHA-256 differs from the manifest")
    for name in sorted(set(run.files) - set(listed) - {layout.MANIFEST}):
        problems.append(f"{name} is not listed in the manifest")
    run.add("manifest.files", problems, len(listed), f"{len(listed)} files match", "file_hash")


# 4. The ledger's verifier key.
def _ledger_key(run: CheckRun, m: dict[str, Any], pinned: Sequence[str]) -> NoteVerifier | None:
    text = run.files.get(layout.LEDGER_KEY, b"").decode("utf-8", "replace").strip()
    problems: list[str] = []
    verifier = None
    try:
        verifier = NoteVerifier.from_vkey(text)
    except (SealtrailError, ValueError) as e:
        problems.append(f"{layout.LEDGER_KEY}: {e}")
    if verifier is not None and m["log"] != {"origin": verifier.name, "verifier_key": text}:
        problems.append(f"{layout.LEDGER_KEY} does not match manifest.json log")
    run.add("ledger.key", problems, 1, f"log {verifier.name if verifier else '?'}", "bad_key")
    if problems:
        return None
    if not pinned:
        run.skip("trust.ledger_key", "not_pinned", "ledger key taken from the package; pin it")
    elif len(pinned) == 1:
        bad = [] if pinned[0].strip() == text else [f"package key {text} is not the pinned key"]
        run.add("trust.ledger_key", bad, 1, "matches the pinned key", "untrusted_key")
    else:
        known = {k.strip() for k in pinned}
        bad = [] if text in known else [f"package key {text} is none of the {len(known)} pinned"]
        run.add("trust.ledger_key", bad, 1, "matches a pinned key", "untrusted_key")
    return verifier


# 5. Every checkpoint note is signed by the ledger key; the manifest lists exactly them.
def _checkpoints(
    run: CheckRun, m: dict[str, Any], verifier: NoteVerifier | None
) -> dict[int, tuple[bytes, Checkpoint]] | None:
    if verifier is None:
        run.skip("checkpoints.signatures", "blocked", "no usable ledger key")
        return None
    problems: list[str] = []
    notes: dict[int, tuple[bytes, Checkpoint]] = {}
    for name in sorted(run.files):
        mt = _NOTE_RE.fullmatch(name)
        if not mt:
            continue
        try:
            cp = verify_checkpoint(run.files[name], verifier)
        except SealtrailError as e:
            problems.append(f"{name}: {e}")
            continue
        if cp.size != int(mt.group(1)):
            problems.append(f"{name}: holds size {cp.size}")
            continue
        try:
            map_root_of(cp.extensions)
        except ValueError as e:
            problems.append(f"{name}: {e}")
            continue
        notes[cp.size] = (run.files[name], cp)
    listed = [(c.get("size"), c.get("root")) for c in m["checkpoints"] if isinstance(c, dict)]
    have = [(s, cp.root.hex()) for s, (_, cp) in sorted(notes.items())]
    if not problems and listed != have:
        problems.append(f"manifest.json checkpoints {listed} differ from the notes {have}")
    target = m["target"]
    if not problems and (target.get("size"), target.get("root")) not in have:
        problems.append(f"target checkpoint {target.get('size')} has no signed note")
    ok = run.add(
        "checkpoints.signatures",
        problems,
        len(notes),
        f"{len(notes)} notes signed",
        "bad_checkpoint",
    )
    return notes if ok else None


# 6. Consecutive checkpoints are consistent (RFC 9162 §2.1.4.2).
def _consistency(run: CheckRun, notes: dict[int, tuple[bytes, Checkpoint]] | None) -> None:
    if notes is None:
        run.skip("checkpoints.consistency", "blocked", "checkpoints did not verify")
        return
    sizes = sorted(notes)
    problems: list[str] = []
    expected = {layout.consistency_name(a, b) for a, b in itertools.pairwise(sizes)}
    for name in sorted(n for n in run.files if n.startswith("proofs/consistency/")):
        if name not in expected:
            problems.append(f"{name} joins no two consecutive checkpoints")
    for a, b in itertools.pairwise(sizes):
        name = layout.consistency_name(a, b)
        try:
            p = loads(run.files[name])
            if (p["old_size"], p["new_size"]) != (a, b):
                raise ValueError(f"sizes {p['old_size']}->{p['new_size']}")
            path = [bytes.fromhex(h) for h in p["proof"]]
            verify_consistency(a, b, notes[a][1].root, notes[b][1].root, path)
        except KeyError:
            problems.append(f"{name} is missing")
        except (SealtrailError, ValueError, TypeError) as e:
            problems.append(f"{name}: {e}")
    run.add(
        "checkpoints.consistency",
        problems,
        len(expected),
        f"{len(expected)} proofs between {len(sizes)} checkpoints",
        "bad_consistency",
    )


# 7-8. Events: canonical bytes of valid events at the right index, proven in the target.
def _events(
    run: CheckRun, m: dict[str, Any], target: tuple[bytes, Checkpoint] | None
) -> dict[int, tuple[bytes, dict[str, Any]]]:
    problems: list[str] = []
    leaves: dict[int, tuple[bytes, dict[str, Any]]] = {}
    for name in sorted(run.files):
        mt = _EVENT_RE.fullmatch(name)
        if not mt:
            continue
        try:
            obj = decode_event(run.files[name])
        except SealtrailError as e:
            problems.append(f"{name}: {e}")
            continue
        if obj["index"] != int(mt.group(1)):
            problems.append(f"{name}: holds index {obj['index']}")
            continue
        leaves[obj["index"]] = (leaf_hash(run.files[name]), obj)
    cov = m["coverage"]
    idx = sorted(leaves)
    if not problems and (
        cov.get("events") != len(idx)
        or (idx and (cov.get("first_index"), cov.get("last_index")) != (idx[0], idx[-1]))
    ):
        problems.append(f"manifest.json coverage {cov} does not match the {len(idx)} events")
    run.add(
        "events.encoding", problems, len(leaves), f"{len(leaves)} canonical events", "bad_event"
    )
    if target is None:
        run.skip("events.inclusion", "blocked", "target checkpoint did not verify", len(leaves))
        return leaves
    cp = target[1]
    problems = []
    for name in sorted(n for n in run.files if n.startswith("proofs/inclusion/")):
        if int(name[17:29]) not in leaves:
            problems.append(f"{name} proves no event of the package")
    for i, (leaf, _) in sorted(leaves.items()):
        name = layout.inclusion_name(i)
        try:
            p = loads(run.files[name])
            if p["index"] != i or p["size"] != cp.size:
                raise ValueError(f"proves index {p['index']} in size {p['size']}")
            if p["leaf_hash"] != leaf.hex():
                problems.append(
                    f"{layout.event_name(i)}: its leaf hash {leaf.hex()} is not the one proven "
                    f"in {name} ({p['leaf_hash']})"
                )
                continue
            verify_inclusion(leaf, i, cp.size, [bytes.fromhex(h) for h in p["proof"]], cp.root)
        except KeyError:
            problems.append(f"{name} is missing")
        except (SealtrailError, ValueError, TypeError) as e:
            problems.append(f"{name}: {e}")
    run.add(
        "events.inclusion",
        problems,
        len(leaves),
        f"{len(leaves)} events in checkpoint {cp.size}",
        "bad_inclusion",
    )
    return leaves


# 9. Stream chains: each complete stream links from its first event, with no gap. What must
# be complete follows from the package's kind, never from a flag alone: in a stream package
# (coverage.selection.kind "stream") every stream is the whole chain, whatever streams.json's
# "complete" says (a flag flipped to false must not turn a gap into "not checked").
def _streams(
    run: CheckRun, manifest: dict[str, Any], leaves: dict[int, tuple[bytes, dict[str, Any]]]
) -> None:
    problems: list[str] = []
    try:
        streams = loads(run.files.get(layout.STREAMS, b""))
        listed = sorted(i for s in streams for i in s["events"])
        if listed != sorted(leaves):
            problems.append("streams.json does not list exactly the package's events")
        selection = manifest["coverage"].get("selection")
        stream_package = isinstance(selection, dict) and selection.get("kind") == "stream"
    except (SealtrailError, KeyError, TypeError, AttributeError) as e:
        run.add("streams.chains", [f"streams.json: {e}"], 0, "", "bad_streams")
        return
    partial = 0
    for s in streams if not problems else []:
        prev: str | None = None
        whole = layout.must_be_whole(selection, s["tenant"], s["stream"])
        complete = s["complete"] is True or whole
        if whole and s["complete"] is not True:
            problems.append(
                f"streams.json: stream {s['stream']!r} is marked partial in a stream package"
            )
        for n, i in enumerate(s["events"]):
            leaf, obj = leaves[i]
            where = f"streams.json: stream {s['stream']!r} event {i}"
            if (obj["tenant"], obj["stream"]) != (s["tenant"], s["stream"]):
                problems.append(f"{where} belongs to stream {obj['stream']!r}")
            elif complete and obj["prev"] != prev:
                what = "the stream's first event" if n == 0 else "the previous event"
                problems.append(f"{where}: prev {obj['prev']} does not link to {what}")
            prev = leaf.hex()
        partial += not complete
    if problems or partial < len(streams):
        detail = f"{len(streams) - partial} streams link from their first event"
        if stream_package and partial:
            detail += (
                f"; {partial} hold only the events naming the package's documents "
                "(documents.complete accounts for them)"
            )
        run.add("streams.chains", problems, len(streams), detail, "broken_chain")
    else:
        run.skip(
            "streams.chains",
            "partial_streams",
            f"{partial} streams hold a query's selection, not whole chains",
            partial,
        )


def _timeline(
    leaves: dict[int, tuple[bytes, dict[str, Any]]],
    notes: dict[int, tuple[bytes, Checkpoint]] | None,
    stamps: dict[int, str],
) -> tuple[TimelineEntry, ...]:
    sizes = sorted(notes or {})
    out = []
    for i, (leaf, obj) in sorted(leaves.items()):
        witness = next((s for s in sizes if s > i), None)
        actor = obj["actor"]
        out.append(
            TimelineEntry(
                index=i,
                tenant=obj["tenant"],
                stream=obj["stream"],
                type=obj["type"],
                actor=actor["name"] or actor["id"],
                recorded_at=obj["recorded_at"],
                leaf_hash=leaf.hex(),
                existed_by=stamps.get(witness) if witness is not None else None,
            )
        )
    return tuple(out)


def decode_root(note_line: str) -> bytes:
    """The root hash from a note's third line (base64): a helper for callers and tests."""
    return base64.b64decode(note_line)
