"""The fast paths of event validation (issue 20) answer exactly as the full rules do.

* ``parse_event_input`` tries ``_input_fast`` first: whatever it accepts, the full rules accept
  with the same normalised event, with and without the display rules; what it declines goes to
  the full rules, which give the error (so messages are unchanged).
* ``decode_event`` tries ``_decode_fast`` (orjson, the field rules, and a byte-for-byte compare
  with the canonical encoding of the rebuilt event) before ``_decode_strict`` (the strict reader
  and every rule with its message). Whatever the fast path accepts, the strict path accepts,
  returning the same object; on every input, ``decode_event`` answers as ``_decode_strict``.

Random inputs and random byte-level tamperings of stored events check both claims.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sealtrail.core import event as ev
from sealtrail.core.errors import SealtrailError

SALT = bytes(range(16))
PREV = hashlib.sha256(b"previous").digest()
RECORDED_AT = "2026-11-24T02:00:00.000000Z"
DIGEST = hashlib.sha256(b"contract.pdf").hexdigest()

BASE: dict[str, Any] = {
    "stream": "contract:2026-0001",
    "type": "sign",
    "actor": {"id": "u-42", "name": "Li Lei", "org": "Acme Ltd", "role": "legal-person"},
    "documents": [{"name": "contract.pdf", "sha256": DIGEST}],
    "occurred_at": "2026-11-24T10:00:00Z",
    "client_event_id": "erp-7781",
    "attributes": {"ip": "203.0.113.7", "n": 3, "ok": True, "none": None},
}


def stored(obj: dict[str, Any] | None = None, **kw: Any) -> bytes:
    args: dict[str, Any] = {
        "tenant": "acme",
        "index": 7,
        "recorded_at": RECORDED_AT,
        "salt": SALT,
        "prev": PREV,
    }
    args.update(kw)
    return ev.build_event(ev.parse_event_input(obj or BASE), **args).canonical


def full_rules(obj: Any, display_rules: bool) -> Any:
    """``parse_event_input`` without its fast path: the event's body, or the error raised."""
    saved = ev._input_fast
    ev._input_fast = lambda o: None
    try:
        return ev.parse_event_input(obj, display_rules=display_rules).body()
    except SealtrailError as e:
        return (type(e), str(e), getattr(e, "field", None))
    finally:
        ev._input_fast = saved


def answer(fn: Any, data: bytes) -> Any:
    try:
        return fn(data)
    except SealtrailError as e:
        return (type(e), str(e), getattr(e, "field", None))


# --- the printable-string shortcut ------------------------------------------------------------


def test_printable_strings_hold_nothing_the_text_rules_refuse() -> None:
    """``_text`` and ``_plain`` skip the control and display checks for printable strings.

    That is sound only if no printable character is a control, a lone surrogate, one of
    DISPLAY_REFUSED_CATEGORIES, or white space other than U+0020: checked over every code point
    of this Python's Unicode database (the one ``unicodedata`` and ``str`` share)."""
    refused = set(ev.DISPLAY_REFUSED_CATEGORIES) | {"Cs"}
    bad = [
        cp
        for cp in range(sys.maxunicode + 1)
        if chr(cp).isprintable()
        and (
            unicodedata.category(chr(cp)) in refused
            or (chr(cp).isspace() and cp != 0x20)
            or ev._CONTROL_RE.match(chr(cp))
        )
    ]
    assert bad == []


# --- parse_event_input ------------------------------------------------------------------------

NASTY_CHARS = st.sampled_from(
    [
        *(" ", "\t", "\n", "\x00", "\x7f", "\x85", "\xa0", "\u200b", "\u200c", "\u200d"),
        *("\u202e", "\u2028", "\u2029", "\u2066", "\ufeff", "\ud800", "\udfff", "\ue000"),
        *("\U0010ffff", "\u0378", "a", "Z", "0", ":", "-", "_", ".", "é", "中", "😀"),
    ]
)
TEXT = st.one_of(
    st.text(NASTY_CHARS, max_size=8),
    st.text(max_size=8),
    st.sampled_from(["", " a", "a ", "x" * 129, "x" * 257, "x" * 4097]),
)
VALUE = st.one_of(
    TEXT,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**54), max_value=2**54),
    st.floats(allow_nan=False),
    st.just([]),
    st.just({}),
)
TIME = st.one_of(
    st.sampled_from(
        [
            "2026-11-24T10:00:00Z",
            "2026-11-24T10:00:00.000000Z",
            "2026-11-24t10:00:00z",
            "2026-11-24T10:00:00.1234567Z",
            "2026-11-24T10:00:00.1234560Z",
            "2026-11-24T10:00:00+24:00",
            "2026-11-24T10:00:00+08:00",
            "2026-02-30T10:00:00Z",
            "2026-11-24 10:00:00Z",
        ]
    ),
    VALUE,
)


@st.composite
def inputs(draw: st.DrawFn) -> Any:
    """Event inputs near the valid ones: each field kept, dropped, or replaced by a nasty one."""
    obj: dict[str, Any] = json.loads(json.dumps(BASE))
    if draw(st.booleans()):
        obj["actor"] = {
            k: draw(TEXT | st.none())
            for k in draw(st.lists(st.sampled_from(["id", "name", "org", "role", "x"])))
        }
    if draw(st.booleans()):
        obj["documents"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {"sha256": st.sampled_from([DIGEST, DIGEST.upper(), DIGEST[:-1], 5])},
                    optional={"name": TEXT | st.none(), "x": st.just(1)},
                ),
                max_size=3,
            )
            | VALUE
        )
    if draw(st.booleans()):
        obj["attributes"] = draw(
            st.dictionaries(st.sampled_from(["ip", "a.b", "_x", "9", "é", "k" * 65]), VALUE) | VALUE
        )
    for field in ("stream", "type", "occurred_at", "client_event_id"):
        how = draw(st.sampled_from(["keep", "keep", "drop", "replace"]))
        if how == "drop":
            obj.pop(field, None)
        elif how == "replace":
            obj[field] = draw(
                TIME
                if field == "occurred_at"
                else st.sampled_from(["view", "acme:x", "Acme:x", "delete"]) | TEXT
                if field == "type"
                else TEXT | st.none()
            )
    if draw(st.booleans()):
        obj[draw(st.sampled_from(["extra", "v"]))] = 1
    return draw(st.sampled_from([obj, obj, obj, [obj], None, "x"]))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs())
@example(BASE)
def test_parse_event_input_fast_path_agrees_with_the_full_rules(obj: Any) -> None:
    fast = ev._input_fast(obj)
    for display_rules in (True, False):
        full = full_rules(obj, display_rules)
        if fast is not None:
            assert fast.body() == full, "the fast path accepted what the full rules refuse"
        got = answer(lambda o: ev.parse_event_input(o, display_rules=display_rules).body(), obj)
        assert got == full


def test_the_fast_path_takes_the_common_event() -> None:
    assert ev._input_fast(BASE) is not None
    assert ev._input_fast({"stream": "s", "type": "a:b", "actor": {"id": "u"}}) is not None


@pytest.mark.parametrize(
    ("obj", "field", "message"),
    [
        ({**BASE, "stream": "inv\u202efdp.exe"}, "stream", "format character U+202E"),
        ({**BASE, "stream": "a\u00a0"}, "stream", "leading or trailing white space"),
        ({**BASE, "client_event_id": "\ud800"}, "client_event_id", "lone surrogate"),
        ({**BASE, "attributes": {"a": "x\x00"}}, "attributes.a", "control character U+0000"),
        ({**BASE, "attributes": {"a": 2**53}}, "attributes.a", "beyond"),
        ({**BASE, "documents": [{"sha256": DIGEST, "x": 1}]}, "documents[0].x", "unknown"),
    ],
)
def test_what_the_fast_path_declines_is_refused_with_the_full_rules_message(
    obj: dict[str, Any], field: str, message: str
) -> None:
    assert ev._input_fast(obj) is None
    with pytest.raises(ev.EventValidationError, match=re.escape(message)) as info:
        ev.parse_event_input(obj)
    assert info.value.field == field


def test_free_text_with_tab_and_newline_is_still_accepted() -> None:
    obj = {**BASE, "attributes": {"note": "a\tb\r\nc"}}
    assert ev._input_fast(obj) is None  # not printable: the full rules decide
    assert ev.parse_event_input(obj).attributes == {"note": "a\tb\r\nc"}


# --- decode_event -----------------------------------------------------------------------------

STORED = stored()
MUTATIONS = [
    (b'"v":1', b'"v":1.0'),
    (b'"v":1', b'"v":1e0'),
    (b'"v":1', b'"v":true'),
    (b'"index":7', b'"index":07'),
    (b'"index":7', b'"index":-0'),
    (b'"index":7', b'"index":9007199254740992'),
    (b'"index":7', b'"index":7,"index":7'),
    (b'"tenant":"acme"', b'"tenant":"\\u0061cme"'),
    (b'"tenant":"acme"', b'"tenant":"acme","tenant":"acme"'),
    (b'"type":"sign"', b'"type":"sign\\ud800"'),
    (b'"type":"sign"', b'"type":"s\\u0000ign"'),
    (b'"role":"legal-person"', b'"role":"legal-person\xed\xa0\x80"'),
    (b'"role":"legal-person"', b'"role":"legal-person\xff"'),
    (b"{", b"\xef\xbb\xbf{"),
    (b"{", b"{ "),
    (b":", b" :"),
    (b'"ip":"203.0.113.7"', b'"ip":"203.0.113.7","ip":"203.0.113.7"'),
    (b'"n":3', b'"n":3.0'),
    (b'"n":3', b'"n":NaN'),
    (b'"n":3', b'"n":Infinity'),
    (b'"ok":true', b'"ok":True'),
    (DIGEST.encode(), DIGEST.upper().encode()),
]


@pytest.mark.parametrize(("old", "new"), MUTATIONS)
def test_decode_event_answers_as_the_strict_path(old: bytes, new: bytes) -> None:
    assert old in STORED
    data = STORED.replace(old, new, 1)
    assert data != STORED
    with pytest.raises(SealtrailError):
        ev.decode_event(data)
    assert answer(ev.decode_event, data) == answer(ev._decode_strict, data)
    with pytest.raises(Exception):  # noqa: PT011 (any refusal: the strict path decides)
        ev._decode_fast(data)


def test_decode_event_accepts_stored_events_on_the_fast_path() -> None:
    for data in (
        STORED,
        stored(prev=None, index=0),
        stored({"stream": "s", "type": "v:w", "actor": {"id": "u"}}),
        stored({**BASE, "attributes": {"note": "a\tb\r\nc", "big": 2**53 - 1}}),
        stored({**BASE, "actor": {"id": "u", "name": "علی\u200c"}}),
    ):
        assert ev._decode_fast(data) == ev._decode_strict(data) == ev.decode_event(data)


def test_decode_event_of_an_oversized_body_uses_the_strict_path() -> None:
    data = STORED[:-1] + b',"x":"' + b"a" * ev.MAX_EVENT_BYTES + b'"}'
    assert answer(ev.decode_event, data) == answer(ev._decode_strict, data)
    assert answer(ev.decode_event, data)[0] is not None


@st.composite
def tampered(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from([STORED, stored(prev=None, index=0)])))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "swap"]))
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] = draw(st.sampled_from(b' "\\,:{}[]01aAeE.-+tnu\x00\x7f\xc3\xed\xff'))
        elif kind == "insert":
            data[i:i] = draw(st.sampled_from([b" ", b"\\", b"\\u0041", b",", b'""', b"0"]))
        elif kind == "delete":
            del data[i : i + draw(st.integers(1, 4))]
        else:
            j = draw(st.integers(0, len(data) - 1))
            data[i], data[j] = data[j], data[i]
    return bytes(data)


@settings(max_examples=1500, deadline=None)
@given(tampered())
def test_decode_fast_accepts_only_what_the_strict_path_accepts(data: bytes) -> None:
    strict = answer(ev._decode_strict, data)
    try:
        fast = ev._decode_fast(data)
    except Exception:  # refused: decode_event then answers as the strict path
        fast = None
    if fast is not None:
        assert fast == strict, "the fast path accepted bytes the strict path refuses"
    assert answer(ev.decode_event, data) == strict
