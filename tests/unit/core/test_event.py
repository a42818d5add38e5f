"""Tests for sealtrail.core.event: integrator input validation, the stored event, times.

Each validation rule of docs/FORMAT.md §1.1 has a negative test that names the mutation it
applies to the documented example and asserts the EventValidationError's ``field``. Random valid
inputs (Hypothesis) are covered in test_canonical.py, which checks their encoding.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from sealtrail.api.error_codes import http_status_for
from sealtrail.core import event as ev
from sealtrail.core.canonical import MAX_SAFE_INTEGER, canonicalize
from sealtrail.core.errors import EventValidationError, InvalidInputError

DIGEST = hashlib.sha256(b"contract.pdf").hexdigest()
SALT = bytes(range(16))
PREV = hashlib.sha256(b"previous").digest()
RECORDED_AT = "2026-11-24T02:00:00.000000Z"

#: The example of docs/FORMAT.md §1.1 (with a real digest, upper case to test normalisation).
EXAMPLE: dict[str, Any] = {
    "stream": "contract:2026-0001",
    "type": "sign",
    "actor": {"id": "u-42", "name": "Li Lei", "org": "Acme Ltd", "role": "legal-person"},
    "documents": [{"name": "contract.pdf", "sha256": DIGEST.upper()}],
    "occurred_at": "2026-11-24T10:00:00Z",
    "client_event_id": "erp-7781",
    "attributes": {"ip": "203.0.113.7", "seal_id": "seal-1", "remarks": "for tender 17 only"},
}


def example(**changes: Any) -> dict[str, Any]:
    """A deep copy of EXAMPLE with top-level fields replaced (``...`` deletes one)."""
    obj = copy.deepcopy(EXAMPLE)
    for k, v in changes.items():
        if v is ...:
            del obj[k]
        else:
            obj[k] = v
    return obj


def with_actor(**changes: Any) -> dict[str, Any]:
    actor = dict(EXAMPLE["actor"])
    for k, v in changes.items():
        if v is ...:
            del actor[k]
        else:
            actor[k] = v
    return example(actor=actor)


def with_document(**changes: Any) -> dict[str, Any]:
    doc = dict(EXAMPLE["documents"][0])
    for k, v in changes.items():
        if v is ...:
            del doc[k]
        else:
            doc[k] = v
    return example(documents=[doc])


def with_attributes(**changes: Any) -> dict[str, Any]:
    return example(attributes={**EXAMPLE["attributes"], **changes})


def build(obj: dict[str, Any] | None = None, **kw: Any) -> ev.Event:
    args: dict[str, Any] = {
        "tenant": "acme",
        "index": 7,
        "recorded_at": RECORDED_AT,
        "salt": SALT,
        "prev": PREV,
    }
    args.update(kw)
    return ev.build_event(ev.parse_event_input(obj or example()), **args)


def invalid(obj: Any, field: str, message: str = "") -> None:
    with pytest.raises(EventValidationError, match=re.escape(message)) as info:
        ev.parse_event_input(obj)
    assert info.value.field == field


# --- the documented example -----------------------------------------------------------------


def test_example_parses_and_normalises() -> None:
    inp = ev.parse_event_input(example())
    assert inp.body() == {
        "stream": "contract:2026-0001",
        "type": "sign",
        "actor": {"id": "u-42", "name": "Li Lei", "org": "Acme Ltd", "role": "legal-person"},
        "documents": [{"name": "contract.pdf", "sha256": DIGEST}],
        "occurred_at": "2026-11-24T10:00:00.000000Z",
        "client_event_id": "erp-7781",
        "attributes": {"ip": "203.0.113.7", "seal_id": "seal-1", "remarks": "for tender 17 only"},
    }


def test_minimal_input_gets_defaults() -> None:
    inp = ev.parse_event_input({"stream": "s", "type": "view", "actor": {"id": "u"}})
    assert inp.body() == {
        "stream": "s",
        "type": "view",
        "actor": {"id": "u", "name": None, "org": None, "role": None},
        "documents": [],
        "occurred_at": None,
        "client_event_id": None,
        "attributes": {},
    }


def test_explicit_nulls_equal_absent_fields() -> None:
    a = ev.parse_event_input(
        example(occurred_at=None, client_event_id=None, actor={"id": "u-42", "org": None})
    )
    b = ev.parse_event_input(example(occurred_at=..., client_event_id=..., actor={"id": "u-42"}))
    assert a == b
    assert a.actor == {"id": "u-42", "name": None, "org": None, "role": None}


def test_document_name_may_be_absent_or_null() -> None:
    docs = [{"sha256": DIGEST}, {"name": None, "sha256": DIGEST.upper()}]
    assert ev.parse_event_input(example(documents=docs)).documents == [
        {"name": None, "sha256": DIGEST},
        {"name": None, "sha256": DIGEST},
    ]


def test_occurred_at_with_offset_is_normalised_to_utc() -> None:
    inp = ev.parse_event_input(example(occurred_at="2026-11-24T10:00:00.5+08:00"))
    assert inp.occurred_at == "2026-11-24T02:00:00.500000Z"


def test_normalised_input_is_a_fixed_point() -> None:
    inp = ev.parse_event_input(example())
    assert ev.parse_event_input(inp.body()) == inp


@pytest.mark.parametrize("etype", sorted(ev.CORE_TYPES))
def test_core_types_are_accepted(etype: str) -> None:
    assert ev.parse_event_input(example(type=etype)).type == etype


@pytest.mark.parametrize(
    "etype",
    ["acme:archive", "a:b", "x1-y:z9_.-", "a" + "b" * 31 + ":" + "c" * 64, "acme:sign"],
)
def test_custom_types_are_accepted(etype: str) -> None:
    assert ev.parse_event_input(example(type=etype)).type == etype


def test_attribute_value_kinds_are_accepted() -> None:
    attrs = {
        "s": "tab\tnewline\ncr\r",
        "max": MAX_SAFE_INTEGER,
        "min": -MAX_SAFE_INTEGER,
        "t": True,
        "f": False,
        "n": None,
        "A_b.c-9": "key characters",
    }
    assert ev.parse_event_input(example(attributes=attrs)).attributes == attrs


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("stream", 256),
        ("client_event_id", 128),
    ],
)
def test_top_level_text_at_its_limit(field: str, limit: int) -> None:
    assert getattr(ev.parse_event_input(example(**{field: "é" * limit})), field) == "é" * limit
    invalid(example(**{field: "é" * (limit + 1)}), field, f"want at most {limit}")


@pytest.mark.parametrize(("key", "limit"), [("id", 128), ("name", 256), ("org", 256), ("role", 64)])
def test_actor_text_at_its_limit(key: str, limit: int) -> None:
    text = "\U0001f600" * limit  # counted in characters, not bytes or UTF-16 units
    assert ev.parse_event_input(with_actor(**{key: text})).actor[key] == text
    invalid(with_actor(**{key: text + "x"}), f"actor.{key}", f"want at most {limit}")


def test_limits_of_lists_and_free_text() -> None:
    docs = [{"sha256": DIGEST}] * ev.MAX_DOCUMENTS
    assert len(ev.parse_event_input(example(documents=docs)).documents) == 100
    attrs = {f"k{i}": i for i in range(ev.MAX_ATTRIBUTES)}
    assert len(ev.parse_event_input(example(attributes=attrs)).attributes) == 64
    assert ev.parse_event_input(with_document(name="n" * 512)).documents[0]["name"] == "n" * 512
    assert ev.parse_event_input(with_attributes(x="v" * 4096)).attributes["x"] == "v" * 4096
    key = "k" * 64
    assert key in ev.parse_event_input(with_attributes(**{key: 1})).attributes


def _sized(size: int) -> dict[str, Any]:
    """The example padded (with attributes) so its normalised body encodes to ``size`` bytes."""
    obj = example()
    base = len(canonicalize(ev.parse_event_input(obj).body()))
    need = size - base
    i = 0
    while need > 0:
        key = f"pad{i:02d}"
        overhead = len(f',"{key}":""')
        chunk = min(ev.MAX_ATTRIBUTE_TEXT, need - overhead)
        assert chunk >= 1
        obj["attributes"][key] = "p" * chunk
        need -= overhead + chunk
        i += 1
    return obj


def test_encoded_size_limit() -> None:
    at_limit = _sized(ev.MAX_INPUT_BYTES)
    inp = ev.parse_event_input(at_limit)
    assert len(canonicalize(inp.body())) == ev.MAX_INPUT_BYTES == 65024
    last = sorted(k for k in at_limit["attributes"] if k.startswith("pad"))[-1]
    at_limit["attributes"][last] += "p"
    invalid(at_limit, "", "event encodes to 65025 bytes, want at most 65024")


def test_largest_input_still_fits_the_stored_event_limit() -> None:
    event = build(
        _sized(ev.MAX_INPUT_BYTES),
        tenant="t" * 64,
        index=MAX_SAFE_INTEGER,
        prev=b"\xff" * 32,
    )
    assert len(event.canonical) <= ev.MAX_EVENT_BYTES


# --- negative cases, named after the mutation applied to the example --------------------------

NEGATIVE: dict[str, tuple[Callable[[], Any], str, str]] = {
    # whole object and top level
    "not-an-object": (lambda: [EXAMPLE], "", "want an object, got an array"),
    "null": (lambda: None, "", "want an object, got null"),
    "unknown-top-level-field": (lambda: example(extra=1), "extra", "unknown field"),
    "tenant-sent-by-client": (lambda: example(tenant="acme"), "tenant", "unknown field"),
    "server-field-v-sent": (lambda: example(v=1), "v", "unknown field"),
    "missing-stream": (lambda: example(stream=...), "stream", "is required"),
    "missing-type": (lambda: example(type=...), "type", "is required"),
    "missing-actor": (lambda: example(actor=...), "actor", "is required"),
    # stream
    "stream-null": (lambda: example(stream=None), "stream", "want a string, got null"),
    "stream-bool": (lambda: example(stream=True), "stream", "got a boolean"),
    "stream-int": (lambda: example(stream=1), "stream", "got an integer"),
    "stream-float": (lambda: example(stream=1.5), "stream", "fraction or exponent"),
    "stream-empty": (lambda: example(stream=""), "stream", "must not be empty"),
    "stream-leading-space": (lambda: example(stream=" s"), "stream", "white space"),
    "stream-trailing-nbsp": (lambda: example(stream="s\u00a0"), "stream", "white space"),
    "stream-nul": (lambda: example(stream="a\x00b"), "stream", "U+0000"),
    "stream-tab": (lambda: example(stream="a\tb"), "stream", "U+0009"),
    "stream-newline": (lambda: example(stream="a\nb"), "stream", "U+000A"),
    "stream-del": (lambda: example(stream="a\x7fb"), "stream", "U+007F"),
    "stream-c1-nel": (lambda: example(stream="a\x85b"), "stream", "U+0085"),
    "stream-c1-last": (lambda: example(stream="a\x9fb"), "stream", "U+009F"),
    "stream-lone-surrogate": (lambda: example(stream="a\ud800b"), "stream", "lone surrogate"),
    "stream-too-long": (lambda: example(stream="s" * 257), "stream", "257 characters"),
    # type
    "type-int": (lambda: example(type=1), "type", "want a string"),
    "type-bool": (lambda: example(type=False), "type", "got a boolean"),
    "type-unknown-core": (lambda: example(type="delete"), "type", "unknown type"),
    "type-capitalised": (lambda: example(type="Sign"), "type", "unknown type"),
    "type-empty": (lambda: example(type=""), "type", "unknown type"),
    "type-custom-upper-namespace": (lambda: example(type="Acme:archive"), "type", "unknown"),
    "type-custom-upper-name": (lambda: example(type="acme:Archive"), "type", "unknown"),
    "type-custom-no-name": (lambda: example(type="acme:"), "type", "unknown type"),
    "type-custom-no-namespace": (lambda: example(type=":archive"), "type", "unknown type"),
    "type-custom-digit-first": (lambda: example(type="1acme:archive"), "type", "unknown"),
    "type-custom-two-colons": (lambda: example(type="a:b:c"), "type", "unknown type"),
    "type-custom-namespace-33": (lambda: example(type="a" * 33 + ":x"), "type", "unknown"),
    "type-custom-name-65": (lambda: example(type="a:" + "x" * 65), "type", "unknown type"),
    "type-custom-underscore-namespace": (lambda: example(type="a_b:x"), "type", "unknown"),
    "type-custom-trailing-newline": (lambda: example(type="acme:x\n"), "type", "unknown"),
    "type-core-trailing-space": (lambda: example(type="sign "), "type", "unknown type"),
    # actor
    "actor-string": (lambda: example(actor="u-42"), "actor", "want an object, got a string"),
    "actor-null": (lambda: example(actor=None), "actor", "want an object, got null"),
    "actor-unknown-key": (lambda: with_actor(email="x@y"), "actor.email", "unknown field"),
    "actor-missing-id": (lambda: with_actor(id=...), "actor.id", "is required"),
    "actor-id-null": (lambda: with_actor(id=None), "actor.id", "want a string, got null"),
    "actor-id-int": (lambda: with_actor(id=42), "actor.id", "got an integer"),
    "actor-id-empty": (lambda: with_actor(id=""), "actor.id", "must not be empty"),
    "actor-id-too-long": (lambda: with_actor(id="i" * 129), "actor.id", "129 characters"),
    "actor-id-control": (lambda: with_actor(id="u\x1b42"), "actor.id", "U+001B"),
    "actor-name-empty": (lambda: with_actor(name=""), "actor.name", "must not be empty"),
    "actor-name-too-long": (lambda: with_actor(name="n" * 257), "actor.name", "at most 256"),
    "actor-name-newline": (lambda: with_actor(name="Li\nLei"), "actor.name", "U+000A"),
    "actor-org-bool": (lambda: with_actor(org=True), "actor.org", "got a boolean"),
    "actor-org-too-long": (lambda: with_actor(org="o" * 257), "actor.org", "at most 256"),
    "actor-role-too-long": (lambda: with_actor(role="r" * 65), "actor.role", "at most 64"),
    "actor-role-surrogate": (lambda: with_actor(role="\udfff"), "actor.role", "surrogate"),
    "actor-role-padded": (lambda: with_actor(role="admin "), "actor.role", "white space"),
    # documents
    "documents-object": (lambda: example(documents={}), "documents", "want an array"),
    "documents-null": (lambda: example(documents=None), "documents", "got null"),
    "documents-101": (
        lambda: example(documents=[{"sha256": DIGEST}] * 101),
        "documents",
        "has 101 entries, want at most 100",
    ),
    "document-string": (lambda: example(documents=[DIGEST]), "documents[0]", "want an object"),
    "document-unknown-key": (
        lambda: with_document(size=1),
        "documents[0].size",
        "unknown field",
    ),
    "document-missing-sha256": (
        lambda: with_document(sha256=...),
        "documents[0].sha256",
        "is required",
    ),
    "document-sha256-null": (
        lambda: with_document(sha256=None),
        "documents[0].sha256",
        "got null",
    ),
    "document-sha256-int": (lambda: with_document(sha256=1), "documents[0].sha256", "integer"),
    "document-sha256-63": (
        lambda: with_document(sha256=DIGEST[:-1]),
        "documents[0].sha256",
        "want 64 hex digits, got 63 characters",
    ),
    "document-sha256-65": (
        lambda: with_document(sha256=DIGEST + "0"),
        "documents[0].sha256",
        "got 65 characters",
    ),
    "document-sha256-non-hex": (
        lambda: with_document(sha256="g" + DIGEST[1:]),
        "documents[0].sha256",
        "64 hex digits",
    ),
    "document-sha256-trailing-newline": (
        lambda: with_document(sha256=DIGEST + "\n"),
        "documents[0].sha256",
        "64 hex digits",
    ),
    "document-sha256-fullwidth-digit": (
        lambda: with_document(sha256="\uff10" + DIGEST[1:]),
        "documents[0].sha256",
        "64 hex digits",
    ),
    "document-name-empty": (lambda: with_document(name=""), "documents[0].name", "empty"),
    "document-name-too-long": (
        lambda: with_document(name="n" * 513),
        "documents[0].name",
        "at most 512",
    ),
    "second-document-bad": (
        lambda: example(documents=[{"sha256": DIGEST}, {"sha256": "x"}]),
        "documents[1].sha256",
        "64 hex digits",
    ),
    # occurred_at
    "occurred-at-int": (lambda: example(occurred_at=0), "occurred_at", "got an integer"),
    "occurred-at-feb-30": (
        lambda: example(occurred_at="2026-02-30T00:00:00Z"),
        "occurred_at",
        "not a valid time",
    ),
    "occurred-at-space-separator": (
        lambda: example(occurred_at="2026-11-24 10:00:00"),
        "occurred_at",
        "want an RFC 3339 time",
    ),
    "occurred-at-before-year-1-in-utc": (
        lambda: example(occurred_at="0001-01-01T00:00:00+01:00"),
        "occurred_at",
        "not a valid time",
    ),
    # client_event_id
    "client-event-id-empty": (
        lambda: example(client_event_id=""),
        "client_event_id",
        "must not be empty",
    ),
    "client-event-id-int": (lambda: example(client_event_id=7781), "client_event_id", "integer"),
    "client-event-id-too-long": (
        lambda: example(client_event_id="c" * 129),
        "client_event_id",
        "at most 128",
    ),
    "client-event-id-control": (
        lambda: example(client_event_id="erp\r7781"),
        "client_event_id",
        "U+000D",
    ),
    # attributes
    "attributes-array": (lambda: example(attributes=[]), "attributes", "want an object"),
    "attributes-null": (lambda: example(attributes=None), "attributes", "got null"),
    "attributes-65": (
        lambda: example(attributes={f"k{i}": i for i in range(65)}),
        "attributes",
        "has 65 keys, want at most 64",
    ),
    "attribute-float": (lambda: with_attributes(x=1.5), "attributes.x", "send fractions"),
    "attribute-integral-float": (lambda: with_attributes(x=1.0), "attributes.x", "fraction"),
    "attribute-array": (lambda: with_attributes(x=[1]), "attributes.x", "got an array"),
    "attribute-object": (lambda: with_attributes(x={}), "attributes.x", "got an object"),
    "attribute-int-2**53": (lambda: with_attributes(x=2**53), "attributes.x", "beyond"),
    "attribute-int--2**53": (lambda: with_attributes(x=-(2**53)), "attributes.x", "beyond"),
    "attribute-text-4097": (
        lambda: with_attributes(x="v" * 4097),
        "attributes.x",
        "4097 characters, want at most 4096",
    ),
    "attribute-text-nul": (lambda: with_attributes(x="a\x00"), "attributes.x", "U+0000"),
    "attribute-text-vertical-tab": (lambda: with_attributes(x="a\x0b"), "attributes.x", "U+000B"),
    "attribute-text-form-feed": (lambda: with_attributes(x="a\x0c"), "attributes.x", "U+000C"),
    "attribute-text-escape": (lambda: with_attributes(x="a\x1b"), "attributes.x", "U+001B"),
    "attribute-text-del": (lambda: with_attributes(x="a\x7f"), "attributes.x", "U+007F"),
    "attribute-text-c1": (lambda: with_attributes(x="a\x80"), "attributes.x", "U+0080"),
    "attribute-text-surrogate": (
        lambda: with_attributes(x="\ud83d"),
        "attributes.x",
        "lone surrogate",
    ),
    "attribute-key-digit-first": (
        lambda: with_attributes(**{"1x": 1}),
        "attributes.1x",
        "key must be",
    ),
    "attribute-key-empty": (lambda: with_attributes(**{"": 1}), "attributes.", "key must be"),
    "attribute-key-space": (lambda: with_attributes(**{"a b": 1}), "attributes.a b", "key"),
    "attribute-key-non-ascii": (lambda: with_attributes(**{"é": 1}), "attributes.é", "key"),
    "attribute-key-65": (
        lambda: with_attributes(**{"k" * 65: 1}),
        "attributes." + "k" * 65,
        "key must be",
    ),
    "attribute-key-trailing-newline": (
        lambda: with_attributes(**{"k\n": 1}),
        "attributes.k\n",
        "key must be",
    ),
}


@pytest.mark.parametrize("mutation", sorted(NEGATIVE))
def test_invalid_input(mutation: str) -> None:
    make, field, message = NEGATIVE[mutation]
    invalid(make(), field, message)


def test_validation_error_carries_field_reason_and_code() -> None:
    with pytest.raises(EventValidationError) as info:
        ev.parse_event_input(with_document(sha256="x"))
    err = info.value
    assert isinstance(err, InvalidInputError)
    assert (err.field, err.code, http_status_for(err)) == (
        "documents[0].sha256",
        "invalid_event",
        400,
    )
    assert str(err) == f"documents[0].sha256: {err.reason}"
    assert err.reason == "want 64 hex digits, got 1 characters"


# --- times ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "want"),
    [
        (datetime(2026, 11, 24, 2, 0, tzinfo=UTC), "2026-11-24T02:00:00.000000Z"),
        (datetime(2026, 11, 24, 10, 0, tzinfo=timezone(timedelta(hours=8))), RECORDED_AT),
        (datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "2026-01-02T03:04:05.000006Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000000Z"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "9999-12-31T23:59:59.999999Z"),
        (
            datetime(2026, 11, 23, 20, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
            "2026-11-24T02:00:00.000000Z",
        ),
    ],
)
def test_format_time(t: datetime, want: str) -> None:
    assert ev.format_time(t) == want
    assert len(want) == 27


def test_format_time_requires_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="naive"):
        ev.format_time(datetime(2026, 11, 24))


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2026-11-24T10:00:00Z", "2026-11-24T10:00:00.000000Z"),
        ("2026-11-24t10:00:00z", "2026-11-24T10:00:00.000000Z"),
        ("2026-11-24T10:00:00+00:00", "2026-11-24T10:00:00.000000Z"),
        ("2026-11-24T10:00:00-00:00", "2026-11-24T10:00:00.000000Z"),
        ("2026-11-24T10:00:00+08:00", "2026-11-24T02:00:00.000000Z"),
        ("2026-11-24T01:00:00+02:00", "2026-11-23T23:00:00.000000Z"),
        ("2026-11-24T10:00:00-05:30", "2026-11-24T15:30:00.000000Z"),
        ("2026-11-24T10:00:00+23:59", "2026-11-23T10:01:00.000000Z"),
        ("2026-11-24T10:00:00.5Z", "2026-11-24T10:00:00.500000Z"),
        ("2026-11-24T10:00:00.123Z", "2026-11-24T10:00:00.123000Z"),
        ("2026-11-24T10:00:00.1234Z", "2026-11-24T10:00:00.123400Z"),
        ("2026-11-24T10:00:00.123456Z", "2026-11-24T10:00:00.123456Z"),
        ("2026-11-24T10:00:00.123456000Z", "2026-11-24T10:00:00.123456Z"),
        ("2026-11-24T10:00:00.000000000Z", "2026-11-24T10:00:00.000000Z"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000000Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
        ("0001-01-01T01:00:00+01:00", "0001-01-01T00:00:00.000000Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
        (RECORDED_AT, RECORDED_AT),
    ],
)
def test_parse_time_normalises(text: str, want: str) -> None:
    assert ev.parse_time(text, "t") == want
    assert ev.parse_time(want, "t") == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-02-30T00:00:00Z", "not a valid time"),
        ("2025-02-29T00:00:00Z", "not a valid time"),
        ("2026-13-01T00:00:00Z", "not a valid time"),
        ("2026-11-24T24:00:00Z", "not a valid time"),
        ("2026-11-24T10:60:00Z", "not a valid time"),
        ("2026-11-24T23:59:60Z", "not a valid time"),
        ("0000-01-01T00:00:00Z", "not a valid time"),
        ("0001-01-01T00:00:00+01:00", "not a valid time"),
        ("9999-12-31T23:59:59-01:00", "not a valid time"),
        ("2026-11-24T10:00:00+24:00", "out of range"),
        ("2026-11-24T10:00:00.1234567Z", "more precision than microseconds"),
        ("2026-11-24T10:00:00.0000001Z", "more precision than microseconds"),
        ("2026-11-24 10:00:00", "want an RFC 3339 time"),
        ("2026-11-24 10:00:00Z", "want an RFC 3339 time"),
        ("2026-11-24T10:00:00", "want an RFC 3339 time"),
        ("2026-11-24T10:00Z", "want an RFC 3339 time"),
        ("2026-11-24", "want an RFC 3339 time"),
        ("2026-11-24T10:00:00.Z", "want an RFC 3339 time"),
        ("2026-11-24T10:00:00,5Z", "want an RFC 3339 time"),
        ("2026-11-24T10:00:00.1234567891Z", "want an RFC 3339 time"),
        ("2026-11-24T10:00:00+0800", "want an RFC 3339 time"),
        ("2026-11-24T10:00:00+08", "want an RFC 3339 time"),
        ("2026-11-24T10:00:00UTC", "want an RFC 3339 time"),
        ("2026-11-24T10:00:00Z\n", "want an RFC 3339 time"),
        (" 2026-11-24T10:00:00Z", "want an RFC 3339 time"),
        ("20261124T100000Z", "want an RFC 3339 time"),
        ("+2026-11-24T10:00:00Z", "want an RFC 3339 time"),
        ("\uff12\uff10\uff12\uff16-11-24T10:00:00Z", "not a valid time"),
        ("", "want an RFC 3339 time"),
    ],
)
def test_parse_time_rejects(text: str, message: str) -> None:
    with pytest.raises(EventValidationError, match=message) as info:
        ev.parse_time(text, "occurred_at")
    assert info.value.field == "occurred_at"


@pytest.mark.parametrize("value", [None, 0, 1.5, True, ["2026-11-24T10:00:00Z"]])
def test_parse_time_wants_a_string(value: Any) -> None:
    with pytest.raises(EventValidationError, match="want an RFC 3339 time string") as info:
        ev.parse_time(value, "recorded_at")
    assert info.value.field == "recorded_at"


@pytest.mark.parametrize("offset", ["+05:60", "-24:00", "+99:00"])
def test_parse_time_rejects_offsets_out_of_range(offset: str) -> None:
    # RFC 3339: time-hour 00-23, time-minute 00-59; fromisoformat alone would accept '+05:60'.
    with pytest.raises(EventValidationError, match="out of range"):
        ev.parse_time(f"2026-11-24T10:00:00{offset}", "occurred_at")


# --- tenants ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tenant", ["acme", "a", "0", "a-b", "a--b", "x" * 64, "9-lives"])
def test_valid_tenants(tenant: str) -> None:
    assert ev.validate_tenant(tenant) == tenant


@pytest.mark.parametrize(
    "tenant",
    ["", "-a", "a-", "Acme", "a_b", "a.b", "a b", "x" * 65, "acme\n", "é", None, 1, b"acme"],
)
def test_invalid_tenants(tenant: Any) -> None:
    with pytest.raises(EventValidationError, match="want 1-64 characters") as info:
        ev.validate_tenant(tenant)
    assert info.value.field == "tenant"


# --- build_event ------------------------------------------------------------------------------


def test_build_event_encodes_and_hashes() -> None:
    event = build()
    body = json.loads(event.canonical)
    assert event.canonical == canonicalize(body)
    assert event.leaf_hash == hashlib.sha256(b"\x00" + event.canonical).digest()
    assert body == {
        **ev.parse_event_input(example()).body(),
        "v": 1,
        "index": 7,
        "tenant": "acme",
        "recorded_at": RECORDED_AT,
        "salt": SALT.hex(),
        "prev": PREV.hex(),
    }
    assert set(body) == ev.STORED_FIELDS
    assert (event.index, event.tenant, event.stream, event.client_event_id) == (
        7,
        "acme",
        "contract:2026-0001",
        "erp-7781",
    )
    assert (event.type, event.actor_id, event.recorded_at) == ("sign", "u-42", RECORDED_AT)


def test_build_event_canonical_bytes_are_pinned() -> None:
    inp = ev.parse_event_input({"stream": "s", "type": "acme:archive", "actor": {"id": "u"}})
    event = ev.build_event(
        inp, tenant="t", index=0, recorded_at=RECORDED_AT, salt=bytes(16), prev=None
    )
    assert event.canonical == (
        b'{"actor":{"id":"u","name":null,"org":null,"role":null},"attributes":{},'
        b'"client_event_id":null,"documents":[],"index":0,"occurred_at":null,"prev":null,'
        b'"recorded_at":"2026-11-24T02:00:00.000000Z","salt":"00000000000000000000000000000000",'
        b'"stream":"s","tenant":"t","type":"acme:archive","v":1}'
    )
    assert event.type == "acme:archive"
    assert event.client_event_id is None


def test_build_event_first_of_stream_has_null_prev() -> None:
    assert build(prev=None).body()["prev"] is None


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_build_event_salt_must_be_16_bytes(size: int) -> None:
    with pytest.raises(ValueError, match=f"salt has {size} bytes, want 16"):
        build(salt=bytes(size))


def test_build_event_refuses_an_oversized_event() -> None:
    # only reachable when a caller breaks the tenant precondition
    with pytest.raises(EventValidationError, match="want at most 65536") as info:
        build(_sized(ev.MAX_INPUT_BYTES), tenant="t" * 1024)
    assert info.value.field == ""


def test_event_views() -> None:
    event = build()
    assert event.body() == json.loads(event.canonical)
    assert event.input_body() == ev.parse_event_input(example()).body()
    assert event.to_json() == {**event.body(), "leaf_hash": event.leaf_hash.hex()}


def test_salt_and_prev_change_the_leaf_hash() -> None:
    hashes = {
        build().leaf_hash,
        build(salt=bytes(16)).leaf_hash,
        build(prev=None).leaf_hash,
        build(index=8).leaf_hash,
    }
    assert len(hashes) == 4


# --- decode_event -----------------------------------------------------------------------------


def test_decode_event_accepts_build_event_output() -> None:
    for event in (
        build(),
        build(prev=None),
        build({"stream": "s", "type": "v:w", "actor": {"id": "u"}}),
    ):
        assert ev.decode_event(event.canonical) == event.body()
    assert ev.decode_event(bytearray(build().canonical)) == build().body()


def _stored(**changes: Any) -> dict[str, Any]:
    body = build().body()
    for k, v in changes.items():
        if v is ...:
            del body[k]
        else:
            body[k] = v
    return body


def _encode(body: dict[str, Any]) -> bytes:
    return canonicalize(body)


STORED = build().canonical

DECODE_NEGATIVE: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "version-key-first": (
        lambda: json.dumps(
            {"v": 1, **_stored(v=...)}, separators=(",", ":"), ensure_ascii=False
        ).encode(),
        "",
        "not the RFC 8785 encoding",
    ),
    "keys-reverse-sorted": (
        lambda: json.dumps(
            dict(sorted(_stored().items(), reverse=True)),
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode(),
        "",
        "not the RFC 8785 encoding",
    ),
    "space-after-colon": (
        lambda: STORED.replace(b'"v":1', b'"v": 1'),
        "",
        "not the RFC 8785 encoding",
    ),
    "trailing-newline": (lambda: STORED + b"\n", "", "not the RFC 8785 encoding"),
    "leading-space": (lambda: b" " + STORED, "", "not the RFC 8785 encoding"),
    "escaped-ascii": (
        lambda: STORED.replace(b'"tenant":"acme"', b'"tenant":"\\u0061cme"'),
        "",
        "not the RFC 8785 encoding",
    ),
    "escaped-slash": (
        lambda: _encode(_stored(stream="a/b")).replace(b"a/b", b"a\\/b"),
        "",
        "not the RFC 8785 encoding",
    ),
    "unknown-field": (lambda: _encode(_stored(extra=1)), "extra", "unknown field"),
    "leaf-hash-field": (lambda: _encode(_stored(leaf_hash="00")), "leaf_hash", "unknown"),
    "missing-salt": (lambda: _encode(_stored(salt=...)), "salt", "is required"),
    "missing-attributes": (lambda: _encode(_stored(attributes=...)), "attributes", "required"),
    "version-2": (lambda: _encode(_stored(v=2)), "v", "unsupported event version 2"),
    "version-0": (lambda: _encode(_stored(v=0)), "v", "unsupported event version"),
    "version-string": (lambda: _encode(_stored(v="1")), "v", "unsupported event version"),
    "version-null": (lambda: _encode(_stored(v=None)), "v", "unsupported event version"),
    "index-negative": (lambda: _encode(_stored(index=-1)), "index", "non-negative integer"),
    "index-bool": (lambda: _encode(_stored(index=True)), "index", "non-negative integer"),
    "index-string": (lambda: _encode(_stored(index="7")), "index", "non-negative integer"),
    "index-float": (
        lambda: STORED.replace(b'"index":7', b'"index":7.5'),
        "index",
        "non-negative integer",
    ),
    "tenant-invalid": (lambda: _encode(_stored(tenant="Acme")), "tenant", "want 1-64"),
    "recorded-at-no-fraction": (
        lambda: _encode(_stored(recorded_at="2026-11-24T02:00:00Z")),
        "recorded_at",
        "not in normal form",
    ),
    "recorded-at-offset": (
        lambda: _encode(_stored(recorded_at="2026-11-24T10:00:00.000000+08:00")),
        "recorded_at",
        "not in normal form",
    ),
    "recorded-at-lowercase": (
        lambda: _encode(_stored(recorded_at=RECORDED_AT.lower())),
        "recorded_at",
        "not in normal form",
    ),
    "recorded-at-invalid": (
        lambda: _encode(_stored(recorded_at="2026-02-30T00:00:00.000000Z")),
        "recorded_at",
        "not a valid time",
    ),
    "recorded-at-null": (lambda: _encode(_stored(recorded_at=None)), "recorded_at", "string"),
    "salt-uppercase": (lambda: _encode(_stored(salt=SALT.hex().upper())), "salt", "lowercase"),
    "salt-short": (lambda: _encode(_stored(salt=SALT.hex()[:-2])), "salt", "32 lowercase"),
    "salt-long": (lambda: _encode(_stored(salt=SALT.hex() + "00")), "salt", "32 lowercase"),
    "salt-null": (lambda: _encode(_stored(salt=None)), "salt", "32 lowercase hex"),
    "salt-non-hex": (lambda: _encode(_stored(salt="g" * 32)), "salt", "32 lowercase hex"),
    "prev-uppercase": (lambda: _encode(_stored(prev=PREV.hex().upper())), "prev", "lowercase"),
    "prev-short": (lambda: _encode(_stored(prev=PREV.hex()[:-2])), "prev", "64 lowercase"),
    "prev-int": (lambda: _encode(_stored(prev=0)), "prev", "64 lowercase hex digits or null"),
    "prev-trailing-newline": (lambda: _encode(_stored(prev=PREV.hex() + "\n")), "prev", "64"),
    "input-sha256-uppercase": (
        lambda: _encode(_stored(documents=[{"name": "contract.pdf", "sha256": DIGEST.upper()}])),
        "",
        "input fields are not in normal form",
    ),
    "input-actor-key-missing": (
        lambda: _encode(_stored(actor={"id": "u-42"})),
        "",
        "input fields are not in normal form",
    ),
    "input-occurred-at-not-normal": (
        lambda: _encode(_stored(occurred_at="2026-11-24T10:00:00Z")),
        "",
        "input fields are not in normal form",
    ),
    "input-document-name-missing": (
        lambda: _encode(_stored(documents=[{"sha256": DIGEST}])),
        "",
        "input fields are not in normal form",
    ),
    "input-invalid": (lambda: _encode(_stored(type="delete")), "type", "unknown type"),
    "input-attribute-float": (
        lambda: _encode(_stored(attributes={"x": 1.5})),
        "attributes.x",
        "send fractions",
    ),
    "not-an-object": (lambda: b"[]", "", "want an object, got an array"),
}


@pytest.mark.parametrize("mutation", sorted(DECODE_NEGATIVE))
def test_decode_event_rejects(mutation: str) -> None:
    make, field, message = DECODE_NEGATIVE[mutation]
    data = make()
    assert data != STORED
    with pytest.raises(EventValidationError, match=re.escape(message)) as info:
        ev.decode_event(data)
    assert info.value.field == field


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", STORED[:-1], STORED + b"{}", b"\xef\xbb\xbf" + STORED],
    ids=["empty", "not-json", "truncated", "trailing-data", "bom"],
)
def test_decode_event_rejects_bytes_that_are_not_json(data: bytes) -> None:
    with pytest.raises(InvalidInputError, match="invalid JSON"):
        ev.decode_event(data)


def test_decode_event_rejects_duplicate_keys() -> None:
    data = STORED[:-1] + b',"v":1}'
    with pytest.raises(InvalidInputError, match="duplicate object key 'v'"):
        ev.decode_event(data)


@pytest.mark.parametrize("version", [b"1.0", b"true"])
def test_decode_event_rejects_version_that_only_equals_one(version: bytes) -> None:
    # regression (fixed in 0262315): 1.0 == True == 1 in Python, and orjson writes them back
    # unchanged, so a plain != check let non-canonical versions through
    data = STORED.replace(b'"v":1}', b'"v":' + version + b"}")
    assert data != STORED
    with pytest.raises(EventValidationError, match="unsupported event version") as info:
        ev.decode_event(data)
    assert info.value.field == "v"
