"""Offline verification of certification packages (docs/FORMAT.md §8.6) and RFC 3161 tokens.

Ships alone with :mod:`sealtrail.core` and :mod:`sealtrail.signing`'s validation (the base
install: no database, no web3, no reportlab, no Pillow); no network but the optional JSON-RPC
anchor check. Public surface (``__all__``):

* :class:`Verifier` — built once from trust material (ledger key(s), TSA roots, seal roots,
  optional RPC URL); ``Verifier.verify(package)`` returns a :class:`VerificationReport`;
* :func:`verify_package` — the same as one function over a package's bytes;
* the frozen results: :class:`VerificationReport`, :class:`Check`, :class:`Status`,
  :class:`Overall`, :class:`TimelineEntry`;
* :func:`verify_token` and :class:`TimestampInfo` — one RFC 3161 token over given data;
* :class:`RpcAnchorChecker` — anchors over plain JSON-RPC;
* errors: :class:`UnreadablePackageError`, :class:`TimestampError`.

Everything else (``verify``'s steps, ``external_checks``, ``checkrun``, ``layout``) is private by
convention. Building packages is :mod:`sealtrail.export`.
"""

from sealtrail.verifier.errors import TimestampError, UnreadablePackageError
from sealtrail.verifier.results import Check, Overall, Status, TimelineEntry, VerificationReport
from sealtrail.verifier.rpc import RpcAnchorChecker
from sealtrail.verifier.timestamp import TimestampInfo, verify_token
from sealtrail.verifier.verifier import Verifier
from sealtrail.verifier.verify import verify_package

__all__ = [
    "Check",
    "Overall",
    "RpcAnchorChecker",
    "Status",
    "TimelineEntry",
    "TimestampError",
    "TimestampInfo",
    "UnreadablePackageError",
    "VerificationReport",
    "Verifier",
    "verify_package",
    "verify_token",
]
