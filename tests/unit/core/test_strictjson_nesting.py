"""The nesting pre-pass of the strict JSON reader agrees with a plain reference scanner."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from sealtrail.core import strictjson


def _reference(text: str) -> int | None:
    """The deepest nesting; ``None`` when a backslash stands outside a string (a syntax error
    where the C scanner stops, so brackets after it are never reached)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "\\":
            return None
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


_text = st.text(alphabet='[]{}"\\ab,:\n\u00e9\U0001f600', max_size=40)
_json: Any = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10, 10)
    | st.text(alphabet='[]{}"\\a\u00e9', max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\a', max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(_text)
def test_nesting_matches_a_reference_scanner_on_any_text(text: str) -> None:
    expected = _reference(text)
    assume(expected is not None)
    assert strictjson._nesting(text) == expected


@given(_json, st.booleans())
def test_nesting_of_json_is_the_depth_of_its_value(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert strictjson._nesting(text) == _reference(text)


def test_brackets_in_strings_and_escaped_quotes_do_not_count() -> None:
    assert strictjson._nesting('["\\"[[[", "]]]\\\\", {"[": "{"}]') == 2
    assert strictjson._nesting('"[[[') == 0
