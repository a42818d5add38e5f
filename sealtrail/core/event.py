"""Events: validation of what integrators send, and the canonical stored form (pure; no I/O).

An integrator sends an :class:`EventInput` (see docs/FORMAT.md §Events); the sequencer adds the
tenant, the global index, the server time, a 128-bit random salt and the leaf hash of the
previous event of the same stream, giving an :class:`Event`. The event's canonical bytes are the
RFC 8785 encoding of its JSON object; its leaf hash is ``SHA-256(0x00 || bytes)``.

Time and randomness are parameters here: :func:`build_event` takes them from its caller.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from sealtrail.core import strictjson
from sealtrail.core.canonical import MAX_SAFE_INTEGER, canonicalize_checked, canonicalize_restricted
from sealtrail.core.errors import EncodingError, EventValidationError

EVENT_VERSION = 1
SALT_SIZE = 16
MAX_EVENT_BYTES = 64 * 1024
#: room left for the server's fields (index, tenant, time, salt, prev: under 400 bytes).
MAX_INPUT_BYTES = MAX_EVENT_BYTES - 512

#: Built-in event types. Tenants add their own as ``namespace:name``.
CORE_TYPES = frozenset(
    {"initiate", "approve", "reject", "sign", "view", "download", "revoke", "export"}
)

INPUT_FIELDS = (
    "stream",
    "type",
    "actor",
    "documents",
    "occurred_at",
    "client_event_id",
    "attributes",
)
_REQUIRED = ("stream", "type", "actor")
ACTOR_FIELDS = ("id", "name", "org", "role")
DOCUMENT_FIELDS = ("name", "sha256")
STORED_FIELDS = frozenset((*INPUT_FIELDS, "v", "index", "tenant", "recorded_at", "salt", "prev"))
#: the allowed field names as sets, for :func:`_no_unknown`'s one-comparison common case
_ALLOWED_SETS: dict[tuple[str, ...] | frozenset[str], frozenset[str]] = {
    fields: frozenset(fields) for fields in (INPUT_FIELDS, ACTOR_FIELDS, DOCUMENT_FIELDS)
}
_ALLOWED_SETS[STORED_FIELDS] = STORED_FIELDS
_INPUT_SET = _ALLOWED_SETS[INPUT_FIELDS]
_ACTOR_SET = _ALLOWED_SETS[ACTOR_FIELDS]
_DOCUMENT_SET = _ALLOWED_SETS[DOCUMENT_FIELDS]
_MISSING: Any = object()

_TENANT_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?\Z")
_CUSTOM_TYPE_RE = re.compile(r"[a-z][a-z0-9-]{0,31}:[a-z][a-z0-9_.-]{0,63}\Z")
_ATTR_KEY_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}\Z")
_HEX64_RE = re.compile(r"[0-9a-fA-F]{64}\Z")
_HEX32_RE = re.compile(r"[0-9a-f]{32}\Z")
_PREV_RE = re.compile(r"[0-9a-f]{64}\Z")
_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})\Z"
)
_SECONDS_Z_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")
_NORMAL_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
# C0, DEL, C1 controls and lone surrogates; free text may also hold tab, LF and CR.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TEXT_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

#: Unicode general categories refused in names and identifiers (not in free text): controls,
#: format characters (bidirectional overrides and isolates U+202A-202E, U+2066-2069, marks
#: U+200E/F, zero-width characters, soft hyphen…), line and paragraph separators. They make a
#: name display differently from what it is (docs/FORMAT.md §1.1).
DISPLAY_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
#: Format characters that human names need and that reorder nothing: ZERO WIDTH NON-JOINER and
#: ZERO WIDTH JOINER (Persian and Indic names, emoji sequences); allowed in actor.name and
#: actor.org only.
_JOINERS = frozenset({"\u200c", "\u200d"})
_HUMAN_NAME_FIELDS = frozenset({"actor.name", "actor.org"})

_LIMITS = {
    "stream": 256,
    "client_event_id": 128,
    "actor.id": 128,
    "actor.name": 256,
    "actor.org": 256,
    "actor.role": 64,
    "documents[].name": 512,
}
_ACTOR_RULES = tuple((k, f"actor.{k}", _LIMITS[f"actor.{k}"]) for k in ACTOR_FIELDS)
MAX_DOCUMENTS = 100
MAX_ATTRIBUTES = 64
MAX_ATTRIBUTE_TEXT = 4096


def _fail(field: str, message: str) -> EventValidationError:
    return EventValidationError(field, message)


def _text(value: Any, field: str, limit: int, *, free: bool = False, display: bool = True) -> str:
    """Check a string; ``free`` text (attribute values) may be empty and hold tab, LF, CR.
    Names (not ``free``) must also pass :func:`display_problem` when ``display`` (new input;
    events stored before that rule existed are read without it)."""
    if type(value) is not str:
        raise _fail(field, f"want a string, got {_json_type(value)}")
    if not value and not free:
        raise _fail(field, "must not be empty")
    if len(value) > limit:
        raise _fail(field, f"has {len(value)} characters, want at most {limit}")
    if value.isprintable():
        # The common case, in one C-level pass: str.isprintable() is false for every character
        # of categories Cc, Cf, Zl, Zp and Cs (and Zs other than U+0020, Co, Cn), so a printable
        # string holds no control, no lone surrogate and nothing display_problem refuses; only
        # the edge white space is left to check (U+0020 is printable).
        if not free and (value[0] == " " or value[-1] == " "):
            raise _fail(field, "has leading or trailing white space")
        return value
    bad = (_TEXT_CONTROL_RE if free else _CONTROL_RE).search(value)
    if bad:
        c = ord(bad.group())
        if 0xD800 <= c <= 0xDFFF:
            raise _fail(field, "holds a lone surrogate")
        raise _fail(field, f"holds control character U+{c:04X}")
    if not free and (value[0].isspace() or value[-1].isspace()):
        raise _fail(field, "has leading or trailing white space")
    if display and not free:
        problem = display_problem(value, allow_joiners=field in _HUMAN_NAME_FIELDS)
        if problem:
            raise _fail(field, problem)
    return value


def display_problem(value: str, *, allow_joiners: bool = False) -> str | None:
    """Why ``value`` cannot be a displayed name or identifier, or None if it can.

    Refused: any character of :data:`DISPLAY_REFUSED_CATEGORIES` (e.g. U+202E RIGHT-TO-LEFT
    OVERRIDE, which makes ``"inv\u202efdp.exe"`` display as ``"invexe.pdf"``); with
    ``allow_joiners``, U+200C and U+200D are accepted. Other scripts (CJK, Arabic, …) pass.
    """
    for ch in value:
        cat = unicodedata.category(ch)
        if cat in DISPLAY_REFUSED_CATEGORIES and not (allow_joiners and ch in _JOINERS):
            what = {"Cc": "control", "Cf": "format", "Zl": "line separator"}.get(
                cat, "paragraph separator"
            )
            name = unicodedata.name(ch, "")
            named = f" ({name})" if name else ""
            return (
                f"holds {what} character U+{ord(ch):04X}{named}, which makes it display "
                "differently from what it is"
            )
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _object(value: Any, field: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise _fail(field, f"want an object, got {_json_type(value)}")
    return value


def _no_unknown(obj: dict[str, Any], allowed: tuple[str, ...] | frozenset[str], field: str) -> None:
    if obj.keys() <= _ALLOWED_SETS.get(allowed, frozenset()):
        return
    for k in obj:
        if k not in allowed:
            where = f"{field}.{k}" if field else k
            raise _fail(where, f"unknown field (allowed: {', '.join(sorted(allowed))})")


def format_time(t: datetime) -> str:
    """RFC 3339 UTC, always six fraction digits and ``Z`` (fixed width: sorts as text).

    Requires an aware datetime.
    """
    if t.tzinfo is None:
        raise ValueError("naive datetime")
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(value: Any, field: str) -> str:
    """Validate an RFC 3339 timestamp and return it normalised by :func:`format_time`."""
    if type(value) is not str:
        raise _fail(field, f"want an RFC 3339 time string, got {_json_type(value)}")
    short = _SECONDS_Z_RE.match(value) is not None  # the common '…:SSZ': add the fraction
    if short or _NORMAL_TIME_RE.match(value):  # (already) normal form: the date must exist
        try:
            datetime.fromisoformat(value[:19])
        except ValueError as e:
            raise _fail(field, f"not a valid time: {e}") from None
        return value[:19] + ".000000Z" if short else value
    m = _TIME_RE.match(value)
    if not m:
        raise _fail(field, f"want an RFC 3339 time like 2026-11-24T10:00:00Z, got {value[:40]!r}")
    frac = m.group(7) or ""
    if len(frac) > 6 and frac[6:].strip("0"):
        raise _fail(field, "more precision than microseconds")
    iso = value[:19].replace("t", "T") + (f".{frac[:6]}" if frac else "")
    zone = m.group(8)
    if zone not in ("Z", "z") and (int(zone[1:3]) > 23 or int(zone[4:6]) > 59):
        raise _fail(field, f"offset {zone} is out of range")
    iso += "+00:00" if zone in ("Z", "z") else zone
    try:
        return format_time(datetime.fromisoformat(iso))
    except (ValueError, OverflowError) as e:
        raise _fail(field, f"not a valid time: {e}") from None


@dataclass(frozen=True, slots=True)
class EventInput:
    """A validated, normalised event as an integrator sent it (no server-side fields)."""

    stream: str
    type: str
    actor: dict[str, str | None]
    documents: list[dict[str, str]]
    occurred_at: str | None
    client_event_id: str | None
    attributes: dict[str, str | int | bool | None]

    def body(self) -> dict[str, Any]:
        """The input fields as a JSON object, as they appear in the stored event."""
        return {
            "stream": self.stream,
            "type": self.type,
            "actor": self.actor,
            "documents": self.documents,
            "occurred_at": self.occurred_at,
            "client_event_id": self.client_event_id,
            "attributes": self.attributes,
        }


def validate_tenant(value: Any) -> str:
    """Return ``value`` if it is a tenant id: 1-64 of ``a-z 0-9 -``, no leading/trailing dash."""
    if type(value) is not str or not _TENANT_RE.match(value):
        raise _fail("tenant", f"want 1-64 characters of a-z, 0-9 and '-', got {value!r}")
    return value


def parse_event_input(obj: Any, *, display_rules: bool = True) -> EventInput:
    """Validate one integrator event (a parsed JSON object); raise EventValidationError.

    ``display_rules`` (new input) also refuses names that display differently from what they
    are (:func:`display_problem`); stored events are decoded without it, so that events
    appended before the rule keep verifying."""
    inp = _input_fast(obj)
    if inp is not None:
        return inp
    o = _object(obj, "")
    _no_unknown(o, INPUT_FIELDS, "")
    for k in _REQUIRED:
        if k not in o:
            raise _fail(k, "is required")
    stream = _text(o["stream"], "stream", _LIMITS["stream"], display=display_rules)
    etype = o["type"]
    if type(etype) is not str:
        raise _fail("type", f"want a string, got {_json_type(etype)}")
    if etype not in CORE_TYPES and not _CUSTOM_TYPE_RE.match(etype):
        raise _fail(
            "type",
            f"unknown type {etype[:64]!r}: want one of {', '.join(sorted(CORE_TYPES))} "
            "or a custom 'namespace:name'",
        )
    actor_in = _object(o["actor"], "actor")
    _no_unknown(actor_in, ACTOR_FIELDS, "actor")
    if "id" not in actor_in:
        raise _fail("actor.id", "is required")
    actor: dict[str, str | None] = {}
    for k, field, limit in _ACTOR_RULES:
        v = actor_in.get(k)
        actor[k] = (
            None if v is None and k != "id" else _text(v, field, limit, display=display_rules)
        )
    documents = _documents(o["documents"], display_rules) if "documents" in o else []
    occurred = o.get("occurred_at")
    occurred_at = None if occurred is None else parse_time(occurred, "occurred_at")
    cid = o.get("client_event_id")
    client_event_id = (
        None
        if cid is None
        else _text(cid, "client_event_id", _LIMITS["client_event_id"], display=display_rules)
    )
    attributes = _attributes(o["attributes"]) if "attributes" in o else {}
    inp = EventInput(stream, etype, actor, documents, occurred_at, client_event_id, attributes)
    size = len(canonicalize_checked(inp.body()))
    if size > MAX_INPUT_BYTES:
        raise _fail("", f"event encodes to {size} bytes, want at most {MAX_INPUT_BYTES}")
    return inp


def _plain(value: Any, limit: int) -> bool:
    """True if ``value`` passes :func:`_text` as a name, display rules included (see there)."""
    return (
        type(value) is str
        and 0 < len(value) <= limit
        and value.isprintable()
        and value[0] != " "
        and value[-1] != " "
    )


def _input_fast(o: Any) -> EventInput | None:
    """:func:`parse_event_input`'s common case in one pass: the same event, or None.

    It accepts only what the full rules accept, whatever ``display_rules`` (its names are
    printable, so :func:`display_problem` has nothing to refuse), and returns what they would;
    None leaves the decision, and the error message, to them.
    """
    if type(o) is not dict or not o.keys() <= _INPUT_SET:
        return None
    stream: Any = o.get("stream")
    etype = o.get("type")
    actor_in = o.get("actor")
    if not (
        _plain(stream, 256)
        and type(etype) is str
        and (etype in CORE_TYPES or _CUSTOM_TYPE_RE.match(etype))
        and type(actor_in) is dict
        and actor_in.keys() <= _ACTOR_SET
    ):
        return None
    actor_id = actor_in.get("id")
    name = actor_in.get("name")
    org = actor_in.get("org")
    role = actor_in.get("role")
    if not (
        _plain(actor_id, 128)
        and (name is None or _plain(name, 256))
        and (org is None or _plain(org, 256))
        and (role is None or _plain(role, 64))
    ):
        return None
    docs_in = o.get("documents", _MISSING)
    documents: list[dict[str, str | None]] = []
    if docs_in is not _MISSING:
        if type(docs_in) is not list or len(docs_in) > MAX_DOCUMENTS:
            return None
        for d in docs_in:
            if type(d) is not dict or not d.keys() <= _DOCUMENT_SET:
                return None
            digest = d.get("sha256")
            doc_name = d.get("name")
            if (
                type(digest) is not str
                or not _HEX64_RE.match(digest)
                or not (doc_name is None or _plain(doc_name, 512))
            ):
                return None
            documents.append({"name": doc_name, "sha256": digest.lower()})
    occurred = o.get("occurred_at")
    occurred_at = None
    if occurred is not None:
        try:
            occurred_at = parse_time(occurred, "occurred_at")
        except EventValidationError:
            return None
    cid = o.get("client_event_id")
    if cid is not None and not _plain(cid, 128):
        return None
    attrs_in = o.get("attributes", _MISSING)
    attributes: dict[str, str | int | bool | None] = {}
    if attrs_in is not _MISSING:
        if type(attrs_in) is not dict or len(attrs_in) > MAX_ATTRIBUTES:
            return None
        for k, v in attrs_in.items():
            if not _ATTR_KEY_RE.match(k):
                return None
            if v is None or v is True or v is False:
                continue
            t = type(v)
            if t is str:
                if len(v) > MAX_ATTRIBUTE_TEXT or not v.isprintable():
                    return None
            elif t is not int or not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                return None
        attributes = dict(attrs_in)
    inp = EventInput(
        stream,
        etype,
        {"id": actor_id, "name": name, "org": org, "role": role},
        documents,  # type: ignore[arg-type]
        occurred_at,
        cid,
        attributes,
    )
    if len(canonicalize_checked(inp.body())) > MAX_INPUT_BYTES:
        return None
    return inp


def _documents(value: Any, display: bool) -> list[dict[str, str]]:
    if type(value) is not list:
        raise _fail("documents", f"want an array, got {_json_type(value)}")
    if len(value) > MAX_DOCUMENTS:
        raise _fail("documents", f"has {len(value)} entries, want at most {MAX_DOCUMENTS}")
    out = []
    for i, d in enumerate(value):
        f = f"documents[{i}]"
        d = _object(d, f)
        _no_unknown(d, DOCUMENT_FIELDS, f)
        if "sha256" not in d:
            raise _fail(f"{f}.sha256", "is required")
        digest = d["sha256"]
        if type(digest) is not str or not _HEX64_RE.match(digest):
            got = f"{len(digest)} characters" if type(digest) is str else _json_type(digest)
            raise _fail(f"{f}.sha256", f"want 64 hex digits, got {got}")
        name = d.get("name")
        out.append(
            {
                "name": None if name is None else _text(name, f"{f}.name", 512, display=display),
                "sha256": digest.lower(),
            }
        )
    return out  # type: ignore[return-value]


def _attributes(value: Any) -> dict[str, str | int | bool | None]:
    a = _object(value, "attributes")
    if len(a) > MAX_ATTRIBUTES:
        raise _fail("attributes", f"has {len(a)} keys, want at most {MAX_ATTRIBUTES}")
    for k, v in a.items():
        if not _ATTR_KEY_RE.match(k):
            raise _fail(
                f"attributes.{k}", "key must be a letter then up to 63 of A-Z a-z 0-9 _ . -"
            )
        if v is None or v is True or v is False:
            continue
        t = type(v)
        if t is str:
            if len(v) > MAX_ATTRIBUTE_TEXT or not v.isprintable():  # else: nothing to refuse
                _text(v, f"attributes.{k}", MAX_ATTRIBUTE_TEXT, free=True)
        elif t is int:
            if not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                raise _fail(
                    f"attributes.{k}", "integer is beyond ±(2**53 - 1); send it as a string"
                )
        else:
            raise _fail(
                f"attributes.{k}",
                f"want a string, integer, boolean or null, got {_json_type(v)}"
                " (send fractions as strings)",
            )
    return dict(a)


@dataclass(frozen=True, slots=True)
class Event:
    """A stored event: its canonical bytes, leaf hash and the fields the store indexes."""

    index: int
    tenant: str
    stream: str
    client_event_id: str | None
    canonical: bytes
    leaf_hash: bytes
    type: str = ""
    actor_id: str = ""
    recorded_at: str = ""

    def body(self) -> dict[str, Any]:
        """The event's JSON object, parsed from its canonical bytes.

        Requires bytes this ledger wrote (it reads them with orjson, fast); an auditor checking
        bytes it does not trust uses :func:`decode_event`, which is strict.
        """
        body: dict[str, Any] = orjson.loads(self.canonical)
        return body

    def input_body(self) -> dict[str, Any]:
        """The integrator's fields only, for comparing a retried request with this event."""
        b = self.body()
        return {k: b[k] for k in INPUT_FIELDS}

    def to_json(self) -> dict[str, Any]:
        """The event object plus its ``leaf_hash`` (hex), as the API and CLI print it."""
        return {**self.body(), "leaf_hash": self.leaf_hash.hex()}


def build_event(
    inp: EventInput,
    *,
    tenant: str,
    index: int,
    recorded_at: str,
    salt: bytes,
    prev: bytes | None,
) -> Event:
    """Complete ``inp`` with the server's fields and encode it.

    Requires: ``inp`` from :func:`parse_event_input`; ``tenant`` valid; ``recorded_at`` from
    :func:`format_time`; ``salt`` 16 random bytes; ``prev`` the previous stream leaf hash or None.
    """
    if len(salt) != SALT_SIZE:
        raise ValueError(f"salt has {len(salt)} bytes, want {SALT_SIZE}")
    obj = inp.body()
    obj["v"] = EVENT_VERSION
    obj["index"] = index
    obj["tenant"] = tenant
    obj["recorded_at"] = recorded_at
    obj["salt"] = salt.hex()
    obj["prev"] = None if prev is None else prev.hex()
    data = canonicalize_checked(obj)
    if len(data) > MAX_EVENT_BYTES:
        raise _fail("", f"event encodes to {len(data)} bytes, want at most {MAX_EVENT_BYTES}")
    return Event(
        index,
        tenant,
        inp.stream,
        inp.client_event_id,
        data,
        hashlib.sha256(b"\x00" + data).digest(),
        inp.type,
        inp.actor["id"] or "",
        recorded_at,
    )


def decode_event(data: bytes) -> dict[str, Any]:
    """Parse stored canonical bytes and check they are a well-formed event.

    Returns the event object. Raises :class:`EventValidationError` (or :class:`InvalidInputError`
    for bytes that are not strict JSON) when the bytes are not the canonical encoding of a valid
    event (this is what an auditor or verifier calls).

    Two paths, one answer. The fast one parses with orjson, checks every field rule, rebuilds the
    event from its *validated, normalised* fields and requires the canonical encoding of that
    to equal ``data`` byte for byte. Whatever the strict reader refuses cannot survive that
    comparison: orjson refuses invalid UTF-8, ``NaN``, lone surrogates and trailing data; a
    duplicate key, white space, a byte order mark, an escape or number spelt otherwise, a float,
    a non-normal field or another key order all re-encode to different bytes; the field rules
    bound every integer and string. So the fast path accepts only bytes the strict path below
    accepts, returning the same object. Anything it refuses goes through the strict path, which
    gives the error (with the strict path's messages) or, should it accept, its answer.
    """
    raw = bytes(data)
    if len(raw) <= MAX_EVENT_BYTES:
        # any refusal of the fast path, whatever its type, is settled by the strict path
        with suppress(Exception):
            return _decode_fast(raw)
    return _decode_strict(raw)


def _decode_fast(data: bytes) -> dict[str, Any]:
    o = orjson.loads(data)
    if type(o) is not dict or o.keys() != STORED_FIELDS:
        raise ValueError("not the stored fields")
    index = o["index"]
    if (
        o["v"] != EVENT_VERSION
        or type(o["v"]) is not int
        or type(index) is not int
        or not 0 <= index <= MAX_SAFE_INTEGER
    ):
        raise ValueError("v or index")
    tenant = validate_tenant(o["tenant"])
    recorded_at = o["recorded_at"]
    if type(recorded_at) is not str or parse_time(recorded_at, "recorded_at") != recorded_at:
        raise ValueError("recorded_at")
    salt = o["salt"]
    if type(salt) is not str or not _HEX32_RE.match(salt):
        raise ValueError("salt")
    prev = o["prev"]
    if prev is not None and (type(prev) is not str or not _PREV_RE.match(prev)):
        raise ValueError("prev")
    rebuilt = parse_event_input({k: o[k] for k in INPUT_FIELDS}, display_rules=False).body()
    rebuilt["v"] = EVENT_VERSION
    rebuilt["index"] = index
    rebuilt["tenant"] = tenant
    rebuilt["recorded_at"] = recorded_at
    rebuilt["salt"] = salt
    rebuilt["prev"] = prev
    if canonicalize_checked(rebuilt) != data:
        raise ValueError("not the canonical encoding of the rebuilt event")
    return o


def _decode_strict(data: bytes) -> dict[str, Any]:
    """:func:`decode_event` the slow way: the strict reader, then each rule with its message."""
    obj = strictjson.loads(data)
    o = _object(obj, "")
    _no_unknown(o, STORED_FIELDS, "")
    missing = STORED_FIELDS - o.keys()
    if missing:
        raise _fail(sorted(missing)[0], "is required in a stored event")
    if type(o["v"]) is not int or o["v"] != EVENT_VERSION:
        raise _fail("v", f"unsupported event version {o['v']!r}, want {EVENT_VERSION}")
    if type(o["index"]) is not int or o["index"] < 0:
        raise _fail("index", f"want a non-negative integer, got {o['index']!r}")
    validate_tenant(o["tenant"])
    if parse_time(o["recorded_at"], "recorded_at") != o["recorded_at"]:
        raise _fail("recorded_at", "is not in normal form")
    if type(o["salt"]) is not str or not _HEX32_RE.match(o["salt"]):
        raise _fail("salt", "want 32 lowercase hex digits")
    prev = o["prev"]
    if prev is not None and (type(prev) is not str or not _PREV_RE.match(prev)):
        raise _fail("prev", "want 64 lowercase hex digits or null")
    inp = parse_event_input({k: o[k] for k in INPUT_FIELDS}, display_rules=False)
    if inp.body() != {k: o[k] for k in INPUT_FIELDS}:
        raise _fail("", "input fields are not in normal form")
    try:
        canonical = canonicalize_restricted(o)
    except EncodingError as e:
        raise _fail("", f"not an exactly encodable event: {e}") from None
    if canonical != bytes(data):
        raise _fail("", "bytes are not the RFC 8785 encoding of the event")
    return o
