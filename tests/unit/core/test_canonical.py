"""Tests for sealtrail.core.canonical: RFC 8785 (JCS) encoding.

Sources of truth:

* the RFC author's vectors, cyberphone/json-canonicalization (tests/vectors/jcs/, sources in
  tests/vectors/README.md): six whole documents, RFC 8785 Appendix B number samples, the
  author's own number samples and the first 1000 lines of the ES6 number test file;
* the ``rfc8785`` package behind :func:`canonicalize`, against which the fast orjson path
  :func:`canonicalize_restricted` is compared on random values of its restricted value space
  (Hypothesis), including random valid events as :func:`build_event` encodes them.
"""

from __future__ import annotations

import hashlib
import json
import struct
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealtrail.core import event as ev
from sealtrail.core.canonical import (
    MAX_SAFE_INTEGER,
    canonicalize,
    canonicalize_restricted,
    check_restricted,
)
from sealtrail.core.errors import EncodingError, InvalidInputError

JCS = Path(__file__).resolve().parents[2] / "vectors" / "jcs"
INDEX: dict[str, Any] = json.loads((JCS / "index.json").read_text(encoding="utf-8"))
CASES = INDEX["cases"]
APPENDIX_B = INDEX["number_samples"]["rfc8785_appendix_b"]["cases"]
AUTHOR_SAMPLES = INDEX["number_samples"]["rfc_author_samples"]["cases"]
ES6_LINES = (JCS / "es6numbers_first1000.txt").read_text(encoding="ascii").splitlines()


def _double(ieee_hex: str) -> float:
    """The IEEE-754 binary64 value with the given (big-endian, possibly unpadded) bit pattern."""
    value: float = struct.unpack(">d", int(ieee_hex, 16).to_bytes(8, "big"))[0]
    return value


# --- published vectors (reference encoder) ------------------------------------------------


def test_vector_files_are_the_published_ones() -> None:
    assert len(CASES) == 6
    assert len(ES6_LINES) == 1000
    es6 = INDEX["number_samples"]["es6_test_file"]["checksums"][0]
    data = (JCS / "es6numbers_first1000.txt").read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == (es6["bytes"], es6["sha256"])
    for case in CASES:
        out = (JCS / case["expected_output_file"]).read_bytes()
        assert len(out) == case["expected_output_len"]
        assert hashlib.sha256(out).hexdigest() == case["expected_output_sha256"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_published_document(case: dict[str, Any]) -> None:
    source = (JCS / case["input_file"]).read_bytes()
    want = (JCS / case["expected_output_file"]).read_bytes()
    outhex = (JCS / "outhex" / f"{case['id']}.txt").read_text(encoding="ascii")
    got = canonicalize(json.loads(source))
    assert got == want
    assert got == bytes.fromhex(outhex)
    assert got.hex() == case["expected_output_hex"]


@pytest.mark.parametrize("line", ES6_LINES, ids=[ln.split(",")[0] for ln in ES6_LINES])
def test_es6_number(line: str) -> None:
    ieee_hex, want = line.split(",")
    assert canonicalize(_double(ieee_hex)) == want.encode("ascii")


def _number_ids(rows: list[dict[str, Any]]) -> list[str]:
    return [f"{r['ieee754_hex']}-{r.get('comment') or r['expected']}" for r in rows]


@pytest.mark.parametrize(
    "row",
    APPENDIX_B + AUTHOR_SAMPLES,
    ids=_number_ids(APPENDIX_B) + [f"author-{i}" for i in _number_ids(AUTHOR_SAMPLES)],
)
def test_number_sample(row: dict[str, Any]) -> None:
    value = _double(row["ieee754_hex"])
    if row["expect"] == "error":
        with pytest.raises(EncodingError, match="not representable"):
            canonicalize(value)
        with pytest.raises(EncodingError):
            canonicalize_restricted(value)
    else:
        assert canonicalize(value) == row["expected"].encode("ascii")


def test_appendix_b_has_exactly_two_rejected_rows() -> None:
    rejected = [r["comment"] for r in APPENDIX_B if r["expect"] == "error"]
    assert rejected == ["NaN", "Infinity"]


# --- the reference encoder's own rejections -------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="inf"),
        pytest.param(float("-inf"), id="-inf"),
        pytest.param({1: "non-string key"}, id="int-key"),
        pytest.param("\ud800", id="lone-surrogate"),
        pytest.param({"\udc00": 1}, id="surrogate-key"),
        pytest.param(b"bytes", id="bytes"),
        pytest.param({1, 2}, id="set"),
        pytest.param(2**53, id="2**53"),
    ],
)
def test_reference_rejects(value: Any) -> None:
    with pytest.raises(EncodingError, match="cannot canonicalize"):
        canonicalize(value)


def test_encoding_error_is_an_input_error() -> None:
    assert issubclass(EncodingError, InvalidInputError)
    assert EncodingError.code == "not_canonicalizable"


def test_minus_zero_serializes_as_zero() -> None:
    assert canonicalize(-0.0) == b"0"
    assert canonicalize_restricted(0) == b"0"


# --- the fast path: rejections --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(1.5, "float values are not allowed", id="float-1.5"),
        pytest.param(1.0, "float values are not allowed", id="float-1.0"),
        pytest.param(float("nan"), "float values are not allowed", id="nan"),
        pytest.param(2**53, "beyond", id="2**53"),
        pytest.param(-(2**53), "beyond", id="-2**53"),
        pytest.param(MAX_SAFE_INTEGER + 1, "beyond", id="max-safe+1"),
        pytest.param({"é": 1}, "not an ASCII string", id="non-ascii-key"),
        pytest.param({1: 1}, "not an ASCII string", id="int-key"),
        pytest.param("\ud800", "lone surrogate", id="lone-surrogate"),
        pytest.param("ok\udfffok", "lone surrogate", id="embedded-lone-surrogate"),
        pytest.param({1, 2}, "set values are not allowed", id="set"),
        pytest.param(b"bytes", "bytes values are not allowed", id="bytes"),
        pytest.param((1, 2), "tuple values are not allowed", id="tuple"),
    ],
)
def test_restricted_rejects(value: Any, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        canonicalize_restricted(value)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"a": [1, {"b": 1.5}]}, r"\$\.a\[1\]\.b"),
        ([0, 0, "\ud800"], r"\$\[2\]"),
        ({"x": {"é": None}}, r"\$\.x"),
    ],
)
def test_restricted_rejection_names_the_path(value: Any, path: str) -> None:
    with pytest.raises(EncodingError, match=rf"^{path}: "):
        check_restricted(value)


def test_restricted_rejects_subclasses_of_allowed_types() -> None:
    class Text(str):
        pass

    class Number(int):
        pass

    for value in (Text("x"), Number(1), {"a": Text("x")}):
        with pytest.raises(EncodingError, match="not allowed"):
            canonicalize_restricted(value)


@pytest.mark.parametrize(
    "value",
    [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0, True, False, None, "", [], {}],
)
def test_restricted_accepts_boundaries(value: Any) -> None:
    assert canonicalize_restricted(value) == canonicalize(value)


def test_restricted_sorts_keys_and_escapes_like_jcs() -> None:
    value = {"b": '\u2028\x7f\x1f"\\/é😀', "a": [None, True], "": 1, "B": {"z": 0, "a": -1}}
    want = '{"":1,"B":{"a":-1,"z":0},"a":[null,true],"b":"\u2028\x7f\\u001f\\"\\\\/é😀"}'
    assert canonicalize_restricted(value) == want.encode("utf-8")
    assert canonicalize(value) == want.encode("utf-8")


def test_restricted_deep_nesting_is_encoded_or_refused_with_encoding_error() -> None:
    value: list[Any] = []
    for _ in range(300):
        value = [value]
    try:
        got = canonicalize_restricted(value)
    except EncodingError:
        return
    assert got == canonicalize(value)


# --- the fast path equals the reference on its value space (Hypothesis) ---------------------

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
_key = st.text(st.characters(max_codepoint=0x7F), max_size=8)
_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.sampled_from([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0, -1])
    | _text
)
restricted_values = st.recursive(
    _scalar,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(_key, children, max_size=6),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(restricted_values)
def test_restricted_equals_reference(value: Any) -> None:
    assert canonicalize_restricted(value) == canonicalize(value)


# --- valid events encode to exactly the RFC 8785 bytes --------------------------------------

# names refuse controls, format characters and line/paragraph separators (FORMAT.md §1.1)
_plain_text = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Cf", "Zl", "Zp")), min_size=1, max_size=24
).filter(lambda s: s == s.strip())
_free_text = st.text(
    st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r"),
    min_size=1,
    max_size=40,
)
_offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
_times = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9998, 12, 30),
    timezones=_offsets,
)
_actor = st.fixed_dictionaries(
    {"id": _plain_text},
    optional={
        "name": st.none() | _plain_text,
        "org": st.none() | _plain_text,
        "role": st.none() | _plain_text,
    },
)
_document = st.fixed_dictionaries(
    {"sha256": st.from_regex(r"[0-9a-fA-F]{64}", fullmatch=True)},
    optional={"name": st.none() | _plain_text},
)
_attr_value = (
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | _free_text
)
event_inputs = st.fixed_dictionaries(
    {
        "stream": _plain_text,
        "type": st.sampled_from(sorted(ev.CORE_TYPES))
        | st.from_regex(r"[a-z][a-z0-9-]{0,31}:[a-z][a-z0-9_.-]{0,63}", fullmatch=True),
        "actor": _actor,
    },
    optional={
        "documents": st.lists(_document, max_size=4),
        "occurred_at": st.none() | _times.map(lambda t: t.isoformat()),
        "client_event_id": st.none() | _plain_text,
        "attributes": st.dictionaries(
            st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,63}", fullmatch=True),
            _attr_value,
            max_size=6,
        ),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    obj=event_inputs,
    index=st.integers(0, MAX_SAFE_INTEGER),
    recorded=st.datetimes(timezones=st.just(UTC)),
    salt=st.binary(min_size=16, max_size=16),
    prev=st.none() | st.binary(min_size=32, max_size=32),
)
def test_valid_events_encode_to_rfc8785(
    obj: dict[str, Any], index: int, recorded: datetime, salt: bytes, prev: bytes | None
) -> None:
    inp = ev.parse_event_input(obj)
    event = ev.build_event(
        inp,
        tenant="acme",
        index=index,
        recorded_at=ev.format_time(recorded),
        salt=salt,
        prev=prev,
    )
    assert event.canonical == rfc8785.dumps(json.loads(event.canonical))
    assert event.canonical == canonicalize(event.body())
    assert event.leaf_hash == hashlib.sha256(b"\x00" + event.canonical).digest()
    # the stored form is a fixed point: re-validating it changes nothing, decoding accepts it
    assert ev.parse_event_input(inp.body()) == inp
    assert ev.decode_event(event.canonical) == event.body()
