"""Renewed checkpoint timestamps in a package: ``checkpoints/<size>.ers.json`` (docs/TIMESTAMPS.md
§8, FORMAT.md §8.2), and the check ``timestamps.longterm``.

An RFC 3161 token proves that a checkpoint existed at its genTime for as long as its TSA's
certificate (and hash algorithm) can be relied on. Before that ends, the service timestamps the
token again (an archive timestamp, in the spirit of RFC 4998 evidence records), and again before
the renewal's own certificate expires: a chain. ``timestamps.longterm`` checks, at the
validation time, every checkpoint's chain (its token alone when it has no renewals) with
:func:`~sealtrail.verifier.timestamp.verify_chain`: each renewal covers the earlier tokens'
bytes, came while the one before still verified, and the last one verifies now.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from sealtrail.core.canonical import canonicalize_restricted
from sealtrail.core.errors import SealtrailError
from sealtrail.core.event import format_time
from sealtrail.core.note import Checkpoint
from sealtrail.verifier import layout
from sealtrail.verifier.checkrun import CheckRun, loads, pem_certs
from sealtrail.verifier.errors import TimestampError
from sealtrail.verifier.timestamp import MAX_RENEWALS, verify_chain

#: the ``format`` member of an ``.ers.json`` file
ERS_FORMAT = "sealtrail-ers/v1"
#: the largest renewal token read (base64 of at most 64 KiB of DER)
MAX_TOKEN_BYTES = 64 * 1024


def ers_json(renewals: Sequence[bytes]) -> bytes:
    """The ``.ers.json`` file of a checkpoint whose token was renewed by ``renewals`` (DER
    tokens, oldest first; at least one), canonical JSON (RFC 8785)."""
    if not 1 <= len(renewals) <= MAX_RENEWALS:
        raise ValueError(f"{len(renewals)} renewals, want 1 to {MAX_RENEWALS}")
    return canonicalize_restricted(
        {"format": ERS_FORMAT, "renewals": [base64.b64encode(t).decode() for t in renewals]}
    )


def parse_ers(data: bytes) -> list[bytes]:
    """The renewal tokens of an ``.ers.json`` file, oldest first; TimestampError when it is not
    exactly ``{"format": "sealtrail-ers/v1", "renewals": [1 to 64 base64 strings]}``."""
    try:
        value: Any = loads(data)
    except (ValueError, SealtrailError) as e:
        raise TimestampError(f"not strict JSON: {e}") from None
    if not isinstance(value, dict) or set(value) != {"format", "renewals"}:
        raise TimestampError("want an object with exactly the members format and renewals")
    if value["format"] != ERS_FORMAT:
        raise TimestampError(f"format {str(value['format'])[:40]!r}, want {ERS_FORMAT!r}")
    renewals = value["renewals"]
    if not isinstance(renewals, list) or not 1 <= len(renewals) <= MAX_RENEWALS:
        raise TimestampError(f"renewals must be a list of 1 to {MAX_RENEWALS} tokens")
    out: list[bytes] = []
    for i, text in enumerate(renewals):
        if not isinstance(text, str) or len(text) > MAX_TOKEN_BYTES * 4 // 3 + 4:
            raise TimestampError(f"renewals[{i}] is not a base64 string of at most 64 KiB")
        try:
            out.append(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            raise TimestampError(f"renewals[{i}] is not valid base64") from None
    return out


# 11b. Long-term validity of the checkpoints' timestamps (docs/TIMESTAMPS.md §8.3).
def check_renewals(
    run: CheckRun,
    notes: dict[int, tuple[bytes, Checkpoint]] | None,
    pinned: Sequence[x509.Certificate],
    at: datetime | None,
) -> None:
    """``timestamps.longterm``: every stamped checkpoint's chain (token, then the renewals of
    its ``.ers.json``) verifies at ``at`` (default: now). Not checked when the checkpoints did
    not verify, when there is no token, or when there is no TSA root."""
    if notes is None:
        run.skip("timestamps.longterm", "blocked", "checkpoints did not verify")
        return
    when = at or datetime.now(UTC)
    roots = list(pinned) or pem_certs(run.files.get(layout.TSA_ROOTS))
    problems: list[str] = []
    stamped = renewed = 0
    for size, (note, _) in sorted(notes.items()):
        token = run.files.get(layout.token_name(size))
        ers = run.files.get(layout.ers_name(size))
        if token is None:
            if ers is not None:
                problems.append(f"{layout.ers_name(size)} renews a token the package lacks")
            continue
        stamped += 1
        chain = [token]
        if ers is not None:
            try:
                chain += parse_ers(ers)
            except TimestampError as e:
                problems.append(f"{layout.ers_name(size)}: {e}")
                continue
            renewed += 1
        if not roots:
            continue
        try:
            verify_chain(chain, note, roots, at=when)
        except TimestampError as e:
            what = layout.ers_name(size) if ers is not None else layout.token_name(size)
            problems.append(f"{what}: {e}")
    extra = {layout.ers_name(s) for s in notes}
    for name in sorted(n for n in run.files if n.endswith(".ers.json") and n not in extra):
        problems.append(f"{name} belongs to no checkpoint of the package")
    if not problems and stamped == 0:
        run.skip("timestamps.longterm", "timestamp_missing", "no checkpoint token in the package")
        return
    if not problems and not roots:
        run.skip("timestamps.longterm", "no_trust_roots", "no TSA trust roots to check with")
        return
    run.add(
        "timestamps.longterm",
        problems,
        stamped,
        f"{stamped} timestamps valid at {format_time(when)} ({renewed} renewed)",
        "timestamp_expired",
    )
