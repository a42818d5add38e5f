"""The verifier's result: a frozen report of every check (id, status, reason code, detail).

After pyHanko's three-valued results: a check *passed*, *failed*, or was *not checked* (no
RPC given, no token in the package, trust roots not pinned…). ``not_checked`` is never counted
as passed: the overall status is ``passed`` only when every check passed, ``failed`` when any
failed, otherwise ``incomplete``. Check ids are stable (docs/FORMAT.md §8.6).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any


class Status(enum.Enum):
    """The outcome of one check."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"


class Overall(enum.Enum):
    """The outcome of a whole verification."""

    PASSED = "passed"
    INCOMPLETE = "incomplete"
    FAILED = "failed"


@dataclass(frozen=True)
class Check:
    """One check: ``id`` (e.g. ``events.inclusion``), its status, a machine-readable ``reason``
    (``ok`` when passed) and a human ``detail`` naming what failed (file, index, size)."""

    id: str
    status: Status
    reason: str
    detail: str
    count: int = 0

    def to_json(self) -> dict[str, Any]:
        """The check as a JSON object."""
        return {
            "id": self.id,
            "status": self.status.value,
            "reason": self.reason,
            "detail": self.detail,
            "count": self.count,
        }


@dataclass(frozen=True)
class TimelineEntry:
    """One verified event as the report shows it, with the earliest trusted time bound."""

    index: int
    tenant: str
    stream: str
    type: str
    actor: str
    recorded_at: str
    leaf_hash: str
    existed_by: str | None


@dataclass(frozen=True)
class Policy:
    """What a caller accepts as not checked (``sealtrail verify --offline``, ``--accept``).

    ``accept`` holds check ids, or prefixes ending in ``.`` (``"anchors."``), whose
    ``not_checked`` status the caller accepts as a pass; ``failed`` is never accepted.
    """

    accept: tuple[str, ...] = ()

    def accepts(self, check: Check) -> bool:
        """True if ``check``, being not checked, is acceptable under this policy."""
        return any(
            check.id == a or (a.endswith(".") and check.id.startswith(a)) for a in self.accept
        )


#: anchors are not looked up on a chain (no ``--rpc``): a notary's offline policy
OFFLINE = Policy(accept=("anchors.chain",))


@dataclass(frozen=True)
class VerificationReport:
    """Everything the verifier established about one package."""

    package_sha256: str
    checks: tuple[Check, ...]
    coverage: dict[str, Any] = field(default_factory=dict)
    timeline: tuple[TimelineEntry, ...] = ()

    @property
    def status(self) -> Overall:
        """``failed`` if any check failed; ``passed`` only if all passed; else ``incomplete``."""
        statuses = {c.status for c in self.checks}
        if Status.FAILED in statuses or not self.checks:
            return Overall.FAILED
        if statuses == {Status.PASSED}:
            return Overall.PASSED
        return Overall.INCOMPLETE

    @property
    def ok(self) -> bool:
        """True when no check failed (``passed`` or ``incomplete``)."""
        return self.status is not Overall.FAILED

    def verdict(self, policy: Policy | None = None) -> Overall:
        """The overall status under the caller's ``policy``: ``failed`` if any check failed;
        ``passed`` if every check passed or is ``not_checked`` in a way the policy accepts;
        else ``incomplete``. Without a policy this is :attr:`status`."""
        if policy is None:
            return self.status
        if self.status is Overall.FAILED:
            return Overall.FAILED
        for c in self.checks:
            if c.status is Status.NOT_CHECKED and not policy.accepts(c):
                return Overall.INCOMPLETE
        return Overall.PASSED

    def check(self, check_id: str) -> Check:
        """The check named ``check_id``; KeyError if it was not run."""
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    def failed(self) -> tuple[Check, ...]:
        """The checks that failed, in report order."""
        return tuple(c for c in self.checks if c.status is Status.FAILED)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (``sealtrail verify --json``)."""
        return {
            "status": self.status.value,
            "package_sha256": self.package_sha256,
            "coverage": self.coverage,
            "checks": [c.to_json() for c in self.checks],
            "timeline": [e.__dict__ for e in self.timeline],
        }

    def to_text(self) -> str:
        """A human-readable report, one line per check."""
        mark = {Status.PASSED: "PASS", Status.FAILED: "FAIL", Status.NOT_CHECKED: "----"}
        lines = [f"package sha256 {self.package_sha256}"]
        cov = self.coverage
        if cov:
            lines.append("covers " + json.dumps(cov, ensure_ascii=False, sort_keys=True))
        width = max(len(c.id) for c in self.checks) if self.checks else 0
        for c in self.checks:
            reason = "" if c.reason == "ok" else f" [{c.reason}]"
            lines.append(f"{mark[c.status]}  {c.id:<{width}}  {c.detail}{reason}")
        lines.append(f"result: {self.status.value}")
        return "\n".join(lines)
