"""What the verifier's steps share: the package's files and the checks found so far.

:class:`CheckRun` accumulates :class:`~.results.Check` values; a step calls :meth:`CheckRun.add`
with the problems it found (none: passed) or :meth:`CheckRun.skip` (not checked, with the
reason). Problems are listed up to :data:`MAX_SHOWN`, then counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from sealtrail.core import strictjson
from sealtrail.verifier.results import Check, Status

MAX_SHOWN = 5


@dataclass
class CheckRun:
    """The files of one package (by name) and the checks recorded on it, in order."""

    files: dict[str, bytes]
    checks: list[Check] = field(default_factory=list)

    def add(self, cid: str, problems: list[str], count: int, ok: str, reason: str) -> bool:
        """Record ``cid``: failed with ``reason`` if there are ``problems``, else passed with
        the detail ``ok``. Returns whether it passed."""
        if problems:
            shown = "; ".join(problems[:MAX_SHOWN])
            more = f" (+{len(problems) - MAX_SHOWN} more)" if len(problems) > MAX_SHOWN else ""
            self.checks.append(Check(cid, Status.FAILED, reason, shown + more, count))
            return False
        self.checks.append(Check(cid, Status.PASSED, "ok", ok, count))
        return True

    def skip(self, cid: str, reason: str, detail: str, count: int = 0) -> None:
        """Record ``cid`` as not checked (never passed), with why."""
        self.checks.append(Check(cid, Status.NOT_CHECKED, reason, detail, count))


def loads(data: bytes) -> Any:
    """Strict JSON (§1.1); the size is already capped by the container limits (§8.5)."""
    return strictjson.loads(data, max_bytes=max(len(data), 1))


def pem_certs(data: bytes | None) -> list[x509.Certificate]:
    """The certificates of a PEM file of the package; none when absent or unreadable."""
    try:
        return x509.load_pem_x509_certificates(data) if data else []
    except ValueError:
        return []
