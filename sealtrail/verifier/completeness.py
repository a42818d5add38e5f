"""Completeness: the package holds a stream's whole history, and every event naming a document.

Step 10 of the verifier (docs/FORMAT.md §8.6, §8.8): ``proofs/map.json`` carries inclusion
proofs against the verifiable map (docs/MAP.md) that the target checkpoint's signed note
commits to in its ``sealtrail-map/v1`` line. The map root is taken from that note, never from
the file. Two checks:

* ``streams.complete`` — in a stream package, the selected stream's head as of the target
  (number of events, last index, last leaf hash) is proven, and it is exactly what the
  package's events give: dropping the tail changes the head; with ``streams.chains`` (which
  links the events from ``prev = null``) nothing in the middle can be missing either. A query
  package proves no stream complete, and says so (``not_checked``).
* ``documents.complete`` — for every document the events name, the document's value (the count
  and running hash of *every* event naming it as of the target, any tenant) is proven, and the
  listed (index, leaf hash) pairs recompute it; each of the package's events naming the
  document is among them. Events named but not in the package are counted as "named elsewhere"
  (held by index and leaf hash only).

What is complete follows from the proofs and the package's kind, never from a flag (the
``complete`` members of ``streams.json`` are informative).
"""

from __future__ import annotations

import re
from typing import Any

from sealtrail.core.errors import MapProofError, SealtrailError
from sealtrail.core.note import Checkpoint
from sealtrail.core.vmap import (
    DocumentEvents,
    StreamHead,
    document_events,
    document_key,
    map_root_of,
    proof_from_json,
    stream_key,
    verify_inclusion,
)
from sealtrail.verifier import layout
from sealtrail.verifier.checkrun import CheckRun, loads

#: the most document entries and listed document events ``proofs/map.json`` may hold
MAX_DOCUMENTS = 100_000
MAX_MEMBERS = 1_000_000
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_U64 = 1 << 64
_MAP_KEYS = frozenset({"size", "root", "streams", "documents"})
_STREAM_KEYS = frozenset({"tenant", "stream", "value", "proof"})
_DOC_KEYS = frozenset({"sha256", "value", "events", "proof"})
_VALUE_KEYS = frozenset({"count", "last_index", "hash"})
_MEMBER_KEYS = frozenset({"index", "leaf_hash"})

Leaves = dict[int, tuple[bytes, dict[str, Any]]]


class _Bad(Exception):
    """A malformed or failing part of ``proofs/map.json``: (reason code, detail)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _obj(value: object, keys: frozenset[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != keys:
        got = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise _Bad("malformed", f"{where}: members {got}, want {sorted(keys)}")
    return value


def _int(value: object, where: str) -> int:
    if type(value) is not int or not 0 <= value < _U64:
        raise _Bad("malformed", f"{where}: want an integer in [0, 2^64)")
    return value


def _hash(value: object, where: str) -> bytes:
    if not isinstance(value, str) or not _HEX64.match(value):
        raise _Bad("malformed", f"{where}: want 64 lowercase hex digits")
    return bytes.fromhex(value)


def _value(value: object, where: str) -> tuple[int, int, bytes]:
    v = _obj(value, _VALUE_KEYS, where)
    count, last = _int(v["count"], f"{where}.count"), _int(v["last_index"], f"{where}.last_index")
    if not 1 <= count <= last + 1:
        raise _Bad("malformed", f"{where}: need 1 <= count <= last_index + 1")
    return count, last, _hash(v["hash"], f"{where}.hash")


def _verify(root: bytes, key: bytes, value: bytes, proof: object, where: str) -> None:
    try:
        verify_inclusion(root, key, value, proof_from_json(proof))
    except MapProofError as e:
        raise _Bad("bad_map_proof", f"{where}: {e} [{e.reason}]") from None


def check_completeness(
    run: CheckRun,
    manifest: dict[str, Any],
    target: tuple[bytes, Checkpoint] | None,
    leaves: Leaves,
) -> None:
    """Record ``streams.complete`` and ``documents.complete`` (module docstring)."""
    ids = ("streams.complete", "documents.complete")
    if target is None:
        for cid in ids:
            run.skip(cid, "blocked", "the target checkpoint did not verify")
        return
    cp = target[1]
    raw = run.files.get(layout.MAP_PROOFS)
    if manifest["version"] == 1:
        if raw is not None:
            for cid in ids:
                run.add(
                    cid, [f"a format v1 package holds no {layout.MAP_PROOFS}"], 0, "", "bad_map"
                )
            return
        for cid in ids:
            run.skip(cid, "format_v1", "a format v1 package carries no map proofs")
        return
    try:
        root = map_root_of(cp.extensions)
    except ValueError as e:  # checkpoints.signatures rejects it first; kept for direct callers
        for cid in ids:
            run.add(cid, [f"checkpoint {cp.size}: {e}"], 0, "", "bad_checkpoint")
        return
    if root is None:
        if raw is not None:
            problem = (
                f"{layout.MAP_PROOFS} is given for checkpoint {cp.size}, sealed before the map"
            )
            for cid in ids:
                run.add(cid, [problem], 0, "", "bad_map")
            return
        for cid in ids:
            run.skip(
                cid,
                "before_map",
                f"the target checkpoint {cp.size} was sealed before the verifiable map: "
                "completeness cannot be proven",
            )
        return
    try:
        if raw is None:
            raise _Bad(
                "no_map_proofs",
                f"{layout.MAP_PROOFS} is missing, although checkpoint {cp.size} commits to a map",
            )
        try:
            parsed = loads(raw)
        except SealtrailError as x:
            raise _Bad("malformed", f"{layout.MAP_PROOFS}: {x}") from None
        m = _obj(parsed, _MAP_KEYS, layout.MAP_PROOFS)
        if m["size"] != cp.size or type(m["size"]) is not int:
            raise _Bad("bad_map", f"{layout.MAP_PROOFS} is for size {m['size']!r}, not {cp.size}")
        if m["root"] != root.hex():
            raise _Bad(
                "map_root_mismatch",
                f"{layout.MAP_PROOFS} root {str(m['root'])[:64]} is not the map root "
                f"{root.hex()} of checkpoint {cp.size}'s note",
            )
        if not isinstance(m["streams"], list) or not isinstance(m["documents"], list):
            raise _Bad("malformed", f"{layout.MAP_PROOFS}: streams and documents must be arrays")
    except _Bad as e:
        for cid in ids:
            run.add(cid, [e.detail], 0, "", e.reason)
        return
    _streams(run, manifest, root, cp.size, m["streams"], leaves)
    _documents(run, root, cp.size, m["documents"], leaves)


def _streams(
    run: CheckRun,
    manifest: dict[str, Any],
    root: bytes,
    size: int,
    entries: list[Any],
    leaves: Leaves,
) -> None:
    cid = "streams.complete"
    selection = manifest["coverage"].get("selection")
    whole = isinstance(selection, dict) and selection.get("kind") == "stream"
    held: dict[tuple[str, str], list[int]] = {}
    for i, (_, obj) in sorted(leaves.items()):
        held.setdefault((obj["tenant"], obj["stream"]), []).append(i)
    try:
        if not whole:
            if entries:
                raise _Bad("bad_map", "a query package holds no stream head proofs")
            run.skip(
                cid,
                "query_selection",
                "a query package holds a selection of events; it proves no stream complete",
                len(held),
            )
            return
        proven: dict[tuple[str, str], tuple[int, int, bytes]] = {}
        for n, entry in enumerate(entries):
            where = f"{layout.MAP_PROOFS} streams[{n}]"
            e = _obj(entry, _STREAM_KEYS, where)
            tenant, stream = e["tenant"], e["stream"]
            if not isinstance(tenant, str) or not isinstance(stream, str):
                raise _Bad("malformed", f"{where}: tenant and stream must be strings")
            if (tenant, stream) in proven:
                raise _Bad("bad_map", f"{where}: stream {stream!r} is proven twice")
            count, last, h = _value(e["value"], f"{where}.value")
            try:
                key = stream_key(tenant, stream)
            except ValueError as x:
                raise _Bad("malformed", f"{where}: {x}") from None
            _verify(root, key, StreamHead(count, last, h).encode(), e["proof"], where)
            proven[(tenant, stream)] = (count, last, h)
        want = {(selection.get("tenant"), selection.get("stream"))} | {
            (t, s) for (t, s) in held if layout.must_be_whole(selection, t, s)
        }
        problems: list[str] = []
        for t, s in sorted(want, key=repr):
            got = held.get((t, s), [])
            p = proven.get((t, s))
            if p is None:
                problems.append(
                    f"stream {s!r} of tenant {t!r}: no head proof in {layout.MAP_PROOFS}"
                )
                continue
            count, last, h = p
            mine = (len(got), got[-1], leaves[got[-1]][0]) if got else None
            if mine != (count, last, h):
                shown = f"{len(got)} events, the last at index {got[-1]}" if got else "no event"
                problems.append(
                    f"stream {s!r}: the map of checkpoint {size} proves {count} events, the "
                    f"last at index {last} (leaf {h.hex()[:16]}…); the package holds {shown}"
                )
        for t, s in sorted(set(proven) - want):
            problems.append(f"stream {s!r} of tenant {t!r} is proven but not the package's")
        n = sum(len(v) for k, v in held.items() if k in want)
        run.add(
            cid,
            problems,
            len(proven),
            f"the package holds all {n} events of {len(want)} whole "
            f"stream{'' if len(want) == 1 else 's'} as of checkpoint "
            f"{size} (their heads are proven in the map)",
            "incomplete_stream",
        )
    except _Bad as e:
        run.add(cid, [e.detail], len(entries), "", e.reason)


def _documents(run: CheckRun, root: bytes, size: int, entries: list[Any], leaves: Leaves) -> None:
    cid = "documents.complete"
    naming: dict[str, list[int]] = {}
    for i, (_, obj) in sorted(leaves.items()):
        for d in {d["sha256"] for d in obj["documents"]}:
            naming.setdefault(d, []).append(i)
    try:
        if len(entries) > MAX_DOCUMENTS:
            raise _Bad("too_many", f"{len(entries)} document proofs, at most {MAX_DOCUMENTS}")
        problems: list[str] = []
        proven: set[str] = set()
        unlisted: list[str] = []
        members_seen = 0
        elsewhere: set[int] = set()
        for n, entry in enumerate(entries):
            where = f"{layout.MAP_PROOFS} documents[{n}]"
            e = _obj(entry, _DOC_KEYS, where)
            sha = _hash(e["sha256"], f"{where}.sha256")
            if sha.hex() in proven:
                raise _Bad("bad_map", f"{where}: document {sha.hex()} is proven twice")
            count, last, chain = _value(e["value"], f"{where}.value")
            _verify(root, document_key(sha), DocumentEvents(count, last, chain).encode(),
                    e["proof"], where)  # fmt: skip
            proven.add(sha.hex())
            mine = naming.get(sha.hex())
            if mine is None:
                problems.append(
                    f"{where}: document {sha.hex()} is named by no event of the package"
                )
                continue
            if e["events"] is None:
                unlisted.append(sha.hex())
                continue
            if not isinstance(e["events"], list):
                raise _Bad("malformed", f"{where}.events: want an array or null")
            members_seen += len(e["events"])
            if members_seen > MAX_MEMBERS:
                raise _Bad("too_many", f"more than {MAX_MEMBERS} listed document events")
            pairs = []
            for k, item in enumerate(e["events"]):
                it = _obj(item, _MEMBER_KEYS, f"{where}.events[{k}]")
                i = _int(it["index"], f"{where}.events[{k}].index")
                if i >= size:
                    raise _Bad("malformed", f"{where}.events[{k}]: index {i} not below {size}")
                pairs.append((i, _hash(it["leaf_hash"], f"{where}.events[{k}].leaf_hash")))
            try:
                got = document_events(pairs)
            except ValueError as x:
                raise _Bad("malformed", f"{where}.events: {x}") from None
            if got != DocumentEvents(count, last, chain):
                problems.append(
                    f"document {sha.hex()}: the {len(pairs)} events listed do not give the "
                    f"proven value ({count} events, the last at index {last})"
                )
                continue
            listed = dict(pairs)
            for i in mine:
                if listed.get(i) != leaves[i][0]:
                    problems.append(
                        f"document {sha.hex()}: event {i} of the package is not among the "
                        "events naming it in the map"
                    )
            elsewhere.update(i for i, _ in pairs if i not in leaves)
        if problems:
            run.add(cid, problems, len(proven), "", "incomplete_document")
            return
        missing = sorted(set(naming) - proven)
        if missing or unlisted:
            parts = []
            if missing:
                parts.append(f"{len(missing)} documents have no map proof (e.g. {missing[0]})")
            if unlisted:
                parts.append(f"{len(unlisted)} documents are named by too many events to list")
            run.skip(cid, "not_proven", "; ".join(parts), len(missing) + len(unlisted))
            return
        detail = (
            f"every event naming each of the {len(proven)} "
            f"document{'' if len(proven) == 1 else 's'} as of checkpoint {size} is accounted for"
        )
        if elsewhere:
            shown = ", ".join(str(i) for i in sorted(elsewhere)[:10])
            more = ", …" if len(elsewhere) > 10 else ""
            detail += (
                f" ({len(elsewhere)} of them outside this package, known by index and leaf hash "
                f"in {layout.MAP_PROOFS}: events {shown}{more})"
            )
        run.add(cid, [], len(proven), detail, "ok")
    except _Bad as e:
        run.add(cid, [e.detail], len(entries), "", e.reason)
