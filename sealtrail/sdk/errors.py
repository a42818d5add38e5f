"""Errors of the SDK, in the project's one hierarchy (``sealtrail/core/errors.py``)."""

from __future__ import annotations

from sealtrail.core.errors import SealtrailError


class ApiError(SealtrailError):
    """The service answered with an error (problem+json): ``code`` is the service's."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"HTTP {status} {code}: {detail}")
        #: the HTTP status of the service's answer (data about the answer, not a mapping)
        self.http_status = status
        self.code = code
        self.detail = detail

    @property
    def status(self) -> int:
        """The HTTP status code."""
        return self.http_status


class VerificationError(SealtrailError):
    """A proof or checkpoint from the service did not verify locally."""

    code = "verification_failed"


class MisbehaviourError(VerificationError):
    """The service presented a checkpoint that contradicts one this client verified before: an
    older one as the newest (a rollback) or another root at the same size (a fork).

    Both signed notes are kept: each is signed with the ledger's key, so together they are
    evidence anyone can check offline (``sealtrail.core.verify_checkpoint``).
    """

    code = "server_misbehaviour"

    def __init__(self, message: str, *, trusted_note: str, presented_note: str) -> None:
        super().__init__(message)
        self.trusted_note = trusted_note
        self.presented_note = presented_note


class NotProvableError(SealtrailError):
    """Nothing failed, but the service's answer cannot prove what was asked: the checkpoint was
    sealed before the map (no ``sealtrail-map/v1`` line), or the answer lists fewer events than
    the proven value counts (the public answer's cap). Not a verification failure, and never to
    be taken as a pass."""

    code = "not_provable"
