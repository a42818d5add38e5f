"""The machine-readable facts of ``report.pdf`` (docs/FORMAT.md §8.10): what the sealed report
lists, as JSON embedded in the PDF *before* it is sealed, so that the seal's signature covers it.

Three parts, one idea (the facts):

* :func:`facts_object` — the facts, from primitives the builder has (the evidence) and the
  verifier recomputes (the package): one definition for both sides;
* :func:`embedded_facts` — the embedded file ``sealtrail-facts.json`` read from the PDF twice:
  from the revision the report's first signature covers (pyHanko's historical view of that
  revision, so an object added or replaced by a later incremental update is never read), and
  from the file as a whole (what ``pdfdetach`` shows). A later update that adds or replaces the
  facts thus shows as a difference between the two (ISO 32000-1 §7.5.6);
* :func:`compare_facts` — strict parsing (types, lengths, order) and the comparison with what
  the package proves, naming the first difference.

Nothing here trusts the facts: they are a claim of the report, sealed by the service, that the
verifier checks against the package's signed and hashed data.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sealtrail.core import strictjson
from sealtrail.core.canonical import canonicalize_restricted
from sealtrail.core.errors import SealtrailError

#: the embedded file's name (the EmbeddedFiles name tree key and the file specification's /F)
FACTS_NAME = "sealtrail-facts.json"
FACTS_MIME = "application/json"
FACTS_FORMAT = "sealtrail-report-facts"
FACTS_VERSION = 1
#: the facts' size cap: a base for the fixed members, plus per event and per fingerprint (an
#: event entry is ~90 bytes, a fingerprint 67); the facts must equal the package's anyway
FACTS_BASE_BYTES = 64 * 1024
FACTS_BYTES_PER_EVENT = 128
FACTS_BYTES_PER_DOCUMENT = 80
#: the most name-tree nodes and entries walked looking for the facts (hostile PDFs)
MAX_NAME_TREE_NODES = 1000
MAX_NAME_TREE_ENTRIES = 10_000
MAX_NAME_TREE_DEPTH = 16

_KEYS = ("format", "version", "log", "selection", "target", "events", "documents", "coverage")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_UINT = 2**53 - 1


def facts_object(
    *,
    origin: str,
    verifier_key: str,
    selection: Mapping[str, Any],
    target_size: int,
    target_root: bytes,
    map_root: bytes | None,
    events: Sequence[tuple[int, bytes]],
    documents: Sequence[str],
    unsealed: int,
) -> dict[str, Any]:
    """The facts object (FORMAT.md §8.10). Requires ``events`` as (log index, leaf hash) in
    index order (at least one) and ``documents`` as lowercase hex SHA-256, sorted."""
    return {
        "format": FACTS_FORMAT,
        "version": FACTS_VERSION,
        "log": {"origin": origin, "verifier_key": verifier_key},
        "selection": dict(selection),
        "target": {
            "size": target_size,
            "root": target_root.hex(),
            "map_root": None if map_root is None else map_root.hex(),
        },
        "events": [{"index": i, "leaf_hash": h.hex()} for i, h in events],
        "documents": list(documents),
        "coverage": {
            "events": len(events),
            "first_index": events[0][0],
            "last_index": events[-1][0],
            "unsealed": unsealed,
        },
    }


def facts_bytes(facts: Mapping[str, Any]) -> bytes:
    """The facts file: RFC 8785 (JCS) UTF-8, no trailing newline."""
    return canonicalize_restricted(dict(facts))


def facts_cap(events: int, documents: int) -> int:
    """The largest facts file a verifier reads for a package of that many events and
    fingerprints (larger: failed, before parsing or inflating further)."""
    return FACTS_BASE_BYTES + FACTS_BYTES_PER_EVENT * events + FACTS_BYTES_PER_DOCUMENT * documents


# Reading the embedded file -----------------------------------------------------------------


class FactsUnreadable(ValueError):
    """The PDF, its name tree or the embedded file cannot be read within the caps; the check
    fails with the message (never escapes the verifier)."""


@dataclass(frozen=True)
class EmbeddedFacts:
    """The facts file as found in ``report.pdf``.

    ``signed``: in the revision the report's first signature covers (None: not there, or no
    signature); ``latest``: in the file as a PDF reader sees it; ``revision``: that signed
    revision (0 the oldest), None without a signature; ``revisions``: how many the file has.
    """

    signed: bytes | None
    latest: bytes | None
    revision: int | None
    revisions: int


def embedded_facts(pdf: bytes, cap: int) -> EmbeddedFacts:
    """Find ``sealtrail-facts.json`` in ``pdf`` (module docstring), inflating at most ``cap``
    bytes of it. Raises :class:`FactsUnreadable` for a PDF or name tree it cannot read, a
    signature not covering its whole revision, a duplicate entry, an unsupported filter, or a
    file over ``cap``."""
    from pyhanko.sign.validation.status import SignatureCoverageLevel  # pyHanko: when needed

    from sealtrail.signing.pdfinput import PARSE_ERRORS, open_pdf

    try:
        opened = open_pdf(pdf, max_bytes=max(len(pdf), 1))
    except SealtrailError as e:
        raise FactsUnreadable(f"report.pdf: {e}") from None
    reader = opened.reader
    try:
        revisions = int(reader.xrefs.total_revisions)
        latest = _find(reader.root, cap)
        sigs = sorted(reader.embedded_regular_signatures, key=lambda s: s.signed_revision)
        if not sigs:
            return EmbeddedFacts(None, latest, None, revisions)
        first = sigs[0]
        coverage = first.evaluate_signature_coverage()
        if coverage not in (
            SignatureCoverageLevel.ENTIRE_FILE,
            SignatureCoverageLevel.ENTIRE_REVISION,
        ):
            raise FactsUnreadable(
                f"the report's first signature ({first.field_name}) does not cover its whole "
                "revision"
            )
        revision = int(first.signed_revision)
        signed = _find(reader.get_historical_resolver(revision).root, cap)
    except FactsUnreadable:
        raise
    except PARSE_ERRORS as e:
        raise FactsUnreadable(f"report.pdf: cannot read its embedded files ({e})"[:300]) from None
    return EmbeddedFacts(signed, latest, revision, revisions)


def _name_of(key: Any) -> bytes:
    from pyhanko.pdf_utils import generic

    if isinstance(key, generic.TextStringObject):
        return key.original_bytes  # type: ignore[no-any-return]
    if isinstance(key, (generic.ByteStringObject, bytes)):
        return bytes(key)
    raise FactsUnreadable(f"a name tree key is a {type(key).__name__}, not a string")


def _get(obj: Any, key: str, kind: str) -> Any:
    """``obj[key]`` resolved, of pyHanko's type ``kind`` (``dict``, ``array``, ``stream``), or
    None when absent."""
    from pyhanko.pdf_utils import generic

    types = {
        "dict": generic.DictionaryObject,
        "array": generic.ArrayObject,
        "stream": generic.StreamObject,
    }
    if not isinstance(obj, generic.DictionaryObject):
        raise FactsUnreadable(f"want a dictionary holding {key}, got {type(obj).__name__}")
    if key not in obj:
        return None
    value = obj.raw_get(key).get_object()
    if not isinstance(value, types[kind]):
        raise FactsUnreadable(f"{key} is a {type(value).__name__}, want a {kind}")
    return value


def _find(root: Any, cap: int) -> bytes | None:
    """The facts file in the EmbeddedFiles name tree of catalog ``root`` (ISO 32000-1 §7.9.6,
    §7.11.4), or None; at most one entry may bear the name."""
    names = _get(root, "/Names", "dict")
    tree = None if names is None else _get(names, "/EmbeddedFiles", "dict")
    if tree is None:
        return None
    found: list[Any] = []
    stack: list[tuple[Any, int]] = [(tree, 0)]
    nodes = entries = 0
    want = FACTS_NAME.encode()
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NAME_TREE_NODES or depth > MAX_NAME_TREE_DEPTH:
            raise FactsUnreadable("the EmbeddedFiles name tree is too large or too deep")
        pairs = _get(node, "/Names", "array")
        if pairs is not None:
            if len(pairs) % 2:
                raise FactsUnreadable("an EmbeddedFiles /Names array has an odd length")
            entries += len(pairs) // 2
            if entries > MAX_NAME_TREE_ENTRIES:
                raise FactsUnreadable("the EmbeddedFiles name tree has too many entries")
            for k in range(0, len(pairs), 2):
                if _name_of(pairs.raw_get(k).get_object()) == want:
                    found.append(pairs.raw_get(k + 1).get_object())
        kids = _get(node, "/Kids", "array")
        if kids is not None:
            if len(kids) > MAX_NAME_TREE_NODES:
                raise FactsUnreadable("the EmbeddedFiles name tree is too large")
            stack.extend((kids.raw_get(k).get_object(), depth + 1) for k in range(len(kids)))
    if not found:
        return None
    if len(found) > 1:
        raise FactsUnreadable(f"{len(found)} embedded files are named {FACTS_NAME}")
    return _content(found[0], cap)


def _content(spec: Any, cap: int) -> bytes:
    """The embedded file's decoded bytes. ``/EF`` may name it as ``/F``, ``/UF`` or both (then
    both must hold the same bytes: readers differ in which they show)."""
    ef = _get(spec, "/EF", "dict")
    if ef is None:
        raise FactsUnreadable(f"{FACTS_NAME}: the file specification embeds no file")
    streams = [s for s in (_get(ef, "/F", "stream"), _get(ef, "/UF", "stream")) if s is not None]
    if not streams:
        raise FactsUnreadable(f"{FACTS_NAME}: the file specification holds no stream")
    data = [_decoded(s, cap) for s in streams]
    if data[-1] != data[0]:
        raise FactsUnreadable(f"{FACTS_NAME}: its /EF /F and /UF streams differ")
    return data[0]


def _decoded(stream: Any, cap: int) -> bytes:
    """A stream's bytes: no filter or FlateDecode alone (what Sealtrail writes), inflated to at
    most ``cap`` bytes, completely (no truncated or trailing deflate data)."""
    from pyhanko.pdf_utils import generic

    given = stream.raw_get("/Filter").get_object() if "/Filter" in stream else None
    if isinstance(given, generic.ArrayObject):
        filters = [str(given.raw_get(k).get_object()) for k in range(len(given))]
    else:
        filters = [] if given is None else [str(given)]
    if "/DecodeParms" in stream or "/DP" in stream:
        raise FactsUnreadable(f"{FACTS_NAME}: decode parameters are not supported")
    raw = bytes(stream.encoded_data)
    if filters == []:
        data = raw
    elif filters == ["/FlateDecode"]:
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(raw, cap + 1)
        except zlib.error as e:
            raise FactsUnreadable(f"{FACTS_NAME}: bad deflate data ({e})") from None
        if len(data) <= cap and not (inflater.eof and not inflater.unused_data):
            raise FactsUnreadable(f"{FACTS_NAME}: truncated or trailing deflate data")
    else:
        raise FactsUnreadable(f"{FACTS_NAME}: filter {filters} is not supported")
    if len(data) > cap:
        raise FactsUnreadable(f"{FACTS_NAME} is larger than {cap} bytes")
    return data


# Parsing and comparing ---------------------------------------------------------------------


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise FactsUnreadable(f"{FACTS_NAME}: {what}")


def _uint(v: Any) -> bool:
    return type(v) is int and 0 <= v <= _MAX_UINT


def _keys(obj: Any, want: Sequence[str], where: str) -> None:
    _need(isinstance(obj, dict), f"{where} is not an object")
    _need(set(obj) == set(want), f"{where} has keys {sorted(obj)[:12]}, want {sorted(want)}")


def parse_facts(data: bytes, cap: int) -> dict[str, Any]:
    """Parse the facts strictly (§1.1's JSON, at most ``cap`` bytes) and check every member's
    type, length and order (FORMAT.md §8.10). Raises :class:`FactsUnreadable`."""
    try:
        obj = strictjson.loads(data, max_bytes=cap)
    except SealtrailError as e:
        raise FactsUnreadable(f"{FACTS_NAME}: {e}") from None
    _keys(obj, _KEYS, "the facts")
    _need(obj["format"] == FACTS_FORMAT, f"format {str(obj['format'])[:40]!r}")
    _need(type(obj["version"]) is int and obj["version"] == FACTS_VERSION, "version is not 1")
    _keys(obj["log"], ("origin", "verifier_key"), "log")
    _need(all(isinstance(v, str) for v in obj["log"].values()), "log members are not strings")
    _need(isinstance(obj["selection"], dict), "selection is not an object")
    t = obj["target"]
    _keys(t, ("size", "root", "map_root"), "target")
    _need(_uint(t["size"]), "target.size is not an unsigned integer")
    _need(isinstance(t["root"], str) and bool(_HEX64.fullmatch(t["root"])), "target.root")
    m = t["map_root"]
    _need(m is None or (isinstance(m, str) and bool(_HEX64.fullmatch(m))), "target.map_root")
    events = obj["events"]
    _need(isinstance(events, list) and len(events) > 0, "events is not a non-empty array")
    last = -1
    for n, item in enumerate(events):
        _keys(item, ("index", "leaf_hash"), f"events[{n}]")
        i, h = item["index"], item["leaf_hash"]
        _need(_uint(i) and i > last, f"events[{n}].index is out of order")
        _need(isinstance(h, str) and bool(_HEX64.fullmatch(h)), f"events[{n}].leaf_hash")
        last = i
    docs = obj["documents"]
    _need(isinstance(docs, list), "documents is not an array")
    for n, d in enumerate(docs):
        _need(isinstance(d, str) and bool(_HEX64.fullmatch(d)), f"documents[{n}] is not hex")
        _need(n == 0 or docs[n - 1] < d, f"documents[{n}] is out of order or repeated")
    c = obj["coverage"]
    _keys(c, ("events", "first_index", "last_index", "unsealed"), "coverage")
    _need(all(_uint(v) for v in c.values()), "coverage members are not unsigned integers")
    checked: dict[str, Any] = obj
    return checked


def _same(a: Any, b: Any) -> bool:
    """JSON equality that tells ``true`` from ``1`` (Python's ``==`` does not)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def first_difference(facts: Mapping[str, Any], want: Mapping[str, Any]) -> str | None:
    """The first member of ``facts`` (parsed) that differs from ``want`` (:func:`facts_object`
    of the package), in FORMAT.md §8.10's order, as a sentence; None when they agree."""
    for key in ("origin", "verifier_key"):
        if facts["log"][key] != want["log"][key]:
            got, exp = facts["log"][key][:80], want["log"][key][:80]
            return f"the report's log {key} is {got!r}, the package's is {exp!r}"
    if not _same(facts["selection"], want["selection"]):
        return "the report's selection differs from manifest.json coverage.selection"
    for key in ("size", "root", "map_root"):
        got, exp = facts["target"][key], want["target"][key]
        if got != exp:
            return f"the report's target checkpoint {key} is {got}, the package proves {exp}"
    listed = {e["index"]: e["leaf_hash"] for e in facts["events"]}
    held = {e["index"]: e["leaf_hash"] for e in want["events"]}
    for i in sorted(listed.keys() | held.keys()):
        if i not in held:
            return f"the report lists event {i}, which the package does not hold"
        if i not in listed:
            return f"the package holds event {i}, which the report does not list"
        if listed[i] != held[i]:
            return f"the report lists event {i} with leaf hash {listed[i]}, the package {held[i]}"
    got_docs, exp_docs = set(facts["documents"]), set(want["documents"])
    for d in sorted(got_docs ^ exp_docs):
        side = "the report lists" if d in got_docs else "the package's events name"
        return f"{side} document fingerprint {d}, the other does not"
    for key in ("events", "first_index", "last_index", "unsealed"):
        if facts["coverage"][key] != want["coverage"][key]:
            return (
                f"the report's coverage {key} is {facts['coverage'][key]}, the package's is "
                f"{want['coverage'][key]}"
            )
    return None


__all__ = [
    "FACTS_FORMAT",
    "FACTS_MIME",
    "FACTS_NAME",
    "FACTS_VERSION",
    "EmbeddedFacts",
    "FactsUnreadable",
    "embedded_facts",
    "facts_bytes",
    "facts_cap",
    "facts_object",
    "first_difference",
    "parse_facts",
]
