"""A verifier object built once from trust material, in the manner of sigstore-python's
``Verifier``: what the relying party trusts is stated up front, then any number of
certification packages are checked against it.

Trust material (docs/FORMAT.md §8.6, DESIGN.md "trust is configured, never self-declared"):

* ``ledger_keys`` — the ledger verifier key(s) as the operator published them (C2SP note
  verifier keys, ``origin+hash+base64``); a package's ``ledger.key`` must be one of them;
* ``tsa_roots`` — the roots the RFC 3161 tokens (checkpoints' and the report's) must chain to;
* ``seal_roots`` — the roots the report's PAdES seal must chain to;
* ``rpc_url`` — optionally, an Ethereum JSON-RPC endpoint to check anchors on chain; without
  it verification is fully offline.

Material left empty is taken from the package itself and the matching ``trust.*`` check is
reported *not checked*, never passed: the report says what was not pinned.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509

from sealtrail.core.note import NoteVerifier
from sealtrail.verifier import layout
from sealtrail.verifier.results import VerificationReport
from sealtrail.verifier.rpc import RpcAnchorChecker
from sealtrail.verifier.verify import DEFAULT_LIMITS, verify_package


def _certificates(what: str, certs: Iterable[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    out = tuple(certs)
    for c in out:
        if not isinstance(c, x509.Certificate):
            raise TypeError(f"{what}: got {type(c).__name__}, want cryptography x509.Certificate")
    return out


def _pem(what: str, data: bytes) -> tuple[x509.Certificate, ...]:
    if not data.strip():
        return ()
    try:
        return tuple(x509.load_pem_x509_certificates(data))
    except ValueError as e:
        raise ValueError(f"{what}: not PEM certificates ({e})") from None


@dataclass(frozen=True, init=False)
class Verifier:
    """Checks certification packages against pinned trust material (module docstring).

    Construct it with the material as objects, or with :meth:`from_pem` from the files an
    operator publishes. Raises ``TypeError`` for a certificate that is not a
    ``cryptography.x509.Certificate`` and :class:`~sealtrail.core.errors.NoteError` for a
    ledger key that does not parse — at construction, not per package.
    """

    ledger_keys: tuple[str, ...]
    tsa_roots: tuple[x509.Certificate, ...]
    seal_roots: tuple[x509.Certificate, ...]
    rpc_url: str | None
    limits: layout.Limits

    def __init__(
        self,
        *,
        ledger_keys: Iterable[str] = (),
        tsa_roots: Iterable[x509.Certificate] = (),
        seal_roots: Iterable[x509.Certificate] = (),
        rpc_url: str | None = None,
        limits: layout.Limits = DEFAULT_LIMITS,
    ) -> None:
        keys = tuple(k.strip() for k in ledger_keys)
        for k in keys:
            NoteVerifier.from_vkey(k)  # raises NoteError on a malformed key
        object.__setattr__(self, "ledger_keys", keys)
        object.__setattr__(self, "tsa_roots", _certificates("tsa_roots", tsa_roots))
        object.__setattr__(self, "seal_roots", _certificates("seal_roots", seal_roots))
        object.__setattr__(self, "rpc_url", rpc_url or None)
        object.__setattr__(self, "limits", limits)

    @classmethod
    def from_pem(
        cls,
        *,
        ledger_keys: Iterable[str] = (),
        tsa_roots_pem: bytes = b"",
        seal_roots_pem: bytes = b"",
        rpc_url: str | None = None,
    ) -> Verifier:
        """A verifier from published files: ledger key lines, and PEM bundles of the TSA roots
        and of the seal roots (e.g. the service seal CA, ``service-seal/ca.pem``). Raises
        ``ValueError`` for a bundle that is not PEM certificates."""
        return cls(
            ledger_keys=ledger_keys,
            tsa_roots=_pem("tsa_roots_pem", tsa_roots_pem),
            seal_roots=_pem("seal_roots_pem", seal_roots_pem),
            rpc_url=rpc_url,
        )

    @property
    def pinned(self) -> bool:
        """Whether every kind of trust material (ledger key, TSA roots, seal roots) is set."""
        return bool(self.ledger_keys and self.tsa_roots and self.seal_roots)

    def verify(
        self, package: bytes | str | os.PathLike[str], *, at: datetime | None = None
    ) -> VerificationReport:
        """Verify a package given as its bytes or a path to its ZIP; returns the frozen report.

        Never raises on bad package content (a check fails instead); ``OSError`` when the path
        cannot be read. ``at``: validation time of the report's seal (default: now). Offline
        unless ``rpc_url`` is set. Requires no running event loop in the calling thread.
        """
        data = package if isinstance(package, bytes) else Path(package).read_bytes()
        rpc = RpcAnchorChecker(self.rpc_url) if self.rpc_url else None
        return verify_package(
            data,
            ledger_keys=self.ledger_keys,
            tsa_roots=self.tsa_roots,
            seal_roots=self.seal_roots,
            rpc=rpc,
            at=at,
            limits=self.limits,
        )
