"""RFC 8785 (JCS) canonical JSON encoding (pure; no I/O).

Two encoders:

* :func:`canonicalize` is the reference: the maintained ``rfc8785`` package, any JSON value.
* :func:`canonicalize_restricted` is the fast path used for events: ``orjson`` with sorted keys.
  It is byte-for-byte RFC 8785 *only* on a restricted value space, which it checks first:
  strings without lone surrogates, integers within ±(2**53 - 1), booleans, null, arrays, and
  objects whose keys are ASCII (ASCII order equals RFC 8785 §3.2.3's UTF-16 code-unit order).
  Floats are refused because their ES6 shortest form is the one place the two encoders could
  part. The test suite proves the two agree on every value the fast path accepts.
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

from sealtrail.core.errors import EncodingError

MAX_SAFE_INTEGER = 2**53 - 1
#: deepest nesting the fast path encodes (orjson itself stops at 254)
MAX_DEPTH = 64
_OPTS = orjson.OPT_SORT_KEYS


def canonicalize(value: Any) -> bytes:
    """Return the RFC 8785 encoding of any JSON value (reference implementation)."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise EncodingError(f"cannot canonicalize: {e}") from e


def check_restricted(value: Any, path: str = "$") -> None:
    """Raise :class:`EncodingError` unless ``value`` is in the fast path's value space."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        v, p, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise EncodingError(f"{p}: nested deeper than {MAX_DEPTH}")
        if v is None or v is True or v is False:
            continue
        t = type(v)
        if t is str:
            if not _is_scalar_text(v):
                raise EncodingError(f"{p}: string holds a lone surrogate")
        elif t is int:
            if not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                raise EncodingError(f"{p}: integer {v} is beyond ±(2**53 - 1)")
        elif t is list:
            stack.extend((x, f"{p}[{i}]", depth + 1) for i, x in enumerate(v))
        elif t is dict:
            for k, x in v.items():
                if type(k) is not str or not k.isascii():
                    raise EncodingError(f"{p}: object key {k!r} is not an ASCII string")
                stack.append((x, f"{p}.{k}", depth + 1))
        else:
            raise EncodingError(f"{p}: {t.__name__} values are not allowed here")


def _is_scalar_text(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def canonicalize_restricted(value: Any) -> bytes:
    """Return the RFC 8785 encoding of ``value``; refuse what the fast path cannot do exactly."""
    check_restricted(value)
    return orjson.dumps(value, option=_OPTS)


def canonicalize_checked(value: Any) -> bytes:
    """The fast path without the value-space check.

    Requires: ``value`` passed :func:`check_restricted` (event validation guarantees it).
    """
    return orjson.dumps(value, option=_OPTS)
