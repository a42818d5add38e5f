"""Tests for sealtrail.core.strictjson: the strict JSON reader (docs/FORMAT.md §1.1).

The JSONTestSuite corpus (tests/vectors/json_parsing/, source in tests/vectors/README.md) is run
file by file: ``n_`` must be rejected with InvalidInputError and nothing else; ``y_`` must be
accepted except where the documented policy rejects valid JSON (listed below with the reason);
``i_`` are all rejected by policy; ``test_transform`` files are rejected or survive a round trip
through RFC 8785 unchanged. Targeted tests then pin each rule and its message.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealtrail.core import strictjson
from sealtrail.core.canonical import MAX_SAFE_INTEGER, canonicalize
from sealtrail.core.errors import InvalidInputError

CORPUS = Path(__file__).resolve().parents[2] / "vectors" / "json_parsing"
INDEX: dict[str, Any] = json.loads((CORPUS / "index.json").read_text(encoding="utf-8"))
PARSING = sorted((CORPUS / "test_parsing").iterdir())
TRANSFORM = sorted((CORPUS / "test_transform").iterdir())

#: Valid JSON (y_) that the documented policy (FORMAT.md §1.1) rejects, with the reason; the
#: test checks the rejection message names that reason.
REJECTED_VALID_JSON = {
    # Duplicate keys: a ledger must not store one value and hash another.
    "y_object_duplicated_key.json": "duplicate object key 'a'",
    "y_object_duplicated_key_and_value.json": "duplicate object key 'a'",
    # One limit for every number, ±(2**53 - 1): beyond it RFC 8785 writes doubles as integers
    # that no strict reader takes back, and most JSON stacks round them.
    "y_number.json": r"number 123e65 is beyond",
    "y_number_real_capital_e.json": r"number 1E22 is beyond",
    "y_number_real_exponent.json": r"number 123e45 is beyond",
    "y_number_real_fraction_exponent.json": r"number 123\.456e78 is beyond",
    "y_object_extreme_numbers.json": r"number -1\.0e\+28 is beyond",
}

#: i_ files the reader accepts although the documented policy is "reject all" (none now).
ACCEPTED_IMPLEMENTATION_DEFINED: dict[str, str] = {}


def _files(prefix: str) -> list[Path]:
    return [p for p in PARSING if p.name.startswith(prefix)]


def _loads_or_reject(data: bytes) -> tuple[bool, Any]:
    """(True, value) if accepted, (False, error) if rejected with InvalidInputError."""
    try:
        return True, strictjson.loads(data)
    except InvalidInputError as e:
        return False, e


# --- the corpus ----------------------------------------------------------------------------


def test_corpus_is_complete_and_unchanged() -> None:
    cases = INDEX["cases"]
    assert INDEX["source"]["commit"] == "1ef36fa01286573e846ac449e8683f8833c5b26a"
    assert sorted(c["file"] for c in cases) == sorted(
        f"{p.parent.name}/{p.name}" for p in PARSING + TRANSFORM
    )
    assert (len(_files("y_")), len(_files("n_")), len(_files("i_")), len(TRANSFORM)) == (
        95,
        188,
        35,
        22,
    )
    for c in cases:
        data = (CORPUS / c["file"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (c["bytes"], c["sha256"])


@pytest.mark.parametrize("path", _files("n_"), ids=lambda p: p.name)
def test_n_file_is_rejected(path: Path) -> None:
    with pytest.raises(InvalidInputError, match="JSON"):
        strictjson.loads(path.read_bytes())


@pytest.mark.parametrize("path", _files("y_"), ids=lambda p: p.name)
def test_y_file_is_accepted_unless_policy_rejects_it(path: Path) -> None:
    data = path.read_bytes()
    if path.name in REJECTED_VALID_JSON:
        with pytest.raises(InvalidInputError, match=REJECTED_VALID_JSON[path.name]):
            strictjson.loads(data)
        return
    value = strictjson.loads(data)
    # Python's own reader agrees on the value (it is valid JSON; only the policy is stricter).
    assert value == json.loads(data)


def test_policy_exceptions_are_all_y_files() -> None:
    names = {p.name for p in _files("y_")}
    assert set(REJECTED_VALID_JSON) <= names
    assert set(ACCEPTED_IMPLEMENTATION_DEFINED) <= {p.name for p in _files("i_")}


def _i_param(path: Path) -> Any:
    reason = ACCEPTED_IMPLEMENTATION_DEFINED.get(path.name)
    marks = (
        [pytest.mark.xfail(strict=True, reason=f"BUG: policy is reject all i_; {reason}")]
        if reason
        else []
    )
    return pytest.param(path, id=path.name, marks=marks)


@pytest.mark.parametrize("path", [_i_param(p) for p in _files("i_")])
def test_i_file_is_rejected_by_policy(path: Path) -> None:
    with pytest.raises(InvalidInputError):
        strictjson.loads(path.read_bytes())


@pytest.mark.parametrize("path", TRANSFORM, ids=lambda p: p.name)
def test_transform_file_is_rejected_or_round_trips(path: Path) -> None:
    accepted, value = _loads_or_reject(path.read_bytes())
    if not accepted:
        return
    encoded = canonicalize(value)
    assert canonicalize(strictjson.loads(path.read_bytes())) == encoded
    again = strictjson.loads(encoded)
    assert again == value
    assert canonicalize(again) == encoded


@pytest.mark.parametrize(
    "name",
    [
        "number_-9223372036854775808.json",
        "number_-9223372036854775809.json",
        "number_10000000000000000999.json",
        "number_9223372036854775807.json",
        "number_9223372036854775808.json",
        "object_same_key_different_values.json",
        "object_same_key_same_value.json",
        "object_same_key_unclear_values.json",
        "string_1_escaped_invalid_codepoint.json",
        "string_1_invalid_codepoint.json",
        "string_2_escaped_invalid_codepoints.json",
        "string_2_invalid_codepoints.json",
        "string_3_escaped_invalid_codepoints.json",
        "string_3_invalid_codepoints.json",
    ],
)
def test_transform_file_rejected_by_policy(name: str) -> None:
    with pytest.raises(InvalidInputError):
        strictjson.loads((CORPUS / "test_transform" / name).read_bytes())


def test_transform_nfc_and_nfd_keys_stay_distinct() -> None:
    value = strictjson.loads((CORPUS / "test_transform" / "object_key_nfc_nfd.json").read_bytes())
    assert value == {"\u00e9": "NFC", "e\u0301": "NFD"}


# --- targeted rules ------------------------------------------------------------------------


def test_duplicate_key_message_names_the_key() -> None:
    with pytest.raises(InvalidInputError, match=r"duplicate object key 'dup'"):
        strictjson.loads(b'{"a": 1, "b": {"dup": 1, "x": 0, "dup": 2}}')


def test_duplicate_key_after_escape_decoding() -> None:
    with pytest.raises(InvalidInputError, match=r"duplicate object key 'a'"):
        strictjson.loads(b'{"a": 1, "\\u0061": 1}')


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "[NaN]", '{"a": Infinity}'])
def test_non_finite_constants_are_rejected(text: str) -> None:
    with pytest.raises(InvalidInputError, match="is not JSON"):
        strictjson.loads(text)


@pytest.mark.parametrize("text", ["1e400", "-1e400", "[1.5e309]", '{"a": 1E+999}'])
def test_overflowing_number_is_rejected(text: str) -> None:
    with pytest.raises(InvalidInputError, match="is beyond"):
        strictjson.loads(text)


@pytest.mark.parametrize("text", ["1.7976931348623157e308", "9007199254740992.0", "-1e16"])
def test_doubles_beyond_the_integer_limit_are_rejected(text: str) -> None:
    with pytest.raises(InvalidInputError, match="is beyond"):
        strictjson.loads(text)


def test_largest_safe_double_is_accepted() -> None:
    assert strictjson.loads("9007199254740991.0") == 9007199254740991.0


@pytest.mark.parametrize("text", ["1e-400", "[123e-10000000]", "-0.000e-5000"])
def test_underflow_of_non_zero_numbers_is_rejected_but_zero_is_not(text: str) -> None:
    if text.startswith("-0.000"):
        assert strictjson.loads(text) == 0
        return
    with pytest.raises(InvalidInputError, match="underflows to zero"):
        strictjson.loads(text)


def test_minus_zero_is_integer_zero() -> None:
    value = strictjson.loads("-0")
    assert value == 0
    assert type(value) is int
    assert canonicalize(strictjson.loads("-0.0")) == b"0"


@pytest.mark.parametrize("value", [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0, 1, -1])
def test_safe_integers_are_accepted(value: int) -> None:
    assert strictjson.loads(str(value)) == value


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(str(MAX_SAFE_INTEGER + 1), id="max+1"),
        pytest.param(str(-MAX_SAFE_INTEGER - 1), id="min-1"),
        pytest.param("1" + "0" * 17, id="10**17"),
        pytest.param("-1" + "0" * 17, id="-10**17"),
        pytest.param("1" + "0" * 5000, id="5001-digits"),
    ],
)
def test_unsafe_integers_are_rejected(text: str) -> None:
    with pytest.raises(InvalidInputError, match=r"beyond ±\(2\*\*53 - 1\)"):
        strictjson.loads(f"[{text}]")


@pytest.mark.parametrize(
    "text",
    ['"\\ud800"', '"\\udc00x"', '{"\\ud83d": 1}', '["\\ude00\\ud83d"]'],
    ids=["high", "low", "in-key", "inverted-pair"],
)
def test_escaped_lone_surrogate_is_rejected(text: str) -> None:
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        strictjson.loads(text)


def test_raw_lone_surrogate_in_str_input_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        strictjson.loads('["\ud800"]')


def test_escaped_surrogate_pair_is_one_character() -> None:
    assert strictjson.loads('"\\ud83d\\ude00"') == "\U0001f600"


@pytest.mark.parametrize(
    "data",
    [b'"\xff"', b'"\xc3"', b'"\xed\xa0\x80"', b'"\xc0\xaf"', '"é"'.encode("latin-1")],
    ids=["ff", "truncated", "encoded-surrogate", "overlong", "latin-1"],
)
def test_non_utf8_is_rejected(data: bytes) -> None:
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        strictjson.loads(data)


@pytest.mark.parametrize(
    "data",
    [b"\xef\xbb\xbf{}", "{}".encode("utf-16"), "{}".encode("utf-32"), "{}".encode("utf-16-le")],
    ids=["utf-8-bom", "utf-16-bom", "utf-32-bom", "utf-16-le"],
)
def test_bom_and_other_encodings_are_rejected(data: bytes) -> None:
    with pytest.raises(InvalidInputError):
        strictjson.loads(data)


def test_utf8_bom_message() -> None:
    with pytest.raises(InvalidInputError, match="byte order mark"):
        strictjson.loads(b"\xef\xbb\xbf{}")


def test_bom_in_str_input_is_rejected() -> None:
    with pytest.raises(InvalidInputError):
        strictjson.loads("\ufeff{}")


def _nested(depth: int, *, obj: bool = False) -> str:
    if obj:
        return '{"a":' * depth + "1" + "}" * depth
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("obj", [False, True], ids=["arrays", "objects"])
def test_default_depth_limit(obj: bool) -> None:
    assert strictjson.loads(_nested(strictjson.DEFAULT_MAX_DEPTH, obj=obj))
    with pytest.raises(InvalidInputError, match="nesting deeper than 32"):
        strictjson.loads(_nested(strictjson.DEFAULT_MAX_DEPTH + 1, obj=obj))


def test_custom_depth_limit() -> None:
    assert strictjson.loads("[[1], {}]", max_depth=2) == [[1], {}]
    with pytest.raises(InvalidInputError, match="nesting deeper than 2"):
        strictjson.loads('[{"a": []}]', max_depth=2)


def test_scalars_do_not_count_as_depth() -> None:
    assert strictjson.loads('{"a": "b"}', max_depth=1) == {"a": "b"}


def test_nesting_beyond_the_recursion_limit_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="nesting deeper than"):
        strictjson.loads(_nested(200_000))


def test_size_limit_bytes() -> None:
    doc = b'"' + b"x" * 98 + b'"'
    assert strictjson.loads(doc, max_bytes=100) == "x" * 98
    with pytest.raises(InvalidInputError, match="JSON document of 101 bytes exceeds 100"):
        strictjson.loads(doc + b" ", max_bytes=100)


def test_size_limit_str() -> None:
    doc = '"' + "x" * 98 + '"'
    assert strictjson.loads(doc, max_bytes=100) == "x" * 98
    with pytest.raises(InvalidInputError, match="exceeds 100"):
        strictjson.loads(doc + " ", max_bytes=100)


def test_default_size_limit_is_one_mebibyte() -> None:
    assert strictjson.DEFAULT_MAX_BYTES == 1 << 20
    big = b'"' + b"x" * ((1 << 20) - 2) + b'"'
    assert len(strictjson.loads(big)) == (1 << 20) - 2
    with pytest.raises(InvalidInputError, match="exceeds 1048576"):
        strictjson.loads(big + b"\n")


@pytest.mark.parametrize(
    "text",
    ["{} {}", "1 2", "{}x", '"a""b"', "[]]", "{}\x00", "null,"],
)
def test_trailing_data_is_rejected(text: str) -> None:
    with pytest.raises(InvalidInputError):
        strictjson.loads(text)


def test_trailing_data_message() -> None:
    with pytest.raises(InvalidInputError, match="extra data at offset 3"):
        strictjson.loads("{ }  {}")


@pytest.mark.parametrize("text", [" \t\r\n{}\n\r\t ", "\n1\n"])
def test_json_whitespace_around_the_value_is_fine(text: str) -> None:
    assert strictjson.loads(text) in ({}, 1)


@pytest.mark.parametrize("text", ["", " ", "\n", "\u00a0{}", "{}\u00a0", "\x0c{}"])
def test_empty_or_non_json_whitespace_is_rejected(text: str) -> None:
    with pytest.raises(InvalidInputError):
        strictjson.loads(text)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": [1, "\xc3\xa9", null]}',
        '{"a": [1, "é", null]}',
        bytearray(b'{"a": [1, "\xc3\xa9", null]}'),
        memoryview(b'{"a": [1, "\xc3\xa9", null]}'),
    ],
    ids=["bytes", "str", "bytearray", "memoryview"],
)
def test_bytes_and_str_input_give_the_same_value(data: Any) -> None:
    assert strictjson.loads(data) == {"a": [1, "é", None]}


@pytest.mark.parametrize("data", [None, 1, 1.5, ["{}"], {"a": 1}, object()])
def test_other_input_types_raise_type_error(data: Any) -> None:
    with pytest.raises(TypeError, match="expected bytes or str"):
        strictjson.loads(data)


def test_raw_control_character_in_string_is_rejected() -> None:
    with pytest.raises(InvalidInputError):
        strictjson.loads('["a\nb"]')


def test_errors_hide_the_cause() -> None:
    with pytest.raises(InvalidInputError) as info:
        strictjson.loads(b"[1,")
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def _reads_back(x: float) -> bool:
    """False for the doubles RFC 8785 writes as integers beyond ±(2**53 - 1) (see below)."""
    return abs(x) <= MAX_SAFE_INTEGER


@pytest.mark.parametrize("text", ["1e16", "[9007199254740992.0]", "-1.5e20"])
def test_doubles_that_canonicalize_to_big_integers_are_refused(text: str) -> None:
    # RFC 8785 (§3.2.2.3) would write them as integers beyond 2**53-1, which this reader refuses:
    # one limit for every number keeps canonical output re-readable.
    with pytest.raises(InvalidInputError, match="beyond"):
        strictjson.loads(text)


# --- properties ----------------------------------------------------------------------------

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False).filter(_reads_back)
    | st.text(st.characters(exclude_categories=("Cs",)), max_size=10),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.text(st.characters(exclude_categories=("Cs",)), max_size=5), children, max_size=5
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(_json_values, st.booleans())
def test_valid_documents_read_back(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert strictjson.loads(text.encode("utf-8")) == value
    assert strictjson.loads(canonicalize(value)) == value


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=64)
    | st.lists(
        st.sampled_from(
            [
                "{",
                "}",
                "[",
                "]",
                ",",
                ":",
                '"',
                "\\u",
                "d800",
                "1",
                "-",
                "e9",
                ".",
                " ",
                "true",
                "NaN",
                '"a"',
                "\\",
                "\xff",
                "0" * 20,
            ]
        ),
        max_size=30,
    ).map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass"))
)
def test_any_bytes_are_read_or_rejected_with_invalid_input(data: bytes) -> None:
    accepted, value = _loads_or_reject(data)
    if accepted:
        assert canonicalize(strictjson.loads(data)) == canonicalize(value)


def test_deep_nesting_is_refused_before_parsing_even_with_a_raised_recursion_limit() -> None:
    # web3 raises the recursion limit to 100,000; the C JSON scanner would then overflow the C
    # stack (a segfault) on 100,000 '[' instead of raising RecursionError. Run it in a child.
    import subprocess
    import sys

    code = (
        "import sys; sys.setrecursionlimit(100000)\n"
        "from sealtrail.core import strictjson\n"
        "from sealtrail.core.errors import InvalidInputError\n"
        "try:\n"
        "    strictjson.loads('[' * 200000 + ']' * 200000)\n"
        "except InvalidInputError as e:\n"
        "    print(e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stdout.strip() == "invalid JSON: nesting deeper than 32"
