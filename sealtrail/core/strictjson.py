"""A strict JSON reader for everything that reaches the ledger (pure; no I/O).

Python's ``json`` (and so aiohttp's ``request.json()``) accepts duplicate keys (last one wins),
``NaN``/``Infinity``, lone surrogate escapes, any integer size and, from bytes, UTF-16/32. A
ledger must not store one value and hash another, so this reader rejects, with a message naming
what it saw:

* bytes that are not UTF-8 (a UTF-8 byte order mark too), and any lone surrogate, raw or escaped;
* duplicate object keys;
* ``NaN``, ``Infinity``, ``-Infinity``;
* numbers beyond ±(2**53 - 1), written as integers or not (they do not survive a round trip
  through most JSON stacks), and non-zero numbers that underflow to zero;
* nesting deeper than ``max_depth`` and documents larger than ``max_bytes``.

Policy for the implementation-defined (``i_``) cases of the JSONTestSuite: all rejected.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from sealtrail.core.canonical import MAX_SAFE_INTEGER
from sealtrail.core.errors import InvalidInputError

DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_BYTES = 1 << 20


class _Reject(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for k, v in pairs:
        if k in obj:
            raise _Reject(f"duplicate object key {k!r}")
        obj[k] = v
    return obj


def _constant(name: str) -> Any:
    raise _Reject(f"{name} is not JSON")


def _int(text: str) -> int:
    if len(text) > 17:
        raise _Reject(f"integer {text[:24]}… is beyond ±(2**53 - 1)")
    v = int(text)
    if not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
        raise _Reject(f"integer {text} is beyond ±(2**53 - 1)")
    return v


def _float(text: str) -> float:
    v = float(text)
    if not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
        # Also catches overflow to ±inf. RFC 8785 writes such doubles as integers, which this
        # reader would then refuse: one limit for every number keeps output re-readable.
        raise _Reject(f"number {text[:24]} is beyond ±(2**53 - 1)")
    if v == 0 and any(c in "123456789" for c in text.lower().split("e")[0]):
        raise _Reject(f"number {text[:24]} underflows to zero")
    return v


_decoder = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_constant=_constant, parse_int=_int, parse_float=_float
)


def _check_tree(value: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            _check_text(v)
        elif isinstance(v, list):
            if depth > max_depth:
                raise _Reject(f"nesting deeper than {max_depth}")
            stack.extend((x, depth + 1) for x in v)
        elif isinstance(v, dict):
            if depth > max_depth:
                raise _Reject(f"nesting deeper than {max_depth}")
            for k, x in v.items():
                _check_text(k)
                stack.append((x, depth + 1))


def _check_text(s: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise _Reject("string holds a lone surrogate") from None


def loads(
    data: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH, max_bytes: int = DEFAULT_MAX_BYTES
) -> Any:
    """Parse one JSON document strictly; raise :class:`InvalidInputError` on anything doubtful."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if len(raw) > max_bytes:
            raise InvalidInputError(f"JSON document of {len(raw)} bytes exceeds {max_bytes}")
        if raw.startswith(b"\xef\xbb\xbf"):
            raise InvalidInputError("invalid JSON: byte order mark is not allowed")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InvalidInputError(f"invalid JSON: not UTF-8 at byte {e.start}") from None
    elif isinstance(data, str):
        text = data
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidInputError("invalid JSON: text holds a lone surrogate") from None
        if size > max_bytes:
            raise InvalidInputError(f"JSON document of {size} bytes exceeds {max_bytes}")
    else:
        raise TypeError(f"expected bytes or str, got {type(data).__name__}")
    if text.count("[") + text.count("{") > max_depth and _nesting(text) > max_depth:
        # Checked before parsing: the C scanner recurses per level, and a process whose
        # recursion limit was raised (web3 sets 100,000) would overflow the C stack.
        raise InvalidInputError(f"invalid JSON: nesting deeper than {max_depth}")
    try:
        value, end = _decoder.raw_decode(text, _skip_ws(text, 0))
        if _skip_ws(text, end) != len(text):
            raise _Reject(f"extra data at offset {end}")
        # A string can hold a lone surrogate only through a \\u escape of U+D800..U+DFFF (the
        # text came from strict UTF-8 or is checked above), and the pre-pass has already
        # measured the nesting exactly: skip the walk when no such escape is in the text.
        if _SURROGATE_ESCAPE_RE.search(text):
            _check_tree(value, max_depth)
    except _Reject as e:
        raise InvalidInputError(f"invalid JSON: {e}") from None
    except json.JSONDecodeError as e:
        raise InvalidInputError(
            f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    except RecursionError:
        raise InvalidInputError(f"invalid JSON: nesting deeper than {max_depth}") from None
    except ValueError as e:  # e.g. int() digit limit
        raise InvalidInputError(f"invalid JSON: {e}") from None
    return value


_WS = " \t\n\r"
# The nesting pre-pass works on a skeleton of the text's UTF-8 bytes, each step one C-level pass:
# drop escapes (``\\.``, the only way a string holds a quote), keep only quotes and brackets,
# keep what lies between strings (the even pieces between quotes; an unterminated string runs to
# the end), then sum the brackets' steps. Outside a string a backslash is a syntax error, and the
# scanner stops there, before any bracket this pass may miscount.
_ESCAPE_RE = re.compile(rb"\\.", re.DOTALL)
_NOT_SKELETON = bytes(b for b in range(256) if b not in b'[]{}"')
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
# A lone surrogate can enter a string only through an escape of U+D800..U+DFFF.
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")


def _nesting(text: str) -> int:
    """The deepest bracket nesting of ``text``, brackets inside strings not counted."""
    raw = _ESCAPE_RE.sub(b"", text.encode("utf-8", "surrogatepass"))
    brackets = b"".join(raw.translate(None, _NOT_SKELETON).split(b'"')[::2])
    return max(accumulate(map(_STEP.__getitem__, brackets), initial=0))


def _skip_ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    return i
